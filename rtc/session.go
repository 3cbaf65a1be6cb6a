package rtc

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"podium/rtc/proto"

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

// session is one publisher PeerConnection.
type session struct {
	*resource
	srv *Server
	// rec is set at registration. Atomic because media can reach the reader before the
	// POST handler returns as far as the memory model knows: the answer's trip through the
	// network is no synchronisation.
	rec  atomic.Pointer[recording]
	dead bool // ended before registration; under srv.mu

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
// publishers on one stream would take it from each other forever. Only the token that began
// a recording may take it over or resume it: another publisher of the stream waits until
// the recording has ended.
const takeoverSilence = 3 * time.Second

var errStreamBusy = errors.New("stream is being published by another live session")

func (sess *session) active() bool {
	return time.Since(time.Unix(0, sess.lastPacket.Load())) < takeoverSilence
}

func (s *Server) streamBusy(stream, who string) bool {
	s.mu.Lock()
	rec := s.streams[stream]
	s.mu.Unlock()
	if rec == nil {
		return false
	}
	return rec.busyFor(who)
}

// admitPublisher reserves room for one more publisher session. A recording waiting out its
// grace holds an open file and encoder just as a live session does, so it counts against
// MaxSessions too; the one this POST would resume does not, so a presenter coming back is
// never refused because of its own recording.
func (s *Server) admitPublisher(stream string) bool {
	waiting := 0
	for _, rec := range s.recordings() {
		if _, w := rec.gauges(); w && rec.stream != stream {
			waiting++
		}
	}
	return s.sessions.admitBeside(waiting)
}

// newSession answers an offer and attaches the session to its stream's recording. The
// status is the HTTP answer for a failure.
func (s *Server) newSession(ctx context.Context, stream, who, offer string) (*resource, string, int, error) {
	res, err := newResource(s.pub, stream, who, offer)
	if err != nil {
		return nil, "", http.StatusInternalServerError, err
	}
	sess := &session{resource: res, srv: s}
	title, presenter := proto.Talk(offer) // cleaned and cut; never markup
	res.deleted = func() { s.endSession(sess, endDeleted) }
	sess.lastPacket.Store(time.Now().UnixNano())
	fail := func(status int, err error) (*resource, string, int, error) {
		_ = res.pc.GracefulClose()
		return nil, "", status, err
	}
	res.pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if !strings.EqualFold(t.Codec().MimeType, webrtc.MimeTypeOpus) || !sess.reading.CompareAndSwap(false, true) {
			return
		}
		if !sess.addReader() {
			return
		}
		defer sess.readers.Done()
		sess.read(t)
	})
	res.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			// Never close a PeerConnection from its own callback.
			s.goTracked(func() { s.endSession(sess, endPeerGone) })
		}
	})
	answer, status, err := res.answer(ctx, nil)
	if err != nil {
		return fail(status, err)
	}

	s.mu.Lock()
	if s.shut || sess.dead {
		s.mu.Unlock()
		return fail(http.StatusServiceUnavailable, errors.New("server shutting down"))
	}
	rec := s.streams[stream]
	var old *session
	var stale *recording
	if rec != nil {
		var from recState
		old, from, err = rec.takeOver(sess, who)
		switch {
		case errors.Is(err, errStreamBusy):
			s.mu.Unlock()
			return fail(http.StatusConflict, err)
		case errors.Is(err, errRecordingEnded):
			if from == recStopped {
				// Its sink failed (a full disk, say): the publisher coming back starts a new
				// file, and the stopped recording ends with the session it replaces.
				stale = rec
			}
			delete(s.streams, stream)
			rec = nil
		case err != nil:
			s.mu.Unlock()
			return fail(http.StatusInternalServerError, err)
		}
	}
	if rec == nil {
		// The Sink is opened at the first packet (recording.step): a session that
		// never sends media holds no file.
		rec = newRecording(s, stream, who, sess)
		s.streams[stream] = rec
	}
	rec.mu.Lock()
	rec.setOfferTalk(title, presenter)
	rec.mu.Unlock()
	sess.rec.Store(rec)
	s.sessions.add(sess) // cannot be closed: Shutdown closes it under s.mu after s.shut
	s.mu.Unlock()
	s.sessionsTotal.Add(1)

	if stale != nil {
		s.goTracked(func() { s.finished(stale, recStopped) })
	}
	if old != nil {
		s.log.Info("whip: new publisher session takes over", "stream", stream, "session", sess.id, "from", old.id)
		s.goTracked(func() { s.endSession(old, endReplaced) })
	}
	res.reapAfter(s.cfg.IdleTimeout, sess.checkIdle)
	s.log.Info("whip: session started", "stream", stream, "session", sess.id)
	return res, answer, 0, nil
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
	sess.reapAfter(s.cfg.IdleTimeout-since, sess.checkIdle)
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
		s.sessions.remove(sess)
		rec := sess.rec.Load()
		s.mu.Unlock()

		sess.readMu.Lock()
		sess.readClosed = true
		sess.readMu.Unlock()
		sess.close()
		sess.readers.Wait()
		if rec == nil {
			return
		}
		s.log.Info("whip: session ended", "stream", sess.stream, "session", sess.id, "why", why.String())
		s.sessionEnded(rec, sess, why)
	})
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
		s.aud.forward(sess, &pkt, now) // listeners: never blocks (fanout.go)
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

// owns says whether sess is its stream's publisher now (during a takeover the old session
// may still deliver a packet or two; listeners hear only the new one).
func (sess *session) owns() bool {
	rec := sess.rec.Load()
	if rec == nil {
		return false
	}
	return rec.ownedBy(sess)
}

// deliver writes one in-order packet to the recording if this session still owns it.
func (sess *session) deliver(c *sampleClock, p rtpIn) {
	if len(p.payload) == 0 {
		return // padding-only probe
	}
	if rec := sess.rec.Load(); rec != nil { // else not registered yet: the POST is still being answered
		rec.feed(sess, c, p)
	}
}
