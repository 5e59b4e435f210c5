package daemon

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A function is one of the built-ins a minion answers requests with. There
// is deliberately no way to run commands: a master (or whoever reaches the
// master's lane) can only call these.
type function struct {
	doc string
	run func(ctx context.Context, m *Minion, args []any) (any, error)
}

// maxSleep bounds test.sleep.
const maxSleep = 5 * time.Minute

// ErrUnknownFunction is returned for a request naming no allowed built-in.
var ErrUnknownFunction = errors.New("unknown function")

// ErrBadArgs is returned for a function called with arguments it cannot take.
var ErrBadArgs = errors.New("bad arguments")

func builtins() map[string]function {
	return map[string]function{
		"test.ping": {"answers true", func(context.Context, *Minion, []any) (any, error) { return true, nil }},
		"test.echo": {"answers its argument (a list when given several)", func(_ context.Context, _ *Minion, args []any) (any, error) {
			switch len(args) {
			case 0:
				return "", nil
			case 1:
				return args[0], nil
			}
			return args, nil
		}},
		"test.sleep": {"waits SECONDS (at most 300), then answers true", func(ctx context.Context, _ *Minion, args []any) (any, error) {
			if len(args) != 1 {
				return nil, fmt.Errorf("%w: test.sleep takes one number of seconds", ErrBadArgs)
			}
			secs, ok := number(args[0])
			if !ok || secs < 0 || time.Duration(secs*float64(time.Second)) > maxSleep {
				return nil, fmt.Errorf("%w: test.sleep takes 0 to %d seconds", ErrBadArgs, int(maxSleep.Seconds()))
			}
			t := time.NewTimer(time.Duration(secs * float64(time.Second)))
			defer t.Stop()
			select {
			case <-t.C:
				return true, nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}},
		"sys.info": {"host name, OS, architecture, uptimes, Go version", func(_ context.Context, m *Minion, _ []any) (any, error) {
			host, _ := os.Hostname()
			info := map[string]any{
				"name":       m.cfg.Name,
				"hostname":   host,
				"os":         runtime.GOOS,
				"arch":       runtime.GOARCH,
				"go_version": runtime.Version(),
				"num_cpu":    runtime.NumCPU(),
				"pid":        os.Getpid(),
				"uptime":     time.Since(m.started).Round(time.Second).String(),
				"uptime_s":   int64(time.Since(m.started).Seconds()),
				"master":     m.Master(),
			}
			if up, ok := hostUptime(); ok {
				info["host_uptime_s"] = int64(up.Seconds())
			}
			return info, nil
		}},
		"sys.functions": {"lists the functions this minion answers", func(_ context.Context, m *Minion, _ []any) (any, error) {
			return m.allowedFunctions(), nil
		}},
	}
}

// functionNames lists every built-in, sorted.
func functionNames() []string {
	var out []string
	for n := range builtins() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// matchFunctions lists the built-ins a pattern names.
func matchFunctions(pattern string) []string {
	var out []string
	for _, n := range functionNames() {
		if ok, err := path.Match(pattern, n); err == nil && ok {
			out = append(out, n)
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case int:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// hostUptime reads the host's uptime where the system tells it (Linux).
func hostUptime() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0, false
	}
	secs, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// Call is a request a minion answers: a function and its arguments, or
// (without Fun) an event it acknowledges.
type Call struct {
	Fun  string `json:"fun,omitempty"`
	Args []any  `json:"args,omitempty"`
}
