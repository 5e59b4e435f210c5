package daemon

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/raet-go/raet/road"
)

// Status is what a running master reports about itself and its remotes
// (raet status, and the monitoring endpoints).
type Status struct {
	Name    string            `json:"name"`
	Addr    string            `json:"addr"`
	PID     int               `json:"pid"`
	Started time.Time         `json:"started"`
	Uptime  float64           `json:"uptime_s"`
	Version string            `json:"version"`
	Stats   map[string]uint64 `json:"stats"`
	Remotes []RemoteStatus    `json:"remotes"`
}

// RemoteStatus is one remote estate in a Status.
type RemoteStatus struct {
	Name         string     `json:"name"`
	Addr         string     `json:"addr"`
	Role         string     `json:"role"`
	Key          string     `json:"key"` // accepted, pending, rejected
	Joined       bool       `json:"joined"`
	Allowed      bool       `json:"allowed"`
	Presence     string     `json:"presence"` // alive, dead, unknown
	LastSeen     *time.Time `json:"last_seen,omitempty"`
	SessionStart *time.Time `json:"session_start,omitempty"`
	MessagesIn   uint64     `json:"messages_in"`
	MessagesOut  uint64     `json:"messages_out"`
	BytesIn      uint64     `json:"bytes_in"`
	BytesOut     uint64     `json:"bytes_out"`
	Resent       uint64     `json:"resent"`
	Queued       int        `json:"queued"`
	InFlight     int        `json:"in_flight"`
}

// Presence words.
const (
	PresenceAlive   = "alive"
	PresenceDead    = "dead"
	PresenceUnknown = "unknown"
)

func remoteStatus(r road.RemoteInfo) RemoteStatus {
	rs := RemoteStatus{Name: r.Name, Role: r.Role, Key: stateOf(r.Acceptance), Joined: r.Joined, Allowed: r.Allowed,
		Presence: PresenceUnknown, MessagesIn: r.MessagesIn, MessagesOut: r.MessagesOut, BytesIn: r.BytesIn,
		BytesOut: r.BytesOut, Resent: r.Resent, Queued: r.Queued, InFlight: r.InFlight}
	if r.Addr.IsValid() {
		rs.Addr = r.Addr.String()
	}
	switch {
	case r.Alive:
		rs.Presence = PresenceAlive
	case r.Dead:
		rs.Presence = PresenceDead
	}
	if !r.LastSeen.IsZero() {
		t := r.LastSeen
		rs.LastSeen = &t
	}
	if !r.SessionStart.IsZero() && r.Allowed {
		t := r.SessionStart
		rs.SessionStart = &t
	}
	return rs
}

// statFields lists road.Stats's counters with snake_case names, in field
// order, so new counters show up without changes here.
func statFields(st road.Stats) []struct {
	Name  string
	Value uint64
} {
	var out []struct {
		Name  string
		Value uint64
	}
	v := reflect.ValueOf(st)
	for i := 0; i < v.NumField(); i++ {
		f := v.Type().Field(i)
		if f.Type.Kind() != reflect.Uint64 || !f.IsExported() {
			continue
		}
		out = append(out, struct {
			Name  string
			Value uint64
		}{snake(f.Name), v.Field(i).Uint()})
	}
	return out
}

func statsMap(st road.Stats) map[string]uint64 {
	m := map[string]uint64{}
	for _, f := range statFields(st) {
		m[f.Name] = f.Value
	}
	return m
}

// snake turns PacketsIn into packets_in.
func snake(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			if i > 0 && (unicode.IsLower(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))) {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// WriteStatus prints a status as a table, for people.
func WriteStatus(w io.Writer, st *Status, now time.Time) error {
	fmt.Fprintf(w, "master %s on %s, pid %d, up %s, %s\n", st.Name, st.Addr, st.PID,
		fmtAge(now.Sub(st.Started)), st.Version)
	s := st.Stats
	fmt.Fprintf(w, "traffic: %d packets in, %d out; %d messages in (%s), %d out (%s); %d resent; %d dropped, %d bad signatures\n",
		s["packets_in"], s["packets_out"], s["messages_in"], fmtBytes(s["msg_bytes_in"]), s["messages_out"],
		fmtBytes(s["msg_bytes_out"]), s["resent"], s["dropped"], s["bad_signatures"])
	if len(st.Remotes) == 0 {
		_, err := fmt.Fprintln(w, "no remotes")
		return err
	}
	alive, dead := 0, 0
	for _, r := range st.Remotes {
		switch r.Presence {
		case PresenceAlive:
			alive++
		case PresenceDead:
			dead++
		}
	}
	fmt.Fprintf(w, "%d remotes: %d alive, %d dead, %d unknown\n\n", len(st.Remotes), alive, dead, len(st.Remotes)-alive-dead)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tADDRESS\tKEY\tPRESENCE\tLAST SEEN\tSESSION\tMSGS IN/OUT\tBYTES IN/OUT\tRESENT\tQUEUED")
	for _, r := range st.Remotes {
		seen, session := "never", "-"
		if r.LastSeen != nil {
			seen = fmtAge(now.Sub(*r.LastSeen)) + " ago"
		}
		if r.SessionStart != nil {
			session = fmtAge(now.Sub(*r.SessionStart))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%s/%s\t%d\t%d\n", r.Name, r.Addr, r.Key, r.Presence, seen, session,
			r.MessagesIn, r.MessagesOut, fmtBytes(r.BytesIn), fmtBytes(r.BytesOut), r.Resent, r.Queued+r.InFlight)
	}
	return tw.Flush()
}

// fmtAge prints a duration for people: 850ms, 12s, 5m3s, 2h4m, 3d4h.
func fmtAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%dm", int(d.Hours()), int(d.Minutes())%60)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
}

// fmtBytes prints a byte count: 512B, 1.2kB, 3.4MB, 5.6GB.
func fmtBytes(n uint64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%dB", n)
	case n < 1000_000:
		return fmt.Sprintf("%.1fkB", float64(n)/1e3)
	case n < 1000_000_000:
		return fmt.Sprintf("%.1fMB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1fGB", float64(n)/1e9)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
