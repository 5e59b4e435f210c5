package capture

import (
	"bytes"
	"encoding/json"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/packet"
	"github.com/stretchr/testify/require"
)

// analyzeAll reads a capture file and analyses every UDP datagram in it.
func analyzeAll(t testing.TB, file []byte, cfg Config) ([]*Record, *Analyzer) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(file))
	require.NoError(t, err)
	a := NewAnalyzer(cfg)
	var recs []*Record
	for {
		f, err := r.Next()
		if err == io.EOF {
			return recs, a
		}
		require.NoError(t, err)
		if !f.UDP {
			continue
		}
		if rec, ok := a.Datagram(f.Datagram()); ok {
			recs = append(recs, rec)
		}
	}
}

// TestAnalyzeVectors: the road.json exchanges, written as captures, decode
// packet by packet: every head as Python parsed it, every signature verified
// (by keeps, or by the vectors' verify keys alone), every coat opened with a
// key log made of the vectors' session keys, and each segmented message
// shown whole on the segment that completes it.
func TestAnalyzeVectors(t *testing.T) {
	for _, run := range loadRoad(t).Vectors {
		kl, err := ReadKeyLog(bytes.NewReader(run.keyLog(t)))
		require.NoError(t, err)
		byKeep := NewKeyring()
		require.NoError(t, byKeep.AddKeep(vectorKeep(run.Name, "master")))
		require.NoError(t, byKeep.AddKeep(vectorKeep(run.Name, "minion")))
		byVerhex := NewKeyring()
		for name, e := range run.Estates {
			require.NoError(t, byVerhex.AddEstate(name, e.addr(t), e.Verhex))
		}
		msgs := map[string]json.RawMessage{}
		for _, m := range run.Msgs {
			msgs[m.Key] = m.Body
		}
		ports := []uint16{}
		for _, e := range run.Estates {
			ports = append(ports, e.addr(t).Port())
		}
		for _, f := range []Format{FormatPcap, FormatPcapNG} {
			for _, keys := range []*Keyring{byKeep, byVerhex} {
				recs, a := analyzeAll(t, run.pcap(t, f), Config{Ports: ports, Keys: keys, KeyLog: kl})
				require.Len(t, recs, len(run.Packets))
				completed := 0
				for i, rec := range recs {
					p := run.Packets[i]
					require.Empty(t, rec.Problems(), "%s #%d", run.Name, i)
					require.True(t, rec.HasHead)
					jsonEqual(t, p.Head, headJSON(t, rec.RAET.Head))
					h := rec.RAET.Head
					if h.Fk == header.FootNacl {
						require.Equal(t, VerifyOK, rec.Verify)
						require.Equal(t, p.From, rec.Signer)
					} else {
						require.Equal(t, VerifyUnsigned, rec.Verify)
					}
					switch {
					case p.Message != "":
						require.NotNil(t, rec.Segment)
						require.Equal(t, h.Sn, rec.Segment.Sn)
						if rec.Segment.Complete {
							completed++
							require.Equal(t, CoatOpened, rec.Coat)
							jsonEqual(t, msgs[p.Message], rec.Body, p.Message)
						} else {
							require.Equal(t, CoatSegment, rec.Coat)
							require.Nil(t, rec.Body)
						}
					case h.Ck == header.CoatNacl && len(rec.RAET.Coat) > 0:
						require.Equal(t, CoatOpened, rec.Coat)
						require.True(t, rec.Decrypted())
						jsonEqual(t, p.Body, rec.Body)
					case h.Ck == header.CoatNacl:
						require.Equal(t, CoatEmpty, rec.Coat)
					default:
						require.Equal(t, CoatPlain, rec.Coat)
						jsonEqual(t, p.Body, rec.Body)
					}
					// Both renderings hold together.
					js := rec.AppendJSON(nil)
					require.True(t, json.Valid(js), "%s", js)
					var back struct {
						N         int             `json:"n"`
						Head      json.RawMessage `json:"head"`
						Verified  bool            `json:"verified"`
						Decrypted bool            `json:"decrypted"`
						Body      json.RawMessage `json:"body"`
					}
					require.NoError(t, json.Unmarshal(js, &back))
					require.Equal(t, i+1, back.N)
					require.Equal(t, rec.Verified(), back.Verified)
					require.Equal(t, rec.Decrypted(), back.Decrypted)
					jsonEqual(t, headJSON(t, h), back.Head)
					txt := string(rec.AppendText(nil, 80))
					require.Contains(t, txt, h.Tk.String()+"/"+h.Pk.String())
				}
				require.Equal(t, len(run.Msgs), completed)
				st := a.Stats()
				require.Equal(t, len(run.Packets), st.RAET)
				require.Zero(t, st.Errors)
				require.Zero(t, st.Unfinished)
			}
		}
	}
}

// TestAnalyzeWithoutKeys: without keys nothing is verified or opened, and
// that is no error; segments still reassemble.
func TestAnalyzeWithoutKeys(t *testing.T) {
	run := loadRoad(t).Vectors[1]
	ports := []uint16{17532}
	recs, a := analyzeAll(t, run.pcap(t, FormatPcap), Config{Ports: ports})
	require.Len(t, recs, len(run.Packets))
	for _, rec := range recs {
		require.Empty(t, rec.Problems())
		require.NotEqual(t, VerifyOK, rec.Verify)
		require.NotEqual(t, CoatOpened, rec.Coat)
		if rec.Segment != nil && rec.Segment.Complete {
			require.Equal(t, CoatLocked, rec.Coat)
		}
	}
	require.Zero(t, a.Stats().Verified)
	require.Zero(t, a.Stats().Decrypted)
	require.Zero(t, a.Stats().Unfinished)
}

// TestAnalyzeProblems: duplicates, damaged packets, wrong keys, other
// traffic on the RAET port, and the reassembly bound.
func TestAnalyzeProblems(t *testing.T) {
	run := loadRoad(t).Vectors[0]
	kr := NewKeyring()
	require.NoError(t, kr.AddKeep(vectorKeep(run.Name, "master")))
	kl, err := ReadKeyLog(bytes.NewReader(run.keyLog(t)))
	require.NoError(t, err)
	a := NewAnalyzer(Config{Ports: []uint16{17530}, Keys: kr, KeyLog: kl})
	feed := func(i int, raw []byte) *Record {
		src, dst := run.addrs(t, run.Packets[i])
		rec, ok := a.Datagram(Datagram{N: i, Src: src, Dst: dst, Payload: raw})
		require.True(t, ok)
		return rec
	}
	// The first segmented message (4 segments): each segment twice, and
	// one again after it completed.
	var segIdx []int
	for i, p := range run.Packets {
		if p.Message == run.Msgs[0].Key {
			segIdx = append(segIdx, i)
		}
	}
	require.Len(t, segIdx, 4)
	for n, i := range segIdx {
		rec := feed(i, run.Packets[i].raw(t))
		require.False(t, rec.Segment.Duplicate)
		require.Equal(t, n+1, rec.Segment.Received)
		if n < 3 {
			rec = feed(i, run.Packets[i].raw(t))
			require.True(t, rec.Segment.Duplicate)
			require.False(t, rec.Segment.Complete)
		} else {
			require.True(t, rec.Segment.Complete)
			jsonEqual(t, run.Msgs[0].Body, rec.Body)
		}
	}
	rec := feed(segIdx[0], run.Packets[segIdx[0]].raw(t))
	require.True(t, rec.Segment.Duplicate)
	require.Nil(t, rec.Body)
	require.Empty(t, rec.Problems())

	// A damaged foot on a packet master's keep vouches for.
	i := segIdx[0] - 1
	raw := append([]byte(nil), run.Packets[i].raw(t)...)
	raw[len(raw)-5] ^= 0x40
	rec = feed(i, raw)
	require.Equal(t, VerifyBad, rec.Verify)
	require.NotEmpty(t, rec.Problems())
	require.Contains(t, string(rec.AppendText(nil, 0)), "BAD-SIGNATURE")

	// A damaged coat: it verifies nowhere and opens with no key.
	raw = append([]byte(nil), run.Packets[i].raw(t)...)
	h := rec.RAET.Head
	raw[h.Hl+3] ^= 1
	rec = feed(i, raw)
	require.Equal(t, VerifyBad, rec.Verify)
	require.Equal(t, CoatBad, rec.Coat)
	require.Len(t, rec.Problems(), 2)

	// Not RAET at all, and RAET cut short.
	rec = feed(0, []byte("DNS? no."))
	require.False(t, rec.HasHead)
	require.ErrorIs(t, rec.Err, header.ErrUnknownHead)
	require.Contains(t, string(rec.AppendText(nil, 0)), "not RAET")
	js := rec.AppendJSON(nil)
	require.True(t, json.Valid(js))
	require.Contains(t, string(js), `"error":`)
	rec = feed(i, run.Packets[i].raw(t)[:100])
	require.True(t, rec.HasHead)
	require.ErrorIs(t, rec.Err, ErrTruncated)
	require.Contains(t, string(rec.AppendText(nil, 0)), "truncated")

	// Not on a RAET port and not like RAET: no record.
	_, ok := a.Datagram(Datagram{Src: netip.MustParseAddrPort("1.2.3.4:53"), Dst: netip.MustParseAddrPort("1.2.3.4:5353"), Payload: []byte("x")})
	require.False(t, ok)
	// RAET on another port only with AnyPort.
	other := Datagram{Src: netip.MustParseAddrPort("1.2.3.4:1000"), Dst: netip.MustParseAddrPort("1.2.3.4:2000"), Payload: run.Packets[0].raw(t)}
	_, ok = a.Datagram(other)
	require.False(t, ok)
	rec, ok = NewAnalyzer(Config{AnyPort: true}).Datagram(other)
	require.True(t, ok)
	require.True(t, rec.HasHead)

	st := a.Stats()
	require.Equal(t, 4, st.Errors)
	require.Equal(t, 2, st.Decrypted) // the message, and the packet with the damaged foot

	// A reassembly bound smaller than two messages: the older is dropped.
	run2 := loadRoad(t).Vectors[0]
	small := NewAnalyzer(Config{Ports: []uint16{17530}, MaxPending: 21000})
	var firstOf []int
	seen := map[string]bool{}
	for i, p := range run2.Packets {
		if p.Message != "" && !seen[p.Message] {
			seen[p.Message] = true
			firstOf = append(firstOf, i)
		}
	}
	require.Len(t, firstOf, 2)
	for _, i := range firstOf {
		src, dst := run2.addrs(t, run2.Packets[i])
		_, _ = small.Datagram(Datagram{Src: src, Dst: dst, Payload: run2.Packets[i].raw(t)})
	}
	require.Equal(t, 1, small.Stats().Evicted)
	require.Equal(t, 1, small.Stats().Unfinished)
	// A message over the bound is refused.
	tiny := NewAnalyzer(Config{Ports: []uint16{17530}, MaxPending: 100})
	src, dst := run2.addrs(t, run2.Packets[firstOf[0]])
	rec, _ = tiny.Datagram(Datagram{Src: src, Dst: dst, Payload: run2.Packets[firstOf[0]].raw(t)})
	require.Error(t, rec.Err)
	require.True(t, strings.Contains(rec.Err.Error(), "reassembly limit"))
}

// TestAnalyzeUnsupportedCoat: a coat kind the packet package cannot open is
// shown, its foot verified, and is no error.
func TestAnalyzeUnsupportedCoat(t *testing.T) {
	run := loadRoad(t).Vectors[0]
	signer, err := crypto.SignerFromHex(run.Estates["minion"].Sighex)
	require.NoError(t, err)

	h := header.Head{Se: 2, De: 2, Si: 2, Ti: 9, Bk: header.BodyJSON, Ck: header.CoatCRC64, Fk: header.FootNacl}
	raw, err := packet.AppendWithCoat(nil, &h, []byte("opaque coat"), signer, 0)
	require.NoError(t, err)
	kr := NewKeyring()
	require.NoError(t, kr.AddKeep(vectorKeep(run.Name, "master")))
	src := run.Estates["minion"].addr(t)
	dst := run.Estates["master"].addr(t)
	rec, ok := NewAnalyzer(Config{Ports: []uint16{dst.Port()}, Keys: kr}).Datagram(Datagram{Src: src, Dst: dst, Payload: raw})
	require.True(t, ok)
	require.Empty(t, rec.Problems())
	require.Equal(t, VerifyOK, rec.Verify)
	require.Equal(t, "minion", rec.Signer)
	require.Equal(t, CoatUnsupported, rec.Coat)
	require.Contains(t, string(rec.AppendText(nil, 0)), "coat-kind-crc64")
	require.Contains(t, string(rec.AppendJSON(nil)), `"coat":"unsupported"`)
}
