package rtc

import "time"

// rtpIn is one received RTP packet as the reorder buffer needs it.
type rtpIn struct {
	seq     uint16
	ts      uint32
	payload []byte
	at      time.Time // arrival
}

const (
	reorderWindow = 64 // 1.28 s of 20 ms packets: plenty for reordering and NACK repair
	// resyncDistance is a sequence jump no loss could explain: the sender restarted its
	// numbering, so start over rather than report thousands of lost packets.
	resyncDistance = 3000
	// lateLimit consecutive "late" packets also mean the sender's numbering went back.
	lateLimit = 16
)

// reorderBuffer puts packets back in sequence order. It holds at most reorderWindow packets
// and waits at most maxWait for a missing one before declaring it lost, so memory and
// added latency are both bounded.
type reorderBuffer struct {
	maxWait time.Duration
	emit    func(p rtpIn)

	slots   [reorderWindow]rtpIn
	full    [reorderWindow]bool
	count   int
	next    uint16 // next sequence number to emit
	started bool
	late    int // consecutive late packets
	lost    uint64
	dups    uint64
}

func newReorderBuffer(maxWait time.Duration, emit func(p rtpIn)) *reorderBuffer {
	return &reorderBuffer{maxWait: maxWait, emit: emit}
}

// push adds a packet and emits whatever is now in order.
func (b *reorderBuffer) push(p rtpIn) {
	if !b.started {
		b.started, b.next = true, p.seq
	}
	d := int(int16(p.seq - b.next))
	switch {
	case d < 0 && d > -resyncDistance:
		b.late++
		if b.late < lateLimit {
			b.dups++ // already emitted or given up on
			return
		}
		b.resync(p.seq)
	case d < 0 || d >= resyncDistance:
		b.resync(p.seq)
	case d >= reorderWindow:
		// Too far ahead to hold: give up on the oldest gap(s) until p fits.
		b.skipTo(p.seq - reorderWindow + 1)
	}
	b.late = 0
	i := p.seq % reorderWindow
	if b.full[i] {
		b.dups++
		return
	}
	b.slots[i], b.full[i] = p, true
	b.count++
	b.drain()
}

// resync emits everything held and restarts numbering at seq, without counting loss.
func (b *reorderBuffer) resync(seq uint16) {
	b.flushAll()
	b.next = seq
	b.late = 0
}

// deadline is when poll must next be called, or zero if nothing is waiting.
func (b *reorderBuffer) deadline() time.Time {
	if b.count == 0 {
		return time.Time{}
	}
	var oldest time.Time
	for i := range b.slots {
		if b.full[i] && (oldest.IsZero() || b.slots[i].at.Before(oldest)) {
			oldest = b.slots[i].at
		}
	}
	return oldest.Add(b.maxWait)
}

// poll gives up on missing packets that have been waited for long enough.
func (b *reorderBuffer) poll(now time.Time) {
	for b.count > 0 {
		dl := b.deadline()
		if now.Before(dl) {
			return
		}
		b.skipToHeld()
	}
}

// flushAll emits everything held, in order, counting the holes as lost.
func (b *reorderBuffer) flushAll() {
	for b.count > 0 {
		b.skipToHeld()
	}
}

// skipToHeld advances next to the first held packet, counting the hole as lost, and emits
// the run from there.
func (b *reorderBuffer) skipToHeld() {
	for !b.full[b.next%reorderWindow] {
		b.next++
		b.lost++
	}
	b.drain()
}

// skipTo gives up on everything before seq, emitting held packets on the way.
func (b *reorderBuffer) skipTo(seq uint16) {
	for int16(seq-b.next) > 0 {
		if b.full[b.next%reorderWindow] {
			b.drain()
			continue
		}
		b.next++
		b.lost++
	}
}

// drain emits consecutive held packets starting at next.
func (b *reorderBuffer) drain() {
	for {
		i := b.next % reorderWindow
		if !b.full[i] {
			return
		}
		p := b.slots[i]
		b.slots[i], b.full[i] = rtpIn{}, false
		b.count--
		b.next++
		b.emit(p)
	}
}
