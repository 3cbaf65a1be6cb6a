package rtc

import (
	"podium/audio/pcm"
)

const (
	maxFrame = pcm.SampleRate * 120 / 1000 // longest Opus packet
	// maxAhead is how far RTP time may run ahead of wall time before we stop believing it.
	maxAhead = 5 * pcm.SampleRate
)

// sampleClock maps one session's RTP timestamps to recording positions.
type sampleClock struct {
	started bool
	lastTS  uint32
	lastSeq uint16
	ext     int64 // unwrapped timestamp of the last packet
	offset  int64 // pos = ext + offset
}

// position places p on the recording's clock. RTP time is trusted while it stays between
// the last position and a little ahead of wall time; a sender whose clock jumps (a restarted
// browser track) is re-anchored on wall time, so the sink never sees pos go backwards or
// leap by hours. A packet RTP time would put more than maxAhead ahead of the wall time since
// the recording began (timestamps that step a little too far each time, or a sender whose
// clock runs a little fast, an hour into a talk) goes right after the last one written, and
// the clock is re-anchored there, so such a sender is never cut off for good. ok is false
// when even that is past the bound (packets sent faster than real time): such a packet is not
// written, so no publisher can make the server record faster than the clock. Caller holds r.mu.
func (c *sampleClock) position(p rtpIn, r *recording) (pos int64, ok bool) {
	pos = c.place(p, r)
	if !r.fed() {
		r.origin = p.at
		return pos, true
	}
	limit := pcm.Samples(p.at.Sub(r.origin)) + maxAhead
	if pos > limit {
		pos = r.lastPos + max(r.lastDur, 1)
		c.offset = pos - c.ext
	}
	return pos, pos <= limit
}

func (c *sampleClock) place(p rtpIn, r *recording) int64 {
	if !c.started {
		c.started = true
		c.lastTS, c.lastSeq, c.ext = p.ts, p.seq, 0
		pos := r.resumePos(p.at)
		c.offset = pos
		return pos
	}
	delta := int64(int32(p.ts - c.lastTS))
	ext := c.ext + delta
	if p.seq == c.lastSeq+1 && delta > 0 && delta <= maxFrame {
		r.lastDur = delta
	}
	c.lastTS, c.lastSeq, c.ext = p.ts, p.seq, ext
	pos := ext + c.offset
	if r.fed() {
		expect := r.lastPos + pcm.Samples(p.at.Sub(r.lastWall))
		if pos <= r.lastPos || pos > expect+maxAhead {
			pos = r.resumePos(p.at)
			c.offset = pos - ext
		}
	}
	return pos
}
