package rtc

import (
	"sync"
	"time"

	"podium/audio/pcm"
)

// recording is one Recorder and the sample clock that outlives the sessions feeding it.
type recording struct {
	stream string
	who    string // grant.who of the publisher that began it: only that token resumes it
	start  time.Time

	mu       sync.Mutex // serialises sink calls and guards everything below
	sink     Recorder
	owner    *session // the one session allowed to write; nil while waiting out Grace
	closed   bool
	hasPos   bool
	lastPos  int64     // pos of the last packet written
	lastDur  int64     // samples per packet, as last seen in RTP timestamps
	lastWall time.Time // arrival of the last packet written
	origin   time.Time // wall time of position 0: the recording may not run ahead of it
	grace    *time.Timer
	graceGen int
	errs     int
	closeErr error
}

// resumePos places the first packet of a new clock: 0 for a new recording, otherwise the
// wall-clock time away after the last packet, so the sink fills exactly the absence.
// Caller holds r.mu.
func (r *recording) resumePos(at time.Time) int64 {
	if !r.hasPos {
		return 0
	}
	return r.lastPos + max(pcm.Samples(at.Sub(r.lastWall)), r.lastDur, 1)
}

// close finalises the sink once; later calls wait for the first and return its result.
func (r *recording) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return r.closeErr
	}
	r.closed = true
	r.owner = nil
	if r.grace != nil {
		r.grace.Stop()
	}
	r.closeErr = r.sink.Close()
	return r.closeErr
}

// describe fills in what rec says about its stream.
func (r *recording) describe(info *StreamInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	info.Live = r.owner != nil
	start := r.start.UTC()
	info.Started = &start
}

// finishRecording removes rec from its stream and closes the sink, tracked so Shutdown
// waits for it.
func (s *Server) finishRecording(rec *recording) {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		_ = rec.close() // Shutdown closes it too; close is idempotent
		return
	}
	if s.streams[rec.stream] == rec {
		delete(s.streams, rec.stream)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	if err := rec.close(); err != nil {
		s.log.printf("whip: %s: finalise recording: %v", rec.stream, err)
		return
	}
	s.log.printf("whip: %s: recording finalised after %v", rec.stream, time.Since(rec.start).Round(time.Second))
}

func (s *Server) startGrace(rec *recording) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.owner != nil || rec.closed {
		return
	}
	rec.graceGen++
	gen := rec.graceGen
	rec.grace = time.AfterFunc(s.cfg.Grace, func() { s.graceExpired(rec, gen) })
	s.log.printf("whip: %s: publisher gone; recording kept open for %v", rec.stream, s.cfg.Grace)
}

func (s *Server) graceExpired(rec *recording, gen int) {
	s.mu.Lock()
	if s.shut || s.streams[rec.stream] != rec {
		s.mu.Unlock()
		return
	}
	rec.mu.Lock()
	stale := rec.owner != nil || rec.graceGen != gen
	rec.mu.Unlock()
	if stale {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	s.log.printf("whip: %s: publisher did not return within %v", rec.stream, s.cfg.Grace)
	s.finishRecording(rec)
}

// patch applies a trickle or ICE-restart fragment. It returns the local fragment to send

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
	if !r.hasPos {
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
	if r.hasPos {
		expect := r.lastPos + pcm.Samples(p.at.Sub(r.lastWall))
		if pos <= r.lastPos || pos > expect+maxAhead {
			pos = r.resumePos(p.at)
			c.offset = pos - ext
		}
	}
	return pos
}
