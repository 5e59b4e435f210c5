package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/raet-go/raet/lane"
	"github.com/raet-go/raet/raet"
)

// Transports the rows compare.
const (
	transUnixgram = "unixgram"  // bare datagrams between two bound sockets: the ceiling
	transLane     = "lane"      // lane.Stack Send and Receive with Config.Direct, pre-packed JSON body
	transLaneChan = "lane-chan" // lane.Stack Send and the Recv channel, pre-packed JSON body
	transNode     = "node"      // raet.Node Request and its Handler, over a lane
)

var allTransports = []string{transUnixgram, transLane, transLaneChan, transNode}

// Bounds of -size: a body holds a 16-digit time stamp in a JSON mapping, and
// must fit one page.
const (
	minSize = 32
	maxSize = 60000
)

// replyTimeout is how long a client waits for an echo past the end of its
// slice before it declares the peer lost.
const replyTimeout = 5 * time.Second

var errTimeout = errors.New("no echo within the timeout")

// client is this process's end of a pair; the echo peer is the child.
type client interface {
	// roundTrips sends a request and waits for its echo, again and again
	// until until; each round trip's latency goes to rec (nil: dropped).
	roundTrips(until time.Time, rec *recorder) (int, error)
	// pipeline keeps depth requests in flight until until, then waits for
	// the last echoes; a latency is from a request's send to its echo's
	// arrival.
	pipeline(until time.Time, depth int, rec *recorder) (int, error)
	close() error
}

// recorder collects latencies.
type recorder struct{ lat []time.Duration }

func (r *recorder) add(d time.Duration) {
	if r != nil {
		r.lat = append(r.lat, d)
	}
}

// stamper writes the time into a message as 16 hex digits and reads it back
// from the echo, so that latencies can be taken with many requests in flight.
type stamper struct{ epoch time.Time }

const stampLen = 16

func (s stamper) put(b []byte) {
	const digits = "0123456789abcdef"
	v := uint64(time.Since(s.epoch))
	for i := stampLen - 1; i >= 0; i-- {
		b[i] = digits[v&0xf]
		v >>= 4
	}
}

func (s stamper) age(b []byte) (time.Duration, error) {
	if len(b) < stampLen {
		return 0, errors.New("echo too short for its time stamp")
	}
	var v uint64
	for _, c := range b[:stampLen] {
		switch {
		case '0' <= c && c <= '9':
			v = v<<4 | uint64(c-'0')
		case 'a' <= c && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return 0, fmt.Errorf("echo's time stamp %q is damaged", b[:stampLen])
		}
	}
	return time.Since(s.epoch) - time.Duration(v), nil
}

// jsonBody is a JSON mapping of exactly size bytes, {"t":"<stamp>","p":"xx…"},
// and the offset of its stamp.
func jsonBody(size int) ([]byte, int) {
	const head, tail = `{"t":"`, `","p":"`
	pad := size - len(head) - stampLen - len(tail) - len(`"}`)
	b := []byte(head + strings.Repeat("0", stampLen) + tail + strings.Repeat("x", pad) + `"}`)
	return b, len(head)
}

// unixgramClient is bare datagrams: one sendto and one read per message.
type unixgramClient struct {
	conn    *net.UnixConn
	to      *net.UnixAddr
	out, in []byte
	stamp   stamper
}

func newUnixgramClient(dir string, size int) (*unixgramClient, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, clientName+".uxd"), Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	out := []byte(strings.Repeat("x", size))
	return &unixgramClient{
		conn:  conn,
		to:    &net.UnixAddr{Name: filepath.Join(dir, echoName+".uxd"), Net: "unixgram"},
		out:   out,
		in:    make([]byte, 1<<16),
		stamp: stamper{time.Now()},
	}, nil
}

func (c *unixgramClient) send() error {
	c.stamp.put(c.out)
	_, err := c.conn.WriteToUnix(c.out, c.to)
	return err
}

func (c *unixgramClient) recv() (time.Duration, error) {
	n, err := c.conn.Read(c.in)
	if err != nil {
		if isTimeout(err) {
			return 0, fmt.Errorf("%w: %v", errTimeout, err)
		}
		return 0, err
	}
	if n != len(c.out) {
		return 0, fmt.Errorf("echo of %d bytes, sent %d", n, len(c.out))
	}
	return c.stamp.age(c.in[:n])
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (c *unixgramClient) roundTrips(until time.Time, rec *recorder) (int, error) {
	if err := c.conn.SetReadDeadline(until.Add(replyTimeout)); err != nil {
		return 0, err
	}
	for n := 0; ; n++ {
		t0 := time.Now()
		if !t0.Before(until) {
			return n, nil
		}
		if err := c.send(); err != nil {
			return n, err
		}
		if _, err := c.recv(); err != nil {
			return n, err
		}
		rec.add(time.Since(t0))
	}
}

func (c *unixgramClient) pipeline(until time.Time, depth int, rec *recorder) (int, error) {
	if err := c.conn.SetReadDeadline(until.Add(replyTimeout)); err != nil {
		return 0, err
	}
	n, inflight := 0, 0
	for ; inflight < depth; inflight++ {
		if err := c.send(); err != nil {
			return n, err
		}
	}
	for inflight > 0 {
		lat, err := c.recv()
		if err != nil {
			return n, err
		}
		inflight--
		n++
		rec.add(lat)
		if time.Now().Before(until) {
			if err := c.send(); err != nil {
				return n, err
			}
			inflight++
		}
	}
	return n, nil
}

func (c *unixgramClient) close() error { return c.conn.Close() }

// laneClient is a lane.Stack sending a pre-packed JSON body (lane.RawJSON)
// with Send and taking the echo from Receive (direct: Config.Direct, read
// on the calling goroutine) or from the Recv channel.
type laneClient struct {
	st     *lane.Stack
	direct bool
	body   []byte
	at     int // offset of the stamp in body
	stamp  stamper
}

func newLaneClient(dir string, size int, direct bool) (*laneClient, error) {
	st, err := lane.New(lane.Config{Dir: dir, Lane: laneName, Name: clientName, Logger: quiet(), Direct: direct})
	if err != nil {
		return nil, err
	}
	body, at := jsonBody(size)
	return &laneClient{st: st, direct: direct, body: body, at: at, stamp: stamper{time.Now()}}, nil
}

func (c *laneClient) send(ctx context.Context) error {
	c.stamp.put(c.body[c.at:])
	return c.st.Send(ctx, echoName, lane.RawJSON(c.body))
}

func (c *laneClient) recv(ctx context.Context) (time.Duration, error) {
	var m lane.Message
	if c.direct {
		var err error
		if m, err = c.st.Receive(ctx); err != nil {
			return 0, err
		}
	} else {
		select {
		case got, ok := <-c.st.Recv():
			if !ok {
				return 0, lane.ErrClosed
			}
			m = got
		case <-ctx.Done():
			return 0, errTimeout
		}
	}
	if m.From != echoName || len(m.Body) != len(c.body) {
		return 0, fmt.Errorf("echo of %d bytes from %q, sent %d to %q", len(m.Body), m.From, len(c.body), echoName)
	}
	return c.stamp.age(m.Body[c.at:])
}

func (c *laneClient) roundTrips(until time.Time, rec *recorder) (int, error) {
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(replyTimeout))
	defer cancel()
	for n := 0; ; n++ {
		t0 := time.Now()
		if !t0.Before(until) {
			return n, nil
		}
		if err := c.send(ctx); err != nil {
			return n, err
		}
		if _, err := c.recv(ctx); err != nil {
			return n, err
		}
		rec.add(time.Since(t0))
	}
}

func (c *laneClient) pipeline(until time.Time, depth int, rec *recorder) (int, error) {
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(replyTimeout))
	defer cancel()
	n, inflight := 0, 0
	for ; inflight < depth; inflight++ {
		if err := c.send(ctx); err != nil {
			return n, err
		}
	}
	for inflight > 0 {
		lat, err := c.recv(ctx)
		if err != nil {
			return n, err
		}
		inflight--
		n++
		rec.add(lat)
		if time.Now().Before(until) {
			if err := c.send(ctx); err != nil {
				return n, err
			}
			inflight++
		}
	}
	return n, nil
}

func (c *laneClient) close() error { return c.st.Close() }

// nodeClient is a raet.Node on a lane calling Request; the echo peer's node
// answers from its Handler.
type nodeClient struct {
	n    *raet.Node
	data string
	dst  raet.Route
}

func newNodeClient(dir string, size int) (*nodeClient, error) {
	n, err := raet.New(raet.Config{
		Lane:   &lane.Config{Dir: dir, Lane: laneName, Name: clientName},
		Estate: estateName,
		Logger: quiet(),
	})
	if err != nil {
		return nil, err
	}
	return &nodeClient{n: n, data: strings.Repeat("x", size), dst: raet.Route{Estate: estateName, Yard: echoName}}, nil
}

func (c *nodeClient) roundTrips(until time.Time, rec *recorder) (int, error) {
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(replyTimeout))
	defer cancel()
	for n := 0; ; n++ {
		t0 := time.Now()
		if !t0.Before(until) {
			return n, nil
		}
		rep, err := c.n.Request(ctx, c.dst, c.data)
		if err != nil {
			return n, err
		}
		if s, _ := rep.Data.(string); len(s) != len(c.data) {
			return n, fmt.Errorf("reply %v, want the request's %d bytes back", rep.Data, len(c.data))
		}
		rec.add(time.Since(t0))
	}
}

// pipeline runs depth requesters side by side.
func (c *nodeClient) pipeline(until time.Time, depth int, rec *recorder) (int, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int
		first error
	)
	for range depth {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var own *recorder
			if rec != nil {
				own = &recorder{}
			}
			n, err := c.roundTrips(until, own)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if own != nil {
				rec.lat = append(rec.lat, own.lat...)
			}
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return total, first
}

func (c *nodeClient) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.n.Close(ctx)
}
