package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The goal of the issue "Lanes and the event bus" (Speed): lane round trips
// at no less than this share of the bare unixgram ceiling's rate, and better
// than two published agent protocols, rate and latency both.
const ceilingShare = 0.60

// reference is a published request/response figure of another protocol.
type reference struct {
	name    string
	rate    float64
	latency time.Duration
}

var references = []reference{
	{"gRPC-based agent protocol", 28000, 1200 * time.Microsecond},
	{"Unix-socket binary agent protocol", 45000, 400 * time.Microsecond},
}

func (r reference) String() string {
	return fmt.Sprintf("%s, %sK req/s at %s", r.name, trimFloat(r.rate/1000), dur(r.latency))
}

func trimFloat(x float64) string { return strings.TrimSuffix(fmt.Sprintf("%.1f", x), ".0") }

// label is a row's name in its table.
func (rw *row) label() string {
	switch rw.p.trans {
	case transUnixgram:
		return "unixgram echo (ceiling)"
	case transLane:
		return "lane Send/Receive, Direct"
	case transLaneChan:
		return "lane Send/Recv channel"
	case transNode:
		return "raet.Node Request over a lane"
	}
	return rw.p.trans
}

// printHeader says what the figures come from.
func printHeader(w io.Writer, o options, load, root string) {
	fmt.Fprintln(w, "raet-go lane benchmark: request/response between two processes")
	fmt.Fprintf(w, "%s %s/%s, GOMAXPROCS %d, %d CPUs%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH,
		runtime.GOMAXPROCS(0), runtime.NumCPU(), cpuModel())
	fmt.Fprintf(w, "load average before: %s\n", load)
	fmt.Fprintf(w, "Client in this process, echo peer in a child process (this program re-executed), each with its own\n")
	fmt.Fprintf(w, "Unix datagram socket under %s. Rows take turns: %d rounds of %s per row, each after %s unmeasured.\n",
		root, o.Rounds, (o.Duration / time.Duration(o.Rounds)).Round(time.Millisecond), o.Warmup)
	fmt.Fprintln(w, "CPU (getrusage user+sys) and allocations (MemStats.Mallocs) are both processes', per round trip.")
	fmt.Fprintf(w, "Lane bodies are %d B JSON mappings (lane.RawJSON, pages of %d B); the ceiling's datagrams are %d B, a page's size.\n",
		o.Size, lanePageLen(o.Size), lanePageLen(o.Size))
	fmt.Fprintf(w, "raet.Node requests carry a %d B string (its bus envelope makes the page longer).\n", o.Size)
	if q := maxDgramQueue(); q > 0 && o.Depth > q {
		fmt.Fprintf(w, "Note: -inflight %d exceeds net.unix.max_dgram_qlen (%d): sockets' queues fill, and the bare unixgram\n", o.Depth, q)
		fmt.Fprintln(w, "pair (net.UnixConn) then waits on write readiness that unconnected sockets do not signal: its pipelined row is no ceiling.")
	}
}

// maxDgramQueue is the datagrams a Unix socket queues before senders get
// EAGAIN (net.unix.max_dgram_qlen), or 0 when unknown.
func maxDgramQueue() int {
	b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen")
	if err != nil {
		return 0
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return n
}

// printTables prints a table per depth and the goals; it reports whether
// every goal that could be judged was met.
func printTables(w io.Writer, o options, rows []*row) bool {
	depths := []int{1}
	if o.Depth > 1 {
		depths = append(depths, o.Depth)
	}
	for _, rw := range rows {
		if rw.ok() {
			rw.sortLat()
		}
	}
	for _, d := range depths {
		if d == 1 {
			fmt.Fprintln(w, "\nRequest/response, one in flight (op = round trip)")
		} else {
			fmt.Fprintf(w, "\nPipelined, %d requests in flight (op = round trip; latency from send to echo)\n", d)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "row\tround trips/s\tp50\tp99\tCPU/op\tallocs/op\tvs ceiling\t")
		var ceiling *row
		for _, rw := range rows {
			if rw.depth == d && rw.p.trans == transUnixgram && rw.ok() {
				ceiling = rw
			}
		}
		var notes []string
		for _, rw := range rows {
			if rw.depth != d {
				continue
			}
			if !rw.ok() {
				fmt.Fprintf(tw, "%s\tfailed\t\t\t\t\t\t\n", rw.label())
				notes = append(notes, fmt.Sprintf("%s: %v", rw.label(), rw.err))
				continue
			}
			vs := "-"
			if ceiling != nil {
				vs = fmt.Sprintf("%.0f%%", 100*rw.rate()/ceiling.rate())
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", rw.label(), count(rw.rate()),
				dur(rw.percentile(0.50)), dur(rw.percentile(0.99)), rw.cpuPerOp(), rw.allocsPerOp(), vs)
		}
		tw.Flush()
		for _, n := range notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}

	fmt.Fprintf(w, "\nGoal: lane round trips (one in flight) at least %.0f%% of the ceiling's rate in the same run, and a higher\n", 100*ceilingShare)
	fmt.Fprintf(w, "rate at a lower p50 than the published figures of two other protocols (measured elsewhere, on other machines):\n")
	for _, r := range references {
		fmt.Fprintf(w, "  %s\n", r)
	}
	var ceiling *row
	var lanes []*row
	for _, rw := range rows {
		if rw.depth == 1 && rw.ok() {
			switch rw.p.trans {
			case transUnixgram:
				ceiling = rw
			case transLane, transLaneChan:
				lanes = append(lanes, rw)
			}
		}
	}
	allMet := true
	judge := func(met bool, text string) {
		mark := "[met]    "
		if !met {
			mark, allMet = "[NOT met]", false
		}
		fmt.Fprintf(w, "  %s %s\n", mark, text)
	}
	if len(lanes) == 0 {
		fmt.Fprintln(w, "  (no lane figures to judge)")
		return allMet
	}
	for _, ln := range lanes {
		fmt.Fprintf(w, "%s:\n", ln.label())
		if ceiling != nil {
			x := ln.rate() / ceiling.rate()
			judge(x >= ceilingShare, fmt.Sprintf("%.0f%% of the ceiling (%s vs %s round trips/s)", 100*x, count(ln.rate()), count(ceiling.rate())))
		}
		var piped *row
		for _, rw := range rows {
			if rw.p == ln.p && rw.depth > 1 && rw.ok() {
				piped = rw
			}
		}
		for _, r := range references {
			judge(beats(ln, r), fmt.Sprintf("beats the %s, one in flight: %s", r, figures(ln)))
			if piped != nil {
				judge(beats(piped, r), fmt.Sprintf("beats the %s, %d in flight: %s", r, piped.depth, figures(piped)))
			}
		}
	}
	return allMet
}

// beats reports whether a row has a higher rate than a reference, and a
// lower median latency.
func beats(rw *row, r reference) bool { return rw.rate() > r.rate && rw.percentile(0.5) < r.latency }

func figures(rw *row) string {
	return fmt.Sprintf("%s round trips/s, p50 %s, p99 %s", count(rw.rate()), dur(rw.percentile(0.5)), dur(rw.percentile(0.99)))
}

func (rw *row) cpuPerOp() string {
	if !rw.cpuOK || rw.ops == 0 {
		return "-"
	}
	return dur(rw.cpu / time.Duration(rw.ops))
}

func (rw *row) allocsPerOp() string {
	a := float64(rw.mallocs) / float64(rw.ops)
	if a >= 100 {
		return fmt.Sprintf("%.0f", a)
	}
	return fmt.Sprintf("%.1f", a)
}

// count formats a rate with thousands separators.
func count(x float64) string {
	s := fmt.Sprintf("%.0f", x)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// dur formats a latency: µs below 1 ms, else ms.
func dur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2fms", float64(d)/float64(time.Millisecond))
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// loadAverage is the first three fields of /proc/loadavg, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// cpuModel is ", " and the first model name in /proc/cpuinfo, or "".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return ", " + strings.TrimSpace(v)
		}
	}
	return ""
}
