package rtc

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"podium/audio/pcm"

	"github.com/pion/rtp"
)

// The publisher's reader goroutine hands every received Opus packet, before the reorder
// buffer, to its stream's channel: the channel rewrites the RTP header once (its own sequence
// numbers and timestamps, continuous across presenter reconnects) and puts one shared,
// immutable packet on every listener's bounded queue without ever blocking. Each listener has
// its own writer goroutine, track and PeerConnection, so a listener whose socket or CPU
// share is slow only loses its own (oldest) packets, counted, and the presenter, the
// recording and the other listeners never wait for it.

// outPkt is one packet as every listener of a stream receives it. Shared: never modified.
type outPkt struct {
	hdr     rtp.Header
	payload []byte
}

// channel is one stream's fan-out: its listeners and the header rewriting.
type channel struct {
	stream string
	subs   atomic.Pointer[[]*listener] // copy-on-write under audience.mu
	n      atomic.Int32                // listeners: changed under audience.mu, read without it

	mu      sync.Mutex // the rewriting state below
	src     *session
	ssrc    uint32
	started bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16 // newest sequence number sent
	lastTS  uint32
	lastAt  time.Time
	held    *heldPkt // a new source's newest packet while its backlog drains
}

// A presenter's first packets can arrive as a burst: the WHIP client keeps what it captures
// while ICE and DTLS come up and sends it on connecting, so the server's recording starts at
// the first word. Listeners must not get that backlog: a jitter buffer handed a second or two
// at once plays sped up for seconds while it works the delay off (Chromium's NetEq
// accelerating), and the talk sounds wrong exactly when it begins. So a new source's packets
// are held one at a time, each replacing the last, until one arrives burstGap or more after
// the one before, at the pace of capture: the held packet (the newest of the backlog) goes
// out then, with it. Listeners start at the live edge, one packet time after the presenter.
const burstGap = 8 * time.Millisecond

// heldPkt is a packet of a source not yet forwarded: its own copy, and when it came.
type heldPkt struct {
	sess *session
	pkt  rtp.Packet
	at   time.Time
}

// enqueue never blocks: when the queue is full the oldest packet goes, so a listener that
// falls behind skips ahead to the live edge instead of hearing stale audio.
func (l *listener) enqueue(p *outPkt) {
	select {
	case l.q <- p:
		return
	default:
	}
	select {
	case <-l.q:
		l.drop()
	default:
	}
	select {
	case l.q <- p:
	default:
		l.drop()
	}
}

func (l *listener) drop() {
	l.dropped.Add(1)
	l.a.dropped.Add(1)
}

// rtpWriter is where a listener's packets go.
type rtpWriter interface{ WriteRTP(*rtp.Packet) error }

// write sends queued packets on the listener's own track. Before ICE and DTLS are up there
// is nowhere to send: those packets are skipped, so the listener starts at the live edge.
func (l *listener) write() {
	defer l.wg.Done()
	for {
		var p *outPkt
		select {
		case <-l.done:
			return
		case p = <-l.q:
		}
		if !l.connected.Load() {
			continue
		}
		pkt := rtp.Packet{Header: p.hdr, Payload: p.payload}
		if err := l.out.WriteRTP(&pkt); err != nil {
			continue
		}
		l.sent.Add(1)
		l.a.sent.Add(1)
	}
}

// forward is the publisher's hook: called from the session's reader goroutine for every
// packet as it arrives, before the reorder buffer (the listeners' jitter buffers reorder).
func (a *audience) forward(sess *session, pkt *rtp.Packet, now time.Time) {
	v, ok := a.channels.Load(sess.stream)
	if !ok || len(pkt.Payload) == 0 {
		return
	}
	ch := v.(*channel)
	subs := ch.subs.Load()
	if subs == nil || len(*subs) == 0 || !sess.owns() {
		return
	}
	held, p, skipped := ch.pass(sess, pkt, now)
	if skipped {
		a.skipped.Add(1)
	}
	if p == nil {
		return
	}
	for _, l := range *subs {
		if held != nil {
			l.enqueue(held)
		}
		l.enqueue(p)
	}
}

// pass decides what of pkt goes to the listeners now: nothing while a new source's backlog
// drains (see burstGap), else pkt rewritten, after the held packet when the backlog just ended.
func (ch *channel) pass(sess *session, pkt *rtp.Packet, now time.Time) (held, p *outPkt, skipped bool) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	if ch.started && ch.src == sess && ch.ssrc == pkt.SSRC {
		return nil, ch.rewrite(sess, pkt, now), false
	}
	h := ch.held
	if h == nil || h.sess != sess || h.pkt.SSRC != pkt.SSRC || now.Sub(h.at) < burstGap {
		skipped = h != nil && h.sess == sess && h.pkt.SSRC == pkt.SSRC
		ch.held = &heldPkt{sess: sess, pkt: rtp.Packet{Header: pkt.Header, Payload: bytes.Clone(pkt.Payload)}, at: now}
		return nil, nil, skipped
	}
	ch.held = nil
	return ch.rewrite(sess, &h.pkt, h.at), ch.rewrite(sess, pkt, now), false
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

// rewrite maps a publisher packet onto the channel's own RTP numbering. Within one source
// (session and SSRC) offsets are fixed, so loss and reordering stay visible to the
// listeners' jitter buffers. A new source (the presenter reconnected, or the browser
// restarted its track) continues the sequence and places its first timestamp by the wall
// clock time since the last packet, so listeners see one continuous stream with a gap.
// Called with ch.mu held.
func (ch *channel) rewrite(sess *session, pkt *rtp.Packet, now time.Time) *outPkt {
	marker := pkt.Marker
	if !ch.started || ch.src != sess || ch.ssrc != pkt.SSRC {
		var seq uint16
		var ts uint32
		if ch.started {
			seq = ch.lastSeq + 1
			ts = ch.lastTS + uint32(max(pcm.Samples(now.Sub(ch.lastAt)), pcm.FrameSamples))
		} else {
			seq, ts = uint16(rand.Uint32()), rand.Uint32()
		}
		ch.seqOff = seq - pkt.SequenceNumber
		ch.tsOff = ts - pkt.Timestamp
		ch.src, ch.ssrc, ch.started = sess, pkt.SSRC, true
		ch.lastSeq, ch.lastTS, ch.lastAt = seq-1, ts, now
		marker = true
	}
	seq := pkt.SequenceNumber + ch.seqOff
	ts := pkt.Timestamp + ch.tsOff
	if int16(seq-ch.lastSeq) > 0 {
		ch.lastSeq, ch.lastTS, ch.lastAt = seq, ts, now
	}
	return &outPkt{
		// No header extensions: their IDs were negotiated with the presenter, not the listener.
		hdr:     rtp.Header{Version: 2, Marker: marker, SequenceNumber: seq, Timestamp: ts},
		payload: bytes.Clone(pkt.Payload),
	}
}
