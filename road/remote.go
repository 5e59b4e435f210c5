package road

import (
	"fmt"
	"github.com/raet-go/raet/road/fast"
	"net/netip"
	"time"

	"github.com/raet-go/raet/crypto"
	"github.com/raet-go/raet/estate"
)

// txKey identifies a session-bound transaction of a remote: its session id
// and transaction id. Which side started it decides the map it lives in.
type txKey struct{ si, ti uint32 }

// remote is the stack's state for one remote estate: the kept estate plus
// its transactions, session keys and message queues.
type remote struct {
	*estate.Remote
	addr netip.AddrPort

	joiner, joinent   *joinTx
	allower, allowent *allowTx
	aliver            *aliveTx
	out               map[txKey]*messenger  // messages we send
	in                map[txKey]*messengent // messages we receive
	done              tidWindow             // finished incoming transactions of its session
	rtt               rttEstimator          // round trips to it, for redo intervals
	inBytes           int                   // bytes of the messages in `in`, bounded by ReassemblyLimit
	allowSI           uint32                // session id of the last allow it completed with us as responder

	// Session keys from the last allow: our short-term key for this remote
	// and the box with its short-term public key.
	privee *crypto.PrivateKey
	box    *crypto.Box

	queue  []*outMsg     // messages waiting for the window or the allow
	space  chan struct{} // closed when queue gains room
	oiNext uint64        // order index of the next message sent in this session
	order  orderState    // in-order delivery of messages from a Go peer

	nextAlive    time.Time     // when to probe presence next
	deadAt       time.Time     // when it was found dead, for reaping
	fast         bool          // session negotiated fast mode
	fs           *fast.Session // the fast-mode session, when negotiated
	fastInflight []*outMsg     // messages handed to fs, oldest first
	fastAcked    uint64        // messages of fs acknowledged and settled
	fastLost     uint64        // fs's lost packets and probes counted so far
	seq          uint64        // numbers queued messages, to keep their order on requeue

	reallowAt  time.Time    // earliest time to allow again for queued messages
	waiters    []chan error // Join calls waiting for this remote
	retryAt    time.Time    // when to retry a failed join for them
	retryDelay time.Duration

	ctr remoteCounters // traffic counters for RemoteInfo
}

func (s *Stack) newRemote(er *estate.Remote) *remote {
	ap, _ := er.HA.AddrPort()
	return &remote{
		Remote: er,
		addr:   unmap(ap),
		out:    map[txKey]*messenger{},
		in:     map[txKey]*messengent{},
		space:  make(chan struct{}),
	}
}

// nextUID returns a uid not used by the local estate or any remote.
func (s *Stack) nextUID() uint32 {
	for {
		uid := s.local.NextUID()
		if uid == s.local.UID {
			continue
		}
		if _, used := s.remotes[uid]; !used {
			return uid
		}
	}
}

// provisional makes a remote for an address that is not yet on the stack.
func (s *Stack) provisional(ha netip.AddrPort, fuid, sid uint32) *remote {
	uid := s.nextUID()
	er := estate.NewRemote(fmt.Sprintf("estate_%d_%s", uid, ha), uid, estate.AddrFrom(ha))
	er.FUID, er.SID = fuid, sid
	r := s.newRemote(er)
	r.addr = ha
	return r
}

// addRemote puts r on the stack.
func (s *Stack) addRemote(r *remote) error {
	if _, ok := s.remotes[r.UID]; ok {
		return fmt.Errorf("road: uid %d already in use", r.UID)
	}
	if o, ok := s.byName[r.Name]; ok && o != r {
		return fmt.Errorf("road: name %q already in use", r.Name)
	}
	s.remotes[r.UID] = r
	s.byName[r.Name] = r
	s.setVerifier(r)
	s.stats.remotes.Store(uint64(len(s.remotes)))
	return nil
}

// setVerifier publishes r's verify key to the reader.
func (s *Stack) setVerifier(r *remote) {
	if r.Verifier != nil {
		s.verifiers.Store(r.UID, r.Verifier)
	} else {
		s.verifiers.Delete(r.UID)
	}
}

// onStack reports whether r is the remote the stack holds under its uid.
func (s *Stack) onStack(r *remote) bool { return s.remotes[r.UID] == r }

// rename changes a remote's name, keeping names unique.
func (s *Stack) rename(r *remote, name string) error {
	if name == r.Name {
		return nil
	}
	if o, ok := s.byName[name]; ok && o != r {
		return fmt.Errorf("road: name %q already in use", name)
	}
	if s.onStack(r) {
		delete(s.byName, r.Name)
		if s.keep != nil {
			_ = s.keep.RemoveRemote(r.Name)
		}
		s.byName[name] = r
	}
	r.Name = name
	return nil
}

// removeRemote takes r off the stack: its transactions are nacked, its
// queued messages fail and, with clear, its keep file goes too.
func (s *Stack) removeRemote(r *remote, clear bool, why string) {
	s.nackAll(r)
	s.failQueue(r, fmt.Errorf("%w: %s", ErrUnknownRemote, why))
	if s.onStack(r) {
		delete(s.remotes, r.UID)
		delete(s.byName, r.Name)
		s.verifiers.Delete(r.UID)
		s.stats.remotes.Store(uint64(len(s.remotes)))
		s.emit(EventRemoved, r, why)
	}
	if s.joinees[r.addr] == r {
		delete(s.joinees, r.addr)
	}
	if clear && s.keep != nil {
		if err := s.keep.RemoveRemote(r.Name); err != nil {
			s.log.Warn("keep: remove remote", "remote", r.Name, "err", err)
		}
	}
}

// dumpRemote persists r when the stack has a keep and r is on the stack.
func (s *Stack) dumpRemote(r *remote) {
	if s.keep == nil || !s.onStack(r) {
		return
	}
	if err := s.keep.DumpRemote(r.Remote); err != nil {
		s.log.Warn("keep: dump remote", "remote", r.Name, "err", err)
	}
}

// dumpLocal persists the local estate (its uid counter changes as remotes come).
func (s *Stack) dumpLocal() {
	if s.keep == nil {
		return
	}
	if err := s.keep.DumpLocal(s.local); err != nil {
		s.log.Warn("keep: dump local", "err", err)
	}
}

// joinInProcess reports whether a join with r is under way.
func (r *remote) joinInProcess() bool { return r.joiner != nil || r.joinent != nil }

// allowed reports whether the remote completed an allow in this session.
func (r *remote) allowed() bool { return r.Allowed.IsTrue() && r.box != nil }
