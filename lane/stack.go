package lane

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// Config configures a Stack. The zero value of every field is a usable default.
type Config struct {
	// Dir holds the lane's socket files; it is created (0700) when missing.
	// Default: /var/cache/raet, or ~/.raet/uxd when that cannot be used, as
	// Python RAET chooses.
	Dir string
	// Lane is the lane name. Default "lane".
	Lane string
	// Name is this yard's name. Default "lane_" and 18 hex digits, as Python
	// RAET names an unnamed yard.
	Name string
	// Kind is how bodies other than RawJSON and RawMsgpack are packed.
	// Default PackJSON.
	Kind PackKind
	// MaxQueue bounds the messages waiting for one destination yard whose
	// socket is full; Send blocks when it is reached. Default 1024.
	MaxQueue int
	// MaxQueueBytes bounds the bytes waiting for one destination yard; a
	// message is always let into an empty queue. Default 16 MiB.
	MaxQueueBytes int
	// Handler, when set, is called with each received message on the
	// receiving goroutine, instead of delivering it on Recv. It must not call
	// Close, and should bound any Send it makes with a context deadline.
	Handler func(Message)
	// RecvQueue is the capacity of the Recv channel. When it is full the
	// stack stops reading its socket, so senders wait. Default 256.
	RecvQueue int
	// Direct, when set, starts no receiving goroutine: Receive reads the
	// socket on the goroutine that calls it. This saves a hand-off between
	// goroutines per message, which costs a thread wake-up whenever the
	// process has an idle processor, and so makes request/response round
	// trips between processes much quicker. Recv is then nil, and messages
	// wait in the socket's buffer until Receive is called (senders find the
	// yard busy once it is full). Handler must be nil.
	Direct bool
	// EventQueue is the capacity of the Events channel; events that find it
	// full are counted (Stats.EventsDropped) and logged. Default 64.
	EventQueue int
	// MaxMessageSize bounds a message's packed body, sent or received.
	// Default DefaultMaxMessageSize (Python RAET's limit).
	MaxMessageSize int
	// MaxPending bounds the bytes held by incomplete multi-page messages;
	// beyond it the least recently active is dropped. Default 128 MiB.
	MaxPending int
	// BookTimeout drops an incomplete multi-page message when none of its
	// pages came for this long. Default 10s.
	BookTimeout time.Duration
	// StallTimeout drops the queue of a destination yard whose socket took
	// nothing for this long. Default 30s; negative: never.
	StallTimeout time.Duration
	// CloseTimeout is how long Close waits for queued messages to go.
	// Default 5s; negative: not at all.
	CloseTimeout time.Duration
	// SocketBuffer is the minimum SO_SNDBUF and SO_RCVBUF asked for the
	// socket. Default 65535*100, what Python RAET asks for.
	SocketBuffer int
	// Logger receives the stack's logs. Default slog.Default().
	Logger *slog.Logger
	// Now tells the time for expiry and stall decisions. Default time.Now.
	Now func() time.Time
}

// Message is a message received from another yard.
type Message struct {
	From string   // source yard name
	Kind PackKind // how Body is packed
	Body []byte   // packed body (empty for an empty mapping); the receiver owns it
}

// Decode decodes the body into an ordered Map.
func (m Message) Decode() (Map, error) { return DecodeBody(m.Kind, m.Body) }

// Unmarshal decodes the body into v with encoding/json or
// github.com/vmihailenco/msgpack/v5, as Kind says.
func (m Message) Unmarshal(v any) error {
	body := m.Body
	var err error
	switch m.Kind {
	case PackJSON:
		if len(body) == 0 {
			body = []byte("{}")
		}
		err = json.Unmarshal(body, v)
	case PackMsgpack:
		if len(body) == 0 {
			body = []byte{0x80}
		}
		err = msgpack.Unmarshal(body, v)
	default:
		return fmt.Errorf("%w: %d", ErrPackKind, m.Kind)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBody, err)
	}
	return nil
}

// Stack is one yard of a lane: a bound socket, the queues of messages to
// other yards, and the goroutines that send and receive. Its methods are safe
// for concurrent use.
type Stack struct {
	cfg  Config
	name string
	lane string
	dir  string
	path string
	log  *slog.Logger
	now  func() time.Time
	sock *sock

	life      sync.RWMutex // Send holds it for reading; Close waits for them
	closing   atomic.Bool
	closingCh chan struct{} // closed when Close starts
	closeOnce sync.Once
	closeErr  error

	mu      sync.Mutex // guards yards and pending; taken after a txYard's mu, never before
	yards   map[string]*txYard
	pending map[*txYard]struct{} // yards with queued messages
	wake    chan struct{}
	flushWG sync.WaitGroup
	stopTx  chan struct{}

	asmMu  sync.Mutex
	asm    *assembler
	rh     rawHead // receive scratch: the reading goroutine's, or the Receive holding rxTurn
	recv   chan Message
	rxTurn chan struct{} // Direct: held by the one Receive reading the socket
	events chan Event
	stopRx chan struct{}
	rxWG   sync.WaitGroup

	bufs  sync.Pool // *[]byte page buffers
	stats counters
}

// New binds the yard's socket file and starts the stack's goroutines.
func New(cfg Config) (*Stack, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	path, err := YardPath(cfg.Dir, cfg.Lane, cfg.Name)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	sk, err := listen(path, cfg.SocketBuffer)
	if err != nil {
		if errors.Is(err, ErrYardInUse) {
			return nil, &YardError{Yard: cfg.Name, Op: "bind", Err: err}
		}
		return nil, err
	}
	s := &Stack{
		cfg:       cfg,
		name:      cfg.Name,
		lane:      cfg.Lane,
		dir:       cfg.Dir,
		path:      path,
		log:       cfg.Logger.With("yard", cfg.Name, "lane", cfg.Lane),
		now:       cfg.Now,
		sock:      sk,
		closingCh: make(chan struct{}),
		yards:     make(map[string]*txYard),
		pending:   make(map[*txYard]struct{}),
		wake:      make(chan struct{}, 1),
		stopTx:    make(chan struct{}),
		events:    make(chan Event, cfg.EventQueue),
		stopRx:    make(chan struct{}),
	}
	s.asm = newAssembler(cfg.MaxMessageSize, cfg.MaxPending, cfg.BookTimeout, s.bookDropped)
	switch {
	case cfg.Direct:
		s.rxTurn = make(chan struct{}, 1)
	case cfg.Handler == nil:
		s.recv = make(chan Message, cfg.RecvQueue)
	}
	s.flushWG.Add(1)
	go s.flushLoop()
	if !cfg.Direct {
		s.rxWG.Add(1)
		go s.readLoop()
	}
	s.rxWG.Add(1)
	go s.janitor()
	s.log.Debug("lane yard up", "path", path)
	return s, nil
}

func (c *Config) normalize() error {
	if c.Lane == "" {
		c.Lane = "lane"
	}
	if c.Name == "" {
		c.Name = "lane_" + newSessionID(time.Now())
	}
	if !ValidLaneName(c.Lane) {
		return fmt.Errorf("%w: lane %q", ErrBadName, c.Lane)
	}
	if !ValidYardName(c.Name) {
		return fmt.Errorf("%w: yard %q", ErrBadName, c.Name)
	}
	if c.Dir == "" {
		c.Dir = defaultDir()
	} else if rest, ok := strings.CutPrefix(c.Dir, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			c.Dir = filepath.Join(home, rest)
		}
	}
	if abs, err := filepath.Abs(c.Dir); err == nil {
		c.Dir = abs
	}
	if c.Kind > PackMsgpack {
		return fmt.Errorf("%w: %d", ErrPackKind, c.Kind)
	}
	if c.Direct && c.Handler != nil {
		return fmt.Errorf("%w: Config.Direct and Config.Handler exclude each other", ErrHandlerSet)
	}
	setDefault(&c.MaxQueue, 1024)
	setDefault(&c.MaxQueueBytes, 16<<20)
	setDefault(&c.RecvQueue, 256)
	setDefault(&c.EventQueue, 64)
	setDefault(&c.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&c.MaxPending, 128<<20)
	setDefault(&c.SocketBuffer, MaxPageSize*100)
	if c.BookTimeout <= 0 {
		c.BookTimeout = 10 * time.Second
	}
	if c.StallTimeout == 0 {
		c.StallTimeout = 30 * time.Second
	}
	if c.CloseTimeout == 0 {
		c.CloseTimeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

func setDefault(v *int, def int) {
	if *v <= 0 {
		*v = def
	}
}

// defaultDir is where Python RAET puts yards by default: /var/cache/raet, or
// ~/.raet/uxd when that cannot be created or written.
func defaultDir() string {
	const primary = "/var/cache/raet"
	if err := os.MkdirAll(primary, 0o700); err == nil && writableDir(primary) {
		return primary
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "raet", "uxd")
	}
	return filepath.Join(home, ".raet", "uxd")
}

// newSessionID makes an 18 hex digit id the way Python RAET's nacling.uuid
// does: the time in microseconds, then random digits.
func newSessionID(now time.Time) string {
	id := strconv.FormatInt(now.UnixMicro(), 16)
	var rnd [9]byte
	_, _ = rand.Read(rnd[:])
	id += hex.EncodeToString(rnd[:])
	return id[:maxSessionLen]
}

// Name returns the yard's name.
func (s *Stack) Name() string { return s.name }

// Lane returns the lane's name.
func (s *Stack) Lane() string { return s.lane }

// Dir returns the directory of the lane's socket files.
func (s *Stack) Dir() string { return s.dir }

// Path returns the yard's socket file (Python RAET's "ha").
func (s *Stack) Path() string { return s.path }

// Recv returns the channel received messages arrive on, nil when
// Config.Handler or Config.Direct is set. It is closed by Close.
func (s *Stack) Recv() <-chan Message { return s.recv }

// Events returns the channel events arrive on. It is closed by Close.
func (s *Stack) Events() <-chan Event { return s.events }

// Stats returns the stack's counters.
func (s *Stack) Stats() Stats { return s.stats.snapshot() }

// emit reports an event without ever blocking.
func (s *Stack) emit(kind EventKind, yard string, err error, dropped int) {
	ev := Event{Kind: kind, Yard: yard, Err: err, Dropped: dropped, Time: s.now()}
	level := slog.LevelWarn
	if kind == EventYardBusy {
		level = slog.LevelDebug
	}
	s.log.Log(context.Background(), level, "lane event", "event", kind.String(), "peer", yard, "dropped", dropped, "err", err)
	select {
	case s.events <- ev:
	default:
		s.stats.eventsDropped.Add(1)
	}
}

// getBuf returns a pooled page buffer.
func (s *Stack) getBuf() *[]byte {
	if bp, ok := s.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, MaxPageSize+512)
	return &b
}

// putBuf returns a buffer to the pool unless it grew too large to keep.
func (s *Stack) putBuf(bp *[]byte) {
	if bp == nil || cap(*bp) > 2*MaxPageSize {
		return
	}
	*bp = (*bp)[:0]
	s.bufs.Put(bp)
}

// Close stops the stack: Send fails with ErrClosed from now on, queued
// messages get up to Config.CloseTimeout to go, then the socket is closed and
// its file removed, the goroutines end, and Recv and Events are closed.
// Messages still queued are dropped, reported as EventUndelivered and in the
// error, which wraps ErrUndelivered.
func (s *Stack) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.shutdown() })
	return s.closeErr
}

func (s *Stack) shutdown() error {
	s.closing.Store(true)
	close(s.closingCh)
	s.life.Lock() // wait for Sends under way
	s.life.Unlock()

	if s.cfg.CloseTimeout > 0 {
		deadline := time.Now().Add(s.cfg.CloseTimeout)
		for s.stats.txQueued.Load() > 0 && time.Now().Before(deadline) {
			s.kick()
			time.Sleep(time.Millisecond)
		}
	}
	close(s.stopTx)
	s.flushWG.Wait()
	dropped := s.dropAll()

	close(s.stopRx)
	err := s.sock.close()
	s.rxWG.Wait()
	if s.rxTurn != nil {
		// Wait for the Receive reading the socket (the closed socket wakes
		// it), and keep the turn so that no other starts.
		s.rxTurn <- struct{}{}
		s.sock.disarm()
	}
	if s.recv != nil {
		close(s.recv)
	}
	close(s.events)
	if dropped > 0 {
		return fmt.Errorf("%w: %d", ErrUndelivered, dropped)
	}
	return err
}

// dropAll empties every queue at Close and reports what was lost.
func (s *Stack) dropAll() int {
	s.mu.Lock()
	ys := make([]*txYard, 0, len(s.pending))
	for y := range s.pending {
		ys = append(ys, y)
	}
	s.mu.Unlock()
	total := 0
	for _, y := range ys {
		y.mu.Lock()
		n := s.clearQueue(y)
		y.mu.Unlock()
		if n > 0 {
			total += n
			s.emit(EventUndelivered, y.name, ErrClosed, n)
		}
	}
	return total
}
