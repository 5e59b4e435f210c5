package capture

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/raet-go/raet/header"
	"github.com/stretchr/testify/require"
)

// roadVectors is testdata/road.json: live exchanges Python RAET recorded.
type roadVectors struct {
	Vectors []roadRun `json:"vectors"`
}

type roadRun struct {
	Name    string                  `json:"name"`
	Estates map[string]vectorEstate `json:"estates"`
	Packets []roadPacket            `json:"packets"`
	Msgs    []struct {
		Key      string          `json:"key"`
		Segments int             `json:"segments"`
		Body     json.RawMessage `json:"body"`
	} `json:"messages"`
}

type vectorEstate struct {
	HA     [2]any `json:"ha"`
	Verhex string `json:"verhex"`
	Sighex string `json:"sighex"`
	UID    int    `json:"uid"`
}

func (e vectorEstate) addr(t testing.TB) netip.AddrPort {
	ap, err := netip.ParseAddrPort(fmt.Sprintf("%v:%v", e.HA[0], e.HA[1]))
	require.NoError(t, err)
	return ap
}

type roadPacket struct {
	From       string          `json:"from"`
	To         string          `json:"to"`
	Kind       string          `json:"kind"`
	Hex        string          `json:"hex"`
	Head       json.RawMessage `json:"head"`
	Verhex     string          `json:"verhex"`
	CoatPrihex string          `json:"coat_prihex"`
	CoatPubhex string          `json:"coat_pubhex"`
	Body       json.RawMessage `json:"body"`
	Message    string          `json:"message"`
}

func (p roadPacket) raw(t testing.TB) []byte {
	b, err := hex.DecodeString(p.Hex)
	require.NoError(t, err)
	return b
}

func loadRoad(t testing.TB) roadVectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "road.json"))
	require.NoError(t, err)
	var v roadVectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Vectors)
	return v
}

// headerVectors is testdata/header.json: heads Python RAET encoded.
type headerVectors struct {
	Vectors []struct {
		Name string          `json:"name"`
		Hex  string          `json:"hex"`
		Head json.RawMessage `json:"head"`
	} `json:"vectors"`
}

func loadHeaders(t testing.TB) headerVectors {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "header.json"))
	require.NoError(t, err)
	var v headerVectors
	require.NoError(t, json.Unmarshal(b, &v))
	require.NotEmpty(t, v.Vectors)
	return v
}

// addrs returns the sender's and receiver's addresses of a vector packet; a
// join request names the main estate by a name it does not have yet.
func (r roadRun) addrs(t testing.TB, p roadPacket) (netip.AddrPort, netip.AddrPort) {
	from, ok := r.Estates[p.From]
	require.True(t, ok, p.From)
	to, ok := r.Estates[p.To]
	if !ok {
		for name, e := range r.Estates {
			if name != p.From {
				to = e
			}
		}
	}
	return from.addr(t), to.addr(t)
}

// keyLog returns a key log holding the coat keys of every packet of the run,
// one line per distinct pair, as the sender's stack would write it.
func (r roadRun) keyLog(t testing.TB) []byte {
	var b bytes.Buffer
	seen := map[string]bool{}
	for _, p := range r.Packets {
		if p.CoatPrihex == "" || seen[p.CoatPrihex+p.CoatPubhex] {
			continue
		}
		seen[p.CoatPrihex+p.CoatPubhex] = true
		src, dst := r.addrs(t, p)
		fmt.Fprintf(&b, "%s %s %s %s %s\n", KeyLogLabel, src, dst, p.CoatPrihex, p.CoatPubhex)
	}
	return b.Bytes()
}

// pcap returns the run as a capture file of the given format, a millisecond
// between packets.
func (r roadRun) pcap(t testing.TB, f Format) []byte {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, f)
	require.NoError(t, err)
	ts := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for i, p := range r.Packets {
		src, dst := r.addrs(t, p)
		require.NoError(t, w.WriteDatagram(ts.Add(time.Duration(i)*time.Millisecond), src, dst, p.raw(t)))
	}
	require.NoError(t, w.Flush())
	return buf.Bytes()
}

// jsonEqual compares two JSON texts by value (numbers as written).
func jsonEqual(t testing.TB, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	var a, b any
	da := json.NewDecoder(bytes.NewReader(want))
	da.UseNumber()
	require.NoError(t, da.Decode(&a), "want %s", want)
	db := json.NewDecoder(bytes.NewReader(got))
	db.UseNumber()
	require.NoError(t, db.Decode(&b), "got %s", got)
	if !reflect.DeepEqual(a, b) {
		require.Failf(t, "JSON differs", "want %s\n got %s\n%v", want, got, fmt.Sprint(msgAndArgs...))
	}
}

// headJSON returns a head's JSON in the vectors' form.
func headJSON(t testing.TB, h header.Head) []byte {
	b, err := h.MarshalJSON()
	require.NoError(t, err)
	return b
}
