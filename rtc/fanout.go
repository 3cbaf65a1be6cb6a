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
// buffer, to its stream's fanout: the fanout rewrites the RTP header once (its own sequence
// numbers and timestamps, continuous across presenter reconnects) and hands one shared,
// immutable packet to the stream's pump (pump.go) without ever blocking. The pump writes it
// to each listener's own track and PeerConnection in turn; a listener whose write gets
// stuck is left to its own writer goroutine and bounded queue, so it only loses its own
// (oldest) packets, counted, and the presenter, the recording and the other listeners never
// wait for it.

// outPkt is one packet as every listener of a stream receives it. Shared: never modified
// (Pion's track copies the header it rewrites per listener), and written as it is, so
// nothing is allocated per listener.
type outPkt struct {
	pkt rtp.Packet
}

// fanout is one stream's fan-out: its listeners and the header rewriting they share. It lives
// while the stream has listeners, whether or not a presenter publishes.
type fanout struct {
	stream string
	subs   atomic.Pointer[[]*listener] // copy-on-write under audience.mu
	n      atomic.Int32                // listeners: changed under audience.mu, read without it
	pump   *pump                       // writes to the listeners

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

// subscribe adds l to its stream's fanout, making the fanout with its first listener.
// Called with a.mu held.
func (a *audience) subscribe(l *listener) {
	var ch *fanout
	if v, ok := a.fanouts.Load(l.stream); ok {
		ch = v.(*fanout)
	} else {
		ch = &fanout{stream: l.stream}
		ch.pump = newPump(ch, a.s.batch)
		a.fanouts.Store(l.stream, ch)
	}
	l.fan = ch
	ch.n.Add(1)
	subs := []*listener{l}
	if old := ch.subs.Load(); old != nil {
		subs = append(append(make([]*listener, 0, len(*old)+1), *old...), l)
	}
	ch.subs.Store(&subs)
}

// unsubscribe removes l from its fanout, and the fanout with its last listener.
// Called with a.mu held.
func (a *audience) unsubscribe(l *listener) {
	ch := l.fan
	if ch == nil {
		return
	}
	ch.n.Add(-1)
	old := *ch.subs.Load()
	subs := make([]*listener, 0, len(old))
	for _, o := range old {
		if o != l {
			subs = append(subs, o)
		}
	}
	ch.subs.Store(&subs)
	if ch.n.Load() == 0 {
		a.fanouts.CompareAndDelete(l.stream, ch)
		ch.pump.stop()
	}
}

// forward is the publisher's hook: called from the session's reader goroutine for every
// packet as it arrives, before the reorder buffer (the listeners' jitter buffers reorder).
func (a *audience) forward(sess *session, pkt *rtp.Packet, now time.Time) {
	v, ok := a.fanouts.Load(sess.stream)
	if !ok || len(pkt.Payload) == 0 {
		return
	}
	ch := v.(*fanout)
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
	ch.pump.push(held, p, *subs, now)
}

// pass decides what of pkt goes to the listeners now: nothing while a new source's backlog
// drains (see burstGap), else pkt rewritten, after the held packet when the backlog just ended.
func (ch *fanout) pass(sess *session, pkt *rtp.Packet, now time.Time) (held, p *outPkt, skipped bool) {
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

// rewrite maps a publisher packet onto the fanout's own RTP numbering. Within one source
// (session and SSRC) offsets are fixed, so loss and reordering stay visible to the
// listeners' jitter buffers. A new source (the presenter reconnected, or the browser
// restarted its track) continues the sequence and places its first timestamp by the wall
// clock time since the last packet, so listeners see one continuous stream with a gap.
// Called with ch.mu held.
func (ch *fanout) rewrite(sess *session, pkt *rtp.Packet, now time.Time) *outPkt {
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
	return &outPkt{rtp.Packet{
		// No header extensions: their IDs were negotiated with the presenter, not the listener.
		Header:  rtp.Header{Version: 2, Marker: marker, SequenceNumber: seq, Timestamp: ts},
		Payload: bytes.Clone(pkt.Payload),
	}}
}
