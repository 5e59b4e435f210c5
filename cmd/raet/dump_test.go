package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/raet-go/raet/capture"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/pyraet"
	"github.com/raet-go/raet/road"
	"github.com/stretchr/testify/require"
)

// dumpDatagram is one datagram a recording socket saw.
type dumpDatagram struct {
	at       time.Time
	src, dst netip.AddrPort
	b        []byte
}

// dumpRecorder collects the datagrams of an exchange in the order they
// were seen, as a capture on the wire would.
type dumpRecorder struct {
	mu  sync.Mutex
	dgs []dumpDatagram
}

func (r *dumpRecorder) add(src, dst netip.AddrPort, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dgs = append(r.dgs, dumpDatagram{at: time.Now(), src: src, dst: dst, b: bytes.Clone(b)})
}

func (r *dumpRecorder) datagrams() []dumpDatagram {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]dumpDatagram(nil), r.dgs...)
}

// write writes the recorded datagrams to a capture file.
func (r *dumpRecorder) write(t *testing.T, path string, f capture.Format) {
	t.Helper()
	fh, err := os.Create(path)
	require.NoError(t, err)
	defer fh.Close()
	w, err := capture.NewWriter(fh, f)
	require.NoError(t, err)
	for _, d := range r.datagrams() {
		require.NoError(t, w.WriteDatagram(d.at, d.src, d.dst, d.b))
	}
	require.NoError(t, w.Flush())
}

// dumpRecConn is a road.Conn that records what goes through it: what it
// sends, and with reads set what it receives too.
type dumpRecConn struct {
	road.Conn
	rec   *dumpRecorder
	reads bool
}

func (c *dumpRecConn) WriteTo(b []byte, addr netip.AddrPort) (int, error) {
	n, err := c.Conn.WriteTo(b, addr)
	if err == nil {
		c.rec.add(c.LocalAddr(), addr, b)
	}
	return n, err
}

func (c *dumpRecConn) ReadFrom(b []byte) (int, netip.AddrPort, error) {
	n, from, err := c.Conn.ReadFrom(b)
	if err == nil && c.reads {
		c.rec.add(from, c.LocalAddr(), b[:n])
	}
	return n, from, err
}

// dumpSyncBuffer is a key log the stacks write while the test reads it.
type dumpSyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *dumpSyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *dumpSyncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

func dumpQuiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dumpStack starts a road stack on loopback over a recording socket, on the
// classic wire: these captures are of it (TestDumpFastMode covers the other).
func dumpStack(t *testing.T, cfg road.Config, conn road.Conn) *road.Stack {
	t.Helper()
	cfg.NoFast = true
	return dumpStackAnyMode(t, cfg, conn)
}

// dumpStackAnyMode starts a road stack as dumpStack does, leaving cfg.NoFast
// as it is: two such stacks run fast mode by default.
func dumpStackAnyMode(t *testing.T, cfg road.Config, conn road.Conn) *road.Stack {
	t.Helper()
	cfg.Conn = conn
	cfg.Logger = dumpQuiet()
	s, err := road.New(cfg)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func dumpListen(t *testing.T) road.Conn {
	t.Helper()
	c, err := road.ListenUDP("127.0.0.1:0")
	require.NoError(t, err)
	return c
}

func dumpRecv(t *testing.T, s *road.Stack, n int) []road.Message {
	t.Helper()
	var out []road.Message
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case m := <-s.Messages():
			out = append(out, m)
		case <-timeout:
			t.Fatalf("%s: got %d of %d messages", s.Name(), len(out), n)
		}
	}
	return out
}

// dumpRun runs raet dump with args and returns status, stdout and stderr.
func dumpRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	status := runDump(args, strings.NewReader(""), &out, &errb)
	return status, out.String(), errb.String()
}

// dumpRecord is one line of raet dump --json.
type dumpRecord struct {
	N         int             `json:"n"`
	Time      time.Time       `json:"time"`
	Src       string          `json:"src"`
	Dst       string          `json:"dst"`
	Size      int             `json:"size"`
	Head      *header.Head    `json:"head"`
	HeadLen   int             `json:"head_len"`
	CoatLen   int             `json:"coat_len"`
	FootLen   int             `json:"foot_len"`
	Verified  bool            `json:"verified"`
	Verify    string          `json:"verify"`
	Signer    string          `json:"signer"`
	Decrypted bool            `json:"decrypted"`
	Coat      string          `json:"coat"`
	Body      json.RawMessage `json:"body"`
	Error     string          `json:"error"`
	Segment   *struct {
		Sn, Sc    uint64
		Complete  bool
		Duplicate bool
	} `json:"segment"`
}

func dumpParse(t *testing.T, out string) []dumpRecord {
	t.Helper()
	var recs []dumpRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var r dumpRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), "%s", sc.Text())
		recs = append(recs, r)
	}
	return recs
}

// dumpExchange is a recorded exchange between two estates, with their keeps
// and key log on disk.
type dumpExchange struct {
	dir         string
	keeps       []string
	keylog      string
	rec         *dumpRecorder
	small, big  string // what was sent: a small and a segmented message
	smallSender string
	names       map[netip.AddrPort]string
}

// dumpGoExchange runs two Go road stacks on loopback: minion joins master,
// sends a small message, and master answers with a segmented one.
func dumpGoExchange(t *testing.T, hk header.HeadKind, bk header.BodyKind, bigSize int) *dumpExchange {
	t.Helper()
	dir := t.TempDir()
	rec := &dumpRecorder{}
	var klm, kln dumpSyncBuffer
	mconn := &dumpRecConn{Conn: dumpListen(t), rec: rec}
	nconn := &dumpRecConn{Conn: dumpListen(t), rec: rec}
	master := dumpStack(t, road.Config{Name: "master", Main: true, Auto: "always", KeepDir: filepath.Join(dir, "master"),
		KeyLog: &klm, HeadKind: hk, BodyKind: bk, AlivePeriod: -1}, mconn)
	minion := dumpStack(t, road.Config{Name: "minion", KeepDir: filepath.Join(dir, "minion"),
		KeyLog: &kln, HeadKind: hk, BodyKind: bk, AlivePeriod: -1}, nconn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, err := minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	require.Equal(t, "master", name)
	ex := &dumpExchange{dir: dir, rec: rec, smallSender: "minion",
		small: "hello from the minion", big: strings.Repeat("0123456789abcdef", bigSize/16),
		names: map[netip.AddrPort]string{master.Addr(): "master", minion.Addr(): "minion"}}
	require.NoError(t, minion.SendWait(ctx, "master", map[string]any{"say": ex.small}))
	require.Equal(t, ex.small, dumpRecv(t, master, 1)[0].Body["say"])
	require.NoError(t, master.SendWait(ctx, "minion", map[string]any{"big": ex.big}))
	require.Equal(t, ex.big, dumpRecv(t, minion, 1)[0].Body["big"])
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	require.NoError(t, minion.Close(cctx))
	require.NoError(t, master.Close(cctx))

	ex.keeps = []string{filepath.Join(dir, "master"), filepath.Join(dir, "minion")}
	ex.keylog = filepath.Join(dir, "keylog")
	require.NoError(t, os.WriteFile(ex.keylog, append(klm.Bytes(), kln.Bytes()...), 0o600))
	require.Contains(t, string(klm.Bytes()), road.KeyLogLabel)
	return ex
}

// check runs raet dump --json on a capture of the exchange with both keeps
// and the key log, and checks that every packet decodes, every signed packet
// verifies, every coat opens and both messages show whole.
func (ex *dumpExchange) check(t *testing.T, file string, extra ...string) []dumpRecord {
	t.Helper()
	args := append([]string{"--json", "--keylog", ex.keylog}, extra...)
	for _, k := range ex.keeps {
		args = append(args, "--keep", k)
	}
	status, out, errs := dumpRun(append(args, file)...)
	require.Equal(t, 0, status, errs)
	recs := dumpParse(t, out)
	dgs := ex.rec.datagrams()
	require.Len(t, recs, len(dgs))
	var sawSmall, sawBig bool
	signed, opened := 0, 0
	for i, r := range recs {
		d := dgs[i]
		require.Equal(t, i+1, r.N)
		require.Equal(t, d.src.String(), r.Src)
		require.Equal(t, d.dst.String(), r.Dst)
		require.Empty(t, r.Error, "packet %d", r.N)
		require.NotNil(t, r.Head, "packet %d", r.N)
		require.Equal(t, len(d.b), r.Head.Pl)
		if r.Head.Fk == header.FootNacl {
			signed++
			require.True(t, r.Verified, "packet %d: %s", r.N, r.Verify)
			if name, ok := ex.names[d.src]; ok {
				require.Equal(t, name, r.Signer)
			}
		} else {
			require.Equal(t, "unsigned", r.Verify)
		}
		require.NotEqual(t, "locked", r.Coat, "packet %d", r.N)
		require.NotEqual(t, "bad", r.Coat, "packet %d", r.N)
		if r.Decrypted {
			opened++
		}
		if r.Body != nil {
			var body map[string]any
			if json.Unmarshal(r.Body, &body) == nil {
				if body["say"] == ex.small {
					sawSmall = true
					require.True(t, r.Decrypted)
				}
				if body["big"] == ex.big {
					sawBig = true
					require.NotNil(t, r.Segment)
					require.True(t, r.Segment.Complete)
				}
			}
		}
	}
	require.NotZero(t, signed)
	require.NotZero(t, opened)
	require.True(t, sawSmall, "small message not shown")
	require.True(t, sawBig, "segmented message not shown whole")
	require.Contains(t, errs, fmt.Sprintf("%d RAET packets, %d verified, %d decrypted, 0 errors", len(dgs), signed, opened))
	return recs
}

// TestDumpGoStacks captures two Go stacks talking with each head kind, in
// pcap and pcapng, and dumps the captures with keeps and key log.
func TestDumpGoStacks(t *testing.T) {
	for _, c := range []struct {
		name string
		hk   header.HeadKind
		bk   header.BodyKind
	}{
		{"raet-json", header.HeadRAET, header.BodyJSON},
		{"json-msgpack", header.HeadJSON, header.BodyMsgpack},
		{"binary-msgpack", header.HeadBinary, header.BodyMsgpack},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := dumpGoExchange(t, c.hk, c.bk, 6000)
			var runs [][]dumpRecord
			for _, f := range []capture.Format{capture.FormatPcap, capture.FormatPcapNG} {
				file := filepath.Join(ex.dir, "capture."+f.String())
				ex.rec.write(t, file, f)
				// The stacks' ports are not 7530: name them.
				ports := map[string]bool{}
				var extra []string
				for ap := range ex.names {
					p := strconv.Itoa(int(ap.Port()))
					if !ports[p] {
						ports[p] = true
						extra = append(extra, "--port", p)
					}
				}
				recs := ex.check(t, file, extra...)
				for _, r := range recs {
					require.Equal(t, c.hk, r.Head.Hk)
				}
				runs = append(runs, recs)
				// --any-port finds them without being told.
				ex.check(t, file, "--any-port")
			}
			require.Equal(t, runs[0], runs[1], "pcap and pcapng dump alike")

			// Text output: one line per packet, bodies, and the summary.
			file := filepath.Join(ex.dir, "capture.pcap")
			args := []string{"--any-port", "--keylog", ex.keylog, "--max-body", "40"}
			for _, k := range ex.keeps {
				args = append(args, "--keep", k)
			}
			status, out, errs := dumpRun(append(args, file)...)
			require.Equal(t, 0, status, errs)
			require.Empty(t, errs)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			n := 0
			for _, l := range lines {
				if !strings.HasPrefix(l, "    ") {
					n++
				}
			}
			require.Equal(t, len(ex.rec.datagrams())+1, n, "a line per packet and the summary")
			require.Contains(t, out, "join/request")
			require.Contains(t, out, "verified:master")
			require.Contains(t, out, "verified:minion")
			require.Contains(t, out, "decrypted")
			require.Contains(t, out, "message-complete")
			require.Contains(t, out, "--json shows all")
			require.Contains(t, lines[len(lines)-1], " 0 errors")

			// Without keys: nothing verified or opened, and no errors.
			status, out, errs = dumpRun("--json", "--any-port", file)
			require.Equal(t, 0, status, errs)
			for _, r := range dumpParse(t, out) {
				require.False(t, r.Verified)
				require.False(t, r.Decrypted)
				require.Empty(t, r.Error)
			}
			require.Contains(t, errs, " 0 verified, 0 decrypted, 0 errors")

			// One keep alone still verifies every signed packet: the
			// master's keep knows its own key and the minion's.
			status, out, errs = dumpRun("--json", "--any-port", "--keep", ex.keeps[0], file)
			require.Equal(t, 0, status, errs)
			for _, r := range dumpParse(t, out) {
				if r.Head.Fk == header.FootNacl {
					require.True(t, r.Verified, "packet %d", r.N)
				}
			}
		})
	}
}

// TestDumpPython captures a Python RAET minion talking to a Go master,
// recorded on the Go side, and dumps it with both keeps and the Go key log,
// which opens both directions.
func TestDumpPython(t *testing.T) {
	pyraet.Skip(t)
	for _, k := range []struct{ name, head, body string }{{"raet-json", "raet", "json"}, {"json-msgpack", "json", "msgpack"}} {
		t.Run(k.name, func(t *testing.T) {
			dir := t.TempDir()
			rec := &dumpRecorder{}
			var kl dumpSyncBuffer
			conn := &dumpRecConn{Conn: dumpListen(t), rec: rec, reads: true}
			gm := dumpStack(t, road.Config{Name: "gomaster", Main: true, Auto: "always", KeepDir: filepath.Join(dir, "gomaster"),
				KeyLog: &kl, AlivePeriod: -1}, conn)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			const n = 3
			pyDir := filepath.Join(dir, "py")
			py, err := pyraet.Start(ctx, "road", "--name", "pyminion", "--port", strconv.Itoa(dumpFreePort(t)),
				"--join", gm.Addr().String(), "--send", strconv.Itoa(n), "--size", "2500", "--expect", strconv.Itoa(n),
				"--duration", "40", "--head", k.head, "--body", k.body, "--dir", pyDir)
			require.NoError(t, err)
			defer py.Kill()
			big := strings.Repeat("y", 5000)
			for _, m := range dumpRecv(t, gm, n) {
				require.Equal(t, "pyminion", m.From)
				require.NoError(t, gm.Send(ctx, "pyminion", map[string]any{"echo": m.Body["seq"], "big": big}))
			}
			ev, err := py.WaitEvent(ctx, "exit")
			require.NoError(t, err, py.Stderr())
			require.Equal(t, n, ev.Rx)
			cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer ccancel()
			require.NoError(t, gm.Close(cctx))

			keylog := filepath.Join(dir, "keylog")
			require.NoError(t, os.WriteFile(keylog, kl.Bytes(), 0o600))
			file := filepath.Join(dir, "py.pcapng")
			rec.write(t, file, capture.FormatPcapNG)
			status, out, errs := dumpRun("--json", "--any-port", "--keylog", keylog,
				"--keep", filepath.Join(dir, "gomaster"), "--keep", filepath.Join(pyDir, "pyminion"), file)
			require.Equal(t, 0, status, errs)
			recs := dumpParse(t, out)
			require.Len(t, recs, len(rec.datagrams()))
			pyHead := map[string]header.HeadKind{"raet": header.HeadRAET, "json": header.HeadJSON}[k.head]
			fromPy, complete, echoes := 0, 0, 0
			for _, r := range recs {
				require.Empty(t, r.Error, "packet %d", r.N)
				require.NotNil(t, r.Head)
				if r.Head.Fk == header.FootNacl {
					require.True(t, r.Verified, "packet %d %s", r.N, r.Verify)
				}
				require.NotEqual(t, "locked", r.Coat, "packet %d", r.N)
				if r.Src != gm.Addr().String() {
					fromPy++
					require.Equal(t, pyHead, r.Head.Hk)
				}
				if r.Segment != nil && r.Segment.Complete {
					complete++
					var body map[string]any
					require.NoError(t, json.Unmarshal(r.Body, &body))
					if body["big"] == big {
						echoes++
					} else {
						require.Equal(t, "pyminion", body["from"], "%s", r.Body)
					}
				}
			}
			require.NotZero(t, fromPy)
			require.Equal(t, n, echoes)
			require.GreaterOrEqual(t, complete, 2*n)
		})
	}
}

func dumpFreePort(t *testing.T) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestDumpBadInput: damaged and foreign captures, non-RAET traffic on the
// RAET port, bad flags, keeps and key logs.
func TestDumpBadInput(t *testing.T) {
	ex := dumpGoExchange(t, header.HeadRAET, header.BodyJSON, 3000)
	file := filepath.Join(ex.dir, "capture.pcap")
	ex.rec.write(t, file, capture.FormatPcap)
	whole, err := os.ReadFile(file)
	require.NoError(t, err)
	n := len(ex.rec.datagrams())

	// Truncated: what was read is printed, then the error; exit 1.
	cut := filepath.Join(ex.dir, "cut.pcap")
	require.NoError(t, os.WriteFile(cut, whole[:len(whole)-20], 0o600))
	status, out, errs := dumpRun("--any-port", cut)
	require.Equal(t, 1, status)
	require.Contains(t, errs, "corrupt or truncated")
	require.Contains(t, out, fmt.Sprintf("%d packets, %d RAET packets", n-1, n-1))
	require.Contains(t, out, "stopped early")
	status, out, errs = dumpRun("--json", "--any-port", cut)
	require.Equal(t, 1, status)
	require.Len(t, dumpParse(t, out), n-1)
	require.Contains(t, errs, "corrupt or truncated")

	// Not a capture at all, empty, missing.
	for _, c := range []struct{ name, content, want string }{
		{"text.pcap", "this is not a capture file\n", "not a pcap or pcapng file"},
		{"empty.pcap", "", "empty file"},
	} {
		p := filepath.Join(ex.dir, c.name)
		require.NoError(t, os.WriteFile(p, []byte(c.content), 0o600))
		status, out, errs := dumpRun(p)
		require.Equal(t, 1, status, c.name)
		require.Empty(t, out)
		require.Contains(t, errs, c.want)
	}
	status, _, errs = dumpRun(filepath.Join(ex.dir, "missing.pcap"))
	require.Equal(t, 1, status)
	require.Contains(t, errs, "no such file")

	// From standard input.
	var o, e bytes.Buffer
	status = runDump([]string{"--any-port", "-"}, bytes.NewReader(whole), &o, &e)
	require.Equal(t, 0, status, e.String())
	require.Contains(t, o.String(), fmt.Sprintf("%d packets, %d RAET packets", n, n))

	// Non-RAET traffic: on the RAET port it is reported, elsewhere ignored;
	// RAET on another port is found with --any-port only.
	mixed := filepath.Join(ex.dir, "mixed.pcap")
	fh, err := os.Create(mixed)
	require.NoError(t, err)
	w, err := capture.NewWriter(fh, capture.FormatPcap)
	require.NoError(t, err)
	a := netip.MustParseAddrPort("127.0.0.1:40000")
	raetPort := netip.MustParseAddrPort("127.0.0.1:7530")
	now := time.Now()
	require.NoError(t, w.WriteDatagram(now, a, raetPort, []byte("\x12\x34 some DNS-ish junk")))
	require.NoError(t, w.WriteDatagram(now, a, netip.MustParseAddrPort("127.0.0.1:53"), []byte("junk")))
	require.NoError(t, w.WriteDatagram(now, a, raetPort, []byte("ri RAET\npl 0999\nhl 20\n\n")))
	raw := ex.rec.datagrams()[0].b
	require.NoError(t, w.WriteDatagram(now, a, netip.MustParseAddrPort("127.0.0.1:9999"), raw))
	require.NoError(t, w.WriteDatagram(now, a, raetPort, raw[:len(raw)/2]))
	require.NoError(t, w.Flush())
	require.NoError(t, fh.Close())
	status, out, errs = dumpRun(mixed)
	require.Equal(t, 0, status, errs)
	require.Contains(t, out, "not RAET")
	require.Contains(t, out, "truncated")
	require.Contains(t, out, "5 packets, 3 RAET packets, 0 verified, 0 decrypted, 3 errors")
	status, out, _ = dumpRun("--any-port", mixed)
	require.Equal(t, 0, status)
	require.Contains(t, out, "5 packets, 4 RAET packets")
	status, out, _ = dumpRun("--port", "9999", mixed)
	require.Equal(t, 0, status)
	require.Contains(t, out, "5 packets, 1 RAET packets, 0 verified, 0 decrypted, 0 errors")

	// Flags, keeps, key logs.
	for _, args := range [][]string{
		{},
		{"a", "b"},
		{"--port", "0", file},
		{"--port", "70000", file},
		{"--max-body", "-1", file},
		{"--nonsense", file},
		{"--keep", filepath.Join(ex.dir, "nokeep"), file},
		{"--keylog", filepath.Join(ex.dir, "nokeylog"), file},
	} {
		status, _, errs := dumpRun(args...)
		require.Equal(t, 2, status, "%q", args)
		require.NotEmpty(t, errs)
	}
	_, err = os.Stat(filepath.Join(ex.dir, "nokeep"))
	require.True(t, os.IsNotExist(err), "dump made a keep directory")
	status, out, _ = dumpRun("--help")
	require.Equal(t, 0, status)
	require.Contains(t, out, "usage: raet dump")

	garbage := filepath.Join(ex.dir, "garbage.keylog")
	kl, err := os.ReadFile(ex.keylog)
	require.NoError(t, err)
	junk := "RAET_SESSION_KEY 1.2.3.4:5 nohost aa bb\n\x00\xff\xfe binary\n" + string(kl)
	require.NoError(t, os.WriteFile(garbage, []byte(junk), 0o600))
	status, out, errs = dumpRun("--any-port", "--keylog", garbage, file)
	require.Equal(t, 0, status, errs)
	require.Contains(t, errs, "line 1")
	require.Contains(t, out, "decrypted")
	require.Contains(t, out, " 0 errors")

	// A wrong key log: coats are found not to open.
	other := dumpGoExchange(t, header.HeadRAET, header.BodyJSON, 100)
	status, out, _ = dumpRun("--json", "--any-port", "--keylog", other.keylog, file)
	require.Equal(t, 0, status)
	for _, r := range dumpParse(t, out) {
		require.False(t, r.Decrypted)
	}

	// Progress goes to a terminal only; /dev/null is a character device
	// and takes it.
	require.False(t, dumpIsTerminal(&bytes.Buffer{}))
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer devnull.Close()
	require.True(t, dumpIsTerminal(devnull))
	var so bytes.Buffer
	require.Equal(t, 0, runDump([]string{"--any-port", file}, nil, &so, devnull))
	require.Contains(t, so.String(), " 0 errors")

	var pb bytes.Buffer
	p := &dumpProgress{w: &pb, size: 1000}
	p.update(256, 200, 500)
	require.Equal(t, "\r\033[Kraet dump: 50%, 256 packets, 200 RAET", pb.String())
	p.size = 0
	p.update(512, 400, 900)
	require.Contains(t, pb.String(), "raet dump: 512 packets, 400 RAET")
	pb.Reset()
	p.clear()
	require.Equal(t, "\r\033[K", pb.String())
	pb.Reset()
	p.clear()
	require.Empty(t, pb.String(), "cleared once")
	(*dumpProgress)(nil).update(1, 1, 1)
	(*dumpProgress)(nil).clear()
}

// TestDumpKeyLogLabel: the key log the capture package reads is the one road
// stacks write.
func TestDumpKeyLogLabel(t *testing.T) {
	require.Equal(t, road.KeyLogLabel, capture.KeyLogLabel)
	require.Equal(t, road.KeyLogEnv, "RAET_KEYLOGFILE")
}

// TestDumpTshark runs the Wireshark dissector in contrib/wireshark over a
// capture of Go stacks (native, JSON and binary heads) and checks that every
// field it shows is what raet dump --json says.
func TestDumpTshark(t *testing.T) {
	tshark, script := dumpTshark(t)
	fields := []string{"hk", "pk", "tk", "vn", "se", "de", "si", "ti", "oi", "sn", "sc", "ml", "pl", "hl", "bk", "ck", "fk", "fl", "fg", "coat_len", "foot_len"}
	for _, c := range []struct {
		name string
		hk   header.HeadKind
		bk   header.BodyKind
	}{
		{"raet-json", header.HeadRAET, header.BodyJSON},
		{"json-msgpack", header.HeadJSON, header.BodyMsgpack},
		{"binary-msgpack", header.HeadBinary, header.BodyMsgpack},
	} {
		t.Run(c.name, func(t *testing.T) {
			ex := dumpGoExchange(t, c.hk, c.bk, 3000)
			file := filepath.Join(ex.dir, "capture.pcapng")
			ex.rec.write(t, file, capture.FormatPcapNG)
			status, out, errs := dumpRun("--json", "--any-port", file)
			require.Equal(t, 0, status, errs)
			recs := dumpParse(t, out)

			args := []string{"-n", "-X", "lua_script:" + script, "-o", "udp.try_heuristic_first:TRUE", "-r", file,
				"-T", "fields", "-E", "separator=|", "-e", "frame.number"}
			for _, f := range fields {
				args = append(args, "-e", "raet."+f)
			}
			cmd := exec.Command(tshark, args...)
			cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			got, err := cmd.Output()
			require.NoError(t, err, stderr.String())
			lines := strings.Split(strings.TrimSpace(string(got)), "\n")
			require.Len(t, lines, len(recs), "%s", got)
			for i, line := range lines {
				cols := strings.Split(line, "|")
				require.Len(t, cols, len(fields)+1, line)
				r := recs[i]
				require.Equal(t, strconv.Itoa(r.N), cols[0])
				h := r.Head
				want := map[string]string{
					"hk": fmt.Sprint(uint8(h.Hk)), "pk": fmt.Sprint(uint8(h.Pk)), "tk": fmt.Sprint(uint8(h.Tk)),
					"vn": fmt.Sprint(h.Vn), "se": fmt.Sprint(h.Se), "de": fmt.Sprint(h.De), "si": fmt.Sprint(h.Si),
					"ti": fmt.Sprint(h.Ti), "oi": fmt.Sprint(h.Oi), "sn": fmt.Sprint(h.Sn), "sc": fmt.Sprint(h.SegCount()),
					"ml": fmt.Sprint(h.Ml), "pl": fmt.Sprint(h.Pl), "hl": fmt.Sprint(h.Hl), "bk": fmt.Sprint(uint8(h.Bk)),
					"ck": fmt.Sprint(uint8(h.Ck)), "fk": fmt.Sprint(uint8(h.Fk)), "fl": fmt.Sprint(h.Fl),
					"fg": fmt.Sprintf("0x%02x", h.Fg), "coat_len": fmt.Sprint(r.CoatLen), "foot_len": fmt.Sprint(r.FootLen),
				}
				for j, f := range fields {
					require.Equal(t, want[f], cols[j+1], "frame %d field raet.%s: %s", r.N, f, line)
				}
			}

			// A mangled head and a packet cut short are flagged by the
			// dissector as they are by raet dump.
			bad := filepath.Join(ex.dir, "bad.pcap")
			fh, err := os.Create(bad)
			require.NoError(t, err)
			w, err := capture.NewWriter(fh, capture.FormatPcap)
			require.NoError(t, err)
			a := netip.MustParseAddrPort("127.0.0.1:40000")
			b := netip.MustParseAddrPort("127.0.0.1:7530")
			raw := ex.rec.datagrams()[3].b
			require.NoError(t, w.WriteDatagram(time.Now(), a, b, []byte("ri RAET\nzz top\n\n")))
			require.NoError(t, w.WriteDatagram(time.Now(), a, b, raw[:len(raw)-8]))
			require.NoError(t, w.Flush())
			require.NoError(t, fh.Close())
			out2, err := exec.Command(tshark, "-n", "-X", "lua_script:"+script, "-r", bad, "-T", "fields",
				"-e", "frame.number", "-e", "_ws.expert.message").Output()
			require.NoError(t, err)
			require.Contains(t, string(out2), "1\tunknown field zz")
			require.Contains(t, string(out2), "2\tpl ")
			status, out, _ = dumpRun(bad)
			require.Equal(t, 0, status)
			require.Contains(t, out, "2 RAET packets, 0 verified, 0 decrypted, 2 errors")
		})
	}
}

// dumpTshark returns tshark and the dissector's path, or skips the test
// when tshark or its Lua support is missing.
func dumpTshark(t *testing.T) (tshark, script string) {
	t.Helper()
	tshark, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark not installed (apt-get install tshark; .ci/extra-deps does)")
	}
	if v, err := exec.Command(tshark, "-v").CombinedOutput(); err != nil || !strings.Contains(string(v), "with Lua") {
		t.Skipf("tshark without Lua support: %v", err)
	}
	script, err = filepath.Abs(filepath.Join("..", "..", "contrib", "wireshark", "raet.lua"))
	require.NoError(t, err)
	return tshark, script
}

// TestDumpTcpdump records a real exchange on the loopback interface with
// tcpdump and dumps what it wrote.
func TestDumpTcpdump(t *testing.T) {
	tcpdump, err := exec.LookPath("tcpdump")
	if err != nil {
		t.Skip("tcpdump not installed (apt-get install tcpdump; .ci/extra-deps does)")
	}
	if os.Geteuid() != 0 {
		t.Skip("capturing on lo needs root")
	}
	dir := t.TempDir()
	mc, nc := dumpListen(t), dumpListen(t)
	mport, nport := mc.LocalAddr().Port(), nc.LocalAddr().Port()
	file := filepath.Join(dir, "lo.pcap")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tcpdump, "-i", "lo", "-n", "-U", "-w", file,
		fmt.Sprintf("udp and (port %d or port %d)", mport, nport))
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- nil
				break
			}
		}
		ready <- fmt.Errorf("tcpdump stopped before listening")
		_, _ = io.Copy(io.Discard, stderr)
	}()
	select {
	case err := <-ready:
		if err != nil {
			t.Skipf("tcpdump cannot capture here: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Skip("tcpdump did not start listening")
	}

	rec := &dumpRecorder{}
	var klm, kln dumpSyncBuffer
	master := dumpStack(t, road.Config{Name: "master", Main: true, Auto: "always", KeepDir: filepath.Join(dir, "master"),
		KeyLog: &klm, AlivePeriod: -1}, &dumpRecConn{Conn: mc, rec: rec})
	minion := dumpStack(t, road.Config{Name: "minion", KeepDir: filepath.Join(dir, "minion"),
		KeyLog: &kln, AlivePeriod: -1}, &dumpRecConn{Conn: nc, rec: rec})
	_, err = minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)
	big := strings.Repeat("z", 4000)
	require.NoError(t, minion.SendWait(ctx, "master", map[string]any{"big": big}))
	require.Equal(t, big, dumpRecv(t, master, 1)[0].Body["big"])
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	require.NoError(t, minion.Close(cctx))
	require.NoError(t, master.Close(cctx))
	keylog := filepath.Join(dir, "keylog")
	require.NoError(t, os.WriteFile(keylog, append(klm.Bytes(), kln.Bytes()...), 0o600))

	// Wait until tcpdump has written every datagram, then stop it.
	want := len(rec.datagrams())
	args := []string{"--json", "--port", strconv.Itoa(int(mport)), "--keylog", keylog,
		"--keep", filepath.Join(dir, "master"), "--keep", filepath.Join(dir, "minion"), file}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, out, _ := dumpRun(args...)
		if len(dumpParse(t, out)) >= want || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	_ = cmd.Wait()

	status, out, errs := dumpRun(args...)
	require.Equal(t, 0, status, errs)
	recs := dumpParse(t, out)
	require.Len(t, recs, want)
	complete := false
	for _, r := range recs {
		require.Empty(t, r.Error)
		if r.Head.Fk == header.FootNacl {
			require.True(t, r.Verified, "packet %d", r.N)
		}
		if r.Segment != nil && r.Segment.Complete {
			complete = true
			require.True(t, r.Decrypted)
			require.Contains(t, string(r.Body), big)
		}
	}
	require.True(t, complete)
}

// dumpFastRecord is the fast-mode part of a line of raet dump --json.
type dumpFastRecord struct {
	Coat     string  `json:"coat"`
	Epoch    *uint32 `json:"epoch"`
	PN       *uint64 `json:"pn"`
	Replayed bool    `json:"replayed"`
	Frames   []struct {
		Type   string      `json:"type"`
		Count  int         `json:"count"`
		Ranges [][2]uint64 `json:"ranges"`
		Offset uint64      `json:"offset"`
		Length int         `json:"length"`
	} `json:"frames"`
	Messages []struct {
		Offset uint64          `json:"offset"`
		Size   int             `json:"size"`
		Bk     string          `json:"bk"`
		Body   json.RawMessage `json:"body"`
		Error  string          `json:"error"`
	} `json:"messages"`
	Dropped int `json:"dropped"`
}

// TestDumpFastMode captures two Go stacks in fast mode (the default between
// them) exchanging small messages and large ones that span many packets,
// each way, and dumps the capture with the key log: every fast-mode packet
// opens, its frames show, and every message shows once, whole, with its
// body, on the packet that completed it.
func TestDumpFastMode(t *testing.T) {
	dir := t.TempDir()
	rec := &dumpRecorder{}
	var klm, kln dumpSyncBuffer
	mconn := &dumpRecConn{Conn: dumpListen(t), rec: rec}
	nconn := &dumpRecConn{Conn: dumpListen(t), rec: rec}
	master := dumpStackAnyMode(t, road.Config{Name: "master", Main: true, Auto: "always", KeepDir: filepath.Join(dir, "master"),
		KeyLog: &klm, BodyKind: header.BodyMsgpack, AlivePeriod: -1}, mconn)
	minion := dumpStackAnyMode(t, road.Config{Name: "minion", KeepDir: filepath.Join(dir, "minion"),
		KeyLog: &kln, BodyKind: header.BodyJSON, AlivePeriod: -1}, nconn)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := minion.Join(ctx, master.Addr().String())
	require.NoError(t, err)

	// What each sends: small ones, and large ones of many packets.
	type sent struct {
		from, to *road.Stack
		bk       string
		bodies   []map[string]any
	}
	mk := func(who string) []map[string]any {
		var out []map[string]any
		for i := 0; i < 6; i++ {
			out = append(out, map[string]any{"from": who, "seq": fmt.Sprint(i), "say": "hi " + strconv.Itoa(i)})
		}
		for i, n := range []int{5000, 40000, 150000} {
			out = append(out, map[string]any{"from": who, "seq": fmt.Sprint("big", i), "big": strings.Repeat(string(rune('a'+i)), n)})
		}
		return append(out, map[string]any{"from": who, "seq": "last"})
	}
	flows := []sent{
		{minion, master, "json", mk("minion")},
		{master, minion, "msgpack", mk("master")},
	}
	for _, f := range flows {
		// Queued at once, so small ones share packets; the last waits for
		// its acknowledgement, and so for all before it: nothing is in
		// flight when the stacks close.
		for i, b := range f.bodies {
			send := f.from.Send
			if i == len(f.bodies)-1 {
				send = f.from.SendWait
			}
			require.NoError(t, send(ctx, f.to.Name(), b))
		}
	}
	for _, f := range flows {
		for i, m := range dumpRecv(t, f.to, len(f.bodies)) {
			require.Equal(t, f.bodies[i]["seq"], m.Body["seq"])
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	require.NoError(t, minion.Close(cctx))
	require.NoError(t, master.Close(cctx))

	keylog := filepath.Join(dir, "keylog")
	require.NoError(t, os.WriteFile(keylog, append(klm.Bytes(), kln.Bytes()...), 0o600))
	file := filepath.Join(dir, "fast.pcapng")
	rec.write(t, file, capture.FormatPcapNG)
	args := []string{"--any-port", "--keylog", keylog, "--keep", filepath.Join(dir, "master"), "--keep", filepath.Join(dir, "minion")}

	status, out, errs := dumpRun(append(append([]string{"--json"}, args...), file)...)
	require.Equal(t, 0, status, errs)
	recs := dumpParse(t, out)
	dgs := rec.datagrams()
	require.Len(t, recs, len(dgs))
	var fastRecs []dumpFastRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var f dumpFastRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &f))
		fastRecs = append(fastRecs, f)
	}
	require.Len(t, fastRecs, len(recs))

	// seen counts each sent message's appearances by sender and seq.
	seen := map[string]int{}
	fastPackets, opened, signed, dataFrames := 0, 0, 0, map[string]int{}
	for i, r := range recs {
		f := fastRecs[i]
		require.Empty(t, r.Error, "packet %d", r.N)
		if r.Decrypted {
			opened++
		}
		if r.Head.Ck != header.CoatAEAD {
			require.Nil(t, f.Epoch, "packet %d", r.N)
			if r.Head.Fk == header.FootNacl {
				signed++
				require.True(t, r.Verified, "packet %d", r.N)
			}
			require.NotEqual(t, "locked", r.Coat, "packet %d", r.N)
			continue
		}
		fastPackets++
		require.Equal(t, header.HeadBinary, r.Head.Hk)
		require.Equal(t, "unsigned", r.Verify)
		require.True(t, r.Decrypted, "fast packet %d not opened: %s", r.N, r.Coat)
		require.Equal(t, "opened", f.Coat)
		require.NotNil(t, f.Epoch)
		require.NotNil(t, f.PN)
		require.False(t, f.Replayed)
		require.Zero(t, f.Dropped)
		require.NotEmpty(t, f.Frames, "packet %d", r.N)
		for _, fr := range f.Frames {
			switch fr.Type {
			case "data":
				dataFrames[r.Src]++
				require.Positive(t, fr.Length)
			case "ack":
				require.NotEmpty(t, fr.Ranges)
			case "padding", "ping":
			default:
				t.Fatalf("packet %d: frame %q", r.N, fr.Type)
			}
		}
		for _, m := range f.Messages {
			require.Empty(t, m.Error)
			var body map[string]any
			require.NoError(t, json.Unmarshal(m.Body, &body), "%s", m.Body)
			from, _ := body["from"].(string)
			var flow *sent
			for j := range flows {
				if flows[j].from.Name() == from {
					flow = &flows[j]
				}
			}
			require.NotNil(t, flow, "message %s", m.Body)
			require.Equal(t, flow.from.Addr().String(), r.Src)
			require.Equal(t, flow.bk, m.Bk)
			matched := false
			for _, b := range flow.bodies {
				if b["seq"] == body["seq"] {
					require.Equal(t, b, body)
					matched = true
				}
			}
			require.True(t, matched, "message %s was not sent", m.Body)
			seen[from+"/"+body["seq"].(string)]++
		}
	}
	require.NotZero(t, fastPackets, "no fast-mode packets: the stacks did not switch")
	for _, f := range flows {
		for _, b := range f.bodies {
			require.Equal(t, 1, seen[f.from.Name()+"/"+b["seq"].(string)], "%s's message %s", f.from.Name(), b["seq"])
		}
		// The large messages took many packets.
		require.Greater(t, dataFrames[f.from.Addr().String()], 150000/1232)
	}
	require.NotZero(t, signed)
	msgs := len(flows[0].bodies) + len(flows[1].bodies)
	require.Contains(t, errs, fmt.Sprintf("%d RAET packets, %d verified, %d decrypted, 0 errors, %d fast-mode messages", len(dgs), signed, opened, msgs))

	// Text: fast packets' epoch and number, frames and messages.
	status, out, errs = dumpRun(append(append([]string{"--max-body", "60"}, args...), file)...)
	require.Equal(t, 0, status, errs)
	require.Empty(t, errs)
	require.Contains(t, out, " unsigned decrypted epoch=0 pn=0\n    frames ")
	require.Contains(t, out, "\n    message @0 json {")
	require.Contains(t, out, " msgpack {")
	require.Contains(t, out, "bytes; --json shows all)")
	require.Contains(t, out, "; data ")
	require.Equal(t, msgs, strings.Count(out, "\n    message @"))
	require.Contains(t, out, fmt.Sprintf(", 0 errors, %d fast-mode messages\n", msgs))

	// Without the key log: fast packets show their epoch and number,
	// encrypted, and that is no error.
	status, out, errs = dumpRun("--any-port", file)
	require.Equal(t, 0, status, errs)
	require.Contains(t, out, " unsigned encrypted epoch=0 pn=0")
	require.NotContains(t, out, "\n    frames")
	require.Contains(t, out, " 0 decrypted, 0 errors")

	// The Wireshark dissector shows the same epoch and packet numbers.
	t.Run("tshark", func(t *testing.T) {
		tshark, script := dumpTshark(t)
		home := t.TempDir()
		run := func(info string) ([]byte, error) {
			cmd := exec.Command(tshark, "-n", "-X", "lua_script:"+script, "-o", "udp.try_heuristic_first:TRUE", "-r", file,
				"-T", "fields", "-E", "separator=|", "-e", "frame.number", "-e", "raet.aead.epoch", "-e", "raet.aead.pn", "-e", info)
			cmd.Env = append(os.Environ(), "HOME="+home)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				err = fmt.Errorf("%w: %s", err, stderr.String())
			}
			return out, err
		}
		// The info column's field is _ws.col.Info before Wireshark 4.2,
		// _ws.col.info after.
		got, err := run("_ws.col.Info")
		if err != nil {
			got, err = run("_ws.col.info")
		}
		require.NoError(t, err)
		lines := strings.Split(strings.TrimSpace(string(got)), "\n")
		require.Len(t, lines, len(recs))
		for i, line := range lines {
			cols := strings.Split(line, "|")
			require.Len(t, cols, 4, line)
			f := fastRecs[i]
			if f.Epoch == nil {
				require.Empty(t, cols[1]+cols[2], line)
				continue
			}
			require.Equal(t, fmt.Sprint(*f.Epoch), cols[1], line)
			require.Equal(t, fmt.Sprint(*f.PN), cols[2], line)
			require.True(t, strings.HasSuffix(cols[3], fmt.Sprintf(" epoch=%d pn=%d", *f.Epoch, *f.PN)), line)
		}
	})
}
