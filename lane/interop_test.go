package lane

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/raet-go/raet/internal/pyraet"
)

// These tests run Python RAET's LaneStack (pyraet_peer.py lane mode) as a
// subprocess. They need env RAET_PYTHONPATH pointing at the Python RAET and
// ioflo sources (../shared/interop/py) and skip, saying why, without them.

func startPyYard(t *testing.T, ctx context.Context, args ...string) *pyraet.Peer {
	t.Helper()
	p, err := pyraet.Start(ctx, append([]string{"lane"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	ev, err := p.WaitEvent(ctx, "ready")
	if err != nil {
		t.Fatal(err)
	}
	var ha string
	if err := json.Unmarshal(ev.HA, &ha); err != nil {
		t.Fatalf("ready event ha %s: %v", ev.HA, err)
	}
	return p
}

// TestInteropPythonEcho sends messages of one to several pages, packed as
// JSON and as msgpack, to a Python yard that echoes them back as JSON: the
// echo proves Python read what Go wrote, and Go reads what Python writes.
// Go yards take the echoes with Receive, with and without Config.Direct.
func TestInteropPythonEcho(t *testing.T) {
	pyraet.Skip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := testDir(t)
	const lane = "lane1"
	py := startPyYard(t, ctx, "--name", "py", "--lane", lane, "--dir", dir, "--echo", "--quiet", "--duration", "80")

	type mode struct {
		kind   PackKind
		direct bool
	}
	for _, md := range []mode{{PackJSON, false}, {PackMsgpack, false}, {PackJSON, true}, {PackMsgpack, true}} {
		kind := md.kind
		name := "go" + kind.String()
		if md.direct {
			name += "direct"
		}
		g, err := New(Config{Dir: dir, Lane: lane, Name: name, Kind: kind, Direct: md.direct, Logger: quietLogger()})
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		for i, size := range []int{10, 1000, 70000, 200000} {
			body := Map{
				{"seq", int64(i)},
				{"from", g.Name()},
				{"nested", Map{{"f", 1.5}, {"big", 1e16}, {"l", []any{nil, true, false, "é😀\"\\\n"}}}},
				{"pad", pad(size)},
			}
			if err := g.Send(ctx, "py", body); err != nil {
				t.Fatalf("%v size %d: %v", kind, size, err)
			}
			m, err := g.Receive(ctx)
			if err != nil {
				t.Fatalf("%s size %d: no echo: %v; python stderr: %s", name, size, err, py.Stderr())
			}
			if m.From != "py" || m.Kind != PackJSON {
				t.Fatalf("echo from %q kind %v", m.From, m.Kind)
			}
			got, err := m.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if want := (Map{{"echo", body}}); !reflect.DeepEqual(got, want) {
				t.Fatalf("%v size %d: echo differs:\n got %.300v\nwant %.300v", kind, size, got, want)
			}
			// Python packs the echo with the same json.dumps our encoder
			// copies: packing what we decoded gives Python's bytes back.
			again, err := AppendBody(nil, PackJSON, got)
			if err != nil || string(again) != string(m.Body) {
				t.Fatalf("%v size %d: repacked echo differs from Python's bytes (%v)", kind, size, err)
			}
		}
		eventually(t, func() bool { return g.Stats().TxMessages == 4 })
		if st := g.Stats(); st.TxMessages != 4 || st.RxMessages != 4 || st.RxBadPages+st.RxBadBodies+st.RxBooksDropped != 0 {
			t.Errorf("%s stats %+v", g.Name(), st)
		}
	}
}

// TestInteropPythonSends has Python RAET send multi-page messages to a Go
// yard, which must get each whole and in order.
func TestInteropPythonSends(t *testing.T) {
	pyraet.Skip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	dir := testDir(t)
	const lane = "lane2"
	g, err := New(Config{Dir: dir, Lane: lane, Name: "gopher", Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	const n, size = 5, 150000
	py := startPyYard(t, ctx, "--name", "manor", "--lane", lane, "--dir", dir, "--to", "gopher",
		"--send", fmt.Sprint(n), "--size", fmt.Sprint(size), "--duration", "3", "--quiet")
	for i := range n {
		var m Message
		select {
		case m = <-g.Recv():
		case <-ctx.Done():
			t.Fatalf("message %d not received: %v; python stderr: %s", i, ctx.Err(), py.Stderr())
		}
		got, err := m.Decode()
		if err != nil {
			t.Fatal(err)
		}
		seq, _ := got.Get("seq")
		from, _ := got.Get("from")
		p, _ := got.Get("pad")
		if m.From != "manor" || seq != int64(i) || from != "manor" {
			t.Fatalf("message %d: from %q, seq %v, body from %v", i, m.From, seq, from)
		}
		// pyraet_peer.py's payload: pad fills the message to about size bytes.
		if s, ok := p.(string); !ok || len(s) < size-100 {
			t.Fatalf("message %d: pad of %d bytes", i, len(p.(string)))
		}
	}
	if err := py.Wait(ctx); err != nil {
		t.Fatalf("python peer: %v; stderr: %s", err, py.Stderr())
	}
}
