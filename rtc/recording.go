package rtc

import (
	"fmt"
	"sync"
	"time"

	"podium/audio/pcm"
)

// recording is one stream's recording: the sample clock that outlives the sessions feeding
// it, and the Recorder it feeds. The Recorder is opened at the first packet, not at POST, so a
// session that never sends media holds no file, encoder or goroutine; from then on one writer
// goroutine of its own makes every sink call, so no lock is ever held across encoding or I/O
// and nobody (GET /streams, /metrics, admission, the session's own reader) waits on a disk.
type recording struct {
	srv    *Server
	stream string
	who    string // grant.who of the publisher that began it: only that token resumes it

	mu       sync.Mutex // guards everything below; never held across a sink call
	owner    *session   // the one session allowed to write; nil while waiting out Grace
	closed   bool       // finished: nothing more is queued, the writer closes the sink
	start    time.Time  // arrival of the first packet: the recording begins there
	hasPos   bool       // a packet has been placed (the recording was fed)
	lastPos  int64      // pos of the last packet written
	lastDur  int64      // samples per packet, as last seen in RTP timestamps
	lastWall time.Time  // arrival of the last packet written
	origin   time.Time  // wall time of position 0: the recording may not run ahead of it
	grace    *time.Timer
	graceGen int
	queue    chan queued   // to the writer; nil until the first packet
	done     chan struct{} // closed when the writer has closed the sink
	stopped  bool          // the sink failed for good and is closed: nothing more is recorded
	name     string        // the file being written (NamedRecorder), while it is
	closeErr error
}

// queued is one packet on its way to the sink.
type queued struct {
	pos     int64
	payload []byte
}

// maxQueued bounds each recording's queue: 30 s of 20 ms packets, a disk stalled that long
// loses nothing. Beyond it packets are dropped and counted (podium_packets_overrun_total).
const maxQueued = 1500

// resumePos places the first packet of a new clock: 0 for a new recording, otherwise the
// wall-clock time away after the last packet, so the sink fills exactly the absence.
// Caller holds r.mu.
func (r *recording) resumePos(at time.Time) int64 {
	if !r.hasPos {
		return 0
	}
	return r.lastPos + max(pcm.Samples(at.Sub(r.lastWall)), r.lastDur, 1)
}

// enqueue hands a placed packet to the writer, starting it (and so opening the sink) at the
// first. It never blocks. Caller holds r.mu.
func (r *recording) enqueue(p queued) {
	if r.queue == nil {
		r.queue = make(chan queued, maxQueued)
		r.done = make(chan struct{})
		go r.write(r.queue, r.start)
	}
	select {
	case r.queue <- p:
	default:
		r.srv.overrun.Add(1)
	}
}

// write is the recording's writer: it opens the sink, writes each packet in turn and closes
// the sink once the queue is closed, or at once when the sink fails.
func (r *recording) write(q <-chan queued, start time.Time) {
	defer close(r.done)
	sink, err := r.srv.cfg.Record(r.stream, start)
	if err != nil {
		r.stop(fmt.Errorf("open recording: %w", err), nil)
		return
	}
	if n, ok := sink.(NamedRecorder); ok {
		r.mu.Lock()
		r.name = n.Name()
		r.mu.Unlock()
		if r.srv.cfg.Began != nil {
			r.srv.cfg.Began(n.Name(), r.who)
		}
	}
	for p := range q {
		t := time.Now()
		err := sink.WritePacket(p.pos, p.payload)
		r.srv.metrics.observeWrite(t)
		if err != nil {
			// A Recorder that failed takes nothing more (an MP3 writer's errors stick): it
			// is finalised now, with what it has, and the session goes on unrecorded.
			r.stop(err, sink)
			return
		}
	}
	err = sink.Close()
	r.mu.Lock()
	r.name = ""
	r.closeErr = err
	r.mu.Unlock()
}

// stop ends a recording whose sink failed with err: nothing more is queued for it, the sink
// (when open) is finalised with what it has, and the failure is counted and logged.
func (r *recording) stop(err error, sink Recorder) {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	msg := "nothing recorded"
	if sink != nil {
		msg = "finalised with what was written"
		if cerr := sink.Close(); cerr != nil {
			msg = fmt.Sprintf("finalising it: %v", cerr)
		}
	}
	r.mu.Lock()
	r.name = ""
	r.mu.Unlock()
	r.srv.failed.Add(1)
	r.srv.log.Error("whip: recording stopped", "stream", r.stream, "outcome", msg, "err", err)
}

// close finishes the recording once: nothing more is queued, and it returns when the writer
// has written what was queued and closed the sink (at once for a recording never fed). Later
// calls wait as well and return the same result.
func (r *recording) close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		r.owner = nil
		if r.grace != nil {
			r.grace.Stop()
		}
		if r.queue != nil {
			close(r.queue)
		}
	}
	done := r.done
	r.mu.Unlock()
	if done != nil {
		<-done
	}
	r.mu.Lock()
	defer r.mu.Unlock()
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
	if r.hasPos {
		start := r.start.UTC()
		info.Started = &start
	}
}

// state is what the server's gauges and limits count: whether the sink is open (a writer
// runs), and whether it is open waiting for its publisher to return.
func (r *recording) state() (open, waiting bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return false, false
	}
	open = r.queue != nil && !r.stopped
	return open, open && r.owner == nil
}

// recordings is a snapshot of the server's recordings, to look at without s.mu.
func (s *Server) recordings() []*recording {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*recording, 0, len(s.streams))
	for _, rec := range s.streams {
		out = append(out, rec)
	}
	return out
}

// finishRecording removes rec from its stream and closes it, tracked so Shutdown waits for
// it; unless a new session has taken it over meanwhile (checked under s.mu, which every
// takeover holds), and then it goes on.
func (s *Server) finishRecording(rec *recording) {
	s.mu.Lock()
	if s.shut {
		s.mu.Unlock()
		_ = rec.close() // Shutdown closes it too; close is idempotent
		return
	}
	rec.mu.Lock()
	taken := rec.owner != nil
	rec.mu.Unlock()
	if taken {
		s.mu.Unlock()
		return
	}
	if s.streams[rec.stream] == rec {
		delete(s.streams, rec.stream)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	defer s.wg.Done()
	err := rec.close()
	rec.mu.Lock()
	fed, stopped, start := rec.hasPos, rec.stopped, rec.start
	rec.mu.Unlock()
	switch {
	case err != nil:
		s.log.Error("whip: finalise recording", "stream", rec.stream, "err", err)
	case !fed:
		s.log.Info("whip: no media was sent; nothing recorded", "stream", rec.stream)
	case !stopped:
		s.log.Info("whip: recording finalised", "stream", rec.stream, "after", time.Since(start).Round(time.Second))
	}
}

// endOwnerless decides the fate of a recording whose session ended by itself (the peer went
// away): one never fed, or whose sink has stopped, has nothing to resume and ends now; any
// other waits Grace for its publisher.
func (s *Server) endOwnerless(rec *recording) {
	rec.mu.Lock()
	resumable := rec.hasPos && !rec.stopped
	rec.mu.Unlock()
	if !resumable {
		s.finishRecording(rec)
		return
	}
	s.startGrace(rec)
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
	s.log.Info("whip: publisher gone; recording kept open", "stream", rec.stream, "grace", s.cfg.Grace)
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
	s.log.Info("whip: publisher did not return in time", "stream", rec.stream, "grace", s.cfg.Grace)
	s.finishRecording(rec)
}

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
