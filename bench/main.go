// Command bench compares raet road stacks (classic and fast mode) with
// quic-go and bare UDP on loopback: request/response rate and latency,
// one-way small messages, and one large message one way, with CPU time and
// allocations per message. Run it with `go run .` in this directory; see
// README.md for the columns.
package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

func main() {
	var (
		dur      = flag.Duration("d", 3*time.Second, "measured time of each scenario and transport")
		warmup   = flag.Duration("warmup", time.Second, "unmeasured warm-up before each measurement")
		size     = flag.Int("size", 100, "payload bytes of request/response and one-way messages")
		bulk     = flag.Int("bulk", 1<<20, "payload bytes of the bulk scenario's message")
		udpChunk = flag.Int("udp-chunk", 1400, "datagram size the bare UDP pair splits bulk payloads into")
		only     = flag.String("only", "classic,fast,quic,udp", "transports to run, comma-separated")
		scens    = flag.String("scenarios", "rr,oneway,bulk", "scenarios to run, comma-separated")
		verbose  = flag.Bool("v", false, "log raet warnings to stderr")
		strict   = flag.Bool("strict", false, "exit 1 when a fast-mode goal is not met")
	)
	flag.Parse()

	kinds, err := parseList(*only, allKinds)
	if err != nil {
		fatal("-only: %v", err)
	}
	scenarios, err := parseList(*scens, allScenarios)
	if err != nil {
		fatal("-scenarios: %v", err)
	}
	if *dur <= 0 || *warmup < 0 || *size <= 0 || *bulk <= 0 {
		fatal("-d, -size and -bulk must be positive and -warmup not negative")
	}
	if *size > *udpChunk && contains(kinds, kindUDP) && contains(scenarios, scenRR) {
		fatal("-size %d does not fit one UDP datagram of -udp-chunk %d", *size, *udpChunk)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	rc := runConfig{
		Warmup: *warmup, Duration: *dur, Size: *size, BulkSize: *bulk,
		UDPChunk: *udpChunk, Logger: logger,
	}

	out := os.Stdout
	printConditions(out, rc)
	results := make(map[scenario]map[kind]*result)
	began := time.Now()
	for _, sc := range scenarios {
		results[sc] = make(map[kind]*result)
		for _, k := range kinds {
			fmt.Fprintf(os.Stderr, "running %s / %s ...\n", sc, k)
			r := run(sc, k, rc)
			results[sc][k] = &r
		}
		printScenario(out, sc, kinds, results[sc], rc)
	}
	met := printSummary(out, results)
	fmt.Fprintf(out, "\nload average after: %s; whole run took %s\n", loadAverage(), time.Since(began).Round(100*time.Millisecond))
	if *strict && !met {
		os.Exit(1)
	}
}

// parseList splits a comma-separated list and checks each item is known.
func parseList[T ~string](s string, known []T) ([]T, error) {
	var out []T
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !contains(known, T(f)) {
			return nil, fmt.Errorf("unknown %q (known: %v)", f, known)
		}
		if !contains(out, T(f)) {
			out = append(out, T(f))
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(2)
}
