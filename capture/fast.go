package capture

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/crypto/nacl/box"

	"github.com/raet-go/raet/header"
	"github.com/raet-go/raet/internal/replay"
	"github.com/raet-go/raet/packet"
	"github.com/raet-go/raet/road/fast"
)

// Fast mode (road/fast): two raet-go stacks switch a session to AEAD-sealed
// packets carrying a byte stream of messages. The key log's short-term keys
// give both directions' keys; the stream is rebuilt here from DATA frames.

// Bounds of the fast-mode key ratchet.
const (
	// MaxFastEpoch is the highest key epoch opened: the ratchet is walked
	// from epoch 0, one HKDF a step, so a claimed epoch costs its number in
	// work. At the default rekeying time (2 minutes) it is three months.
	MaxFastEpoch = 1 << 16
	ratchetEvery = 256 // epochs between kept ratchet checkpoints
	recentEpochs = 4   // epoch keys kept at hand per direction
)

// errFastEpoch reports a packet of an epoch beyond MaxFastEpoch.
var errFastEpoch = fmt.Errorf("capture: fast-mode key epoch over %d", MaxFastEpoch)

// FastInfo describes a fast-mode packet (coat kind aead): the key epoch and
// packet number its coat carries in clear, and once opened with the key log,
// its frames and the messages it completed.
type FastInfo struct {
	Epoch uint32
	PN    uint64
	// Replayed: an opened packet whose number was seen before in its
	// direction, or is too far below the highest to tell; a receiver drops
	// it. A retransmission is not one: lost data goes in new packets.
	Replayed bool
	Frames   []FastFrame   // consecutive PADDING frames count as one
	Messages []FastMessage // messages this packet completed, in stream order
	// Dropped counts messages of the packet's stream given up at this
	// packet to bound memory (Config.MaxStream); when the framing itself had
	// to go, the stream shows no more messages.
	Dropped int
}

// AckRange is an inclusive range of acknowledged packet numbers.
type AckRange struct{ Lo, Hi uint64 }

// FastFrame is one frame of an opened fast-mode packet.
type FastFrame struct {
	Type    fast.FrameType
	Count   int           // PADDING: how many in a row
	Ranges  []AckRange    // ACK: acknowledged packet numbers, largest first
	Delay   time.Duration // ACK: how long the sender held it
	MaxData uint64        // ACK: the sender's flow-control limit
	Offset  uint64        // DATA: stream offset
	Length  int           // DATA: bytes
}

// FastMessage is a message of a fast-mode stream: a byte of body kind, then
// the body.
type FastMessage struct {
	Offset uint64          // stream offset of its length prefix
	Size   int             // body bytes, the kind byte not counted
	Kind   header.BodyKind // its first byte, unless Empty
	Empty  bool            // no bytes at all, not even a kind (a road ignores it)
	Body   json.RawMessage // in the vectors' form, as Record.Body
	Err    error           // why the body did not decode; Body is then its hex
}

// fastDir is one direction of a logged fast-mode session: its keys and its
// stream.
type fastDir struct {
	checkpoints []fast.EpochKey // the keys of epochs 0, ratchetEvery, 2*ratchetEvery...
	recent      [recentEpochs]fast.EpochKey
	nrecent     int
	seen        replay.Filter
	stream      fastStream
}

// key returns the key of epoch e, ratcheting on from the nearest
// checkpoint below.
func (d *fastDir) key(e uint32) (fast.EpochKey, error) {
	for i := 0; i < min(d.nrecent, recentEpochs); i++ {
		if d.recent[i].Epoch == e {
			return d.recent[i], nil
		}
	}
	if e > MaxFastEpoch {
		return fast.EpochKey{}, errFastEpoch
	}
	ci := int(e / ratchetEvery)
	for len(d.checkpoints) <= ci {
		k := d.checkpoints[len(d.checkpoints)-1]
		for i := 0; i < ratchetEvery; i++ {
			k, _ = k.Next() // below MaxFastEpoch: there is always a next
		}
		d.checkpoints = append(d.checkpoints, k)
	}
	k := d.checkpoints[ci]
	for k.Epoch < e {
		k, _ = k.Next()
	}
	d.recent[d.nrecent%recentEpochs] = k
	d.nrecent++
	return k, nil
}

// fastState is what an Analyzer keeps of fast mode: the directions of the
// logged sessions (two key log lines of one session, one from each end,
// share theirs) and the bytes their streams hold.
type fastState struct {
	bySession map[int]*[2]*fastDir // key log index: local→remote, remote→local; nil without keys
	byKey     map[[fast.KeySize]byte]*fastDir
	bytes     int    // held by every stream
	seq       uint64 // data taken, for eviction order
	plain     []byte
	evicted   int // messages or streams given up to bound memory
}

// dirs returns the two directions of key log session s (index i), or nil
// when its keys are not logged.
func (f *fastState) dirs(i int, s *Session) *[2]*fastDir {
	if d, ok := f.bySession[i]; ok {
		return d
	}
	var d *[2]*fastDir
	if s.Key != nil {
		var shared [32]byte
		priv := s.Key.Bytes()
		box.Precompute(&shared, &s.Peer, &priv)
		pub := s.Key.Public()
		d = &[2]*fastDir{f.dir(fast.DirectionKey(shared, pub, s.Peer)), f.dir(fast.DirectionKey(shared, s.Peer, pub))}
		clear(shared[:])
		clear(priv[:])
	}
	if f.bySession == nil {
		f.bySession = map[int]*[2]*fastDir{}
	}
	f.bySession[i] = d
	return d
}

func (f *fastState) dir(k0 fast.EpochKey) *fastDir {
	if d := f.byKey[k0.Key]; d != nil {
		return d
	}
	if f.byKey == nil {
		f.byKey = map[[fast.KeySize]byte]*fastDir{}
	}
	d := &fastDir{checkpoints: []fast.EpochKey{k0}}
	f.byKey[k0.Key] = d
	return d
}

// unfinished counts the streams waiting for bytes.
func (f *fastState) unfinished() int {
	n := 0
	for _, d := range f.byKey {
		if d.stream.unfinished() {
			n++
		}
	}
	return n
}

// isFast reports whether a decoded packet is a fast-mode packet.
func isFast(h *header.Head) bool {
	return h.Ck == header.CoatAEAD && h.Hk == header.HeadBinary && h.Fk == header.FootNada
}

// fastPrefix sets rec.Fast from the clear epoch and packet number of a coat
// that holds them.
func fastPrefix(rec *Record) {
	if c := rec.RAET.Coat; len(c) >= fast.PrefixSize {
		rec.Fast = &FastInfo{Epoch: binary.BigEndian.Uint32(c), PN: binary.BigEndian.Uint64(c[4:])}
	}
}

// analyzeFast opens a fast-mode packet with the key log, lists its frames and
// takes its DATA into the stream of its direction.
func (a *Analyzer) analyzeFast(rec *Record) {
	rec.Verify = VerifyUnsigned
	pkt := rec.RAET.raw
	_, _, epoch, pn, err := fast.PacketPrefix(pkt)
	if err != nil {
		rec.Err = err
		return
	}
	rec.Fast = &FastInfo{Epoch: epoch, PN: pn}
	f := &a.fast
	var dir *fastDir
	var epochErr error
	matched, ok := a.cfg.KeyLog.each(rec.Src, rec.Dst, func(i int, s *Session) bool {
		ds := f.dirs(i, s)
		if ds == nil {
			return false
		}
		order := [2]*fastDir{ds[0], ds[1]}
		if !hostMatch(s.Local, rec.Src) {
			order[0], order[1] = ds[1], ds[0] // the logging stack most likely received it
		}
		for _, d := range order {
			k, err := d.key(epoch)
			if err != nil {
				epochErr = err
				continue
			}
			plain, err := fast.OpenPacket(f.plain[:0], &k, pkt)
			if err == nil {
				f.plain, dir = plain, d
				return true
			}
		}
		return false
	})
	switch {
	case ok:
		rec.Coat = CoatOpened
	case matched:
		rec.Coat, rec.CoatErr = CoatBad, fmt.Errorf("%w with any of the sessions logged for %v and %v", packet.ErrCoat, rec.Src, rec.Dst)
		if epochErr != nil {
			rec.CoatErr = fmt.Errorf("%w (%w)", rec.CoatErr, epochErr)
		}
		return
	case a.cfg.KeyLog == nil || len(a.cfg.KeyLog.sessions) == 0:
		rec.Coat, rec.CoatErr = CoatLocked, packet.ErrNoKey
		return
	default:
		rec.Coat, rec.CoatErr = CoatLocked, fmt.Errorf("%w: no session logged for %v and %v", packet.ErrNoKey, rec.Src, rec.Dst)
		return
	}

	fi := rec.Fast
	if !dir.seen.Check(pn) {
		fi.Replayed = true
	} else {
		dir.seen.Accept(pn)
	}
	st := &dir.stream
	before := st.bytes()
	emit := func(off uint64, msg []byte) { fi.Messages = append(fi.Messages, fastMessage(off, msg)) }
	var streamErr error
	err = fast.ParseFrames(f.plain, func(fr *fast.Frame) {
		switch fr.Type {
		case fast.FramePadding:
			if n := len(fi.Frames); n > 0 && fi.Frames[n-1].Type == fast.FramePadding {
				fi.Frames[n-1].Count++
				return
			}
			fi.Frames = append(fi.Frames, FastFrame{Type: fr.Type, Count: 1})
		case fast.FramePing:
			fi.Frames = append(fi.Frames, FastFrame{Type: fr.Type})
		case fast.FrameAck:
			ff := FastFrame{Type: fr.Type, Delay: time.Duration(fr.Delay) * time.Microsecond, MaxData: fr.MaxData}
			fr.Ranges(func(lo, hi uint64) { ff.Ranges = append(ff.Ranges, AckRange{lo, hi}) })
			fi.Frames = append(fi.Frames, ff)
		case fast.FrameData:
			fi.Frames = append(fi.Frames, FastFrame{Type: fr.Type, Offset: fr.Offset, Length: len(fr.Data)})
			if streamErr == nil {
				streamErr = st.add(fr.Offset, fr.Data, emit)
			}
		}
	})
	for err == nil && streamErr == nil && !st.lost && (st.bytes() > a.maxStream || len(st.held) > maxHeldChunks) {
		_, streamErr = st.shed(emit)
		fi.Dropped++
		f.evicted++
	}
	f.seq++
	if st.bytes() != before || len(fi.Messages) > 0 {
		st.seq = f.seq
	}
	f.bytes += st.bytes() - before
	a.bound(st)
	a.stats.FastMessages += len(fi.Messages)
	switch {
	case err != nil:
		rec.Err = err
	case streamErr != nil:
		rec.Err = fmt.Errorf("%w: %w", fast.ErrProtocol, streamErr)
	}
}

// bound sheds the streams that took data longest ago, other than cur, until
// all of them together hold at most MaxPending bytes.
func (a *Analyzer) bound(cur *fastStream) {
	f := &a.fast
	for f.bytes > a.segs.max {
		var oldest *fastStream
		for _, d := range f.byKey {
			s := &d.stream
			if s != cur && s.bytes() > 0 && (oldest == nil || s.seq < oldest.seq) {
				oldest = s
			}
		}
		if oldest == nil {
			oldest = cur
		}
		before := oldest.bytes()
		// Messages this completes belong to no packet shown now: they go
		// with the one given up.
		_, _ = oldest.shed(func(uint64, []byte) { f.evicted++ })
		f.evicted++
		f.bytes += oldest.bytes() - before
		if oldest == cur && cur.bytes() == before {
			break
		}
	}
}

// fastMessage describes a message of a fast-mode stream.
func fastMessage(off uint64, msg []byte) FastMessage {
	m := FastMessage{Offset: off, Size: len(msg) - 1}
	if len(msg) == 0 {
		m.Empty, m.Size = true, 0
		return m
	}
	m.Kind = header.BodyKind(msg[0])
	body := msg[1:]
	js, err := packet.BodyToJSON(m.Kind, body)
	if err != nil {
		m.Err = fmt.Errorf("message at stream offset %d: %w", off, err)
		js = appendHexJSON(nil, body)
	}
	m.Body = js
	return m
}

// appendJSON appends the fast-mode fields of a record (see AppendJSON).
func (f *FastInfo) appendJSON(dst []byte, opened bool) []byte {
	dst = append(dst, `,"epoch":`...)
	dst = strconv.AppendUint(dst, uint64(f.Epoch), 10)
	dst = append(dst, `,"pn":`...)
	dst = strconv.AppendUint(dst, f.PN, 10)
	if !opened {
		return dst
	}
	dst = append(dst, `,"replayed":`...)
	dst = strconv.AppendBool(dst, f.Replayed)
	dst = append(dst, `,"frames":[`...)
	for i := range f.Frames {
		if i > 0 {
			dst = append(dst, ',')
		}
		fr := &f.Frames[i]
		dst = append(dst, `{"type":"`...)
		dst = append(dst, fr.Type.String()...)
		dst = append(dst, '"')
		switch fr.Type {
		case fast.FramePadding:
			dst = append(dst, `,"count":`...)
			dst = strconv.AppendInt(dst, int64(fr.Count), 10)
		case fast.FrameAck:
			dst = append(dst, `,"ranges":[`...)
			for j, r := range fr.Ranges {
				if j > 0 {
					dst = append(dst, ',')
				}
				dst = append(dst, '[')
				dst = strconv.AppendUint(dst, r.Lo, 10)
				dst = append(dst, ',')
				dst = strconv.AppendUint(dst, r.Hi, 10)
				dst = append(dst, ']')
			}
			dst = append(dst, `],"delay_us":`...)
			dst = strconv.AppendInt(dst, fr.Delay.Microseconds(), 10)
			dst = append(dst, `,"max_data":`...)
			dst = strconv.AppendUint(dst, fr.MaxData, 10)
		case fast.FrameData:
			dst = append(dst, `,"offset":`...)
			dst = strconv.AppendUint(dst, fr.Offset, 10)
			dst = append(dst, `,"length":`...)
			dst = strconv.AppendInt(dst, int64(fr.Length), 10)
		}
		dst = append(dst, '}')
	}
	dst = append(dst, `],"messages":[`...)
	for i := range f.Messages {
		if i > 0 {
			dst = append(dst, ',')
		}
		m := &f.Messages[i]
		dst = append(dst, `{"offset":`...)
		dst = strconv.AppendUint(dst, m.Offset, 10)
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendInt(dst, int64(m.Size), 10)
		if !m.Empty {
			dst = append(dst, `,"bk":`...)
			dst = appendJSONString(dst, m.Kind.String())
			dst = append(dst, `,"body":`...)
			dst = append(dst, m.Body...)
		}
		if m.Err != nil {
			dst = append(dst, `,"error":`...)
			dst = appendJSONString(dst, m.Err.Error())
		}
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if f.Dropped > 0 {
		dst = append(dst, `,"dropped":`...)
		dst = strconv.AppendInt(dst, int64(f.Dropped), 10)
	}
	return dst
}

// appendText appends the fast-mode part of a record's text (see
// AppendText): epoch and packet number on the packet's line, then a line of
// frames and a line per message completed.
func (f *FastInfo) appendText(dst []byte, bodyLimit int) []byte {
	dst = append(dst, " epoch="...)
	dst = strconv.AppendUint(dst, uint64(f.Epoch), 10)
	dst = append(dst, " pn="...)
	dst = strconv.AppendUint(dst, f.PN, 10)
	if f.Replayed {
		dst = append(dst, " replayed"...)
	}
	if f.Dropped > 0 {
		dst = append(dst, " dropped="...)
		dst = strconv.AppendInt(dst, int64(f.Dropped), 10)
	}
	if len(f.Frames) > 0 {
		dst = append(dst, "\n    frames"...)
		for i := range f.Frames {
			fr := &f.Frames[i]
			if i > 0 {
				dst = append(dst, ';')
			}
			dst = append(dst, ' ')
			dst = append(dst, fr.Type.String()...)
			switch fr.Type {
			case fast.FramePadding:
				if fr.Count > 1 {
					dst = append(dst, " x"...)
					dst = strconv.AppendInt(dst, int64(fr.Count), 10)
				}
			case fast.FrameAck:
				for j, r := range fr.Ranges {
					if j == 0 {
						dst = append(dst, ' ')
					} else {
						dst = append(dst, ',')
					}
					dst = strconv.AppendUint(dst, r.Lo, 10)
					if r.Hi != r.Lo {
						dst = append(dst, '-')
						dst = strconv.AppendUint(dst, r.Hi, 10)
					}
				}
				dst = append(dst, " delay="...)
				dst = append(dst, fr.Delay.String()...)
				dst = append(dst, " max_data="...)
				dst = strconv.AppendUint(dst, fr.MaxData, 10)
			case fast.FrameData:
				dst = append(dst, ' ')
				dst = strconv.AppendUint(dst, fr.Offset, 10)
				dst = append(dst, '+')
				dst = strconv.AppendInt(dst, int64(fr.Length), 10)
			}
		}
	}
	for i := range f.Messages {
		m := &f.Messages[i]
		dst = append(dst, "\n    message @"...)
		dst = strconv.AppendUint(dst, m.Offset, 10)
		if m.Empty {
			dst = append(dst, " empty"...)
			continue
		}
		dst = append(dst, ' ')
		dst = append(dst, m.Kind.String()...)
		dst = append(dst, ' ')
		dst = appendBodyText(dst, m.Body, bodyLimit)
	}
	return dst
}
