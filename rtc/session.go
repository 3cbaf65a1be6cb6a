package rtc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

type endReason int

const (
	endPeerGone endReason = iota // ICE failed/closed or idle: keep the recording for Grace
	endDeleted                   // DELETE: finalise the recording now
	endReplaced                  // a new POST on the same stream took the recording over
	endShutdown                  // Shutdown closes the recording itself
)

func (e endReason) String() string {
	return [...]string{"peer gone", "deleted", "replaced", "shutdown"}[e]
}

// recording is one OpusSink and the sample clock that outlives the sessions feeding it.
type recording struct {
	stream string
	start  time.Time

	mu       sync.Mutex // serialises sink calls and guards everything below
	sink     OpusSink
	owner    *session // the one session allowed to write; nil while waiting out Grace
	closed   bool
	hasPos   bool
	lastPos  int64     // pos of the last packet written
	lastDur  int64     // samples per packet, as last seen in RTP timestamps
	lastWall time.Time // arrival of the last packet written
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
	return r.lastPos + max(samplesIn(at.Sub(r.lastWall)), r.lastDur, 1)
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

// session is one publisher PeerConnection.
type session struct {
	srv    *Server
	id     string
	stream string
	pc     *webrtc.PeerConnection
	// rec is set at registration. Atomic because media can reach the reader before the
	// POST handler returns as far as the memory model knows: the answer's trip through the
	// network is no synchronisation.
	rec  atomic.Pointer[recording]
	dead bool // ended before registration; under srv.mu

	mu          sync.Mutex // serialises signalling (PATCH) and guards below
	offer       string     // last full remote offer, patched for ICE restarts
	remoteUfrag string
	etag        string
	idle        *time.Timer

	lastPacket atomic.Int64 // unix nanos
	reading    atomic.Bool  // one Opus track per session is recorded

	readMu     sync.Mutex
	readClosed bool
	readers    sync.WaitGroup

	endOnce sync.Once
}

// takeoverSilence: a session that has sent nothing for this long may be replaced by a new
// POST on its stream. That is the presenter reconnecting before the server noticed the old
// connection die; a session still sending is someone else, and is not taken over, or two
// publishers on one stream would take it from each other forever.
const takeoverSilence = 3 * time.Second

var errStreamBusy = errors.New("stream is being published by another live session")

func (sess *session) active() bool {
	return time.Since(time.Unix(0, sess.lastPacket.Load())) < takeoverSilence
}

func (sess *session) etagValue() string {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return sess.etag
}

// newSession answers an offer and attaches the session to its stream's recording. The
// status is the HTTP answer for a failure.
func (s *Server) newSession(ctx context.Context, stream, offer string) (*session, string, int, error) {
	registered := false
	defer func() {
		if !registered {
			s.mu.Lock()
			s.pending--
			s.mu.Unlock()
		}
	}()

	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", http.StatusInternalServerError, fmt.Errorf("new peer connection: %w", err)
	}
	sess := &session{srv: s, id: newID(), stream: stream, pc: pc, offer: offer, etag: newETag()}
	sess.lastPacket.Store(time.Now().UnixNano())
	fail := func(status int, err error) (*session, string, int, error) {
		_ = pc.GracefulClose()
		return nil, "", status, err
	}
	if f, err := fragFromSDP(offer); err == nil {
		sess.remoteUfrag = f.Ufrag
	}
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if !strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeOpus) || !sess.reading.CompareAndSwap(false, true) {
			return
		}
		if !sess.addReader() {
			return
		}
		defer sess.readers.Done()
		sess.read(t)
	})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			// Never close a PeerConnection from its own callback.
			s.goTracked(func() { s.endSession(sess, endPeerGone) })
		}
	})

	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(http.StatusBadRequest, fmt.Errorf("offer refused: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(http.StatusBadRequest, fmt.Errorf("cannot answer offer: %w", err))
	}
	gctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	ld, err := gatherLocal(gctx, pc, answer)
	if err != nil {
		return fail(http.StatusInternalServerError, err)
	}

	s.mu.Lock()
	if s.shut || sess.dead {
		s.mu.Unlock()
		return fail(http.StatusServiceUnavailable, errors.New("server shutting down"))
	}
	rec := s.streams[stream]
	if rec == nil {
		// Opening the sink under s.mu keeps two POSTs on one stream from opening two
		// recordings; it is one file create.
		now := time.Now()
		sink, err := s.cfg.Record(stream, now)
		if err != nil {
			s.mu.Unlock()
			return fail(http.StatusInternalServerError, fmt.Errorf("open recording of %s: %w", stream, err))
		}
		rec = &recording{stream: stream, start: now, sink: sink, lastDur: 960}
		s.streams[stream] = rec
	}
	rec.mu.Lock()
	old := rec.owner
	if old != nil && old.active() {
		rec.mu.Unlock()
		s.mu.Unlock()
		return fail(http.StatusConflict, errStreamBusy)
	}
	rec.owner = sess
	rec.graceGen++ // a grace timer that already fired must not close it now
	if rec.grace != nil {
		rec.grace.Stop()
	}
	rec.mu.Unlock()
	sess.rec.Store(rec)
	s.sessions[sess.id] = sess
	s.pending--
	registered = true
	s.mu.Unlock()
	s.sessionsTotal.Add(1)

	if old != nil {
		s.log.printf("whip: %s: new publisher session %s takes over from %s", stream, sess.id, old.id)
		s.goTracked(func() { s.endSession(old, endReplaced) })
	}
	sess.mu.Lock()
	sess.idle = time.AfterFunc(s.cfg.IdleTimeout, sess.checkIdle)
	sess.mu.Unlock()
	s.log.printf("whip: %s: session %s started", stream, sess.id)
	return sess, ld.SDP, 0, nil
}

// checkIdle ends a session that has had no packet for IdleTimeout: its peer is gone even if
// ICE has not noticed yet.
func (sess *session) checkIdle() {
	s := sess.srv
	since := time.Since(time.Unix(0, sess.lastPacket.Load()))
	if since >= s.cfg.IdleTimeout {
		s.goTracked(func() { s.endSession(sess, endPeerGone) })
		return
	}
	sess.mu.Lock()
	sess.idle.Reset(s.cfg.IdleTimeout - since)
	sess.mu.Unlock()
}

func (sess *session) addReader() bool {
	sess.readMu.Lock()
	defer sess.readMu.Unlock()
	if sess.readClosed {
		return false
	}
	sess.readers.Add(1)
	return true
}

// endSession closes the PeerConnection, lets the reader flush, and then decides the
// recording's fate by why the session ended.
func (s *Server) endSession(sess *session, why endReason) {
	sess.endOnce.Do(func() {
		s.mu.Lock()
		sess.dead = true
		if s.sessions[sess.id] == sess {
			delete(s.sessions, sess.id)
		}
		rec := sess.rec.Load()
		s.mu.Unlock()

		sess.mu.Lock()
		if sess.idle != nil {
			sess.idle.Stop()
		}
		sess.mu.Unlock()
		sess.readMu.Lock()
		sess.readClosed = true
		sess.readMu.Unlock()
		if err := sess.pc.GracefulClose(); err != nil {
			s.log.printf("whip: %s: close session %s: %v", sess.stream, sess.id, err)
		}
		sess.readers.Wait()
		if rec == nil {
			return
		}
		s.log.printf("whip: %s: session %s ended (%v)", sess.stream, sess.id, why)

		rec.mu.Lock()
		owner := rec.owner == sess
		if owner {
			rec.owner = nil
		}
		rec.mu.Unlock()
		if !owner {
			return
		}
		switch why {
		case endDeleted:
			s.finishRecording(rec)
		case endPeerGone:
			s.startGrace(rec)
		}
	})
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
// back for a restart, or nil for plain trickle.
func (sess *session) patch(ctx context.Context, f sdpFrag) ([]byte, string, int, error) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if f.Ufrag == "" || f.Ufrag == sess.remoteUfrag {
		mid := f.Mid
		for _, c := range f.Candidates {
			init := webrtc.ICECandidateInit{Candidate: "candidate:" + c}
			if mid != "" {
				init.SDPMid = &mid
			}
			if err := sess.pc.AddICECandidate(init); err != nil {
				return nil, "", http.StatusBadRequest, fmt.Errorf("add candidate: %w", err)
			}
		}
		return nil, "", 0, nil
	}

	// New credentials: an ICE restart. Pion restarts its agent when a renegotiation offer
	// carries new remote credentials, so patch the last offer and answer it in full.
	offer, err := withICE(sess.offer, f)
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	if err := sess.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, "", http.StatusBadRequest, fmt.Errorf("ice restart offer: %w", err)
	}
	answer, err := sess.pc.CreateAnswer(nil)
	if err != nil {
		return nil, "", http.StatusInternalServerError, fmt.Errorf("ice restart answer: %w", err)
	}
	gctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	ld, err := gatherLocal(gctx, sess.pc, answer)
	if err != nil {
		return nil, "", http.StatusInternalServerError, err
	}
	local, err := fragFromSDP(ld.SDP)
	if err != nil {
		return nil, "", http.StatusInternalServerError, err
	}
	if local.Mid == "" {
		local.Mid = f.Mid
	}
	sess.offer, sess.remoteUfrag, sess.etag = offer, f.Ufrag, newETag()
	sess.srv.log.printf("whip: %s: session %s ICE restart", sess.stream, sess.id)
	return local.marshal(), sess.etag, 0, nil
}

// read receives one track until its PeerConnection closes. Read deadlines wake it when the
// reorder buffer has waited long enough for a missing packet.
func (sess *session) read(t *webrtc.TrackRemote) {
	s := sess.srv
	var clk sampleClock
	rb := newReorderBuffer(reorderWait, func(p rtpIn) { sess.deliver(&clk, p) })
	var reportedLost, reportedLate uint64
	report := func() {
		if d := rb.lost - reportedLost; d > 0 {
			s.lost.Add(d)
			reportedLost = rb.lost
		}
		if d := rb.dups - reportedLate; d > 0 {
			s.late.Add(d)
			reportedLate = rb.dups
		}
	}
	buf := make([]byte, 1500)
	var pkt rtp.Packet
	for {
		_ = t.SetReadDeadline(rb.deadline())
		n, _, err := t.Read(buf)
		now := time.Now()
		if err != nil {
			if isTimeout(err) {
				rb.poll(now)
				report()
				continue
			}
			break
		}
		if err := pkt.Unmarshal(buf[:n]); err != nil {
			continue
		}
		s.packets.Add(1)
		s.bytes.Add(uint64(len(pkt.Payload)))
		sess.lastPacket.Store(now.UnixNano())
		s.aud.forward(sess, &pkt, now) // listeners: never blocks (whep.go)
		rb.push(rtpIn{seq: pkt.SequenceNumber, ts: pkt.Timestamp, payload: append([]byte(nil), pkt.Payload...), at: now})
		rb.poll(now)
		report()
	}
	rb.flushAll()
	report()
}

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// deliver writes one in-order packet to the recording if this session still owns it.
func (sess *session) deliver(c *sampleClock, p rtpIn) {
	if len(p.payload) == 0 {
		return // padding-only probe
	}
	rec := sess.rec.Load()
	if rec == nil {
		return // not registered yet: the POST is still being answered
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.owner != sess || rec.closed {
		return
	}
	pos := c.position(p, rec)
	rec.hasPos, rec.lastPos, rec.lastWall = true, pos, p.at
	if err := rec.sink.WriteOpus(pos, p.payload); err != nil {
		sess.srv.sinkErrors.Add(1)
		if rec.errs++; rec.errs == 1 || rec.errs%1000 == 0 {
			sess.srv.log.printf("whip: %s: recording write failed (%d so far): %v", rec.stream, rec.errs, err)
		}
	}
}

const (
	maxFrame = SampleRate * 120 / 1000 // longest Opus packet
	// maxAhead is how far RTP time may run ahead of wall time before we stop believing it.
	maxAhead = 5 * SampleRate
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
// leap by hours. Caller holds r.mu.
func (c *sampleClock) position(p rtpIn, r *recording) int64 {
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
		expect := r.lastPos + samplesIn(p.at.Sub(r.lastWall))
		if pos <= r.lastPos || pos > expect+maxAhead {
			pos = r.resumePos(p.at)
			c.offset = pos - ext
		}
	}
	return pos
}
