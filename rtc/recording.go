package rtc

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"podium/audio/pcm"
)

// recording is one stream's recording: the sample clock that outlives the sessions feeding
// it, and the Sink it feeds. The Sink is opened at the first packet, not at POST, so a
// session that never sends media holds no file, encoder or goroutine; from then on one writer
// goroutine of its own makes every sink call, so no lock is ever held across encoding or I/O
// and nobody (GET /streams, /metrics, admission, the session's own reader) waits on a disk.
//
// Where it is in its life is one field, state, changed only by step along the table in
// recordingstate.go; r.mu is the one lock of all of it. The server's s.mu (its map of streams)
// is never taken while r.mu is held; newSession alone takes r.mu inside s.mu, since a
// takeover and the session's registration must be one step for Shutdown.
type recording struct {
	srv    *Server
	stream string
	who    string // grant.who of the publisher that began it: only that token resumes it

	mu    sync.Mutex // guards everything below; never held across a sink call
	state recState
	owner *session   // the session allowed to write: set while unfed or live, never in grace or closed
	grace *graceWait // the running grace (entered in recGrace; a failure there keeps it running)
	queue chan queued
	// done is closed when the sink is closed (by the writer, or at close for a recording
	// never fed, which has none).
	done chan struct{}

	start    time.Time // arrival of the first packet: the recording begins there
	lastPos  int64     // pos of the last packet written
	lastDur  int64     // samples per packet, as last seen in RTP timestamps
	lastWall time.Time // arrival of the last packet written
	origin   time.Time // wall time of position 0: the recording may not run ahead of it

	talk    Talk  // title, presenter, chapters (talk.go)
	talkRev int64 // changes with talk: a revision unique in the server (Server.talkRevs)

	name     string // the file being written (NamedSink), while it is
	stopErr  error  // why the sink failed, once it has (also when it failed while closing)
	closeErr error
}

// graceWait is one wait for a publisher to come back. Its identity tells a timer that fired
// after the wait was over (taken over, closed, and perhaps waited for again) that it is stale.
type graceWait struct{ timer *time.Timer }

// queued is one packet on its way to the sink.
type queued struct {
	pos     int64
	payload []byte
}

// maxQueued bounds each recording's queue: 30 s of 20 ms packets, a disk stalled that long
// loses nothing. Beyond it packets are dropped and counted (podium_packets_overrun_total).
const maxQueued = 1500

// errRecordingEnded: the recording closed (it is leaving its stream, or a returning
// publisher just ended it because its sink had failed); a new one begins in its place.
var errRecordingEnded = errors.New("recording ended")

// newRecording is the recording a session of token who begins on stream.
func newRecording(s *Server, stream, who string, owner *session) *recording {
	return &recording{srv: s, stream: stream, who: who, owner: owner,
		lastDur: pcm.FrameSamples, done: make(chan struct{})}
}

// step moves the recording along the table by ev and does what the move takes: the first
// packet starts the writer, a wait starts and ends the grace timer, closing ends the queue.
// An illegal ev changes nothing and is returned. Caller holds r.mu.
func (r *recording) step(ev recEvent) (from recState, err error) {
	from = r.state
	to, err := from.next(ev)
	if err != nil {
		return from, err
	}
	r.state = to
	switch {
	case from == recUnfed && to == recLive:
		r.queue = make(chan queued, maxQueued)
		go r.write(r.queue, r.start)
	case to == recGrace:
		r.owner = nil
		g := &graceWait{}
		g.timer = time.AfterFunc(r.srv.cfg.Grace, func() { r.srv.graceExpired(r, g) })
		r.grace = g
	case from == recGrace && to == recLive:
		r.endGrace()
	case to == recClosed && from != recClosed:
		r.endGrace()
		r.owner = nil
		if r.queue != nil {
			close(r.queue) // the writer writes what is queued, then closes the sink
		} else {
			close(r.done) // never fed: there is no sink
		}
	}
	return from, nil
}

func (r *recording) endGrace() {
	if r.grace != nil {
		r.grace.timer.Stop()
		r.grace = nil
	}
}

// resumePos places the first packet of a new clock: 0 for a new recording, otherwise the
// wall-clock time away after the last packet, so the sink fills exactly the absence.
// Caller holds r.mu.
func (r *recording) resumePos(at time.Time) int64 {
	if !r.fed() {
		return 0
	}
	return r.lastPos + max(pcm.Samples(at.Sub(r.lastWall)), r.lastDur, 1)
}

// logIllegal logs an illegal transition (err from step) that no caller expects. Not under r.mu.
func (r *recording) logIllegal(err error) {
	if err != nil {
		r.srv.log.Error("whip: illegal transition", "stream", r.stream, "err", err)
	}
}

// fed says a packet has been placed (the recording began). Caller holds r.mu.
func (r *recording) fed() bool {
	return r.state != recUnfed
}

// feed places one in-order packet of sess on the recording's timeline and queues it for the
// writer, if sess owns the recording and it records. It never blocks.
func (r *recording) feed(sess *session, c *sampleClock, p rtpIn) {
	r.mu.Lock()
	if r.owner != sess || r.state != recUnfed && r.state != recLive {
		r.mu.Unlock()
		return // taken over, or stopped: the session goes on unrecorded
	}
	pos, ok := c.position(p, r)
	if !ok {
		r.mu.Unlock()
		r.srv.ahead.Add(1)
		return
	}
	if !r.fed() {
		r.start = p.at
	}
	r.lastPos, r.lastWall = pos, p.at
	_, err := r.step(evFed)
	if err == nil {
		select {
		case r.queue <- queued{pos, p.payload}:
		default:
			r.srv.overrun.Add(1)
		}
	}
	r.mu.Unlock()
	r.logIllegal(err)
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
	r.tellTalk(sink) // in the tag from the start: a checkpoint or a repair keeps the title
	if n, ok := sink.(NamedSink); ok {
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
			// A Sink that failed takes nothing more (an MP3 writer's errors stick): it
			// is finalised now, with what it has, and the session goes on unrecorded.
			r.stop(err, sink)
			return
		}
	}
	r.tellTalk(sink)
	err = sink.Close()
	r.mu.Lock()
	r.name = ""
	r.closeErr = err
	r.mu.Unlock()
}

// stop ends a recording whose sink failed with err: nothing more is queued for it, the sink
// (when open) is finalised with what it has, and the failure is counted and logged.
func (r *recording) stop(err error, sink Sink) {
	r.mu.Lock()
	r.stopErr = err
	_, serr := r.step(evSinkFailed)
	r.mu.Unlock()
	r.logIllegal(serr)
	msg := "nothing recorded"
	if sink != nil {
		r.tellTalk(sink)
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
	_, err := r.step(evClose)
	r.mu.Unlock()
	r.logIllegal(err)
	return r.wait()
}

// wait returns, once the sink is closed, what closing it said.
func (r *recording) wait() error {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closeErr
}

// takeOver gives the recording to sess, a new session of token who, and returns the session
// it took it from (nil if none). errStreamBusy: it is another token's, or its session still
// sends. errRecordingEnded: it has closed, or (its sink having failed) closes now and old is
// its session, replaced; either way the caller begins a new recording.
func (r *recording) takeOver(sess *session, who string) (old *session, from recState, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == recClosed {
		return nil, recClosed, errRecordingEnded // it is leaving its stream: no longer anyone's
	}
	// Only the token that began the recording resumes it; a recording whose sink has failed
	// ends, and any publisher of the stream may start the next one.
	if r.owner != nil && r.owner.active() || r.who != who && r.state != recStopped {
		return nil, r.state, errStreamBusy
	}
	old = r.owner
	if from, err = r.step(evTakeover); err != nil {
		return nil, from, err
	}
	if r.state == recClosed {
		return old, from, errRecordingEnded
	}
	r.owner = sess
	return old, from, nil
}

// leave is sess ending by ev (evLeave, evDelete or evClose). owned is false when sess no
// longer owned the recording (it was taken over), and then nothing changed.
func (r *recording) leave(sess *session, ev recEvent) (from, to recState, owned bool) {
	r.mu.Lock()
	if r.owner != sess {
		r.mu.Unlock()
		return 0, 0, false
	}
	from, err := r.step(ev)
	to = r.state
	r.mu.Unlock()
	r.logIllegal(err)
	return from, to, true
}

// busyFor says whether the recording keeps a POST of token who off its stream: it is another
// token's, or a session that is still sending owns it.
func (r *recording) busyFor(who string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == recClosed {
		return false
	}
	return r.who != who || r.owner != nil && r.owner.active()
}

// ownedBy says whether sess is the recording's session now (during a takeover the old
// session may still deliver a packet or two).
func (r *recording) ownedBy(sess *session) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.owner == sess
}

// describe fills in what rec says about its stream (the chapters unless they are those of
// talk revision known: describeTalk).
func (r *recording) describe(info *StreamInfo, known int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.state == recClosed {
		return
	}
	r.describeTalk(info, known)
	info.Live = r.owner != nil
	if r.fed() {
		start := r.start.UTC()
		info.Started = &start
	}
}

// gauges is what the server's gauges and limits count: whether the sink is open (a writer
// runs), and whether it is open waiting for its publisher to return.
func (r *recording) gauges() (open, waiting bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.state == recLive || r.state == recGrace, r.state == recGrace
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

// shuttingDown says whether Shutdown has begun (it closes every recording itself).
func (s *Server) shuttingDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shut
}

// finished follows a recording that an event of its own closed (from state from): it leaves
// its stream, the writer finishes (tracked, so Shutdown waits for it), and the log says
// what was kept. Once shut down, Shutdown gathers its result instead.
func (s *Server) finished(rec *recording, from recState) {
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
	err := rec.wait()
	rec.mu.Lock()
	failed, start := rec.stopErr != nil, rec.start
	rec.mu.Unlock()
	switch {
	case err != nil:
		s.log.Error("whip: finalise recording", "stream", rec.stream, "err", err)
	case from == recUnfed:
		s.log.Info("whip: no media was sent; nothing recorded", "stream", rec.stream)
	case !failed:
		s.log.Info("whip: recording finalised", "stream", rec.stream, "after", time.Since(start).Round(time.Second))
	}
}

// sessionEnded decides the recording's fate when its session sess ended for why.
func (s *Server) sessionEnded(rec *recording, sess *session, why endReason) {
	ev := evLeave // endPeerGone (endReplaced never owns: the takeover took the recording first)
	switch {
	case why == endDeleted:
		ev = evDelete
	case why == endShutdown, s.shuttingDown():
		ev = evClose // Shutdown closes it and gathers its result
	}
	from, to, owned := rec.leave(sess, ev)
	switch {
	case !owned || from == to:
	case to == recGrace:
		s.log.Info("whip: publisher gone; recording kept open", "stream", rec.stream, "grace", s.cfg.Grace)
	case to == recClosed && ev != evClose:
		s.finished(rec, from)
	}
}

// graceExpired ends the wait g, unless it is over already (the publisher came back, or the
// recording closed).
func (s *Server) graceExpired(rec *recording, g *graceWait) {
	if s.shuttingDown() {
		return // Shutdown closes it
	}
	rec.mu.Lock()
	if rec.grace != g {
		rec.mu.Unlock()
		return
	}
	from, err := rec.step(evGraceExpired)
	rec.mu.Unlock()
	if err != nil {
		rec.logIllegal(err)
		return
	}
	s.log.Info("whip: publisher did not return in time", "stream", rec.stream, "grace", s.cfg.Grace)
	s.finished(rec, from)
}
