package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raet-go/raet/lane"
)

const laneUsage = `usage: raet lane --name YARD --dir DIR [--lane LANE] [--to YARD]...
                 [--send N --size BYTES] [--echo] [--expect N] [--duration SECONDS]
                 [--body json|msgpack] [--linger SECONDS] [--quiet] [--log-level LEVEL]

Runs one yard of a RAET lane: binds DIR/LANE.YARD.uxd, sends N messages to
each --to yard, optionally echoes what it receives, and prints what happens as
JSON lines, like pyraet_peer.py's lane mode:

  {"event":"ready","name":YARD,"ha":PATH}
  {"event":"sent","to":YARD,"count":N}
  {"event":"rx","from":YARD,"msg":{...}}
  {"event":"send_error","to":YARD,"seq":I,"error":TEXT}
  {"event":"yard_gone"|"yard_busy"|"yard_stalled"|"send_failed"|"bad_page"|
   "book_dropped"|"undelivered","yard":YARD,"dropped":N,"error":TEXT}
  {"event":"stats","stats":{...}}
  {"event":"exit","rx":N}

Each sent message is {"seq":I,"from":YARD,"pad":"xx..."}, padded to about
--size bytes of JSON as pyraet_peer.py pads it; an echo is {"echo":MSG}.
It exits once --expect messages came and nothing waits to be sent (then
lingers --linger seconds), after --duration seconds, or on SIGINT/SIGTERM.
Exit status: 0, or 1 when --expect messages did not come or the yard could
not start, 2 for bad usage.

Flags:
`

// yardList is a flag that may be repeated.
type yardList []string

func (l *yardList) String() string     { return strings.Join(*l, ",") }
func (l *yardList) Set(s string) error { *l = append(*l, s); return nil }

// laneOpts are the flags of `raet lane`.
type laneOpts struct {
	name, lane, dir, body, logLevel string
	to                              yardList
	send, size, expect              int
	echo, quiet                     bool
	duration, linger                float64
}

// runLane runs `raet lane` with args (the flags after "lane") and returns
// the exit status.
func runLane(args []string) int {
	return runLaneIO(args, os.Stdin, os.Stdout, os.Stderr)
}

// runLaneIO is runLane writing to the given streams, in the form of the
// other subcommands. stdin is not read.
func runLaneIO(args []string, _ io.Reader, stdout, stderr io.Writer) int {
	var o laneOpts
	fs := flag.NewFlagSet("raet lane", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors and help are printed below
	usage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, laneUsage)
		fs.PrintDefaults()
	}
	fs.StringVar(&o.name, "name", "", "this yard's name (required)")
	fs.StringVar(&o.lane, "lane", "lane", "lane name")
	fs.StringVar(&o.dir, "dir", "", "directory of the lane's socket files, created if missing (required)")
	fs.Var(&o.to, "to", "yard to send to (repeat for several)")
	fs.IntVar(&o.send, "send", 0, "messages to send to each --to yard")
	fs.IntVar(&o.size, "size", 64, "approximate JSON size of each message in bytes")
	fs.BoolVar(&o.echo, "echo", false, "send every received message back to its sender as {\"echo\": msg}")
	fs.IntVar(&o.expect, "expect", 0, "exit after receiving this many messages (0: no limit)")
	fs.Float64Var(&o.duration, "duration", 10, "exit after this many seconds (0: no limit)")
	fs.StringVar(&o.body, "body", "json", "pack kind of the messages this yard sends: json or msgpack")
	fs.Float64Var(&o.linger, "linger", 0.5, "seconds to keep receiving (and echoing) after --expect is met")
	fs.BoolVar(&o.quiet, "quiet", false, "do not print each received message")
	fs.StringVar(&o.logLevel, "log-level", "error", "level of logs on stderr: debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		fmt.Fprintf(stderr, "raet lane: %v\n", err)
		usage(stderr)
		return 2
	}
	kind, err := lane.ParsePackKind(o.body)
	var level slog.Level
	switch {
	case fs.NArg() > 0:
		err = fmt.Errorf("unexpected arguments: %q", fs.Args())
	case o.name == "" || o.dir == "":
		err = errors.New("--name and --dir are required")
	case err != nil:
	case o.send < 0 || o.size < 0 || o.expect < 0 || o.duration < 0 || o.linger < 0:
		err = errors.New("--send, --size, --expect, --duration and --linger cannot be negative")
	default:
		err = level.UnmarshalText([]byte(o.logLevel))
	}
	if err != nil {
		fmt.Fprintf(stderr, "raet lane: %v\n", err)
		usage(stderr)
		return 2
	}

	out := &laneEventWriter{w: bufio.NewWriter(stdout)}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	s, err := lane.New(lane.Config{Dir: o.dir, Lane: o.lane, Name: o.name, Kind: kind, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "raet lane: %v\n", err)
		return 1
	}
	return laneLoop(s, &o, out)
}

// laneLoop runs the yard until an exit condition, then prints stats and exit.
func laneLoop(s *lane.Stack, o *laneOpts, out *laneEventWriter) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(o.duration*float64(time.Second)))
		defer cancel()
	}
	out.emit(lane.Map{{Key: "event", Value: "ready"}, {Key: "name", Value: s.Name()}, {Key: "ha", Value: s.Path()}})

	var senders sync.WaitGroup
	for _, yard := range o.to {
		senders.Add(1)
		go func() {
			defer senders.Done()
			laneSendAll(ctx, s, yard, o, out)
		}()
	}
	sendersDone := make(chan struct{})
	go func() { senders.Wait(); close(sendersDone) }()

	rx := 0
	var lingerEnd <-chan time.Time
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case m := <-s.Recv():
			rx++
			laneReceived(ctx, s, m, o, out)
		case ev := <-s.Events():
			out.emit(laneEventLine(ev))
		case <-tick.C:
			if lingerEnd == nil && o.expect > 0 && rx >= o.expect && s.Stats().TxQueued == 0 && laneDone(sendersDone) {
				lingerEnd = time.After(time.Duration(o.linger * float64(time.Second)))
			}
		case <-lingerEnd:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	stop()
	senders.Wait()
	err := s.Close()
	for ev := range s.Events() { // what Close reported
		out.emit(laneEventLine(ev))
	}
	out.emit(lane.Map{{Key: "event", Value: "stats"}, {Key: "stats", Value: s.Stats().Map()}})
	out.emit(lane.Map{{Key: "event", Value: "exit"}, {Key: "rx", Value: rx}})
	out.flush()
	if err != nil && !errors.Is(err, lane.ErrUndelivered) {
		slog.Default().Warn("close", "err", err)
	}
	if o.expect > 0 && rx < o.expect {
		return 1
	}
	return 0
}

// laneDone reports whether c is closed.
func laneDone(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// laneSendAll sends o.send payloads to yard and reports it.
func laneSendAll(ctx context.Context, s *lane.Stack, yard string, o *laneOpts, out *laneEventWriter) {
	sent := 0
	for i := range o.send {
		if err := s.Send(ctx, yard, lanePayload(i, o.size, s.Name())); err != nil {
			out.emit(lane.Map{{Key: "event", Value: "send_error"}, {Key: "to", Value: yard}, {Key: "seq", Value: i}, {Key: "error", Value: err.Error()}})
			break
		}
		sent++
	}
	out.emit(lane.Map{{Key: "event", Value: "sent"}, {Key: "to", Value: yard}, {Key: "count", Value: sent}})
}

// lanePayload is pyraet_peer.py's payload: {"seq": i, "from": name} padded
// with "x"s so that it is about size bytes of JSON.
func lanePayload(i, size int, name string) lane.Map {
	msg := lane.Map{{Key: "seq", Value: i}, {Key: "from", Value: name}}
	compact, _ := lane.AppendJSON(nil, msg)
	// Python measures json.dumps(msg) with its default separators ", " and
	// ": ": three more bytes than the compact form for these two keys.
	if filler := size - (len(compact) + 3) - 12; filler > 0 {
		msg = append(msg, lane.Pair{Key: "pad", Value: strings.Repeat("x", filler)})
	}
	return msg
}

// laneReceived prints a received message and echoes it when asked to.
func laneReceived(ctx context.Context, s *lane.Stack, m lane.Message, o *laneOpts, out *laneEventWriter) {
	body, err := m.Decode()
	if err != nil {
		out.emit(lane.Map{{Key: "event", Value: "rx"}, {Key: "from", Value: m.From}, {Key: "error", Value: err.Error()}})
		return
	}
	msg := laneJSONable(body)
	if !o.quiet {
		out.emit(lane.Map{{Key: "event", Value: "rx"}, {Key: "from", Value: m.From}, {Key: "msg", Value: msg}})
	}
	if o.echo {
		if err := s.Send(ctx, m.From, lane.Map{{Key: "echo", Value: msg}}); err != nil {
			out.emit(lane.Map{{Key: "event", Value: "send_error"}, {Key: "to", Value: m.From}, {Key: "error", Value: err.Error()}})
		}
	}
}

// laneJSONable turns bytes into Latin-1 strings, as pyraet_peer.py's jsonable
// does, so that every received message can be printed and echoed as JSON.
func laneJSONable(v any) any {
	switch x := v.(type) {
	case []byte:
		r := make([]rune, len(x))
		for i, b := range x {
			r[i] = rune(b)
		}
		return string(r)
	case lane.Map:
		out := make(lane.Map, len(x))
		for i, p := range x {
			out[i] = lane.Pair{Key: p.Key, Value: laneJSONable(p.Value)}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = laneJSONable(x[i])
		}
		return out
	}
	return v
}

// laneEventLine renders a stack event as an output line.
func laneEventLine(ev lane.Event) lane.Map {
	m := lane.Map{{Key: "event", Value: ev.Kind.String()}, {Key: "yard", Value: ev.Yard}, {Key: "dropped", Value: ev.Dropped}}
	if ev.Err != nil {
		m = append(m, lane.Pair{Key: "error", Value: ev.Err.Error()})
	}
	return m
}

// laneEventWriter prints one JSON object a line, from any goroutine.
type laneEventWriter struct {
	mu  sync.Mutex
	w   *bufio.Writer
	buf []byte
}

func (e *laneEventWriter) emit(m lane.Map) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := lane.AppendJSON(e.buf[:0], m)
	if err != nil {
		b, _ = lane.AppendJSON(e.buf[:0], lane.Map{{Key: "event", Value: "error"}, {Key: "error", Value: err.Error()}})
	}
	e.buf = append(b, '\n')
	e.w.Write(e.buf)
	e.w.Flush()
}

func (e *laneEventWriter) flush() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.w.Flush()
}
