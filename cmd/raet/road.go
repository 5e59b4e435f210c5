package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/road"
)

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// peerOut prints the JSON-line events of a peer, one object a line, as
// ../shared/interop/pyraet_peer.py does.
type peerOut struct {
	mu sync.Mutex
	w  io.Writer
}

func (p *peerOut) emit(kv ...any) {
	m := make(map[string]any, len(kv)/2)
	order := make([]string, 0, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		m[k] = kv[i+1]
		order = append(order, k)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range order {
		if i > 0 {
			b.WriteString(", ")
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(m[k])
		if err != nil {
			vb, _ = json.Marshal(fmt.Sprint(m[k]))
		}
		b.Write(kb)
		b.WriteString(": ")
		b.Write(vb)
	}
	b.WriteString("}\n")
	p.mu.Lock()
	defer p.mu.Unlock()
	_, _ = io.WriteString(p.w, b.String())
}

// payload builds message i of about size JSON bytes, as pyraet_peer.py does.
func payload(i, size int, name string) map[string]any {
	msg := map[string]any{"seq": i, "from": name}
	base := len(fmt.Sprintf(`{"seq": %d, "from": %s}`, i, pyQuote(name)))
	if filler := size - base - 12; filler > 0 {
		msg["pad"] = strings.Repeat("x", filler)
	}
	return msg
}

func pyQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// jsonable turns bytes into Latin-1 text, as pyraet_peer.py prints them.
func jsonable(v any) any {
	switch x := v.(type) {
	case []byte:
		r := make([]rune, len(x))
		for i, c := range x {
			r[i] = rune(c)
		}
		return string(r)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = jsonable(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}

func runRoad(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("raet road", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		name     = fs.String("name", "", "estate name (required)")
		listen   = fs.String("listen", "", "UDP address to bind, HOST:PORT (default from --host and --port)")
		host     = fs.String("host", "127.0.0.1", "host to bind when --listen is not given")
		port     = fs.Int("port", 7530, "port to bind when --listen is not given")
		main_    = fs.Bool("main", false, "run as a main estate (master): accept joins from new estates")
		auto     = fs.String("auto", "always", "key acceptance: never, once or always")
		keep     = fs.String("keep", "", "keep directory (default: none, keys in memory)")
		dir      = fs.String("dir", "", "same as --keep (pyraet_peer.py's name)")
		send     = fs.Int("send", 0, "messages to send to each allowed remote")
		size     = fs.Int("size", 64, "approximate JSON size of each message")
		echo     = fs.Bool("echo", false, "send every received message back as {\"echo\": msg}")
		expect   = fs.Int("expect", 0, "exit after receiving this many messages")
		duration = fs.Float64("duration", 10, "exit after this many seconds (0: never)")
		idle     = fs.Float64("idle", 0, "exit after this many idle seconds once something arrived")
		linger   = fs.Float64("linger", 0.5, "seconds to keep running before exit, so final acks go out")
		quiet    = fs.Bool("quiet", false, "do not print each received message")
		head     = fs.String("head", "raet", "head kind of the packets sent: raet, json or binary")
		body     = fs.String("body", "json", "body kind of the messages sent: json or msgpack")
		sigkey   = fs.String("sigkey", "", "hex signing key seed (default: kept or random)")
		prikey   = fs.String("prikey", "", "hex private encryption key (default: kept or random)")
		verbose  = fs.String("verbosity", "mute", "log level: mute, terse, concise or verbose")
		_        = fs.Float64("period", 0.002, "accepted for pyraet_peer.py compatibility; unused")
		joins    stringList
	)
	fs.Var(&joins, "join", "HOST:PORT of a main estate to join (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: raet road --name NAME [flags]\n\nRuns one road estate and prints what happens as JSON lines "+
			"(ready, joined, allowed, alived, rx, sent, stats, exit),\nlike ../shared/interop/pyraet_peer.py road.\n\nflags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "raet road: --name is required")
		fs.Usage()
		return 2
	}
	if *listen == "" {
		*listen = net.JoinHostPort(*host, strconv.Itoa(*port))
	}
	if *keep == "" {
		*keep = *dir
	}
	hk, ok := header.ParseHeadKind(*head)
	if !ok {
		fmt.Fprintf(stderr, "raet road: unknown head kind %q\n", *head)
		return 2
	}
	bk, ok := header.ParseBodyKind(*body)
	if !ok || (bk != header.BodyJSON && bk != header.BodyMsgpack) {
		fmt.Fprintf(stderr, "raet road: body kind must be json or msgpack, not %q\n", *body)
		return 2
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel(*verbose)}))
	if *verbose == "mute" {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	st, err := road.New(road.Config{Name: *name, Listen: *listen, Main: *main_, Auto: *auto, KeepDir: *keep,
		SigKey: *sigkey, PriKey: *prikey, HeadKind: hk, BodyKind: bk, Logger: logger})
	if err != nil {
		fmt.Fprintf(stderr, "raet road: %v\n", err)
		return 1
	}
	out := &peerOut{w: stdout}
	a := st.Addr()
	out.emit("event", "ready", "name", st.Name(), "ha", []any{a.Addr().String(), a.Port()},
		"verhex", st.VerHex(), "pubhex", st.PubHex())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*duration*float64(time.Second)))
		defer cancel()
	}
	for _, j := range joins {
		go func(addr string) {
			if _, err := st.Join(ctx, addr); err != nil && ctx.Err() == nil {
				logger.Warn("join failed", "addr", addr, "err", err)
			}
		}(j)
	}
	seen := map[string]map[string]bool{"joined": {}, "allowed": {}, "alived": {}}
	sentTo := map[string]bool{}
	rx := 0
	lastActivity := time.Now()
	var sends sync.WaitGroup
	startSend := func(to string) {
		if *send <= 0 || sentTo[to] {
			return
		}
		sentTo[to] = true
		sends.Add(1)
		go func() {
			defer sends.Done()
			for i := 0; i < *send; i++ {
				if err := st.Send(ctx, to, payload(i, *size, *name)); err != nil {
					logger.Warn("send failed", "to", to, "err", err)
					return
				}
			}
			out.emit("event", "sent", "to", to, "count", *send)
		}()
	}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case ev := <-st.Events():
			var state string
			switch ev.Kind {
			case road.EventJoined:
				state = "joined"
			case road.EventAllowed:
				state = "allowed"
			case road.EventAlive:
				state = "alived"
			}
			if state != "" && !seen[state][ev.Remote] {
				seen[state][ev.Remote] = true
				out.emit("event", state, "remote", ev.Remote)
			}
			if ev.Kind == road.EventAllowed {
				startSend(ev.Remote)
			}
		case m := <-st.Messages():
			rx++
			lastActivity = time.Now()
			if !*quiet {
				out.emit("event", "rx", "from", m.From, "msg", jsonable(m.Body))
			}
			if *echo {
				go func(m road.Message) {
					if err := st.Send(ctx, m.From, map[string]any{"echo": m.Body}); err != nil && ctx.Err() == nil {
						logger.Warn("echo failed", "to", m.From, "err", err)
					}
				}(m)
			}
		case <-tick.C:
		}
		busy := busy(ctx, st)
		if *expect > 0 && rx >= *expect && !busy {
			break
		}
		if *idle > 0 && rx > 0 && time.Since(lastActivity).Seconds() > *idle && !busy {
			break
		}
	}
	// Linger so final acknowledgements reach the peers, then close cleanly.
	lctx, lcancel := context.WithTimeout(context.Background(), time.Duration(*linger*float64(time.Second))+2*time.Second)
	defer lcancel()
	time.Sleep(time.Duration(*linger * float64(time.Second)))
	_ = st.Close(lctx)
	stop()
	sends.Wait()
	out.emit("event", "stats", "stats", statsMap(st.Stats()))
	out.emit("event", "exit", "rx", rx)
	return 0
}

// busy reports whether the stack still has messages to send or receive.
func busy(ctx context.Context, st *road.Stack) bool {
	qctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	rs, err := st.Remotes(qctx)
	if err != nil {
		return false
	}
	for _, r := range rs {
		if r.Queued > 0 || r.InFlight > 0 || r.Receiving > 0 {
			return true
		}
	}
	return false
}

// statsMap turns Stats into a JSON object with snake_case names.
func statsMap(s road.Stats) map[string]any {
	b, _ := json.Marshal(s)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[snake(k)] = v
	}
	return out
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func logLevel(v string) slog.Level {
	switch v {
	case "verbose":
		return slog.LevelDebug
	case "concise":
		return slog.LevelInfo
	case "terse":
		return slog.LevelWarn
	}
	return slog.LevelError
}
