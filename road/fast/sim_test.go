package fast

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math/rand"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
)

var t0 = time.Unix(1_700_000_000, 0)

// Fixed test identities: estate uids, session id and short-term keys.
const (
	uidA, uidB, sid = 1, 2, 7
)

var (
	pubA   = sha256.Sum256([]byte("public A"))
	pubB   = sha256.Sum256([]byte("public B"))
	shared = sha256.Sum256([]byte("shared secret"))
)

// testKeys returns A's and B's keys of one session.
func testKeys(t testing.TB) (*Keys, *Keys) {
	ka, err := DeriveKeys(shared, pubA, pubB)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := DeriveKeys(shared, pubB, pubA)
	if err != nil {
		t.Fatal(err)
	}
	return ka, kb
}

// newPair makes the two ends of one session, A (uid 1) and B (uid 2).
func newPair(t testing.TB, ca, cb Config) (*Session, *Session) {
	ka, kb := testKeys(t)
	a, err := NewSession(ca, ka, header.Head{Se: uidA, De: uidB, Si: sid}, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSession(cb, kb, header.Head{Se: uidB, De: uidA, Si: sid}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// linkConf describes one direction of a simulated path.
type linkConf struct {
	drop, dup     float64       // probabilities per packet
	delay, jitter time.Duration // one-way delay, plus up to jitter at random (reorders)
	rate          int           // bottleneck bytes per second; 0: none
	queue         int           // bytes the bottleneck queue holds
}

// link is one direction of a simulated path on fake time.
type link struct {
	linkConf
	rng  *rand.Rand
	q    flights
	seq  int
	busy time.Time // when the bottleneck finishes what it holds

	sent, lost, queueDrops, dups int
	maxQueue                     int
}

func newLink(c linkConf, seed int64) *link {
	return &link{linkConf: c, rng: rand.New(rand.NewSource(seed))}
}

type flight struct {
	at  time.Time
	seq int
	b   []byte
}

type flights []flight

func (f flights) Len() int { return len(f) }
func (f flights) Less(i, j int) bool {
	if !f[i].at.Equal(f[j].at) {
		return f[i].at.Before(f[j].at)
	}
	return f[i].seq < f[j].seq
}
func (f flights) Swap(i, j int) { f[i], f[j] = f[j], f[i] }
func (f *flights) Push(x any)   { *f = append(*f, x.(flight)) }
func (f *flights) Pop() any {
	old := *f
	x := old[len(old)-1]
	*f = old[:len(old)-1]
	return x
}

// send puts a copy of p on the link at now.
func (l *link) send(now time.Time, p []byte) {
	l.sent++
	at := now
	if l.rate > 0 {
		start := now
		if l.busy.After(now) {
			start = l.busy
		}
		backlog := int(float64(start.Sub(now)) / float64(time.Second) * float64(l.rate))
		if backlog+len(p) > l.queue {
			l.queueDrops++
			return
		}
		l.maxQueue = max(l.maxQueue, backlog+len(p))
		l.busy = start.Add(time.Duration(float64(len(p)) / float64(l.rate) * float64(time.Second)))
		at = l.busy
	}
	if l.rng.Float64() < l.drop {
		l.lost++
		return
	}
	copies := 1
	if l.rng.Float64() < l.dup {
		copies = 2
		l.dups++
	}
	for i := 0; i < copies; i++ {
		d := l.delay
		if l.jitter > 0 {
			d += time.Duration(l.rng.Int63n(int64(l.jitter)))
		}
		l.seq++
		heap.Push(&l.q, flight{at: at.Add(d), seq: l.seq, b: append([]byte(nil), p...)})
	}
}

// next returns when the next packet arrives, or the zero Time.
func (l *link) next() time.Time {
	if len(l.q) == 0 {
		return time.Time{}
	}
	return l.q[0].at
}

// arrive pops the packets due at now.
func (l *link) arrive(now time.Time, fn func(p []byte)) {
	for len(l.q) > 0 && !l.q[0].at.After(now) {
		f := heap.Pop(&l.q).(flight)
		fn(f.b)
	}
}

// sim runs two sessions over two links on fake time.
type sim struct {
	t      testing.TB
	now    time.Time
	a, b   *Session
	ab, ba *link
	toA    func(msg []byte) // deliveries at A
	toB    func(msg []byte) // deliveries at B
	feed   func()           // called every step, to queue more messages
	check  func()           // called every step, after sending
	steps  int
}

// benign reports whether a Receive error is one a faulty network causes.
func benign(err error) bool {
	return err == nil || errors.Is(err, ErrReplay) || errors.Is(err, ErrEpoch) || errors.Is(err, ErrOverload)
}

// step sends what both ends have, then moves time to the next event and
// delivers what arrives. It reports false when nothing is pending anywhere.
func (s *sim) step() bool {
	s.steps++
	if s.feed != nil {
		s.feed()
	}
	s.a.Flush(s.now, func(p []byte) { s.ab.send(s.now, p) })
	s.b.Flush(s.now, func(p []byte) { s.ba.send(s.now, p) })
	for i, x := range []*Session{s.a, s.b} {
		name := string(rune('A' + i))
		if err := x.checkInvariants(); err != nil {
			s.t.Fatalf("step %d: %s: %v", s.steps, name, err)
		}
		if d := x.NextDeadline(); !d.IsZero() && !d.After(s.now) {
			s.t.Fatalf("step %d: %s asks to be called again at %v, now is %v", s.steps, name, d.Sub(t0), s.now.Sub(t0))
		}
	}
	if s.check != nil {
		s.check()
	}
	var next time.Time
	for _, d := range []time.Time{s.a.NextDeadline(), s.b.NextDeadline(), s.ab.next(), s.ba.next()} {
		if !d.IsZero() && (next.IsZero() || d.Before(next)) {
			next = d
		}
	}
	if next.IsZero() {
		return false
	}
	if next.After(s.now) {
		s.now = next
	}
	s.ab.arrive(s.now, func(p []byte) {
		if err := s.b.Receive(s.now, p, s.toB); !benign(err) {
			s.t.Fatalf("step %d: B receive: %v", s.steps, err)
		}
	})
	s.ba.arrive(s.now, func(p []byte) {
		if err := s.a.Receive(s.now, p, s.toA); !benign(err) {
			s.t.Fatalf("step %d: A receive: %v", s.steps, err)
		}
	})
	return true
}

// runUntil steps until done, failing after limit of virtual time.
func (s *sim) runUntil(done func() bool, limit time.Duration) {
	end := s.now.Add(limit)
	for !done() {
		if !s.step() {
			s.t.Fatalf("nothing pending at %v before done", s.now.Sub(t0))
		}
		if s.now.After(end) {
			s.t.Fatalf("not done after %v of virtual time (%d steps)", limit, s.steps)
		}
	}
}

// msgGen makes the test messages: sizes from a seed, bytes from the index,
// so a receiver can check them without keeping copies.
type msgGen struct {
	sizes []int
	seed  int64
}

func (g *msgGen) msg(i int) []byte {
	n := g.sizes[i]
	b := make([]byte, n+8)
	x := uint64(g.seed)*0x9e3779b97f4a7c15 + uint64(i)*0xbf58476d1ce4e5b9 + 1
	for j := 0; j < n; j += 8 {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		binary.LittleEndian.PutUint64(b[j:], x)
	}
	return b[:n]
}

// receiver checks messages arrive in order, intact and once.
type receiver struct {
	t    testing.TB
	name string
	gen  *msgGen
	got  int
}

func (r *receiver) deliver(msg []byte) {
	if r.got >= len(r.gen.sizes) {
		r.t.Fatalf("%s: message %d delivered, only %d sent", r.name, r.got, len(r.gen.sizes))
	}
	want := r.gen.msg(r.got)
	if string(msg) != string(want) {
		r.t.Fatalf("%s: message %d: got %d bytes, want %d (or bytes differ)", r.name, r.got, len(msg), len(want))
	}
	r.got++
}

// sender queues a generator's messages as the session takes them.
type sender struct {
	s       *Session
	gen     *msgGen
	next    int
	pending []byte // message next, made once
}

func (f *sender) feed(t testing.TB) {
	for f.next < len(f.gen.sizes) {
		if f.pending == nil {
			f.pending = f.gen.msg(f.next)
		}
		err := f.s.Send(f.pending)
		if errors.Is(err, ErrFull) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		f.next++
		f.pending = nil
	}
}
