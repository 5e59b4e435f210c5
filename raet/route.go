package raet

import (
	"fmt"
	"path"
	"strings"
)

// Route names one end of a message: an estate (host), a yard (process) on
// it and an optional share (a queue or handler inside the yard). An empty
// Estate means this node's estate; an empty Yard means the estate's node.
type Route struct {
	Estate string
	Yard   string
	Share  string
}

func (r Route) String() string {
	return fmt.Sprintf("%s/%s/%s", r.Estate, r.Yard, r.Share)
}

// wire returns the route as RAET writes it: a three-element list with null
// for empty parts.
func (r Route) wire() []any {
	part := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return []any{part(r.Estate), part(r.Yard), part(r.Share)}
}

// routeFrom reads a route written by wire (or by Salt: a list of up to three
// strings or nulls).
func routeFrom(v any) Route {
	l, _ := v.([]any)
	get := func(i int) string {
		if i < len(l) {
			if s, ok := l[i].(string); ok {
				return s
			}
		}
		return ""
	}
	return Route{Estate: get(0), Yard: get(1), Share: get(2)}
}

// Match reports whether topic matches pattern: path.Match rules on
// slash-separated topics, plus "**" or a trailing "/**" matching any rest,
// and "" matching every topic.
func Match(pattern, topic string) bool {
	switch {
	case pattern == "" || pattern == "**":
		return true
	case strings.HasSuffix(pattern, "/**"):
		prefix := strings.TrimSuffix(pattern, "/**")
		if ok, _ := path.Match(prefix, topic); ok {
			return true
		}
		parts := strings.Split(topic, "/")
		depth := strings.Count(prefix, "/") + 1
		if len(parts) <= depth {
			return false
		}
		ok, _ := path.Match(prefix, strings.Join(parts[:depth], "/"))
		return ok
	}
	ok, err := path.Match(pattern, topic)
	return err == nil && ok
}

// ValidPattern reports whether a subscription pattern is well formed.
func ValidPattern(pattern string) error {
	p := strings.TrimSuffix(pattern, "/**")
	if p == "**" || p == "" {
		return nil
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("raet: bad pattern %q: %w", pattern, err)
	}
	return nil
}
