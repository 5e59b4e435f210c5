package road

import (
	"context"
	"testing"
	"time"

	"github.com/raet-go/raet/internal/faultnet"
	"github.com/stretchr/testify/require"
)

// fuzzPair is a main estate and a minion, joined and allowed on a sim
// network, with short timeouts so every transaction a packet can start ends
// within a few virtual seconds.
func fuzzPair(tb testing.TB) (m *sim, master, minion *Stack, rec *recorder) {
	m = newSim(tb, faultnet.Faults{})
	m.tick = 50 * time.Millisecond
	short := func(c Config) Config {
		c.JoinTimeout, c.AllowTimeout, c.AliveTimeout, c.MessageTimeout = 2*time.Second, 2*time.Second, time.Second, 3*time.Second
		return c
	}
	rec = &recorder{}
	m.net.SetFilter(rec.filter)
	master = m.add(short(Config{Name: "master", Listen: "127.0.0.1:7530", Main: true, Auto: "always"}))
	minion = m.add(short(Config{Name: "minion", Listen: "127.0.0.1:7531"}))
	r := m.joinPair(minion, master)
	m.allowPair(minion, r)
	ctx := context.Background()
	require.NoError(tb, minion.Send(ctx, "master", map[string]any{"small": 1}))
	require.NoError(tb, minion.Send(ctx, "master", map[string]any{"big": padding(1, 5000)}))
	require.NoError(tb, master.Send(ctx, "minion", map[string]any{"back": padding(2, 3000)}))
	on(tb, minion, func() { minion.startAlive(r, false) })
	m.serve(5 * time.Second)
	m.net.SetFilter(nil)
	drainMessages(master)
	drainMessages(minion)
	return m, master, minion, rec
}

// FuzzStackReceive feeds random and mutated packets into a running pair of
// stacks: raw (mode 0), signed again with the sender's real key so they pass
// the signature check and reach the transactions (mode 1), or the same
// toward the minion (mode 2). A panic fails, and so does any transaction
// still open once every timeout has passed.
func FuzzStackReceive(f *testing.F) {
	m, master, minion, rec := fuzzPair(f)
	for _, p := range rec.all() {
		for _, mode := range []byte{0, 1, 2} {
			f.Add(append([]byte{mode}, p.b...))
		}
	}
	f.Add([]byte{0})
	f.Add([]byte{1, 'r', 'i', ' ', 'R', 'A', 'E', 'T', '\n'})
	f.Add([]byte("\x00{\"ri\":\"RAET\",\"pl\":\"0000020\",\"hl\":\"1c\",\"fg\":\"00\"}\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 4096 {
			return
		}
		mode, pkt := data[0]%3, data[1:]
		to, from, signer := master, minion, minion.signer
		if mode == 2 {
			to, from, signer = minion, master, master.signer
		}
		if mode != 0 {
			pkt = resign(pkt, signer)
		}
		to.conn.(PacketConn).C.(*faultnet.Endpoint).Inject(from.Addr(), pkt)
		m.settle()
		m.run(6 * time.Second)
		for _, s := range []*Stack{master, minion} {
			require.Zero(t, txCount(t, s), "%s has a transaction left open", s.Name())
			drainMessages(s)
			drainEvents(s)
		}
	})
}
