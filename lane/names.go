package lane

import (
	"fmt"
	"path/filepath"
	"strings"
)

// maxSockPath is the room for a path in struct sockaddr_un (108 bytes on
// Linux, including the terminating NUL).
const maxSockPath = 107

// validName reports whether name can be a yard name (dot false) or a lane
// name (dot true) that Python RAET can read back from a socket file name:
// printable ASCII without space or '/', and, for a yard, without '.', since
// Python splits LANE.YARD.uxd at its last dot.
func validName(name []byte, dot bool) bool {
	if len(name) == 0 || len(name) > maxSockPath {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c > '~' || c == '/' || (c == '.' && !dot) {
			return false
		}
	}
	return !(dot && (string(name) == "." || string(name) == ".."))
}

// ValidYardName reports whether name can name a yard: printable ASCII without
// space, '/' or '.'.
func ValidYardName(name string) bool { return validName([]byte(name), false) }

// ValidLaneName reports whether name can name a lane: printable ASCII without
// space or '/', and not "." or "..".
func ValidLaneName(name string) bool { return validName([]byte(name), true) }

// YardPath returns the socket file of yard in lane under dir, named as Python
// RAET's Yard.computeHa names it: DIR/LANE.YARD.uxd.
func YardPath(dir, lane, yard string) (string, error) {
	if !ValidLaneName(lane) {
		return "", fmt.Errorf("%w: lane %q", ErrBadName, lane)
	}
	if !ValidYardName(yard) {
		return "", fmt.Errorf("%w: yard %q", ErrBadName, yard)
	}
	p := filepath.Join(dir, lane+"."+yard+".uxd")
	if len(p) > maxSockPath {
		return "", fmt.Errorf("%w: socket path %q is longer than %d bytes", ErrBadName, p, maxSockPath)
	}
	return p, nil
}

// NamesFromPath returns the lane and yard names in a socket file path, as
// Python RAET's Yard.namesFromHa reads them.
func NamesFromPath(path string) (lane, yard string, err error) {
	base := filepath.Base(path)
	root, ok := strings.CutSuffix(base, ".uxd")
	if !ok {
		return "", "", fmt.Errorf("%w: %q does not end in .uxd", ErrBadName, path)
	}
	i := strings.LastIndexByte(root, '.')
	if i < 0 {
		return "", "", fmt.Errorf("%w: %q is not LANE.YARD.uxd", ErrBadName, path)
	}
	return root[:i], root[i+1:], nil
}
