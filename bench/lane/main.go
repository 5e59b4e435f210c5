// Command lane measures request/response over RAET lanes between two
// processes, against a bare Unix datagram echo between two processes (the
// ceiling), in the same run: round trips per second, p50 and p99 latency,
// CPU time and allocations per round trip of both processes. Run it with
// `go run ./lane` in the bench directory.
//
// The program re-executes itself as the echo peer: a child process that binds
// its own socket and sends back every message it gets. The rows take turns
// (several rounds, each row a slice of its measured time per round), so that
// a change in the load of a shared machine touches them all alike.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

// childEnv names the echo peer a re-executed child is to run.
const childEnv = "RAET_BENCH_LANE_CHILD"

func main() {
	if k := os.Getenv(childEnv); k != "" {
		os.Exit(runChild(k, os.Args[1:]))
	}
	var o options
	flag.DurationVar(&o.Duration, "d", 3*time.Second, "measured time of each row, split over the rounds")
	flag.DurationVar(&o.Warmup, "warmup", 200*time.Millisecond, "unmeasured run before each row's slice of a round")
	flag.IntVar(&o.Rounds, "rounds", 3, "rounds the rows take turns in")
	flag.IntVar(&o.Size, "size", 64, "bytes of the message body (at least 32)")
	flag.IntVar(&o.Depth, "inflight", 8, "requests in flight in the pipelined rows (0: no pipelined rows)")
	only := flag.String("only", strings.Join(allTransports, ","), "transports to run, comma-separated")
	flag.BoolVar(&o.Strict, "strict", false, "exit 1 when a lane goal is not met")
	flag.Parse()

	var err error
	if o.Transports, err = parseList(*only); err != nil {
		fatal("-only: %v", err)
	}
	if o.Duration <= 0 || o.Warmup < 0 || o.Rounds <= 0 || o.Size < minSize || o.Size > maxSize || o.Depth < 0 {
		fatal("-d and -rounds must be positive, -warmup and -inflight not negative, -size between %d and %d", minSize, maxSize)
	}
	met, err := run(o, os.Stdout, os.Stderr)
	if err != nil {
		fatal("%v", err)
	}
	if o.Strict && !met {
		os.Exit(1)
	}
}

// parseList splits a comma-separated list of transports and checks each.
func parseList(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		known := false
		for _, t := range allTransports {
			known = known || t == f
		}
		if !known {
			return nil, fmt.Errorf("unknown %q (known: %s)", f, strings.Join(allTransports, ", "))
		}
		dup := false
		for _, t := range out {
			dup = dup || t == f
		}
		if !dup {
			out = append(out, f)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty list")
	}
	return out, nil
}

func fatal(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench/lane: "+format+"\n", args...)
	os.Exit(2)
}
