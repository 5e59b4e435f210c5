package capture

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/nacl/box"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/raet-go/raet/road/fast"
	"github.com/stretchr/testify/require"
)

var (
	fastAddrA = netip.MustParseAddrPort("127.0.0.1:17600")
	fastAddrB = netip.MustParseAddrPort("127.0.0.1:17601")
	fastT0    = time.Unix(1_700_000_000, 0)
)

// fastMsg is a message a test sends over fast mode: the body kind byte and
// the body, as a road sends it, and the body's vector form.
type fastMsg struct {
	wire []byte
	want json.RawMessage
}

func newFastMsg(t testing.TB, bk header.BodyKind, v map[string]any) fastMsg {
	t.Helper()
	body, err := packet.AppendBody(nil, bk, v)
	require.NoError(t, err)
	want, err := packet.BodyToJSON(bk, body)
	require.NoError(t, err)
	return fastMsg{wire: append([]byte{byte(bk)}, body...), want: want}
}

// fastExchange is a captured fast-mode session between A and B: the
// datagrams as a capture on the path saw them (some of A's never arrived,
// so their data went again), the messages each side sent, and a key log
// line of each end.
type fastExchange struct {
	dgs           []Datagram
	sentA         []fastMsg
	sentB         []fastMsg
	keyLog        []byte
	retransmitted uint64 // bytes of A's stream sent again
	epoch         uint32 // A's last key epoch
}

// runFast runs a session that loses every fifth of A's packets after the
// capture point and rekeys every few packets, until B has every message.
func runFast(t testing.TB, msgsA, msgsB []fastMsg) *fastExchange {
	t.Helper()
	ka, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	kb, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	var shared [32]byte
	pa, pb, privA := ka.Public(), kb.Public(), ka.Bytes()
	box.Precompute(&shared, &pb, &privA)
	keysA, err := fast.DeriveKeys(shared, pa, pb)
	require.NoError(t, err)
	keysB, err := fast.DeriveKeys(shared, pb, pa)
	require.NoError(t, err)
	cfg := fast.Config{RekeyAfterPackets: 5}
	a, err := fast.NewSession(cfg, keysA, header.Head{Se: 2, De: 3, Si: 9}, fastT0)
	require.NoError(t, err)
	b, err := fast.NewSession(cfg, keysB, header.Head{Se: 3, De: 2, Si: 9}, fastT0)
	require.NoError(t, err)

	ex := &fastExchange{sentA: msgsA, sentB: msgsB}
	ex.keyLog = fmt.Appendf(nil, "%s %s %s %s %x\n%s %s %s %s %x\n",
		KeyLogLabel, fastAddrA, fastAddrB, ka.Hex(), pb, KeyLogLabel, fastAddrB, fastAddrA, kb.Hex(), pa)
	for _, m := range msgsA {
		require.NoError(t, a.Send(m.wire))
	}
	for _, m := range msgsB {
		require.NoError(t, b.Send(m.wire))
	}
	gotA, gotB := 0, 0
	now := fastT0
	n := 0
	for i := 0; i < 2000 && (gotB < len(msgsA) || gotA < len(msgsB)); i++ {
		now = now.Add(20 * time.Millisecond)
		a.Flush(now, func(p []byte) {
			ex.dgs = append(ex.dgs, Datagram{Time: now, Src: fastAddrA, Dst: fastAddrB, Payload: bytes.Clone(p)})
			n++
			if n%5 == 0 {
				return // lost past the capture point
			}
			require.NoError(t, b.Receive(now, p, func([]byte) { gotB++ }))
		})
		b.Flush(now, func(p []byte) {
			ex.dgs = append(ex.dgs, Datagram{Time: now, Src: fastAddrB, Dst: fastAddrA, Payload: bytes.Clone(p)})
			require.NoError(t, a.Receive(now, p, func([]byte) { gotA++ }))
		})
	}
	require.Equal(t, len(msgsA), gotB)
	require.Equal(t, len(msgsB), gotA)
	ex.retransmitted, ex.epoch = a.Stats().BytesRetransmitted, a.Stats().SendEpoch
	for i := range ex.dgs {
		ex.dgs[i].N = i + 1
	}
	return ex
}

// fastMessages returns a small and a large message of each body kind.
func fastMessages(t testing.TB, who string) []fastMsg {
	var ms []fastMsg
	for i, bk := range []header.BodyKind{header.BodyJSON, header.BodyMsgpack} {
		ms = append(ms,
			newFastMsg(t, bk, map[string]any{"from": who, "n": i}),
			newFastMsg(t, bk, map[string]any{"from": who, "big": strings.Repeat(fmt.Sprint(i), 9000)}),
			newFastMsg(t, bk, map[string]any{"from": who, "after": i}))
	}
	return ms
}

func (ex *fastExchange) analyzer(t testing.TB, cfg Config) *Analyzer {
	t.Helper()
	kl, err := ReadKeyLog(bytes.NewReader(ex.keyLog))
	require.NoError(t, err)
	require.Empty(t, kl.Skipped())
	cfg.Ports = []uint16{fastAddrB.Port()}
	cfg.KeyLog = kl
	return NewAnalyzer(cfg)
}

// shown collects the messages records show, by direction, in stream order.
func shown(t testing.TB, recs []*Record) map[netip.AddrPort][]FastMessage {
	t.Helper()
	out := map[netip.AddrPort][]FastMessage{}
	for _, r := range recs {
		if r.Fast != nil {
			out[r.Src] = append(out[r.Src], r.Fast.Messages...)
		}
	}
	for _, ms := range out {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
	}
	return out
}

func requireMessages(t testing.TB, want []fastMsg, got []FastMessage) {
	t.Helper()
	require.Len(t, got, len(want))
	for i, m := range got {
		require.NoError(t, m.Err)
		require.False(t, m.Empty)
		require.Equal(t, header.BodyKind(want[i].wire[0]), m.Kind)
		require.Equal(t, len(want[i].wire)-1, m.Size)
		jsonEqual(t, want[i].want, m.Body, fmt.Sprint(i))
	}
}

// TestAnalyzeFast: every packet of a fast-mode session with loss and
// rekeying opens with the key log; its frames are listed; each direction's
// messages show once each, whole, with their bodies, whether the capture
// is read in order, out of order or with datagrams twice.
func TestAnalyzeFast(t *testing.T) {
	ex := runFast(t, fastMessages(t, "A"), fastMessages(t, "B")[:2])
	require.Positive(t, ex.retransmitted, "some data went twice")
	require.Positive(t, ex.epoch, "the session rekeyed")
	shuffled := append([]Datagram(nil), ex.dgs...)
	rand.New(rand.NewSource(1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	doubled := append(append([]Datagram(nil), ex.dgs...), ex.dgs...)
	for _, c := range []struct {
		name string
		dgs  []Datagram
	}{{"in order", ex.dgs}, {"shuffled", shuffled}, {"twice", doubled}} {
		t.Run(c.name, func(t *testing.T) {
			a := ex.analyzer(t, Config{})
			var recs []*Record
			replayed, acks, epochs := 0, 0, map[uint32]bool{}
			dataAt := map[uint64]int{}
			for _, d := range c.dgs {
				rec, ok := a.Datagram(d)
				require.True(t, ok)
				recs = append(recs, rec)
				require.Empty(t, rec.Problems(), "packet %d", rec.N)
				require.Equal(t, CoatOpened, rec.Coat)
				require.True(t, rec.Decrypted())
				require.Equal(t, VerifyUnsigned, rec.Verify)
				require.NotNil(t, rec.Fast)
				require.NotEmpty(t, rec.Fast.Frames)
				epochs[rec.Fast.Epoch] = true
				if rec.Fast.Replayed {
					replayed++
				}
				for _, f := range rec.Fast.Frames {
					switch f.Type {
					case fast.FrameAck:
						acks++
						require.NotEmpty(t, f.Ranges)
						require.GreaterOrEqual(t, f.MaxData, uint64(fast.InitialMaxData))
					case fast.FrameData:
						if d.Src == fastAddrA {
							dataAt[f.Offset]++
						}
					}
				}
				js := rec.AppendJSON(nil)
				require.True(t, json.Valid(js), "%s", js)
				txt := string(rec.AppendText(nil, 60))
				require.Contains(t, txt, fmt.Sprintf(" epoch=%d pn=%d", rec.Fast.Epoch, rec.Fast.PN))
				require.Contains(t, txt, "\n    frames ")
			}
			if c.name == "twice" {
				require.Equal(t, len(ex.dgs), replayed)
			} else {
				require.Zero(t, replayed)
			}
			require.NotZero(t, acks)
			require.Greater(t, len(epochs), 1)
			got := shown(t, recs)
			requireMessages(t, ex.sentA, got[fastAddrA])
			requireMessages(t, ex.sentB, got[fastAddrB])
			st := a.Stats()
			require.Equal(t, len(c.dgs), st.Decrypted)
			require.Zero(t, st.Errors)
			require.Zero(t, st.Unfinished)
			require.Zero(t, st.FastUnfinished)
			require.Zero(t, st.Evicted)
			require.Equal(t, len(ex.sentA)+len(ex.sentB), st.FastMessages)
		})
	}

	t.Run("render", func(t *testing.T) {
		a := ex.analyzer(t, Config{})
		var text, js strings.Builder
		for _, d := range ex.dgs {
			rec, _ := a.Datagram(d)
			text.Write(rec.AppendText(nil, 40))
			text.WriteByte('\n')
			js.Write(rec.AppendJSON(nil))
			js.WriteByte('\n')
		}
		require.Contains(t, text.String(), "binary message/message se=2 de=3 si=9 ti=0 [] len=")
		require.Contains(t, text.String(), " unsigned decrypted epoch=0 pn=0\n    frames data 0+")
		require.Contains(t, text.String(), "\n    message @0 json {")
		require.Contains(t, text.String(), "bytes; --json shows all)")
		require.Regexp(t, `frames ack \d+(-\d+)?(,\d+(-\d+)?)* delay=\S+ max_data=\d+`, text.String())
		var msgs int
		for _, line := range strings.Split(strings.TrimSpace(js.String()), "\n") {
			var r struct {
				Epoch    *uint32 `json:"epoch"`
				PN       *uint64 `json:"pn"`
				Frames   []map[string]any
				Messages []struct {
					Offset uint64
					Size   int
					Bk     string
					Body   json.RawMessage
				}
			}
			require.NoError(t, json.Unmarshal([]byte(line), &r), line)
			require.NotNil(t, r.Epoch)
			require.NotNil(t, r.PN)
			require.NotEmpty(t, r.Frames)
			for _, m := range r.Messages {
				require.Contains(t, []string{"json", "msgpack"}, m.Bk)
				require.True(t, json.Valid(m.Body))
			}
			msgs += len(r.Messages)
		}
		require.Equal(t, len(ex.sentA)+len(ex.sentB), msgs)
	})

	t.Run("without keys", func(t *testing.T) {
		a := NewAnalyzer(Config{Ports: []uint16{fastAddrB.Port()}})
		for _, d := range ex.dgs {
			rec, _ := a.Datagram(d)
			require.Empty(t, rec.Problems())
			require.Equal(t, CoatLocked, rec.Coat)
			require.NotNil(t, rec.Fast)
			require.Nil(t, rec.Fast.Frames)
			require.Contains(t, string(rec.AppendText(nil, 0)), " encrypted epoch=")
			require.NotContains(t, string(rec.AppendJSON(nil)), `"frames"`)
		}
		require.Zero(t, a.Stats().Decrypted)
	})

	t.Run("wrong keys", func(t *testing.T) {
		other := runFast(t, fastMessages(t, "A")[:1], nil)
		a := other.analyzer(t, Config{})
		rec, _ := a.Datagram(ex.dgs[0])
		require.Equal(t, CoatBad, rec.Coat)
		require.ErrorIs(t, rec.CoatErr, packet.ErrCoat)
		require.Len(t, rec.Problems(), 1)
		require.Contains(t, string(rec.AppendText(nil, 0)), "COAT-DOES-NOT-OPEN epoch=0 pn=0")
	})

	t.Run("one line", func(t *testing.T) {
		// B's line alone opens both directions.
		kl, err := ReadKeyLog(bytes.NewReader(ex.keyLog[bytes.IndexByte(ex.keyLog, '\n')+1:]))
		require.NoError(t, err)
		a := NewAnalyzer(Config{Ports: []uint16{fastAddrB.Port()}, KeyLog: kl})
		for _, d := range ex.dgs {
			rec, _ := a.Datagram(d)
			require.Equal(t, CoatOpened, rec.Coat)
		}
		require.Equal(t, len(ex.sentA)+len(ex.sentB), a.Stats().FastMessages)
	})

	t.Run("bounded", func(t *testing.T) {
		// A stream bound under the large messages: each is given up, and
		// the framing goes on after it.
		a := ex.analyzer(t, Config{MaxStream: 4000})
		var recs []*Record
		dropped := 0
		for _, d := range ex.dgs {
			rec, _ := a.Datagram(d)
			require.Empty(t, rec.Problems())
			recs = append(recs, rec)
			dropped += rec.Fast.Dropped
		}
		small := func(ms []fastMsg) []fastMsg {
			var out []fastMsg
			for _, m := range ms {
				if len(m.wire) < 4000 {
					out = append(out, m)
				}
			}
			return out
		}
		wantA, wantB := small(ex.sentA), small(ex.sentB)
		got := shown(t, recs)
		requireMessages(t, wantA, got[fastAddrA])
		requireMessages(t, wantB, got[fastAddrB])
		require.Equal(t, len(ex.sentA)-len(wantA)+len(ex.sentB)-len(wantB), dropped)
		require.Equal(t, dropped, a.Stats().Evicted)

		// All streams together over MaxPending: the one idle longest goes.
		a = ex.analyzer(t, Config{MaxPending: 3000})
		for _, d := range ex.dgs {
			a.Datagram(d)
		}
		require.Positive(t, a.Stats().Evicted)
		require.LessOrEqual(t, a.fast.bytes, 3000+fast.DefaultMaxPacketSize)
	})

	t.Run("gap", func(t *testing.T) {
		// The capture missed A's first packet, which B got: the stream
		// waits for its bytes to the end, and shows nothing of A's.
		a := ex.analyzer(t, Config{})
		var recs []*Record
		for _, d := range ex.dgs[1:] {
			rec, _ := a.Datagram(d)
			require.Empty(t, rec.Problems())
			recs = append(recs, rec)
		}
		require.Empty(t, shown(t, recs)[fastAddrA])
		requireMessages(t, ex.sentB, shown(t, recs)[fastAddrB])
		require.Equal(t, 1, a.Stats().FastUnfinished)
	})

	t.Run("damaged", func(t *testing.T) {
		a := ex.analyzer(t, Config{})
		d := ex.dgs[0]
		d.Payload = bytes.Clone(d.Payload)
		d.Payload[len(d.Payload)-3] ^= 1
		rec, _ := a.Datagram(d)
		require.Equal(t, CoatBad, rec.Coat)
		require.Equal(t, uint64(0), rec.Fast.PN)
		// Cut short: the head and the clear prefix still show.
		d.Payload = ex.dgs[0].Payload[:60]
		rec, _ = a.Datagram(d)
		require.ErrorIs(t, rec.Err, ErrTruncated)
		require.NotNil(t, rec.Fast)
		require.Contains(t, string(rec.AppendJSON(nil)), `"epoch":0,"pn":0`)
	})
}

// sealFast seals frames as a fast-mode packet from A to B of epoch 0.
func sealFast(t testing.TB, k fast.EpochKey, pn uint64, plain []byte) []byte {
	t.Helper()
	h := header.Head{Hk: header.HeadBinary, Ck: header.CoatAEAD, Bk: header.BodyRaw, Sc: 1, Se: 2, De: 3, Si: 9}
	b, err := h.AppendEncode(nil, fast.Overhead+len(plain))
	require.NoError(t, err)
	b = binary.BigEndian.AppendUint32(b, k.Epoch)
	b = binary.BigEndian.AppendUint64(b, pn)
	aead, err := chacha20poly1305.New(k.Key[:])
	require.NoError(t, err)
	var nonce [12]byte
	binary.BigEndian.PutUint64(nonce[4:], pn)
	return aead.Seal(b, nonce[:], plain, b)
}

// fastFrameKit is an analyzer with a key log of one session, and the key of
// A's packets to B.
func fastFrameKit(t testing.TB, cfg Config) (*Analyzer, fast.EpochKey) {
	ka := crypto.NewPrivateKey([32]byte{1})
	kb := crypto.NewPrivateKey([32]byte{2})
	kl, err := ReadKeyLog(strings.NewReader(fmt.Sprintf("%s %s %s %s %x\n", KeyLogLabel, fastAddrA, fastAddrB, ka.Hex(), kb.Public())))
	require.NoError(t, err)
	var shared [32]byte
	priv, pb := ka.Bytes(), kb.Public()
	box.Precompute(&shared, &pb, &priv)
	cfg.Ports, cfg.KeyLog = []uint16{fastAddrB.Port()}, kl
	return NewAnalyzer(cfg), fast.DirectionKey(shared, ka.Public(), kb.Public())
}

func dataFrame(off uint64, b []byte) []byte {
	f := binary.AppendUvarint(binary.AppendUvarint([]byte{0x03}, off), uint64(len(b)))
	return append(f, b...)
}

// TestAnalyzeFastFrames: hand-made packets: a far epoch, an empty message,
// an undecodable body, a length over the limit, and a frame that breaks the
// wire format.
func TestAnalyzeFastFrames(t *testing.T) {
	a, k := fastFrameKit(t, Config{})
	feed := func(k fast.EpochKey, pn uint64, plain []byte) *Record {
		rec, ok := a.Datagram(Datagram{Src: fastAddrA, Dst: fastAddrB, Payload: sealFast(t, k, pn, plain)})
		require.True(t, ok)
		return rec
	}
	// Epoch 3: ratcheted to from 0.
	k3 := k
	for k3.Epoch < 3 {
		k3, _ = k3.Next()
	}
	stream := []byte{0, 3, byte(header.BodyJSON), '{', '}', 4, byte(header.BodyJSON), 'n', 'o', 'p', 2, 0x7f, 0xff}
	rec := feed(k3, 0, append([]byte{0x01, 0x00, 0x00}, dataFrame(0, stream)...))
	require.Equal(t, CoatOpened, rec.Coat)
	require.Equal(t, uint32(3), rec.Fast.Epoch)
	require.Equal(t, []FastFrame{{Type: fast.FramePing}, {Type: fast.FramePadding, Count: 2}, {Type: fast.FrameData, Length: len(stream)}}, rec.Fast.Frames)
	ms := rec.Fast.Messages
	require.Len(t, ms, 4)
	require.True(t, ms[0].Empty)
	require.Equal(t, json.RawMessage("{}"), ms[1].Body)
	require.Equal(t, uint64(1), ms[1].Offset)
	require.Error(t, ms[2].Err, "not JSON")
	require.Equal(t, `{"hex":"6e6f70"}`, string(ms[2].Body))
	require.Equal(t, header.BodyKind(0x7f), ms[3].Kind)
	require.Len(t, rec.Problems(), 2)
	txt := string(rec.AppendText(nil, 0))
	require.Contains(t, txt, "frames ping; padding x2; data 0+13")
	require.Contains(t, txt, "message @0 empty")
	require.Contains(t, txt, "message @1 json {}")

	// Past MaxFastEpoch: not derived.
	far := fast.EpochKey{Epoch: MaxFastEpoch + 1, Key: k.Key}
	rec = feed(far, 1, []byte{0x01})
	require.Equal(t, CoatBad, rec.Coat)
	require.ErrorIs(t, rec.CoatErr, errFastEpoch)

	// A message length over 64 MiB: a protocol violation, and the stream
	// shows no more.
	rec = feed(k, 2, dataFrame(uint64(len(stream)), binary.AppendUvarint(nil, fast.MaxMessageSize+1)))
	require.ErrorIs(t, rec.Err, fast.ErrProtocol)
	rec = feed(k, 3, dataFrame(uint64(len(stream))+4, []byte{1, 1}))
	require.Empty(t, rec.Problems())
	require.Empty(t, rec.Fast.Messages)
	require.Zero(t, a.Stats().FastUnfinished)

	// An unknown frame type after a good one.
	rec = feed(k, 4, []byte{0x01, 0x42})
	require.ErrorIs(t, rec.Err, fast.ErrProtocol)
	require.Equal(t, []FastFrame{{Type: fast.FramePing}}, rec.Fast.Frames)
}

// TestFastStream: a stream rebuilt from pieces in any order, overlapping and
// repeated, gives each message once.
func TestFastStream(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	var stream []byte
	var want []string
	for i := 0; i < 60; i++ {
		m := strings.Repeat(string(rune('a'+i%26)), rng.Intn(400))
		want = append(want, m)
		stream = binary.AppendUvarint(stream, uint64(len(m)))
		stream = append(stream, m...)
	}
	for trial := 0; trial < 20; trial++ {
		type piece struct{ off, end int }
		var pieces []piece
		for off := 0; off < len(stream); {
			n := 1 + rng.Intn(300)
			pieces = append(pieces, piece{off, min(off+n, len(stream))})
			off += n
		}
		// Repeats, and pieces across others.
		for i := 0; i < 30; i++ {
			s := rng.Intn(len(stream))
			pieces = append(pieces, piece{s, min(s+rng.Intn(700), len(stream))})
		}
		rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		var s fastStream
		var got []string
		offs := map[uint64]bool{}
		for _, p := range pieces {
			require.NoError(t, s.add(uint64(p.off), stream[p.off:p.end], func(off uint64, m []byte) {
				require.False(t, offs[off], "message at %d twice", off)
				offs[off] = true
				got = append(got, string(m))
			}))
		}
		require.Equal(t, want, got)
		require.False(t, s.unfinished())
		require.Zero(t, s.bytes())
		require.Equal(t, uint64(len(stream)), s.next)
	}
}

// FuzzFastFrames: any frames in an authentic packet, twice with other
// packet numbers and at other offsets, are shown or refused cleanly, and the
// streams hold no more than their bound.
func FuzzFastFrames(f *testing.F) {
	f.Add([]byte{0x01})
	f.Add(dataFrame(0, []byte{3, 1, '{', '}'}))
	f.Add(append(dataFrame(5, []byte{1, 2}), dataFrame(0, []byte{4, 1, '[', ']', 0})...))
	f.Add(dataFrame(0, []byte{0x80, 0x80, 0x80, 0x80, 0x01}))
	ack := []byte{0x02}
	for _, v := range []uint64{9, 100, 1 << 20, 1, 2, 3, 1} { // 7-9, then 1-2
		ack = binary.AppendUvarint(ack, v)
	}
	f.Add(ack)
	f.Fuzz(func(t *testing.T, plain []byte) {
		a, k := fastFrameKit(t, Config{MaxStream: 64, MaxPending: 128})
		for pn := uint64(0); pn < 2; pn++ {
			rec, ok := a.Datagram(Datagram{Src: fastAddrA, Dst: fastAddrB, Payload: sealFast(t, k, pn, plain)})
			if !ok || rec.Coat != CoatOpened || rec.Fast == nil {
				t.Fatalf("authentic packet not opened: %v", rec.CoatErr)
			}
			_ = rec.AppendText(nil, 100)
			if js := rec.AppendJSON(nil); !json.Valid(js) {
				t.Fatalf("invalid JSON %s", js)
			}
			if a.fast.bytes > 128 {
				t.Fatalf("streams hold %d bytes", a.fast.bytes)
			}
		}
	})
}
