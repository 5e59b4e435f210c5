// Package clock lets protocol code read time through an interface, so tests
// can run it on a fake clock that moves only when told to and never flakes on
// a busy machine.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker firing every d, read from C; Stop releases it.
	NewTicker(d time.Duration) Ticker
	// NewTimer returns a timer firing once after d; Reset arms it again.
	NewTimer(d time.Duration) Timer
}

// Timer delivers one tick on C after its duration, again after each Reset.
type Timer interface {
	C() <-chan time.Time
	// Reset arms the timer to fire after d (dropping any tick not yet read).
	Reset(d time.Duration)
	Stop()
}

// Ticker delivers ticks on C until stopped.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the system clock.
type Real struct{}

// Now returns time.Now.
func (Real) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

// NewTimer returns a time.Timer.
func (Real) NewTimer(d time.Duration) Timer { return &realTimer{time.NewTimer(d)} }

type realTimer struct{ t *time.Timer }

func (r *realTimer) C() <-chan time.Time { return r.t.C }
func (r *realTimer) Reset(d time.Duration) {
	r.t.Stop()
	select {
	case <-r.t.C:
	default:
	}
	r.t.Reset(d)
}
func (r *realTimer) Stop() { r.t.Stop() }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Fake is a clock that moves only through Advance. Its zero value starts at
// the Unix epoch; it is safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

// NewFake returns a fake clock reading start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTicker returns a ticker driven by Advance.
func (f *Fake) NewTicker(d time.Duration) Ticker {
	if d <= 0 {
		panic("clock: non-positive ticker interval")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{f: f, d: d, next: f.now.Add(d), c: make(chan time.Time, 1)}
	f.tickers = append(f.tickers, t)
	return t
}

// NewTimer returns a one-shot timer driven by Advance.
func (f *Fake) NewTimer(d time.Duration) Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{f: f, d: 0, next: f.now.Add(d), c: make(chan time.Time, 1)}
	f.tickers = append(f.tickers, t)
	return &fakeTimer{t}
}

type fakeTimer struct{ t *fakeTicker }

func (x *fakeTimer) C() <-chan time.Time { return x.t.c }
func (x *fakeTimer) Stop()               { x.t.Stop() }
func (x *fakeTimer) Reset(d time.Duration) {
	f := x.t.f
	f.mu.Lock()
	defer f.mu.Unlock()
	select {
	case <-x.t.c:
	default:
	}
	x.t.next = f.now.Add(d)
	for _, t := range f.tickers {
		if t == x.t {
			return
		}
	}
	f.tickers = append(f.tickers, x.t)
}

// Advance moves the clock forward by d, firing every ticker and timer whose
// time has come, in time order. A ticker whose channel is full drops the
// tick, as a real ticker does; a timer fires once.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	end := f.now.Add(d)
	for {
		var due *fakeTicker
		for _, t := range f.tickers {
			if !t.next.After(end) && (due == nil || t.next.Before(due.next)) {
				due = t
			}
		}
		if due == nil {
			break
		}
		f.now = due.next
		if due.d > 0 {
			due.next = due.next.Add(due.d)
		} else {
			f.remove(due) // a timer: once
		}
		select {
		case due.c <- f.now:
		default:
		}
	}
	f.now = end
	f.mu.Unlock()
}

// remove drops a ticker or timer; the caller holds f.mu.
func (f *Fake) remove(t *fakeTicker) {
	for i, x := range f.tickers {
		if x == t {
			f.tickers = append(f.tickers[:i:i], f.tickers[i+1:]...)
			return
		}
	}
}

// Tickers returns how many tickers are running (for tests that wait for a
// component to start).
func (f *Fake) Tickers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tickers)
}

type fakeTicker struct {
	f    *Fake
	d    time.Duration
	next time.Time
	c    chan time.Time
}

func (t *fakeTicker) C() <-chan time.Time { return t.c }

func (t *fakeTicker) Stop() {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	t.f.remove(t)
}
