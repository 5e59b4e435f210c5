package daemon

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/raet-go/raet/road"
)

func sampleStatus() *Status {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	seen := start.Add(time.Hour)
	return &Status{Name: "master", Addr: "127.0.0.1:7530", PID: 42, Started: start, Version: "v",
		Stats: statsMap(road.Stats{PacketsIn: 10, MsgBytesIn: 2048, Remotes: 2, Resent: 1}),
		Remotes: []RemoteStatus{
			{Name: "web1", Addr: "127.0.0.1:7531", Key: KeyAccepted, Allowed: true, Presence: PresenceAlive,
				LastSeen: &seen, SessionStart: &start, MessagesIn: 3, MessagesOut: 4, BytesIn: 1500, BytesOut: 99, Resent: 2},
			{Name: `we"ird\`, Key: KeyPending, Presence: PresenceUnknown},
		}}
}

func TestStatsNames(t *testing.T) {
	m := statsMap(road.Stats{PacketsIn: 1, MsgBytesOut: 2, NetErrors: 3, FastSessions: 4})
	require.EqualValues(t, 1, m["packets_in"])
	require.EqualValues(t, 2, m["msg_bytes_out"])
	require.EqualValues(t, 3, m["net_errors"])
	require.EqualValues(t, 4, m["fast_sessions"])
	for k := range m {
		require.Regexp(t, `^[a-z][a-z_]*[a-z]$`, k)
	}
}

func TestWriteStatus(t *testing.T) {
	st := sampleStatus()
	var b bytes.Buffer
	require.NoError(t, WriteStatus(&b, st, st.Started.Add(time.Hour+5*time.Second)))
	out := b.String()
	require.Contains(t, out, "master master on 127.0.0.1:7530, pid 42, up 1h0m")
	require.Contains(t, out, "2 remotes: 1 alive, 0 dead, 1 unknown")
	require.Regexp(t, `web1\s+127.0.0.1:7531\s+accepted\s+alive\s+5s ago\s+1h0m\s+3/4\s+1.5kB/99B\s+2`, out)
	require.Regexp(t, `we"ird\\\s+pending\s+unknown\s+never\s+-`, out)

	// The JSON form round-trips (raet status --json, and the bus).
	raw, err := json.Marshal(st)
	require.NoError(t, err)
	var back Status
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Equal(t, st.Remotes[0].LastSeen.Unix(), back.Remotes[0].LastSeen.Unix())
	require.Nil(t, back.Remotes[1].LastSeen)
}

func TestWritePrometheus(t *testing.T) {
	st := sampleStatus()
	var b bytes.Buffer
	require.NoError(t, WritePrometheus(&b, st, st.Started.Add(90*time.Second)))
	out := b.String()
	for _, want := range []string{
		"raet_up 1\n",
		"raet_uptime_seconds 90.000\n",
		"# TYPE raet_packets_in_total counter\nraet_packets_in_total 10\n",
		"# TYPE raet_remotes gauge\nraet_remotes 2\n",
		`raet_remote_alive{remote="web1"} 1` + "\n",
		`raet_remote_message_bytes_in_total{remote="web1"} 1500` + "\n",
		`raet_remote_last_seen_timestamp_seconds{remote="web1"} 1893557045` + "\n",
		`raet_remote_accepted{remote="we\"ird\\"} 0` + "\n",
	} {
		require.Contains(t, out, want)
	}
	require.NotContains(t, out, `raet_remote_last_seen_timestamp_seconds{remote="we\"ird`, "no sample without a value")
	// Every sample line is NAME{labels} VALUE or NAME VALUE; every family has HELP and TYPE.
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(line, "#") {
			require.Regexp(t, `^# (HELP|TYPE) raet_[a-z_]+ .+$`, line)
			continue
		}
		require.Regexp(t, `^raet_[a-z_]+(\{remote="([^"\\]|\\.)*"\})? -?[0-9.]+$`, line)
	}
}

func TestFmt(t *testing.T) {
	for d, want := range map[time.Duration]string{
		850 * time.Millisecond: "850ms", 12 * time.Second: "12s", 5*time.Minute + 3*time.Second: "5m3s",
		2*time.Hour + 4*time.Minute: "2h4m", 76 * time.Hour: "3d4h", -time.Second: "0s",
	} {
		require.Equal(t, want, fmtAge(d))
	}
	require.Equal(t, "999B", fmtBytes(999))
	require.Equal(t, "1.5kB", fmtBytes(1500))
	require.Equal(t, "2.0MB", fmtBytes(2_000_000))
}
