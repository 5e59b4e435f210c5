// Package faultnet is test support for datagram protocols: it loses,
// duplicates, reorders, delays and corrupts datagrams on purpose, with every
// decision drawn from a seeded generator so that a failing run can be
// replayed with the same seed.
//
// It offers three ways in: Wrap puts faults on the writes of any
// net.PacketConn; Network is an in-memory datagram network that needs no
// sockets and can run on a fake clock (like wireguard-go's conn/bindtest);
// Relay is a UDP proxy on loopback that applies faults between a program
// under test and a peer in another process.
package faultnet

import (
	"math/rand"
	"sync"
	"time"
)

// Faults says what may happen to each datagram. Probabilities are in [0, 1];
// the zero value delivers every datagram at once and intact.
type Faults struct {
	Drop      float64 // the datagram is lost
	Duplicate float64 // one more copy is delivered (with its own delay)
	Reorder   float64 // the datagram is held back ReorderDelay so later ones overtake it
	Corrupt   float64 // one to three bytes of the datagram are flipped

	Delay        time.Duration // added to every datagram
	Jitter       time.Duration // a further random delay in [0, Jitter)
	ReorderDelay time.Duration // hold of a reordered datagram; default 2*Jitter, at least 1 ms

	// Seed fixes the decisions: the n-th datagram on a link meets the same
	// fate in every run with this seed. Zero is a seed like any other.
	Seed int64
}

// Active reports whether any fault is configured.
func (f Faults) Active() bool {
	return f.Drop > 0 || f.Duplicate > 0 || f.Reorder > 0 || f.Corrupt > 0 || f.Delay > 0 || f.Jitter > 0
}

func (f Faults) reorderDelay() time.Duration {
	if f.ReorderDelay > 0 {
		return f.ReorderDelay
	}
	return max(2*f.Jitter, time.Millisecond)
}

// Copy is one delivery of a datagram: after Delay, with Data (a private copy
// when corrupted, else the original slice).
type Copy struct {
	Delay     time.Duration
	Data      []byte
	Corrupted bool
}

// Fate is what happens to one datagram: no copies when it is dropped.
type Fate struct {
	Copies    []Copy
	Dropped   bool
	Reordered bool
}

// Dice draws the fates of the datagrams of one link, in order. It is safe
// for concurrent use; the n-th call always gets the n-th fate of the seed.
type Dice struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
	n   uint64
}

// NewDice returns the dice of one link, seeded from f.Seed and salt (say, a
// hash of the link's two addresses), so every link has its own sequence.
func NewDice(f Faults, salt int64) *Dice {
	return &Dice{f: f, rng: rand.New(rand.NewSource(f.Seed*1_000_003 + salt))}
}

// Faults returns the faults the dice apply.
func (d *Dice) Faults() Faults { return d.f }

// Roll decides the fate of the next datagram b.
func (d *Dice) Roll(b []byte) Fate {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	f := d.f
	// Draw every number each time, used or not, so that the fate of the n-th
	// datagram does not depend on the sizes or fates of earlier ones.
	drop, dup, reorder, corrupt := d.rng.Float64(), d.rng.Float64(), d.rng.Float64(), d.rng.Float64()
	j1, j2 := d.rng.Int63(), d.rng.Int63()
	flips := [3]int64{d.rng.Int63(), d.rng.Int63(), d.rng.Int63()}
	nflip := 1 + d.rng.Intn(3)
	if drop < f.Drop {
		return Fate{Dropped: true}
	}
	delay := func(j int64) time.Duration {
		dl := f.Delay
		if f.Jitter > 0 {
			dl += time.Duration(j % int64(f.Jitter))
		}
		return dl
	}
	c := Copy{Delay: delay(j1), Data: b}
	fate := Fate{}
	if reorder < f.Reorder {
		c.Delay += f.reorderDelay()
		fate.Reordered = true
	}
	if corrupt < f.Corrupt && len(b) > 0 {
		c.Data = append([]byte(nil), b...)
		for i := 0; i < nflip; i++ {
			pos := int(flips[i] % int64(len(b)))
			c.Data[pos] ^= byte(1 + flips[i]>>20%255)
		}
		c.Corrupted = true
	}
	fate.Copies = append(fate.Copies, c)
	if dup < f.Duplicate {
		fate.Copies = append(fate.Copies, Copy{Delay: delay(j2), Data: b})
	}
	return fate
}

// Count returns how many datagrams the dice have decided.
func (d *Dice) Count() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// Counters count what faults did. All fields only grow.
type Counters struct {
	Sent       uint64 // datagrams written
	Delivered  uint64 // copies handed to a reader (or written on, for Wrap and Relay)
	Dropped    uint64 // lost on purpose
	Duplicated uint64 // extra copies made
	Reordered  uint64 // held back to be overtaken
	Corrupted  uint64 // copies with flipped bytes
	Overflow   uint64 // lost because the receiver's queue was full
	Unroutable uint64 // sent to an address nobody listens on
}

// counters is the locked form of Counters.
type counters struct {
	mu sync.Mutex
	c  Counters
}

func (c *counters) add(f func(*Counters)) {
	c.mu.Lock()
	f(&c.c)
	c.mu.Unlock()
}

func (c *counters) get() Counters {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.c
}

func (c *counters) fate(fate Fate) {
	c.add(func(k *Counters) {
		k.Sent++
		switch {
		case fate.Dropped:
			k.Dropped++
			return
		case fate.Reordered:
			k.Reordered++
		}
		if len(fate.Copies) > 1 {
			k.Duplicated++
		}
		for _, cp := range fate.Copies {
			if cp.Corrupted {
				k.Corrupted++
			}
		}
	})
}

// linkSalt mixes two address strings into a salt for NewDice.
func linkSalt(from, to string) int64 {
	var h uint64 = 14695981039346656037
	for _, s := range []string{from, "→", to} {
		for i := 0; i < len(s); i++ {
			h ^= uint64(s[i])
			h *= 1099511628211
		}
	}
	return int64(h >> 1)
}
