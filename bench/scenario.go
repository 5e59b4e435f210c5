package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"time"
)

// scenario names a measurement.
type scenario string

const (
	scenRR     scenario = "rr"     // request/response, one in flight
	scenOneWay scenario = "oneway" // small messages one way, pipelined
	scenBulk   scenario = "bulk"   // one large message one way, then the next
)

var allScenarios = []scenario{scenRR, scenOneWay, scenBulk}

// lossyIdle is how long a lossy receiver may stay quiet before the runner
// stops waiting for the rest.
const lossyIdle = 20 * time.Millisecond

// runConfig is what every run of a scenario shares.
type runConfig struct {
	Warmup   time.Duration // run unmeasured first, for this long
	Duration time.Duration // then measure for this long
	Size     int           // payload of request/response and one-way messages
	BulkSize int           // payload of the bulk scenario's messages
	UDPChunk int           // largest datagram of the bare UDP pair
	Logger   *slog.Logger  // logs of the raet stacks
}

// result is what one transport did in one scenario.
type result struct {
	kind    kind
	ops     float64         // round trips, or messages received whole
	bytes   uint64          // payload bytes received (one-way scenarios)
	elapsed time.Duration   // measured time
	lat     []time.Duration // per round trip, or per bulk message
	cpu     time.Duration   // user+sys CPU of the whole process
	cpuOK   bool
	mallocs uint64  // heap allocations of the whole process
	loss    float64 // fraction of sent payload that never arrived (UDP)
	fast    uint64  // raet sessions in fast mode at the end
	isRaet  bool
	notes   string
	err     error
}

// rate is ops per second.
func (r *result) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return r.ops / r.elapsed.Seconds()
}

// mbps is payload megabytes (10^6 bytes) per second.
func (r *result) mbps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.bytes) / 1e6 / r.elapsed.Seconds()
}

// percentile returns the q-quantile (0..1) of the latencies, or 0 with none.
func (r *result) percentile(q float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	s := slices.Clone(r.lat)
	slices.Sort(s)
	i := int(q * float64(len(s)-1))
	return s[i]
}

// cpuPerOp and allocsPerOp divide the process's totals by the ops done.
func (r *result) cpuPerOp() time.Duration {
	if r.ops <= 0 {
		return 0
	}
	return time.Duration(float64(r.cpu) / r.ops)
}

func (r *result) allocsPerOp() float64 {
	if r.ops <= 0 {
		return 0
	}
	return float64(r.mallocs) / r.ops
}

// meter takes the process's CPU time and allocation count at the start of a
// measurement and stores the differences in a result at its end.
type meter struct {
	cpu     time.Duration
	cpuOK   bool
	mallocs uint64
}

func startMeter() meter {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	cpu, ok := cpuTime()
	return meter{cpu: cpu, cpuOK: ok, mallocs: ms.Mallocs}
}

func (m meter) stop(r *result) {
	cpu, ok := cpuTime()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.cpu, r.cpuOK = cpu-m.cpu, ok && m.cpuOK
	r.mallocs = ms.Mallocs - m.mallocs
}

// run measures transport k in scenario sc on a fresh pair.
func run(sc scenario, k kind, rc runConfig) (res result) {
	res.kind = k
	ctx, cancel := context.WithTimeout(context.Background(), rc.Warmup+rc.Duration+60*time.Second)
	defer cancel()
	m, size := modeSink, rc.Size
	switch sc {
	case scenRR:
		m = modeEcho
	case scenBulk:
		size = rc.BulkSize
	}
	p, err := newPeer(ctx, k, m, peerConfig{Size: size, UDPChunk: rc.UDPChunk, Logger: rc.Logger})
	if err != nil {
		res.err = fmt.Errorf("set up: %w", err)
		return res
	}
	defer func() {
		res.notes = p.notes()
		if rp, ok := p.(*raetPeer); ok {
			res.isRaet, res.fast = true, rp.fastSessions()
		}
		_ = p.close()
	}()
	switch sc {
	case scenRR:
		res.err = runRR(ctx, p, rc, &res)
	case scenOneWay:
		res.err = runOneWay(ctx, p, rc, size, &res)
	case scenBulk:
		res.err = runBulk(ctx, p, rc, size, &res)
	default:
		res.err = fmt.Errorf("unknown scenario %q", sc)
	}
	return res
}

// runRR does round trips one after another, each waiting for the echo.
func runRR(ctx context.Context, p peer, rc runConfig, res *result) error {
	for end := time.Now().Add(rc.Warmup); time.Now().Before(end); {
		if err := p.roundTrip(ctx); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	lat := make([]time.Duration, 0, 1<<18)
	mt := startMeter()
	start := time.Now()
	end := start.Add(rc.Duration)
	var t1 time.Time
	for {
		t0 := time.Now()
		if err := p.roundTrip(ctx); err != nil {
			return err
		}
		t1 = time.Now()
		lat = append(lat, t1.Sub(t0))
		if !t1.Before(end) {
			break
		}
	}
	mt.stop(res)
	res.lat, res.ops, res.elapsed = lat, float64(len(lat)), t1.Sub(start)
	return nil
}

// waitIdle is how long a runner waits for a quiet receiver of p.
func waitIdle(p peer) time.Duration {
	if p.lossy() {
		return lossyIdle
	}
	return 0
}

// settle waits until want bytes arrived; a lossy receiver going quiet is fine.
func settle(ctx context.Context, p peer, want uint64) error {
	err := p.rx().wait(ctx, want, waitIdle(p))
	if errors.Is(err, errShort) {
		return nil
	}
	return err
}

// runOneWay sends messages as fast as the transport takes them, then waits
// for the receiver to have them all; the rate is what the receiver took in.
func runOneWay(ctx context.Context, p peer, rc runConfig, size int, res *result) error {
	rx := p.rx()
	var sent uint64
	for end := time.Now().Add(rc.Warmup); time.Now().Before(end); sent++ {
		if err := p.send(ctx); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	if err := settle(ctx, p, sent*uint64(size)); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	base := rx.bytes.Load()
	mt := startMeter()
	start := time.Now()
	end := start.Add(rc.Duration)
	sent = 0
	for time.Now().Before(end) {
		if err := p.send(ctx); err != nil {
			return err
		}
		sent++
	}
	if err := settle(ctx, p, base+sent*uint64(size)); err != nil {
		return err
	}
	mt.stop(res)
	got := rx.bytes.Load() - base
	res.bytes = got
	res.ops = float64(got) / float64(size)
	res.elapsed = rx.lastAt().Sub(start)
	if want := sent * uint64(size); got < want {
		res.loss = 1 - float64(got)/float64(want)
	}
	return nil
}

// runBulk sends one large message, waits until the receiver has it whole,
// and repeats. Each message's time runs from the send to the arrival of its
// last byte; the throughput is the bytes over the sum of those times.
func runBulk(ctx context.Context, p peer, rc runConfig, size int, res *result) error {
	rx := p.rx()
	want := rx.bytes.Load()
	for end := time.Now().Add(rc.Warmup); ; {
		want += uint64(size)
		if err := p.send(ctx); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if err := settle(ctx, p, want); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		if !time.Now().Before(end) {
			break
		}
	}
	base := rx.bytes.Load()
	want = base
	lat := make([]time.Duration, 0, 1024)
	mt := startMeter()
	end := time.Now().Add(rc.Duration)
	var sent uint64
	for {
		t0 := time.Now()
		want += uint64(size)
		if err := p.send(ctx); err != nil {
			return err
		}
		sent++
		if err := settle(ctx, p, want); err != nil {
			return err
		}
		lat = append(lat, max(rx.lastAt().Sub(t0), 0))
		// A lossy receiver may be short: the next message counts from here.
		want = rx.bytes.Load()
		if !time.Now().Before(end) {
			break
		}
	}
	mt.stop(res)
	got := rx.bytes.Load() - base
	res.lat = lat
	res.bytes = got
	res.ops = float64(got) / float64(size)
	for _, d := range lat {
		res.elapsed += d
	}
	if total := sent * uint64(size); got < total {
		res.loss = 1 - float64(got)/float64(total)
	}
	return nil
}
