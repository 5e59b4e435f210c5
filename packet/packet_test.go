package packet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

type roadPacket struct {
	From, To, Transaction, Kind, Hex, Verhex string
	Head                                     map[string]any
	CoatPrihex                               string `json:"coat_prihex"`
	CoatPubhex                               string `json:"coat_pubhex"`
	Body                                     json.RawMessage
	Message                                  string
}

type roadRun struct {
	Name     string
	Estates  map[string]struct{ Sighex, Verhex, Prihex, Pubhex string }
	Packets  []roadPacket
	Messages []struct {
		Key      string
		Segments int
		Body     json.RawMessage
	}
}

func loadRoad(t testing.TB) []roadRun {
	t.Helper()
	raw, err := os.ReadFile("testdata/road.json")
	require.NoError(t, err)
	var f struct{ Vectors []roadRun }
	require.NoError(t, json.Unmarshal(raw, &f))
	require.Len(t, f.Vectors, 2)
	return f.Vectors
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func boxFor(t testing.TB, prihex, pubhex string) *crypto.Box {
	t.Helper()
	k, err := crypto.PrivateKeyFromHex(prihex)
	require.NoError(t, err)
	pub, err := crypto.PublicKeyFromHex(pubhex)
	require.NoError(t, err)
	return k.Box(pub)
}

// jsonEqual compares a decoded body with the vector's JSON form, where bytes
// are written {"hex": "..."}.
func jsonEqual(t testing.TB, want json.RawMessage, got any) {
	t.Helper()
	var w any
	require.NoError(t, json.Unmarshal(want, &w))
	g, err := json.Marshal(vectorForm(got))
	require.NoError(t, err)
	var gv any
	require.NoError(t, json.Unmarshal(g, &gv))
	require.Equal(t, w, gv)
}

func vectorForm(v any) any {
	switch x := v.(type) {
	case []byte:
		return map[string]any{"hex": hex.EncodeToString(x)}
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = vectorForm(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = vectorForm(e)
		}
		return out
	}
	return v
}

// TestRoadVectors parses every packet of both live Python exchanges, verifies
// its signature, opens its coat, decodes its body, rebuilds it byte for byte
// (Ed25519 signatures are deterministic), and reassembles segmented messages.
func TestRoadVectors(t *testing.T) {
	for _, run := range loadRoad(t) {
		t.Run(run.Name, func(t *testing.T) {
			signers := map[string]*crypto.Signer{}
			for name, e := range run.Estates {
				s, err := crypto.SignerFromHex(e.Sighex)
				require.NoError(t, err)
				require.Equal(t, e.Verhex, s.VerHex())
				signers[name] = s
			}
			trays := map[string]*Tray{}
			boxes := map[string]*crypto.Box{}
			for i, vp := range run.Packets {
				raw := mustHex(t, vp.Hex)
				var p Packet
				require.NoError(t, p.ParseOuter(raw), "packet %d", i)
				require.EqualValues(t, vp.Head["pk"], p.Head.Pk)
				require.Equal(t, vp.Kind, p.Head.Pk.String())
				if p.Signed() {
					v, err := crypto.VerifierFromHex(vp.Verhex)
					require.NoError(t, err)
					require.NoError(t, p.Verify(v), "packet %d", i)
					require.Equal(t, vp.Hex, hex.EncodeToString(raw), "verify must restore the foot")
				}
				// Rebuild: same head fields, same coat, same signer give the same bytes.
				h := p.Head
				var signer *crypto.Signer
				if p.Signed() {
					signer = signers[vp.From]
				}
				out, err := AppendWithCoat(nil, &h, p.Coat, signer, 0)
				require.NoError(t, err)
				require.Equal(t, vp.Hex, hex.EncodeToString(out), "packet %d rebuilt", i)

				var box *crypto.Box
				if vp.CoatPrihex != "" {
					// The receiver opens with its own short-term private key and
					// the sender's short-term public key; the shared key is the same.
					box = boxFor(t, vp.CoatPrihex, vp.CoatPubhex)
				}
				if vp.Message != "" {
					boxes[vp.Message] = box
					tr := trays[vp.Message]
					if tr == nil {
						tr, err = NewTray(&p, 0)
						require.NoError(t, err)
						trays[vp.Message] = tr
					} else {
						_, err = tr.Add(&p)
						require.NoError(t, err)
					}
					continue
				}
				body, err := p.Open(nil, box)
				require.NoError(t, err, "packet %d", i)
				v, err := DecodeBody(p.Head.Bk, body)
				require.NoError(t, err)
				jsonEqual(t, vp.Body, v)
			}
			require.Len(t, trays, len(run.Messages))
			for _, m := range run.Messages {
				tr := trays[m.Key]
				require.NotNil(t, tr, m.Key)
				require.True(t, tr.Complete())
				require.Equal(t, m.Segments, tr.Count())
				body, err := OpenCoat(nil, tr.Head.Ck, tr.Coat(), boxes[m.Key])
				require.NoError(t, err)
				v, err := DecodeBody(tr.Head.Bk, body)
				require.NoError(t, err)
				jsonEqual(t, m.Body, v)
			}
		})
	}
}

// TestSegmentSizing splits each recorded segmented message again and checks
// every segment comes out as Python RAET sent it, byte for byte.
func TestSegmentSizing(t *testing.T) {
	for _, run := range loadRoad(t) {
		t.Run(run.Name, func(t *testing.T) {
			byMsg := map[string][]roadPacket{}
			var order []string
			for _, vp := range run.Packets {
				if vp.Message == "" {
					continue
				}
				if byMsg[vp.Message] == nil {
					order = append(order, vp.Message)
				}
				byMsg[vp.Message] = append(byMsg[vp.Message], vp)
			}
			require.NotEmpty(t, order)
			for _, key := range order {
				pkts := byMsg[key]
				var coat []byte
				var first Packet
				for i, vp := range pkts {
					var p Packet
					require.NoError(t, p.ParseOuter(mustHex(t, vp.Hex)))
					require.EqualValues(t, i, p.Head.Sn)
					if i == 0 {
						first = p
					}
					coat = append(coat, p.Coat...)
				}
				tmpl := first.Head
				tmpl.SetFlag(header.FlagWf, false)
				m, err := NewMessageCoat(tmpl, coat, 0, 0)
				require.NoError(t, err)
				require.Equal(t, len(pkts), m.Count())
				signer, err := crypto.SignerFromHex(run.Estates[pkts[0].From].Sighex)
				require.NoError(t, err)
				for i, vp := range pkts {
					var flags uint8
					if vp.Head["wf"] == true {
						flags = header.FlagWf
					}
					out, err := m.AppendPacket(nil, i, flags, signer)
					require.NoError(t, err)
					require.Equal(t, vp.Hex, hex.EncodeToString(out), "%s segment %d", key, i)
				}
			}
		})
	}
}

func TestPackRoundTrips(t *testing.T) {
	signer, err := crypto.GenerateSigner()
	require.NoError(t, err)
	a, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	b, err := crypto.GeneratePrivateKey()
	require.NoError(t, err)
	sealBox, openBox := a.Box(b.Public()), b.Box(a.Public())
	bodies := map[header.BodyKind]any{
		header.BodyNada:    nil,
		header.BodyJSON:    map[string]any{"route": map[string]any{"dst": []any{"m", nil, "t"}}, "n": int64(5), "f": 2.5},
		header.BodyMsgpack: map[string]any{"cmd": "ping", "bin": []byte{0, 1, 2}, "list": []any{int64(1), "x", true, nil}},
		header.BodyRaw:     []byte("raw \x00 bytes"),
	}
	for _, hk := range []header.HeadKind{header.HeadRAET, header.HeadJSON, header.HeadBinary} {
		for bk, v := range bodies {
			for _, ck := range []header.CoatKind{header.CoatNada, header.CoatNacl} {
				for _, fk := range []header.FootKind{header.FootNada, header.FootNacl} {
					h := header.Head{Hk: hk, Bk: bk, Ck: ck, Fk: fk, Se: 2, De: 3, Si: 9, Ti: 77, Pk: header.PcktMessage}
					body, err := AppendBody(nil, bk, v)
					require.NoError(t, err)
					pkt, err := AppendPacket([]byte("x"), &h, body, sealBox, signer, 0)
					require.NoError(t, err)
					pkt = pkt[1:]
					var p Packet
					require.NoError(t, p.ParseOuter(pkt), "%v %v %v %v", hk, bk, ck, fk)
					if fk == header.FootNacl {
						require.NoError(t, p.Verify(signer.Verifier()))
					} else {
						require.ErrorIs(t, p.Verify(signer.Verifier()), ErrUnsigned)
					}
					got, err := p.Open(nil, openBox)
					require.NoError(t, err)
					require.Equal(t, body, got)
					dv, err := DecodeBody(bk, got)
					require.NoError(t, err)
					if bk == header.BodyNada {
						require.Nil(t, dv)
					} else {
						require.Equal(t, v, dv)
					}
				}
			}
		}
	}
}

func TestTamperedPacketRejected(t *testing.T) {
	signer, _ := crypto.GenerateSigner()
	a, _ := crypto.GeneratePrivateKey()
	b, _ := crypto.GeneratePrivateKey()
	for _, hk := range []header.HeadKind{header.HeadRAET, header.HeadJSON, header.HeadBinary} {
		h := header.Head{Hk: hk, Bk: header.BodyJSON, Ck: header.CoatNacl, Fk: header.FootNacl, Se: 2, De: 3, Si: 1, Ti: 1}
		body, _ := AppendBody(nil, header.BodyJSON, map[string]any{"hello": "world"})
		pkt, err := AppendPacket(nil, &h, body, a.Box(b.Public()), signer, 0)
		require.NoError(t, err)
		for i := range pkt {
			for _, bit := range []byte{0x01, 0x80} {
				bad := bytes.Clone(pkt)
				bad[i] ^= bit
				var p Packet
				if err := p.ParseOuter(bad); err != nil {
					continue // a head that no longer parses is rejected too
				}
				require.Error(t, p.Verify(signer.Verifier()), "%v: flipping byte %d bit %#x went unnoticed", hk, i, bit)
			}
		}
	}
}

func TestSegmentedRoundTrip(t *testing.T) {
	signer, _ := crypto.GenerateSigner()
	a, _ := crypto.GeneratePrivateKey()
	b, _ := crypto.GeneratePrivateKey()
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, hk := range []header.HeadKind{header.HeadRAET, header.HeadJSON, header.HeadBinary} {
		h := header.Head{Hk: hk, Bk: header.BodyRaw, Ck: header.CoatNacl, Fk: header.FootNacl, Se: 2, De: 3, Si: 1, Ti: 1}
		m, err := NewMessage(h, payload, a.Box(b.Public()), 0, 0)
		require.NoError(t, err)
		require.True(t, m.Segmented())
		pkts := make([][]byte, m.Count())
		for i := range pkts {
			pkts[i], err = m.AppendPacket(nil, i, 0, signer)
			require.NoError(t, err)
			require.LessOrEqual(t, len(pkts[i]), DefaultMaxPacketSize)
		}
		// Reverse order with duplicates.
		var tr *Tray
		for i := len(pkts) - 1; i >= 0; i-- {
			for dup := 0; dup < 1+i%2; dup++ {
				var p Packet
				require.NoError(t, p.ParseOuter(pkts[i]))
				require.NoError(t, p.Verify(signer.Verifier()))
				if tr == nil {
					tr, err = NewTray(&p, 0)
					require.NoError(t, err)
					require.Len(t, tr.AppendMissing(nil, 0, -1), len(pkts)-1)
					continue
				}
				done, err := tr.Add(&p)
				require.NoError(t, err)
				require.Equal(t, i == 0, done)
			}
			if i == len(pkts)/2 {
				miss := tr.AppendMissing(nil, 0, -1)
				require.Len(t, miss, i)
			}
		}
		body, err := OpenCoat(nil, header.CoatNacl, tr.Coat(), b.Box(a.Public()))
		require.NoError(t, err)
		require.Equal(t, payload, body)
	}
}

func TestTrayRejects(t *testing.T) {
	mk := func(sn, sc, ml uint64, coat string) *Packet {
		return &Packet{Head: header.Head{Sn: sn, Sc: sc, Ml: ml, Fg: header.FlagSf, Si: 1, Ti: 1}, Coat: []byte(coat)}
	}
	_, err := NewTray(mk(0, 70000, 100000, "x"), 0)
	require.ErrorIs(t, err, ErrMessageTooBig)
	_, err = NewTray(mk(0, 2, 1<<30, "x"), 0)
	require.ErrorIs(t, err, ErrMessageTooBig)
	_, err = NewTray(mk(5, 2, 10, "x"), 0)
	require.ErrorIs(t, err, ErrSegment)
	tr, err := NewTray(mk(0, 3, 6, "ab"), 0)
	require.NoError(t, err)
	_, err = tr.Add(mk(1, 4, 6, "cd"))
	require.ErrorIs(t, err, ErrSegment, "count changed")
	_, err = tr.Add(mk(1, 3, 7, "cd"))
	require.ErrorIs(t, err, ErrSegment, "length changed")
	_, err = tr.Add(mk(1, 3, 6, "cdefg"))
	require.ErrorIs(t, err, ErrSegment, "over ml")
	done, err := tr.Add(mk(1, 3, 6, "cd"))
	require.NoError(t, err)
	require.False(t, done)
	require.Equal(t, []int{2}, tr.AppendMissing(nil, 0, 3))
	_, err = tr.Add(mk(2, 3, 6, "e"))
	require.ErrorIs(t, err, ErrSegment, "short of ml when complete")
	done, err = tr.Add(mk(2, 3, 6, "ef"))
	require.NoError(t, err)
	require.True(t, done)
	require.Equal(t, "abcdef", string(tr.Coat()))
}

func TestPackErrors(t *testing.T) {
	h := header.Head{Fk: header.FootNacl}
	_, err := AppendPacket(nil, &h, nil, nil, nil, 0)
	require.ErrorIs(t, err, ErrNoKey)
	h = header.Head{Ck: header.CoatNacl}
	_, err = AppendPacket(nil, &h, []byte("x"), nil, nil, 0)
	require.ErrorIs(t, err, ErrNoKey)
	h = header.Head{}
	_, err = AppendPacket(nil, &h, make([]byte, 2000), nil, nil, 0)
	require.ErrorIs(t, err, ErrTooBig)
	_, err = NewMessage(header.Head{}, make([]byte, 5000), nil, 0, 4000)
	require.ErrorIs(t, err, ErrMessageTooBig)
	_, err = AppendBody(nil, header.BodyRaw, 5)
	require.ErrorIs(t, err, ErrBody)
	_, err = DecodeBody(header.BodyJSON, []byte("[1,2]"))
	require.ErrorIs(t, err, ErrBody)
	_, err = DecodeBody(header.BodyMsgpack, []byte{0x93, 1, 2, 3})
	require.ErrorIs(t, err, ErrBody)
	var p Packet
	bad := []byte("ri RAET\npl 0020\nhl 1b\nfk 1\n\nxxxxx")
	require.Error(t, p.ParseOuter(bad))
}

func FuzzParse(f *testing.F) {
	for _, run := range loadRoad(f) {
		for _, vp := range run.Packets {
			f.Add(mustHex(f, vp.Hex))
		}
	}
	box := boxFor(f, "7d446e138714224c2d154cafa7010fe39da26b5c8cd8f7583ec0fecb11505b54", "02ab693b52176be598dd8a519e8a3c55cb155d63167ced1b91b550941518427e")
	ver, _ := crypto.VerifierFromHex("d3a2a177efd5f3ad0121a6f6317d9c7da02bf4582a4f7b6e4b346bb390c177f7")
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p Packet
		if err := p.ParseOuter(raw); err != nil {
			return
		}
		_ = p.Verify(ver)
		if p.Head.Segmented() {
			tr, err := NewTray(&p, 1<<20)
			if err == nil {
				tr.AppendMissing(nil, 0, -1)
				_ = tr.Coat()
			}
			return
		}
		body, err := p.Open(nil, box)
		if err != nil {
			return
		}
		_, _ = DecodeBody(p.Head.Bk, body)
	})
}
