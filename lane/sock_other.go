//go:build !unix

package lane

import (
	"context"
	"errors"
	"fmt"
)

// Lanes need Unix domain datagram sockets; Python RAET uses mailslots on
// Windows, which this package does not implement.

type sock struct{ path string }

type sockaddr = *struct{ Name string }

func newSockaddr(path string) sockaddr { return &struct{ Name string }{path} }

func listen(path string, bufSize int) (*sock, error) {
	return nil, fmt.Errorf("lane: %s: unix domain sockets: %w", path, errors.ErrUnsupported)
}

func (s *sock) sendTo(p []byte, sa sockaddr) error { return ErrClosed }

func (s *sock) recv() ([]byte, error) { return nil, ErrClosed }

func (s *sock) recvCtx(ctx context.Context) ([]byte, error) { return nil, ErrClosed }

func (s *sock) disarm() {}

func (s *sock) close() error { return nil }

func sendErrorKind(err error) sendResult {
	if err == nil {
		return sendOK
	}
	return sendClosed
}

func writableDir(dir string) bool { return false }
