//go:build unix

package lane

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"reflect"
	"sync"
	"syscall"
	"time"
)

// sock is a yard's bound Unix datagram socket. Receiving goes through the
// runtime poller; sending calls sendto directly on the non-blocking socket,
// so that a full destination returns EAGAIN at once instead of parking.
type sock struct {
	path     string
	f        *os.File
	rc       syscall.RawConn
	fd       int
	dev, ino uint64 // identity of the socket file we bound

	mu     sync.RWMutex // held for reading around sendto, for writing by close
	closed bool

	// Receive state, used by the one reading goroutine only.
	rbuf   []byte
	rn     int
	rerr   error
	readFn func(fd uintptr) bool

	// Interrupting a read whose context ends (recvCtx): a context.AfterFunc
	// registration, kept for as long as the same context comes back.
	armed    context.Context // registered context, always of a pointer type
	disarmFn func() bool     // stops the registration; nil: none
	expireFn func()
	expired  chan struct{} // the expireFn that ran has set the read deadline
}

// listen binds a socket at path with mode 0600. A socket file left by a dead
// process (connecting to it is refused) is removed and taken over; one a live
// process is bound to gives ErrYardInUse, and a file that is no socket is left
// alone.
func listen(path string, bufSize int) (*sock, error) {
	fd, err := newSocket()
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			syscall.Close(fd)
		}
	}()
	// The socket inode's mode is what bind gives the file (less the umask), so
	// the file is never more open than 0600, even for a moment.
	_ = syscall.Fchmod(fd, 0o600)
	for _, opt := range []int{syscall.SO_SNDBUF, syscall.SO_RCVBUF} {
		if cur, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, opt); err == nil && cur < bufSize {
			_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, opt, bufSize)
		}
	}
	for attempt := 0; ; attempt++ {
		err = syscall.Bind(fd, &syscall.SockaddrUnix{Name: path})
		if err == nil {
			break
		}
		if err != syscall.EADDRINUSE || attempt >= 3 {
			return nil, &os.PathError{Op: "bind", Path: path, Err: err}
		}
		if err := takeOver(path); err != nil {
			return nil, err
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return nil, err
	}
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		return nil, &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path) // non-blocking: registered with the poller
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	ok = true
	s := &sock{path: path, f: f, rc: rc, fd: fd, dev: uint64(st.Dev), ino: uint64(st.Ino), rbuf: make([]byte, MaxPageSize+1)}
	s.readFn = s.read
	s.expireFn = s.expire
	s.expired = make(chan struct{}, 1)
	return s, nil
}

func newSocket() (int, error) {
	syscall.ForkLock.RLock()
	fd, err := syscall.Socket(syscall.AF_UNIX, syscall.SOCK_DGRAM, 0)
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, os.NewSyscallError("socket", err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return -1, os.NewSyscallError("setnonblock", err)
	}
	return fd, nil
}

// takeOver removes the socket file at path if no process is bound to it.
func takeOver(path string) error {
	var before syscall.Stat_t
	if err := syscall.Lstat(path, &before); err != nil {
		if err == syscall.ENOENT {
			return nil // gone meanwhile: bind again
		}
		return &os.PathError{Op: "lstat", Path: path, Err: err}
	}
	if before.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
		return &os.PathError{Op: "bind", Path: path, Err: fmt.Errorf("%w: exists and is not a socket", fs.ErrExist)}
	}
	switch err := probe(path); err {
	case nil:
		return fmt.Errorf("%w: %s", ErrYardInUse, path)
	case syscall.ECONNREFUSED:
		// Stale. Remove it unless someone replaced it since we looked.
		var now syscall.Stat_t
		if err := syscall.Lstat(path, &now); err != nil {
			return nil
		}
		if now.Dev != before.Dev || now.Ino != before.Ino {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	case syscall.ENOENT:
		return nil
	default:
		return &os.PathError{Op: "connect", Path: path, Err: err}
	}
}

// probe connects a fresh datagram socket to path: nil means a process is
// bound there, ECONNREFUSED that nobody is.
func probe(path string) error {
	fd, err := newSocket()
	if err != nil {
		return err
	}
	defer syscall.Close(fd)
	for {
		err = syscall.Connect(fd, &syscall.SockaddrUnix{Name: path})
		if err != syscall.EINTR {
			return err
		}
	}
}

// sendTo sends one datagram without blocking. sa must not be used by
// another goroutine meanwhile (sendto writes into it).
func (s *sock) sendTo(p []byte, sa *syscall.SockaddrUnix) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return ErrClosed
	}
	for {
		err := syscall.Sendto(s.fd, p, 0, sa)
		if err != syscall.EINTR {
			return err
		}
	}
}

func (s *sock) read(fd uintptr) bool {
	for {
		n, err := syscall.Read(int(fd), s.rbuf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false // wait for the poller
		}
		s.rn, s.rerr = n, err
		return true
	}
}

// recv waits for the next datagram and returns it; the slice is reused by
// the next call. A datagram longer than MaxPageSize comes back
// MaxPageSize+1 bytes long (truncated).
func (s *sock) recv() ([]byte, error) {
	if err := s.rc.Read(s.readFn); err != nil {
		return nil, err
	}
	if s.rerr != nil {
		return nil, os.NewSyscallError("read", s.rerr)
	}
	return s.rbuf[:s.rn], nil
}

// recvCtx is recv that gives up when ctx ends, with an error that is not
// the caller's to judge: it should look at ctx.Err(). A datagram read before
// the interruption took effect is returned. One goroutine at a time may
// call it (or disarm), and never with recv.
//
// The callback that interrupts the read stays registered with ctx after the
// call, so that a loop receiving with one context registers it once: it is
// removed when another context comes, or by disarm.
func (s *sock) recvCtx(ctx context.Context) ([]byte, error) {
	if ctx.Done() == nil {
		s.disarm()
		return s.recv()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// s.armed only ever holds a pointer, so this comparison cannot panic on
	// a context type that is not comparable.
	if ctx == s.armed {
		return s.recv()
	}
	s.disarm()
	s.disarmFn = context.AfterFunc(ctx, s.expireFn)
	if reflect.TypeOf(ctx).Kind() == reflect.Pointer {
		s.armed = ctx
		return s.recv()
	}
	page, err := s.recv()
	s.disarm()
	return page, err
}

// disarm removes the callback registered by recvCtx. If it ran already, it
// waits until the deadline it set is in place, then lifts it for the next
// read.
func (s *sock) disarm() {
	if s.disarmFn == nil {
		return
	}
	if !s.disarmFn() {
		<-s.expired
		_ = s.f.SetReadDeadline(time.Time{})
	}
	s.armed, s.disarmFn = nil, nil
}

// expire wakes the read under way (recvCtx) with a deadline in the past.
func (s *sock) expire() {
	_ = s.f.SetReadDeadline(time.Unix(1, 0))
	s.expired <- struct{}{}
}

// close closes the socket and removes its file if it is still ours.
func (s *sock) close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.f.Close()
	var st syscall.Stat_t
	if syscall.Lstat(s.path, &st) == nil && uint64(st.Dev) == s.dev && uint64(st.Ino) == s.ino {
		if rerr := os.Remove(s.path); rerr != nil && err == nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	return err
}

// sendErrorKind sorts a sendto error.
func sendErrorKind(err error) sendResult {
	switch err {
	case nil:
		return sendOK
	case syscall.EAGAIN, syscall.ENOBUFS:
		return sendBusy
	case syscall.ENOENT, syscall.ECONNREFUSED, syscall.ENOTDIR:
		return sendGone
	case ErrClosed:
		return sendClosed
	}
	return sendFailed
}

func newSockaddr(path string) *syscall.SockaddrUnix { return &syscall.SockaddrUnix{Name: path} }

type sockaddr = *syscall.SockaddrUnix

// writableDir reports whether the process may read and write in dir.
func writableDir(dir string) bool { return syscall.Access(dir, 0x2|0x4) == nil }
