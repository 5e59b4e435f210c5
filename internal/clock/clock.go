// Package clock lets protocol code read time through an interface, so tests
// can run it on a fake clock that moves only when told to and never flakes on
// a busy machine.
package clock

import (
	"sort"
	"sync"
	"time"
)

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	// NewTicker returns a ticker firing every d, read from C; Stop releases it.
	NewTicker(d time.Duration) Ticker
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

// Advance moves the clock forward by d, firing every ticker whose time has
// come, in time order. A ticker whose channel is full drops the tick, as a
// real ticker does.
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
		due.next = due.next.Add(due.d)
		select {
		case due.c <- f.now:
		default:
		}
	}
	f.now = end
	f.mu.Unlock()
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
	ts := t.f.tickers
	for i, x := range ts {
		if x == t {
			t.f.tickers = append(ts[:i:i], ts[i+1:]...)
			break
		}
	}
	sort.SliceStable(t.f.tickers, func(i, j int) bool { return t.f.tickers[i].next.Before(t.f.tickers[j].next) })
}
