package fast

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/raet-go/raet/header"
)

// Reading packets without a Session, for tools that decode captured
// fast-mode traffic with logged session keys (raet dump). A receiver needs a
// Session: these helpers keep no replay window and no stream.

// EpochKey is the key that seals one direction's packets in one key epoch.
// DirectionKey gives a direction's key of epoch 0; Next ratchets it on.
type EpochKey struct {
	Epoch uint32
	Key   [KeySize]byte
}

// DirectionKey returns the epoch-0 key of packets from the holder of fromPub
// to the holder of toPub, for the shared secret DeriveKeys takes: the key
// DeriveKeys(shared, fromPub, toPub) sends with.
func DirectionKey(shared, fromPub, toPub [32]byte) EpochKey {
	return EpochKey{Key: directionKey(&shared, &fromPub, &toPub)}
}

// Next returns the key of the following epoch, made from this one as a
// sender does when it rekeys. There is none after epoch 2^32-1.
func (k *EpochKey) Next() (EpochKey, bool) {
	if k.Epoch == math.MaxUint32 {
		return EpochKey{}, false
	}
	return EpochKey{Epoch: k.Epoch + 1, Key: nextKey(&k.Key, k.Epoch+1)}, true
}

// Wipe zeroes the key.
func (k *EpochKey) Wipe() { *k = EpochKey{} }

// PacketPrefix decodes the clear part of a fast-mode packet: its head, the
// head's length, and the coat's epoch and packet number. It fails with
// ErrHead for a datagram whose head is not a fast-mode head (the session ids
// aside) and with ErrShort for one too short to hold its coat.
func PacketPrefix(pkt []byte) (h header.Head, hl int, epoch uint32, pn uint64, err error) {
	hl, err = h.Decode(pkt)
	if err != nil {
		return h, 0, 0, 0, fmt.Errorf("%w: %w", ErrHead, err)
	}
	if !fastHead(&h) {
		return h, hl, 0, 0, ErrHead
	}
	if len(pkt) < hl+Overhead {
		return h, hl, 0, 0, ErrShort
	}
	return h, hl, binary.BigEndian.Uint32(pkt[hl:]), binary.BigEndian.Uint64(pkt[hl+4:]), nil
}

// fastHead reports whether h has every field a fast-mode head fixes; the
// ids se, de and si are the session's to check.
func fastHead(h *header.Head) bool {
	return h.Hk == header.HeadBinary && h.Ck == header.CoatAEAD && h.Fk == header.FootNada &&
		h.Bk == header.BodyRaw && h.Pk == header.PcktMessage && h.Tk == header.TrnsMessage &&
		h.Ti == 0 && h.Oi == 0 && h.Sn == 0 && h.Sc == 1 && h.Ml == 0 && h.Fg == 0 && h.Dt == 0
}

// OpenPacket checks pkt as PacketPrefix does, opens its coat with k and
// appends the frames (the plaintext) to dst. It fails with ErrEpoch when the
// packet is sealed under another epoch than k's, and with ErrAuth when it
// does not authenticate under k: another direction's or session's key,
// or a forged or damaged packet.
func OpenPacket(dst []byte, k *EpochKey, pkt []byte) ([]byte, error) {
	_, hl, epoch, pn, err := PacketPrefix(pkt)
	if err != nil {
		return dst, err
	}
	if epoch != k.Epoch {
		return dst, ErrEpoch
	}
	var nonce [nonceSize]byte
	putNonce(&nonce, pn)
	hp := hl + PrefixSize
	out, err := newAEAD(&k.Key).Open(dst, nonce[:], pkt[hp:], pkt[:hp])
	if err != nil {
		return dst, ErrAuth
	}
	return out, nil
}

// FrameType is the type byte of a frame.
type FrameType byte

// Frame types (see the package doc).
const (
	FramePadding FrameType = framePadding
	FramePing    FrameType = framePing
	FrameAck     FrameType = frameAck
	FrameData    FrameType = frameData
)

func (t FrameType) String() string {
	switch t {
	case FramePadding:
		return "padding"
	case FramePing:
		return "ping"
	case FrameAck:
		return "ack"
	case FrameData:
		return "data"
	}
	return fmt.Sprintf("frame(0x%02x)", byte(t))
}

// Frame is one frame of an opened packet, as ParseFrames gives it.
type Frame struct {
	Type FrameType
	// ACK: the largest packet number acknowledged, how long (microseconds)
	// the sender held the ACK, and its flow-control limit. Ranges walks
	// every acknowledged range.
	Largest, Delay, MaxData uint64
	// DATA: the stream offset of the bytes and the bytes, a slice of the
	// plaintext.
	Offset uint64
	Data   []byte

	ack ackFrame
}

// Ranges calls fn for each range of packet numbers an ACK frame
// acknowledges, largest first, as inclusive bounds lo..hi.
func (f *Frame) Ranges(fn func(lo, hi uint64)) {
	if f.Type == FrameAck {
		f.ack.ranges(fn)
	}
}

// ParseFrames calls fn with each frame of an opened packet's plaintext, in
// order, checking each as Session.Receive does before acting on any. It
// stops at the first frame that is of an unknown type, cut short or out of
// range, and returns an error wrapping ErrProtocol: a receiver would fail
// the session. What frames mean to a session (acknowledged numbers it never
// sent, flow control) is not checked.
func ParseFrames(plain []byte, fn func(f *Frame)) error {
	for p := 0; p < len(plain); {
		pf, n, err := parseFrame(plain[p:])
		if err != nil {
			return fmt.Errorf("%w: frame at byte %d: %w", ErrProtocol, p, err)
		}
		f := Frame{Type: FrameType(pf.typ), Offset: pf.off, Data: pf.data, ack: pf.ack}
		if pf.typ == frameAck {
			f.Largest, f.Delay, f.MaxData = pf.ack.largest, pf.ack.delay, pf.ack.maxData
		}
		fn(&f)
		p += n
	}
	return nil
}
