package lane

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"
)

func direct(c *Config) { c.Direct = true }

// receiveOne takes a message with Receive, failing the test after 10s.
func receiveOne(t testing.TB, s *Stack) Message {
	t.Helper()
	m, err := s.Receive(ctxTimeout(t, 10*time.Second))
	if err != nil {
		t.Fatalf("%s: Receive: %v (stats %+v)", s.Name(), err, s.Stats())
	}
	return m
}

func TestDirectReceive(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", direct)
	if b.Recv() != nil {
		t.Fatal("Recv is not nil with Direct")
	}
	// Sizes of one page, and of several (a book reassembled across calls).
	sizes := []int{-1, 0, 10, 70000, 300000, 5}
	ctx := ctxTimeout(t, 10*time.Second)
	for i, size := range sizes {
		body := Map{}
		if size >= 0 {
			body = Map{{"i", int64(i)}, {"pad", pad(size)}}
		}
		if err := a.Send(ctx, "b", body); err != nil {
			t.Fatal(err)
		}
	}
	for i, size := range sizes {
		m := receiveOne(t, b)
		got, err := m.Decode()
		if err != nil {
			t.Fatal(err)
		}
		if m.From != "a" || m.Kind != PackJSON {
			t.Fatalf("message %d: from %q kind %v", i, m.From, m.Kind)
		}
		if size < 0 {
			if len(got) != 0 {
				t.Fatalf("message %d: %v, want empty", i, got)
			}
			continue
		}
		if n, _ := got.Get("i"); n != int64(i) {
			t.Fatalf("message %d came as %v", i, n)
		}
		if p, _ := got.Get("pad"); len(p.(string)) != size {
			t.Fatalf("message %d: pad of %d bytes, want %d", i, len(p.(string)), size)
		}
	}
	if st := b.Stats(); st.RxMessages != uint64(len(sizes)) {
		t.Errorf("RxMessages %d, want %d", st.RxMessages, len(sizes))
	}
	// Answer back: a Direct stack sends as any other.
	if err := b.Send(ctx, "a", RawJSON(`{"re":1}`)); err != nil {
		t.Fatal(err)
	}
	if m := recvOne(t, a); string(m.Body) != `{"re":1}` {
		t.Fatalf("answer %q", m.Body)
	}
}

func TestDirectReceiveContext(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", direct)
	cases := []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 30*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			time.AfterFunc(30*time.Millisecond, cancel)
			return ctx, cancel
		}, context.Canceled},
		{"already done", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx, cancel
		}, context.Canceled},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := c.ctx()
			defer cancel()
			start := time.Now()
			if _, err := b.Receive(ctx); !errors.Is(err, c.want) {
				t.Fatalf("Receive: %v, want %v", err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Fatalf("Receive took %v to see its context end", d)
			}
			// The interruption must not stick: the next Receive gets a message.
			if err := a.Send(ctxTimeout(t, 5*time.Second), "b", Map{{"n", int64(i)}}); err != nil {
				t.Fatal(err)
			}
			m := receiveOne(t, b)
			if got, _ := m.Decode(); fmt.Sprint(got) != fmt.Sprint(Map{{"n", int64(i)}}) {
				t.Fatalf("after the interruption got %v", got)
			}
		})
	}
}

// TestDirectConcurrentReceivers has several goroutines receive from one
// Direct stack: every message reaches exactly one of them.
func TestDirectConcurrentReceivers(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", direct)
	const n, receivers = 400, 4
	seen := make([]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, receivers)
	for range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				m, err := b.Receive(ctx)
				if err != nil {
					if !errors.Is(err, context.Canceled) {
						errs <- err
					}
					return
				}
				var v struct{ I int }
				if err := m.Unmarshal(&v); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				seen[v.I]++
				mu.Unlock()
			}
		}()
	}
	sctx := ctxTimeout(t, 10*time.Second)
	for i := range n {
		if err := a.Send(sctx, "b", Map{{"I", int64(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, func() bool { return b.Stats().RxMessages == n })
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, k := range seen {
		if k != 1 {
			t.Errorf("message %d received %d times", i, k)
		}
	}
}

// TestDirectBadPagesSkipped: a Direct stack reports bad pages as events and
// goes on to the next good message.
func TestDirectBadPagesSkipped(t *testing.T) {
	dir := testDir(t)
	b := newTestStack(t, dir, "b", direct)
	bad := [][]byte{
		[]byte("hello"),
		append(AppendHead(nil, &Head{Src: "x", Dst: "other", Session: "s", Book: 1, Pages: 1}), "{}"...),
		append(AppendHead(nil, &Head{Src: "x", Dst: "b", Session: "s", Book: 2, Pages: 1}), `{"a":`...),
	}
	for _, p := range bad {
		sendRaw(t, b.Path(), p)
	}
	sendRaw(t, b.Path(), append(AppendHead(nil, &Head{Src: "x", Dst: "b", Session: "s", Book: 3, Pages: 1}), `{"ok":1}`...))
	if m := receiveOne(t, b); m.From != "x" || string(m.Body) != `{"ok":1}` {
		t.Fatalf("got %+v", m)
	}
	for range bad {
		select {
		case ev := <-b.Events():
			if ev.Kind != EventBadPage {
				t.Errorf("event %v", ev)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("bad page not reported")
		}
	}
	if st := b.Stats(); st.RxBadPages != 1 || st.RxMisaddressed != 1 || st.RxBadBodies != 1 || st.RxMessages != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestDirectClose(t *testing.T) {
	dir := testDir(t)
	b := newTestStack(t, dir, "b", direct)
	const waiting = 3 // one reading the socket, the others waiting their turn
	errs := make(chan error, waiting)
	for range waiting {
		go func() {
			_, err := b.Receive(context.Background())
			errs <- err
		}()
	}
	time.Sleep(20 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	for range waiting {
		select {
		case err := <-errs:
			if !errors.Is(err, ErrClosed) {
				t.Errorf("Receive during Close: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Close did not wake a Receive")
		}
	}
	if _, err := b.Receive(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Receive after Close: %v", err)
	}
	if _, ok := <-b.Events(); ok {
		t.Error("Events not closed")
	}
}

// TestReceiveModes: Receive takes from Recv without Direct, and has nothing
// to give when a Handler takes the messages; Direct and Handler exclude
// each other.
func TestReceiveModes(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", nil)
	if err := a.Send(ctxTimeout(t, 5*time.Second), "b", RawJSON(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if m := receiveOne(t, b); string(m.Body) != `{"x":1}` {
		t.Fatalf("got %q", m.Body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Receive with nothing sent: %v", err)
	}
	b.Close()
	if _, err := b.Receive(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Receive after Close: %v", err)
	}

	h := newTestStack(t, dir, "h", func(c *Config) { c.Handler = func(Message) {} })
	if _, err := h.Receive(context.Background()); !errors.Is(err, ErrHandlerSet) {
		t.Errorf("Receive with a Handler: %v", err)
	}
	s, err := New(Config{Dir: dir, Lane: "l", Name: "both", Logger: quietLogger(), Direct: true, Handler: func(Message) {}})
	if err == nil {
		s.Close()
	}
	if !errors.Is(err, ErrHandlerSet) {
		t.Errorf("New with Direct and Handler: %v", err)
	}
}

// TestDirectCloseWhileReading closes a Direct stack while a Receive is busy
// taking a stream of bad pages: Close waits for it, so that nothing is
// reported on Events after they are closed.
func TestDirectCloseWhileReading(t *testing.T) {
	for round := range 5 {
		dir := testDir(t)
		b := newTestStack(t, dir, "b", direct)
		stop := make(chan struct{})
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
			if err != nil {
				return
			}
			defer syscall.Close(fd)
			to := &syscall.SockaddrUnix{Name: b.Path()}
			for {
				select {
				case <-stop:
					return
				default:
				}
				if syscall.Sendto(fd, []byte("not a page"), syscall.MSG_DONTWAIT, to) == syscall.ENOENT {
					return
				}
			}
		}()
		got := make(chan error, 1)
		go func() {
			for {
				if _, err := b.Receive(context.Background()); err != nil {
					got <- err
					return
				}
			}
		}()
		eventually(t, func() bool { return b.Stats().RxBadPages > uint64(10*(round+1)) })
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		<-sent
		if err := <-got; !errors.Is(err, ErrClosed) {
			t.Fatalf("Receive: %v", err)
		}
	}
}

// oddCtx is a context of a type that cannot be compared.
type oddCtx struct {
	context.Context
	tags []string
}

// TestDirectReceiveContextReuse receives several times with one context
// (whose interrupting callback stays registered), with contexts that end
// while nobody reads, and with a context type that cannot be compared.
func TestDirectReceiveContextReuse(t *testing.T) {
	dir := testDir(t)
	a := newTestStack(t, dir, "a", nil)
	b := newTestStack(t, dir, "b", direct)
	n := 0
	send := func() {
		t.Helper()
		n++
		if err := a.Send(ctxTimeout(t, 5*time.Second), "b", Map{{"n", int64(n)}}); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(ctx context.Context) {
		t.Helper()
		m, err := b.Receive(ctx)
		if err != nil {
			t.Fatalf("Receive: %v", err)
		}
		if got, _ := m.Decode(); fmt.Sprint(got) != fmt.Sprint(Map{{"n", int64(n)}}) {
			t.Fatalf("got %v, want n %d", got, n)
		}
	}
	interrupted := func(ctx context.Context, cancel func(), want error) {
		t.Helper()
		time.AfterFunc(30*time.Millisecond, cancel)
		start := time.Now()
		if _, err := b.Receive(ctx); !errors.Is(err, want) {
			t.Fatalf("Receive: %v, want %v", err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("Receive took %v to see its context end", d)
		}
	}

	// One context for many messages, then it ends during a read.
	ctx1, cancel1 := context.WithCancel(context.Background())
	for range 5 {
		send()
		expect(ctx1)
	}
	interrupted(ctx1, cancel1, context.Canceled)
	if _, err := b.Receive(ctx1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive with an ended context: %v", err)
	}
	send()
	expect(ctxTimeout(t, 10*time.Second))

	// A context that ends while nobody reads must not stop later reads.
	ctx2, cancel2 := context.WithCancel(context.Background())
	send()
	expect(ctx2)
	cancel2()
	time.Sleep(10 * time.Millisecond)
	send()
	expect(context.Background())
	ctx3, cancel3 := context.WithCancel(context.Background())
	send()
	expect(ctx3)
	cancel3()
	time.Sleep(10 * time.Millisecond)
	send()
	expect(ctxTimeout(t, 10*time.Second))

	// Contexts that cannot be compared.
	for i := range 3 {
		ctx, cancel := context.WithCancel(context.Background())
		odd := oddCtx{ctx, []string{fmt.Sprint(i)}}
		send()
		expect(odd)
		if i == 2 {
			interrupted(odd, cancel, context.Canceled)
		}
		cancel()
	}
	send()
	expect(ctxTimeout(t, 10*time.Second))
}
