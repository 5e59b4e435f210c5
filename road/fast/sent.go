package fast

import "time"

// Sent packet states.
const (
	pktPending = iota // waiting for an ACK
	pktAcked
	pktLost
)

// Sent packet flags.
const (
	pktEliciting = 1 << iota // carries DATA or PING: the peer acknowledges it
	pktHasAck                // carries an ACK frame
)

// sentPacket is what the sender remembers of a packet until it is
// acknowledged or lost.
type sentPacket struct {
	time   time.Duration
	size   int32
	state  uint8
	flags  uint8
	nData  uint8
	epoch  uint32
	ackTop uint64              // largest packet number in its ACK frame
	data   [maxDataFrames]span // stream ranges of its DATA frames
}

func (p *sentPacket) eliciting() bool { return p.flags&pktEliciting != 0 }

// sentQueue holds the sent packets from the oldest unresolved one on, by
// packet number, in a ring that grows to the most packets ever out at once.
type sentQueue struct {
	buf  []sentPacket // length a power of two
	head int          // index of the packet numbered base
	base uint64       // packet number of the oldest packet held
	n    int
}

// end is the packet number after the newest held.
func (q *sentQueue) end() uint64 { return q.base + uint64(q.n) }

// push appends the packet numbered q.end() and returns it to fill in.
func (q *sentQueue) push() *sentPacket {
	if q.n == len(q.buf) {
		nb := make([]sentPacket, max(64, 2*len(q.buf)))
		for i := 0; i < q.n; i++ {
			nb[i] = q.buf[(q.head+i)&(len(q.buf)-1)]
		}
		q.buf, q.head = nb, 0
	}
	p := &q.buf[(q.head+q.n)&(len(q.buf)-1)]
	*p = sentPacket{}
	q.n++
	return p
}

// get returns the packet numbered pn if the queue holds it.
func (q *sentQueue) get(pn uint64) *sentPacket {
	if pn < q.base || pn >= q.end() {
		return nil
	}
	return &q.buf[(q.head+int(pn-q.base))&(len(q.buf)-1)]
}

// popResolved drops acknowledged and lost packets from the front.
func (q *sentQueue) popResolved() {
	for q.n > 0 && q.buf[q.head].state != pktPending {
		q.head = (q.head + 1) & (len(q.buf) - 1)
		q.base++
		q.n--
	}
}
