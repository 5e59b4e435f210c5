package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/raet-go/raet/lane"
)

// options are the settings of a run.
type options struct {
	Duration   time.Duration // measured time of each row, over all rounds
	Warmup     time.Duration // unmeasured run before each slice
	Rounds     int           // rounds the rows take turns in
	Size       int           // body bytes of a lane message
	Depth      int           // requests in flight in the pipelined rows; 0 or 1: none
	Transports []string
	Strict     bool
}

// pair is a client in this process and its echo peer in a child process.
type pair struct {
	trans string
	child *child
	cl    client
}

// row is one transport measured with depth requests in flight.
type row struct {
	p       *pair
	depth   int
	ops     int
	elapsed time.Duration
	cpu     time.Duration // both processes
	cpuOK   bool
	mallocs uint64 // both processes
	rec     recorder
	err     error
}

// lanePageLen is the length of a lane page carrying a body of size bytes
// from the client to the echo peer: the ceiling's datagrams are this long.
func lanePageLen(size int) int {
	h := lane.Head{Src: clientName, Dst: echoName, Session: strings.Repeat("0", 18), Book: 0x10000, Pages: 1}
	return len(lane.AppendHead(nil, &h)) + size
}

// run sets up the pairs, measures every row in turns and prints the tables.
// It reports whether the lane goals that could be judged were met.
func run(o options, out, progress io.Writer) (bool, error) {
	root, err := os.MkdirTemp("", "raet-bench-lane-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(root)
	began := time.Now()
	load := loadAverage()

	var pairs []*pair
	defer func() {
		for _, p := range pairs {
			if err := p.cl.close(); err != nil {
				fmt.Fprintf(progress, "closing the %s client: %v\n", p.trans, err)
			}
			if err := p.child.stop(); err != nil {
				fmt.Fprintf(progress, "stopping the %s echo peer: %v\n", p.trans, err)
			}
		}
	}()
	for _, t := range o.Transports {
		p, err := newPair(t, filepath.Join(root, t), o.Size)
		if err != nil {
			return false, fmt.Errorf("%s: %w", t, err)
		}
		pairs = append(pairs, p)
	}

	var rows []*row
	for _, p := range pairs {
		rows = append(rows, &row{p: p, depth: 1})
	}
	if o.Depth > 1 {
		for _, p := range pairs {
			rows = append(rows, &row{p: p, depth: o.Depth})
		}
	}
	slice := o.Duration / time.Duration(o.Rounds)
	for r := range o.Rounds {
		fmt.Fprintf(progress, "round %d of %d ...\n", r+1, o.Rounds)
		for _, rw := range rows {
			if rw.err == nil {
				rw.err = rw.measure(slice, o.Warmup, o.Rounds-r)
			}
		}
	}

	printHeader(out, o, load, root)
	met := printTables(out, o, rows)
	fmt.Fprintf(out, "\nload average after: %s; whole run took %s\n", loadAverage(), time.Since(began).Round(100*time.Millisecond))
	return met, nil
}

// newPair starts the echo peer of transport t with its socket in dir, then
// the client.
func newPair(t, dir string, size int) (*pair, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	ch, err := startChild(t, dir)
	if err != nil {
		return nil, err
	}
	var cl client
	switch t {
	case transUnixgram:
		cl, err = newUnixgramClient(dir, lanePageLen(size))
	case transLane, transLaneChan:
		cl, err = newLaneClient(dir, size, t == transLane)
	case transNode:
		cl, err = newNodeClient(dir, size)
	default:
		err = fmt.Errorf("unknown transport %q", t)
	}
	if err != nil {
		_ = ch.stop()
		return nil, err
	}
	return &pair{trans: t, child: ch, cl: cl}, nil
}

// exec runs the row's client until until.
func (rw *row) exec(until time.Time, rec *recorder) (int, error) {
	if rw.depth <= 1 {
		return rw.p.cl.roundTrips(until, rec)
	}
	return rw.p.cl.pipeline(until, rw.depth, rec)
}

// measure runs the row unmeasured for warmup, then measured for slice, and
// adds what it did; left is the number of slices still to come, this one
// included, to size the latency record from the warm-up's rate.
func (rw *row) measure(slice, warmup time.Duration, left int) error {
	runtime.GC()
	if warmup > 0 {
		n, err := rw.exec(time.Now().Add(warmup), nil)
		if err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
		want := int(float64(n)/warmup.Seconds()*slice.Seconds()*float64(left)*1.5) + 1024
		rw.rec.lat = slices.Grow(rw.rec.lat, want)
	}
	cpu0, m0, ok0, err := rw.usage()
	if err != nil {
		return err
	}
	t0 := time.Now()
	n, err := rw.exec(t0.Add(slice), &rw.rec)
	elapsed := time.Since(t0)
	if err != nil {
		return err
	}
	cpu1, m1, ok1, err := rw.usage()
	if err != nil {
		return err
	}
	rw.ops += n
	rw.elapsed += elapsed
	rw.cpu += cpu1 - cpu0
	rw.cpuOK = ok0 && ok1 && (rw.cpuOK || rw.ops == n)
	rw.mallocs += m1 - m0
	return nil
}

// usage is the CPU time and allocations of both processes so far.
func (rw *row) usage() (time.Duration, uint64, bool, error) {
	cpu, ok := cpuTime()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ccpu, cm, err := rw.p.child.usage()
	if err != nil {
		return 0, 0, false, fmt.Errorf("echo peer: %w", err)
	}
	return cpu + ccpu, ms.Mallocs + cm, ok, nil
}

func (rw *row) rate() float64 {
	if rw.elapsed <= 0 {
		return 0
	}
	return float64(rw.ops) / rw.elapsed.Seconds()
}

// percentile returns the q-quantile (0..1) of the latencies; call sortLat
// first.
func (rw *row) percentile(q float64) time.Duration {
	if len(rw.rec.lat) == 0 {
		return 0
	}
	return rw.rec.lat[int(q*float64(len(rw.rec.lat)-1))]
}

func (rw *row) sortLat() { slices.Sort(rw.rec.lat) }

func (rw *row) ok() bool { return rw.err == nil && rw.ops > 0 }
