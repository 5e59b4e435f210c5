package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"expvar"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The master's counters over HTTP: /metrics in the Prometheus text
// exposition format (written here, no client library), /debug/vars as
// expvar's JSON (the process's cmdline and memstats, plus "raet": the
// status). Nothing is registered globally, so several masters can live in
// one process.

// gauges are the road.Stats fields that are levels rather than counts.
var gauges = map[string]bool{"remotes": true, "fast_sessions": true}

// metricsHandler serves the endpoints from a status source.
func metricsHandler(status func(context.Context) (*Status, error)) http.Handler {
	mux := http.NewServeMux()
	get := func(w http.ResponseWriter, r *http.Request) (*Status, bool) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		st, err := status(ctx)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return nil, false
		}
		return st, true
	}
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		st, ok := get(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = WritePrometheus(w, st, time.Now())
	})
	mux.HandleFunc("/debug/vars", func(w http.ResponseWriter, r *http.Request) {
		st, ok := get(w, r)
		if !ok {
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = writeExpvar(w, st)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintln(w, "raet master: /metrics (Prometheus), /debug/vars (expvar)")
	})
	return mux
}

// writeExpvar writes what expvar's handler writes, with "raet" added.
func writeExpvar(w io.Writer, st *Status) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	first := true
	expvar.Do(func(kv expvar.KeyValue) {
		if kv.Key == "raet" {
			return
		}
		if !first {
			b.WriteString(",\n")
		}
		first = false
		fmt.Fprintf(&b, "%q: %s", kv.Key, kv.Value)
	})
	if !first {
		b.WriteString(",\n")
	}
	fmt.Fprintf(&b, "%q: %s\n}\n", "raet", raw)
	_, err = w.Write(b.Bytes())
	return err
}

// WritePrometheus writes a status in the Prometheus text format: the
// stack's counters as raet_*_total, per-remote counters and gauges labelled
// remote="NAME".
func WritePrometheus(w io.Writer, st *Status, now time.Time) error {
	var b bytes.Buffer
	metric := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	metric("raet_up", "gauge", "1 while the master runs.")
	b.WriteString("raet_up 1\n")
	metric("raet_uptime_seconds", "gauge", "Seconds since the master started.")
	fmt.Fprintf(&b, "raet_uptime_seconds %s\n", strconv.FormatFloat(now.Sub(st.Started).Seconds(), 'f', 3, 64))
	for _, name := range sortedKeys(st.Stats) {
		if gauges[name] {
			metric("raet_"+name, "gauge", "Road stack: "+strings.ReplaceAll(name, "_", " ")+".")
			fmt.Fprintf(&b, "raet_%s %d\n", name, st.Stats[name])
			continue
		}
		metric("raet_"+name+"_total", "counter", "Road stack: "+strings.ReplaceAll(name, "_", " ")+" since start.")
		fmt.Fprintf(&b, "raet_%s_total %d\n", name, st.Stats[name])
	}
	type perRemote struct {
		name, typ, help string
		value           func(r *RemoteStatus) (float64, bool)
	}
	bool01 := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	series := []perRemote{
		{"raet_remote_alive", "gauge", "1 when the remote answers, 0 when dead or unknown.",
			func(r *RemoteStatus) (float64, bool) { return bool01(r.Presence == PresenceAlive), true }},
		{"raet_remote_dead", "gauge", "1 when the remote stopped answering keep-alives.",
			func(r *RemoteStatus) (float64, bool) { return bool01(r.Presence == PresenceDead), true }},
		{"raet_remote_allowed", "gauge", "1 while the remote has a session.",
			func(r *RemoteStatus) (float64, bool) { return bool01(r.Allowed), true }},
		{"raet_remote_accepted", "gauge", "1 when the remote's key is accepted.",
			func(r *RemoteStatus) (float64, bool) { return bool01(r.Key == KeyAccepted), true }},
		{"raet_remote_last_seen_timestamp_seconds", "gauge", "Unix time of the last packet from the remote.",
			func(r *RemoteStatus) (float64, bool) {
				if r.LastSeen == nil {
					return 0, false
				}
				return float64(r.LastSeen.UnixMilli()) / 1e3, true
			}},
		{"raet_remote_session_start_timestamp_seconds", "gauge", "Unix time the remote's session started.",
			func(r *RemoteStatus) (float64, bool) {
				if r.SessionStart == nil {
					return 0, false
				}
				return float64(r.SessionStart.UnixMilli()) / 1e3, true
			}},
		{"raet_remote_messages_in_total", "counter", "Messages received from the remote.",
			func(r *RemoteStatus) (float64, bool) { return float64(r.MessagesIn), true }},
		{"raet_remote_messages_out_total", "counter", "Messages the remote acknowledged.",
			func(r *RemoteStatus) (float64, bool) { return float64(r.MessagesOut), true }},
		{"raet_remote_message_bytes_in_total", "counter", "Body bytes of the messages received from the remote.",
			func(r *RemoteStatus) (float64, bool) { return float64(r.BytesIn), true }},
		{"raet_remote_message_bytes_out_total", "counter", "Body bytes of the messages the remote acknowledged.",
			func(r *RemoteStatus) (float64, bool) { return float64(r.BytesOut), true }},
		{"raet_remote_resent_total", "counter", "Message packets sent to the remote again.",
			func(r *RemoteStatus) (float64, bool) { return float64(r.Resent), true }},
		{"raet_remote_queued", "gauge", "Messages waiting for or being sent to the remote.",
			func(r *RemoteStatus) (float64, bool) { return float64(r.Queued + r.InFlight), true }},
	}
	for _, s := range series {
		metric(s.name, s.typ, s.help)
		for i := range st.Remotes {
			r := &st.Remotes[i]
			if v, ok := s.value(r); ok {
				fmt.Fprintf(&b, "%s{remote=\"%s\"} %s\n", s.name, promLabel(r.Name), strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// promLabel escapes a label value: backslash, double quote and newline.
func promLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
