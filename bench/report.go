package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"
)

// printConditions says what machine and settings the figures come from.
func printConditions(w io.Writer, rc runConfig) {
	fmt.Fprintln(w, "raet-go transport benchmark")
	fmt.Fprintf(w, "%s %s/%s, GOMAXPROCS %d, %d CPUs%s, quic-go %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0),
		runtime.NumCPU(), cpuModel(), depVersion("github.com/quic-go/quic-go"))
	fmt.Fprintf(w, "load average before: %s\n", loadAverage())
	fmt.Fprintln(w, "Both peers of every pair run in this one process, as goroutines, each with its own UDP socket on 127.0.0.1.")
	fmt.Fprintf(w, "Each row: a fresh pair, %s warm-up, then %s measured. CPU (getrusage user+sys) and allocations (MemStats.Mallocs)\n", rc.Warmup, rc.Duration)
	fmt.Fprintln(w, "are for the whole process, both peers together, over the measured time, divided by the operations done.")
}

// scenarioTitle is the heading of a scenario's table.
func scenarioTitle(sc scenario, rc runConfig) string {
	switch sc {
	case scenRR:
		return fmt.Sprintf("Request/response, %d B payload, one in flight (op = round trip)", rc.Size)
	case scenOneWay:
		return fmt.Sprintf("One way, %d B messages, as fast as the sender is let (op = message received)", rc.Size)
	case scenBulk:
		return fmt.Sprintf("One way, one %s message at a time (op = message received whole)", sizeName(rc.BulkSize))
	}
	return string(sc)
}

// printScenario prints one scenario's table, a row per transport.
func printScenario(w io.Writer, sc scenario, kinds []kind, rs map[kind]*result, rc runConfig) {
	fmt.Fprintf(w, "\n%s\n", scenarioTitle(sc, rc))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	switch sc {
	case scenRR:
		fmt.Fprintln(tw, "transport\tround trips/s\tp50\tp99\tCPU/op\tallocs/op\tvs UDP\t")
	case scenOneWay:
		fmt.Fprintln(tw, "transport\tmessages/s\tMB/s\tCPU/op\tallocs/op\tvs UDP\t")
	case scenBulk:
		fmt.Fprintln(tw, "transport\tMB/s\tp50\tp99\tCPU/op\tallocs/op\tvs UDP\t")
	}
	udp := rs[kindUDP]
	var notes []string
	for _, k := range kinds {
		r := rs[k]
		name := k.label()
		if k == kindFast && r.isRaet && r.fast == 0 && r.err == nil {
			name += " *"
		}
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%s\t\n", name, "failed")
			notes = append(notes, fmt.Sprintf("%s: %v", k.label(), r.err))
			continue
		}
		vs := "-"
		if udp != nil && udp.err == nil && udp.rate() > 0 {
			vs = ratio(r.rate() / udp.rate())
		}
		switch sc {
		case scenRR:
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, count(r.rate()),
				dur(r.percentile(0.50)), dur(r.percentile(0.99)), cpuPerOp(r), allocs(r), vs)
		case scenOneWay:
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\t\n", name, count(r.rate()), r.mbps(),
				cpuPerOp(r), allocs(r), vs)
		case scenBulk:
			fmt.Fprintf(tw, "%s\t%.1f\t%s\t%s\t%s\t%s\t%s\t\n", name, r.mbps(),
				dur(r.percentile(0.50)), dur(r.percentile(0.99)), cpuPerOp(r), allocs(r), vs)
		}
		note := r.notes
		if r.loss > 0 {
			note += fmt.Sprintf(", %.1f%% of sent data lost", 100*r.loss)
		}
		if note != "" {
			notes = append(notes, fmt.Sprintf("%s: %s", k.label(), note))
		}
	}
	tw.Flush()
	for _, n := range notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	if r := rs[kindFast]; r != nil && r.isRaet && r.fast == 0 && r.err == nil {
		fmt.Fprintln(w, "  * fast mode was not negotiated: this row measured classic mode")
	}
}

// printSummary prints the fast/quic and fast/classic ratios and the goals of
// the fast mode, and reports whether every goal that could be judged was met.
func printSummary(w io.Writer, all map[scenario]map[kind]*result) bool {
	ok := func(sc scenario, k kind) *result {
		if r := all[sc][k]; r != nil && r.err == nil && r.ops > 0 {
			return r
		}
		return nil
	}
	fmt.Fprintln(w, "\nRatios (above 1: the first is faster; for p50, below 1: the first answers sooner)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "\tfast/quic\tfast/classic\tclassic/UDP\tfast/UDP\tquic/UDP\t")
	type line struct {
		name string
		sc   scenario
		val  func(*result) float64
	}
	lines := []line{
		{"request/response rate", scenRR, (*result).rate},
		{"request/response p50", scenRR, func(r *result) float64 { return float64(r.percentile(0.5)) }},
		{"one-way small msgs/s", scenOneWay, (*result).rate},
		{"bulk MB/s", scenBulk, (*result).mbps},
	}
	div := func(a, b *result, f func(*result) float64) string {
		if a == nil || b == nil || f(b) == 0 {
			return "-"
		}
		return ratio(f(a) / f(b))
	}
	for _, l := range lines {
		if all[l.sc] == nil {
			continue
		}
		fast, quic, classic, udp := ok(l.sc, kindFast), ok(l.sc, kindQUIC), ok(l.sc, kindClassic), ok(l.sc, kindUDP)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", l.name, div(fast, quic, l.val), div(fast, classic, l.val),
			div(classic, udp, l.val), div(fast, udp, l.val), div(quic, udp, l.val))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nFast-mode goals")
	allMet := true
	judge := func(met bool, text string) {
		mark := "[met]    "
		if !met {
			mark, allMet = "[NOT met]", false
		}
		fmt.Fprintf(w, "  %s %s\n", mark, text)
	}
	negotiated := false
	for _, sc := range allScenarios {
		if r := all[sc][kindFast]; r != nil && r.fast > 0 {
			negotiated = true
		}
	}
	if fast, quic := ok(scenRR, kindFast), ok(scenRR, kindQUIC); fast != nil && quic != nil {
		x := fast.rate() / quic.rate()
		p50f, p50q := fast.percentile(0.5), quic.percentile(0.5)
		judge(x >= 1.2 && p50f <= p50q, fmt.Sprintf("request/response: fast at least 1.2x quic-go's rate (%s) and p50 no worse (%s vs %s)",
			ratio(x), dur(p50f), dur(p50q)))
	}
	if fast, quic := ok(scenOneWay, kindFast), ok(scenOneWay, kindQUIC); fast != nil && quic != nil {
		x := fast.rate() / quic.rate()
		judge(x >= 1, fmt.Sprintf("one-way small messages: fast at least quic-go's rate (%s)", ratio(x)))
	}
	if fast, quic := ok(scenBulk, kindFast), ok(scenBulk, kindQUIC); fast != nil && quic != nil {
		x := fast.mbps() / quic.mbps()
		judge(x >= 1, fmt.Sprintf("bulk: fast at least quic-go's MB/s (%s)", ratio(x)))
	}
	if !negotiated {
		fmt.Fprintln(w, "  (fast mode was not negotiated in any scenario: the fast rows measured classic mode)")
	}
	return allMet
}

func ratio(x float64) string { return fmt.Sprintf("%.2fx", x) }

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

func cpuPerOp(r *result) string {
	if !r.cpuOK {
		return "-"
	}
	return dur(r.cpuPerOp())
}

func allocs(r *result) string {
	a := r.allocsPerOp()
	if a >= 100 {
		return fmt.Sprintf("%.0f", a)
	}
	return fmt.Sprintf("%.1f", a)
}

func sizeName(n int) string {
	switch {
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
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

// depVersion is the version of module path built into this binary.
func depVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return "unknown"
}
