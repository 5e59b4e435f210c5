package lane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testDir returns a short temporary directory: socket paths must fit in
// 108 bytes, which t.TempDir's long names can exceed.
func testDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "lane")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newTestStack(t testing.TB, dir, name string, mod func(*Config)) *Stack {
	t.Helper()
	cfg := Config{Dir: dir, Lane: "l", Name: name, Logger: quietLogger()}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func recvOne(t testing.TB, s *Stack) Message {
	t.Helper()
	select {
	case m, ok := <-s.Recv():
		if !ok {
			t.Fatalf("%s: Recv closed", s.Name())
		}
		return m
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no message within 10s (stats %+v)", s.Name(), s.Stats())
	}
	return Message{}
}

func waitEvent(t testing.TB, s *Stack, kind EventKind, yard string) Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-s.Events():
			if !ok {
				t.Fatalf("%s: Events closed before %v for %q", s.Name(), kind, yard)
			}
			if ev.Kind == kind && ev.Yard == yard {
				return ev
			}
		case <-deadline:
			t.Fatalf("%s: no %v event for %q within 10s", s.Name(), kind, yard)
		}
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// staleSocket leaves a socket file at path that nobody is bound to, as a
// process that died without cleaning up does.
func staleSocket(t testing.TB, path string) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
}

func pad(n int) string { return strings.Repeat("x", n) }

// eventually waits up to 10s for cond.
func eventually(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestSendReceive(t *testing.T) {
	dir := testDir(t)
	for _, kind := range []PackKind{PackJSON, PackMsgpack} {
		a := newTestStack(t, dir, "a"+kind.String(), func(c *Config) { c.Kind = kind })
		b := newTestStack(t, dir, "b"+kind.String(), func(c *Config) { c.Kind = kind })
		for _, size := range []int{-1, 0, 10, 1000, 70000, 300000} {
			t.Run(fmt.Sprintf("%v-%d", kind, size), func(t *testing.T) {
				body := Map{}
				if size >= 0 {
					body = Map{{"route", Map{{"src", []any{"l", a.Name(), nil}}}}, {"n", int64(size)}, {"pad", pad(size)}}
				}
				if err := a.Send(ctxTimeout(t, 10*time.Second), b.Name(), body); err != nil {
					t.Fatal(err)
				}
				m := recvOne(t, b)
				if m.From != a.Name() || m.Kind != kind {
					t.Fatalf("from %q kind %v", m.From, m.Kind)
				}
				got, err := m.Decode()
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, body) {
					t.Fatalf("body differs: got %.200v", got)
				}
				// And back.
				if err := b.Send(ctxTimeout(t, 10*time.Second), a.Name(), Map{{"echo", got}}); err != nil {
					t.Fatal(err)
				}
				r := recvOne(t, a)
				echo, _ := r.Decode()
				if r.From != b.Name() || !reflect.DeepEqual(echo, Map{{"echo", body}}) {
					t.Fatalf("echo from %q differs", r.From)
				}
			})
		}
	}
}

func TestRawBodiesAndUnmarshal(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", nil)
	ctx := ctxTimeout(t, 10*time.Second)
	raws := []any{RawJSON(`{"b": [1, 2], "a": "x"}`), RawMsgpack{0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0xa1, 'x'}}
	for _, raw := range raws {
		if err := a.Send(ctx, "b", raw); err != nil {
			t.Fatal(err)
		}
		m := recvOne(t, b)
		var want []byte
		switch r := raw.(type) {
		case RawJSON:
			want = r
		case RawMsgpack:
			want = r
		}
		if !bytes.Equal(m.Body, want) {
			t.Errorf("raw body changed: %q", m.Body)
		}
		var v struct {
			A string `json:"a" msgpack:"a"`
		}
		if err := m.Unmarshal(&v); err != nil || v.A != "x" {
			t.Errorf("Unmarshal: %+v %v", v, err)
		}
		var ordered Map
		if err := m.Unmarshal(&ordered); err != nil || len(ordered) != 2 || ordered[0].Key != "b" {
			t.Errorf("Unmarshal into Map: %v %v", ordered, err)
		}
	}
}

// TestWirePages checks the pages a Send puts on the wire against Paginate,
// which the Python vectors check.
func TestWirePages(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "manor", nil)
	path, _ := YardPath(dir, "l", "raw")
	conn := listenRaw(t, path)
	ctx := ctxTimeout(t, 10*time.Second)
	bodies := []Map{
		{{"route", Map{{"src", []any{"manor", "yard1", nil}}, {"dst", []any{nil, "yard2", "t"}}}}, {"pad", "zxy"}},
		{{"pad", pad(150000)}},
		{},
	}
	for i, body := range bodies {
		if err := a.Send(ctx, "raw", body); err != nil {
			t.Fatal(err)
		}
		packed, _ := AppendBody(nil, PackJSON, body)
		var got [][]byte
		for {
			p := readRaw(t, conn)
			got = append(got, p)
			h, _, err := ParsePage(p)
			if err != nil {
				t.Fatal(err)
			}
			if h.Page == h.Pages-1 || h.Pages <= 1 {
				break
			}
		}
		h, _, _ := ParsePage(got[0])
		if h.Src != "manor" || h.Dst != "raw" || h.Book != uint64(i+1) || len(h.Session) != 18 {
			t.Errorf("message %d head %+v", i, h)
		}
		want, err := Paginate(&h, packed)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("message %d: pages differ from Paginate's", i)
		}
	}
}

func listenRaw(t testing.TB, path string) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
	tv := syscall.NsecToTimeval(int64(10 * time.Second))
	syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv)
	t.Cleanup(func() { syscall.Close(fd); os.Remove(path) })
	return fd
}

func readRaw(t testing.TB, fd int) []byte {
	t.Helper()
	buf := make([]byte, 1<<17)
	n, err := syscall.Read(fd, buf)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return buf[:n]
}

func sendRaw(t testing.TB, path string, page []byte) {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	if err := syscall.Sendto(fd, page, 0, &syscall.SockaddrUnix{Name: path}); err != nil {
		t.Fatal(err)
	}
}

func TestManyMessagesInOrder(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", nil)
	const n = 1000
	ctx := ctxTimeout(t, 30*time.Second)
	done := make(chan error, 1)
	go func() {
		for i := range n {
			size := 2000
			if i%100 == 0 {
				size = 100000 // a few two-page messages among them
			}
			if err := a.Send(ctx, "b", Map{{"seq", int64(i)}, {"pad", pad(size)}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range n {
		m := recvOne(t, b)
		got, err := m.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if seq, _ := got.Get("seq"); seq != int64(i) {
			t.Fatalf("message %d has seq %v", i, seq)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The sender counts a message once its last page is handed over, which
	// can be just after the receiver has it.
	eventually(t, func() bool { return a.Stats().TxMessages == n })
	st := a.Stats()
	if st.TxMessages != n || st.TxDropped != 0 || st.TxQueued != 0 || b.Stats().RxMessages != n {
		t.Errorf("stats: a %+v, b %+v", st, b.Stats())
	}
}

func TestTwoSendersInterleavedBooks(t *testing.T) {
	dir := testDir(t)
	r := newTestStack(t, dir, "r", nil)
	const n = 20
	var wg sync.WaitGroup
	for _, name := range []string{"s1", "s2"} {
		s := newTestStack(t, dir, name, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n {
				if err := s.Send(ctxTimeout(t, 30*time.Second), "r", Map{{"seq", int64(i)}, {"pad", pad(140000)}}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	next := map[string]int64{}
	for range 2 * n {
		m := recvOne(t, r)
		got, err := m.Decode()
		if err != nil {
			t.Fatal(err)
		}
		seq, _ := got.Get("seq")
		if seq != next[m.From] {
			t.Fatalf("from %s: seq %v, want %d", m.From, seq, next[m.From])
		}
		next[m.From]++
	}
	wg.Wait()
}

func TestYardGoneMidStream(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", nil)
	c := newTestStack(t, dir, "c", nil)
	ctx := ctxTimeout(t, 30*time.Second)
	const n = 100
	var goneErr error
	for i := range n {
		if i == n/2 {
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if err := a.Send(ctx, "b", Map{{"seq", int64(i)}}); err != nil {
			t.Fatalf("send to b: %v", err)
		}
		if err := a.Send(ctx, "c", Map{{"seq", int64(i)}}); err != nil && goneErr == nil {
			goneErr = err
		}
	}
	// Sends that found c gone fail; those queued meanwhile (c was busy) are
	// dropped and counted in the event, which always comes.
	var ye *YardError
	if goneErr != nil && (!errors.Is(goneErr, ErrYardGone) || !errors.As(goneErr, &ye) || ye.Yard != "c" || !errors.Is(goneErr, syscall.ENOENT)) {
		t.Fatalf("send to closed yard: %v", goneErr)
	}
	ev := waitEvent(t, a, EventYardGone, "c")
	if goneErr == nil && ev.Dropped == 0 {
		t.Fatalf("no send failed and the event %v dropped nothing", ev)
	}
	for i := range n {
		m := recvOne(t, b)
		got, _ := m.Decode()
		if seq, _ := got.Get("seq"); seq != int64(i) {
			t.Fatalf("b: message %d has seq %v", i, seq)
		}
	}
	received := 0
	for len(c.Recv()) > 0 || received == 0 {
		if _, ok := <-c.Recv(); !ok {
			break
		}
		received++
	}
	if received > n/2 {
		t.Errorf("c received %d messages after it closed", received)
	}

	// A yard whose process died leaves its socket file: connection refused.
	path, _ := YardPath(dir, "l", "dead")
	staleSocket(t, path)
	err := a.Send(ctx, "dead", Map{{"x", 1}})
	if !errors.Is(err, ErrYardGone) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("send to dead yard: %v", err)
	}
	waitEvent(t, a, EventYardGone, "dead")
	// The yard comes back: sending works again.
	os.Remove(path)
	d := newTestStack(t, dir, "dead", nil)
	if err := a.Send(ctx, "dead", Map{{"x", 2}}); err != nil {
		t.Fatal(err)
	}
	if m := recvOne(t, d); m.From != "a" {
		t.Fatalf("from %q", m.From)
	}
}

func TestYardGoneWithQueue(t *testing.T) {
	// Messages queued for a yard that then disappears are reported dropped.
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", func(c *Config) { c.RecvQueue = 1 })
	ctx := ctxTimeout(t, 10*time.Second)
	for a.Stats().TxQueued == 0 {
		if err := a.Send(ctx, "b", Map{{"pad", pad(1000)}}); err != nil {
			t.Fatal(err)
		}
	}
	b.sock.close() // the process vanishes: its socket file with it
	ev := waitEvent(t, a, EventYardGone, "b")
	if ev.Dropped == 0 || !errors.Is(ev.Err, ErrYardGone) {
		t.Errorf("event %v", ev)
	}
	if st := a.Stats(); st.TxQueued != 0 || st.TxDropped == 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStaleSocketTakeover(t *testing.T) {
	dir := testDir(t)
	path, _ := YardPath(dir, "l", "b")
	staleSocket(t, path)
	b := newTestStack(t, dir, "b", nil)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&fs.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("socket file mode %v", st.Mode())
	}
	a := newTestStack(t, dir, "a", nil)
	if err := a.Send(ctxTimeout(t, 5*time.Second), "b", Map{{"x", 1}}); err != nil {
		t.Fatal(err)
	}
	recvOne(t, b)
}

func TestLiveYardNotStolen(t *testing.T) {
	dir := testDir(t)
	b := newTestStack(t, dir, "b", nil)
	_, err := New(Config{Dir: dir, Lane: "l", Name: "b", Logger: quietLogger()})
	var ye *YardError
	if !errors.Is(err, ErrYardInUse) || !errors.As(err, &ye) || ye.Yard != "b" {
		t.Fatalf("second yard b: %v", err)
	}
	a := newTestStack(t, dir, "a", nil)
	if err := a.Send(ctxTimeout(t, 5*time.Second), "b", Map{{"x", 1}}); err != nil {
		t.Fatal(err)
	}
	recvOne(t, b)
}

func TestNotASocketLeftAlone(t *testing.T) {
	dir := testDir(t)
	path, _ := YardPath(dir, "l", "b")
	if err := os.WriteFile(path, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Dir: dir, Lane: "l", Name: "b", Logger: quietLogger()}); err == nil {
		t.Fatal("bound over a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "keep me" {
		t.Fatalf("file changed: %q %v", b, err)
	}
}

func TestBackpressure(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", func(c *Config) { c.MaxQueue = 4 })
	b := newTestStack(t, dir, "b", func(c *Config) { c.RecvQueue = 1 })
	// b does not read: its socket fills, then a's queue for it.
	sent := 0
	var err error
	for sent < 10000 {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		err = a.Send(ctx, "b", Map{{"seq", int64(sent)}, {"pad", pad(500)}})
		cancel()
		if err != nil {
			break
		}
		sent++
	}
	var ye *YardError
	if !errors.Is(err, ErrQueueFull) || !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &ye) || ye.Yard != "b" {
		t.Fatalf("after %d sends: %v", sent, err)
	}
	if q := a.Stats().TxQueued; q != 4 {
		t.Errorf("queued %d, want 4", q)
	}
	waitEvent(t, a, EventYardBusy, "b")
	// Now b reads: every message that Send accepted arrives, in order.
	for i := range sent {
		m := recvOne(t, b)
		got, _ := m.Decode()
		if seq, _ := got.Get("seq"); seq != int64(i) {
			t.Fatalf("message %d has seq %v", i, seq)
		}
	}
	select {
	case m := <-b.Recv():
		t.Fatalf("extra message %q", m.Body)
	case <-time.After(50 * time.Millisecond):
	}
	eventually(t, func() bool { return a.Stats().TxQueued == 0 })
	if st := a.Stats(); st.TxDropped != 0 || st.TxBusy == 0 {
		t.Errorf("stats %+v", st)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestStalledYard(t *testing.T) {
	dir := testDir(t)
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	a := newTestStack(t, dir, "a", func(c *Config) { c.Now = clock.Now; c.StallTimeout = time.Minute })
	newTestStack(t, dir, "b", func(c *Config) { c.RecvQueue = 1 })
	ctx := ctxTimeout(t, 10*time.Second)
	for a.Stats().TxQueued < 3 {
		if err := a.Send(ctx, "b", Map{{"pad", pad(1000)}}); err != nil {
			t.Fatal(err)
		}
	}
	// Time passes: b's reader may still take a page or two (progress restarts
	// the stall clock), then nothing more.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				clock.Add(2 * time.Minute)
			}
		}
	}()
	ev := waitEvent(t, a, EventYardStalled, "b")
	if ev.Dropped == 0 || !errors.Is(ev.Err, ErrStalled) {
		t.Errorf("event %v", ev)
	}
	if st := a.Stats(); st.TxQueued != 0 || st.TxDropped != uint64(ev.Dropped) {
		t.Errorf("stats %+v, event %v", st, ev)
	}
}

func TestBadPagesReported(t *testing.T) {
	dir := testDir(t)
	b := newTestStack(t, dir, "b", nil)
	path := b.Path()
	page := func(sn, dn, body string) []byte {
		h := Head{Src: sn, Dst: dn, Session: "s", Book: 1, Pages: 1}
		return append(AppendHead(nil, &h), body...)
	}
	cases := []struct {
		name string
		page []byte
		yard string
	}{
		{"garbage", []byte("hello"), ""},
		{"bad head", []byte("ri RAET\nzz 1\n\n{}"), ""},
		{"misaddressed", page("x", "other", "{}"), "x"},
		{"bad source name", page("a/b", "b", "{}"), ""},
		{"bad json body", page("x", "b", `{"a":`), "x"},
		{"list body", page("x", "b", `[1]`), "x"},
	}
	for _, c := range cases {
		sendRaw(t, path, c.page)
		ev := waitEvent(t, b, EventBadPage, c.yard)
		if !errors.Is(ev.Err, ErrBadPage) && !errors.Is(ev.Err, ErrBody) {
			t.Errorf("%s: event err %v", c.name, ev.Err)
		}
	}
	sendRaw(t, path, page("x", "b", `{"ok":true}`))
	if m := recvOne(t, b); m.From != "x" || string(m.Body) != `{"ok":true}` {
		t.Fatalf("good page after bad ones: %+v", m)
	}
	st := b.Stats()
	if st.RxBadPages != 2 || st.RxMisaddressed != 2 || st.RxBadBodies != 2 || st.RxMessages != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestIncompleteBookExpires(t *testing.T) {
	dir := testDir(t)
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	b := newTestStack(t, dir, "b", func(c *Config) { c.Now = clock.Now; c.BookTimeout = 40 * time.Millisecond })
	pages, _ := testBook(t, "x", "s", 5, 300, 100)
	for _, p := range pages[:2] {
		p = bytes.Replace(p, []byte("dn me\n"), []byte("dn b\n"), 1)
		sendRaw(t, b.Path(), p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for b.Stats().RxPages < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	clock.Add(time.Second)
	ev := waitEvent(t, b, EventBookDropped, "x")
	if !errors.Is(ev.Err, ErrBookExpired) {
		t.Errorf("event %v", ev)
	}
}

func TestHandler(t *testing.T) {
	dir := testDir(t)
	var self atomic.Pointer[Stack]
	b := newTestStack(t, dir, "b", func(c *Config) {
		c.Handler = func(m Message) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			self.Load().Send(ctx, m.From, RawJSON(`{"echo":`+string(m.Body)+`}`))
		}
	})
	self.Store(b)
	if b.Recv() != nil {
		t.Error("Recv is not nil with a Handler")
	}
	a := newTestStack(t, dir, "a", nil)
	if err := a.Send(ctxTimeout(t, 5*time.Second), "b", Map{{"q", 1}}); err != nil {
		t.Fatal(err)
	}
	if m := recvOne(t, a); string(m.Body) != `{"echo":{"q":1}}` {
		t.Fatalf("got %q", m.Body)
	}
}

func TestCloseDrains(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", func(c *Config) { c.RecvQueue = 1 })
	ctx := ctxTimeout(t, 10*time.Second)
	n := 0
	for a.Stats().TxQueued < 5 {
		if err := a.Send(ctx, "b", Map{{"seq", int64(n)}}); err != nil {
			t.Fatal(err)
		}
		n++
	}
	got := make(chan int)
	go func() {
		time.Sleep(50 * time.Millisecond)
		k := 0
		for range b.Recv() {
			k++
			if k == n {
				break
			}
		}
		got <- k
	}()
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if k := <-got; k != n {
		t.Fatalf("b got %d of %d", k, n)
	}
	if err := a.Send(ctx, "b", Map{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close: %v", err)
	}
	if _, ok := <-a.Recv(); ok {
		t.Error("Recv not closed")
	}
	if _, err := os.Stat(a.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket file left: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCloseUndelivered(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", func(c *Config) { c.CloseTimeout = 20 * time.Millisecond })
	newTestStack(t, dir, "b", func(c *Config) { c.RecvQueue = 1 })
	ctx := ctxTimeout(t, 10*time.Second)
	for a.Stats().TxQueued < 3 {
		if err := a.Send(ctx, "b", Map{{"pad", pad(1000)}}); err != nil {
			t.Fatal(err)
		}
	}
	err := a.Close()
	if !errors.Is(err, ErrUndelivered) {
		t.Fatalf("Close: %v", err)
	}
	// b's reader may still take a page or two before it blocks; the rest are
	// reported.
	ev := waitEvent(t, a, EventUndelivered, "b")
	if st := a.Stats(); ev.Dropped == 0 || st.TxDropped != uint64(ev.Dropped) || st.TxQueued != 0 {
		t.Errorf("event %v, stats %+v", ev, st)
	}
	if !strings.Contains(err.Error(), fmt.Sprint(ev.Dropped)) {
		t.Errorf("Close error %q does not count %d messages", err, ev.Dropped)
	}
}

func TestConfigDefaults(t *testing.T) {
	dir := filepath.Join(testDir(t), "new", "sub")
	s, err := New(Config{Dir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Lane() != "lane" || !strings.HasPrefix(s.Name(), "lane_") || len(s.Name()) != 5+18 {
		t.Errorf("lane %q name %q", s.Lane(), s.Name())
	}
	if want := filepath.Join(dir, "lane."+s.Name()+".uxd"); s.Path() != want {
		t.Errorf("path %q, want %q", s.Path(), want)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v %v", st, err)
	}
	lane, yard, err := NamesFromPath(s.Path())
	if err != nil || lane != "lane" || yard != s.Name() {
		t.Errorf("NamesFromPath = %q %q %v", lane, yard, err)
	}
}

func TestConfigAndSendErrors(t *testing.T) {
	dir := testDir(t)
	for _, cfg := range []Config{
		{Dir: dir, Name: "a.b"},
		{Dir: dir, Name: "a b"},
		{Dir: dir, Lane: "x/y", Name: "a"},
		{Dir: dir, Lane: "..", Name: "a"},
		{Dir: dir, Name: strings.Repeat("n", 120)},
		{Dir: dir, Name: "a", Kind: 3},
	} {
		cfg.Logger = quietLogger()
		if s, err := New(cfg); err == nil {
			s.Close()
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
	a := newTestStack(t, dir, "a", func(c *Config) { c.MaxMessageSize = 1000 })
	ctx := ctxTimeout(t, 5*time.Second)
	if err := a.Send(ctx, "b.c", Map{}); !errors.Is(err, ErrBadName) {
		t.Errorf("bad yard name: %v", err)
	}
	if err := a.Send(ctx, "b", Map{{"pad", pad(2000)}}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if err := a.Send(ctx, "b", []any{1}); !errors.Is(err, ErrBody) {
		t.Errorf("list body: %v", err)
	}
	if err := a.Send(ctx, "nobody", Map{}); !errors.Is(err, ErrYardGone) {
		t.Errorf("missing yard: %v", err)
	}
}
