package raet

import (
	"fmt"
	"math"
	"time"
)

// wireMsg is a bus message as it travels in a RAET message body.
type wireMsg struct {
	Kind     string
	Src, Dst Route
	Topic    string
	Pattern  string
	ID       string
	Deadline time.Time
	Error    string
	Data     any
	Hops     int // forwards so far, to stop routing loops
}

const maxHops = 4

// body returns the mapping sent on the wire.
func (w *wireMsg) body() map[string]any {
	m := map[string]any{
		"route": map[string]any{"src": w.Src.wire(), "dst": w.Dst.wire()},
		"kind":  w.Kind,
	}
	if w.Topic != "" {
		m["topic"] = w.Topic
	}
	if w.Pattern != "" {
		m["pattern"] = w.Pattern
	}
	if w.ID != "" {
		m["id"] = w.ID
	}
	if !w.Deadline.IsZero() {
		m["deadline"] = float64(w.Deadline.UnixNano()) / 1e9
	}
	if w.Error != "" {
		m["error"] = w.Error
	}
	if w.Data != nil {
		m["data"] = w.Data
	}
	if w.Hops > 0 {
		m["hops"] = w.Hops
	}
	return m
}

// parseWire reads a bus message from a received body. A body without a
// kind is a plain message (as a Python peer would send), whose data is the
// whole body.
func parseWire(m map[string]any) (*wireMsg, error) {
	w := &wireMsg{}
	if rt, ok := m["route"].(map[string]any); ok {
		w.Src, w.Dst = routeFrom(rt["src"]), routeFrom(rt["dst"])
	}
	kind, _ := m["kind"].(string)
	if kind == "" {
		w.Kind, w.Data = "msg", m
		return w, nil
	}
	switch kind {
	case "msg", "pub", "sub", "unsub", "hello", "hello-ack", "bye", "req", "rep", "cancel":
	default:
		return nil, fmt.Errorf("raet: unknown bus message kind %q", kind)
	}
	w.Kind = kind
	w.Topic, _ = m["topic"].(string)
	w.Pattern, _ = m["pattern"].(string)
	w.ID, _ = m["id"].(string)
	w.Error, _ = m["error"].(string)
	w.Data = m["data"]
	switch d := m["deadline"].(type) {
	case float64:
		if d > 0 && !math.IsInf(d, 0) && d < 1e12 {
			w.Deadline = time.Unix(0, int64(d*1e9))
		}
	case int64:
		w.Deadline = time.Unix(d, 0)
	}
	switch h := m["hops"].(type) {
	case float64:
		w.Hops = int(h)
	case int64:
		w.Hops = int(h)
	}
	if (kind == "pub") && w.Topic == "" {
		return nil, fmt.Errorf("raet: %s without topic", kind)
	}
	if (kind == "req" || kind == "rep" || kind == "cancel") && w.ID == "" {
		return nil, fmt.Errorf("raet: %s without id", kind)
	}
	return w, nil
}

// normalize turns JSON numbers decoded as float64 that hold integers into
// int64, so data looks the same whichever body kind carried it.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
		return x
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	case uint64:
		if x <= math.MaxInt64 {
			return int64(x)
		}
	}
	return v
}
