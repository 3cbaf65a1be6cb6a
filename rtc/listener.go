package rtc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"podium/rtc/proto"
)

// listener is one WHEP session: its own PeerConnection, track, bounded queue and writer
// goroutine, fed by its stream's fanout (fanout.go) and kept by the audience (audience.go).
type listener struct {
	*resource
	a   *audience
	fan *fanout // its stream's, while subscribed
	// out takes what write sends: the listener's own track. (A test puts a writer stuck
	// as in a full socket in its place, before any packet flows.)
	out rtpWriter

	q         chan *outPkt
	done      chan struct{}
	connected atomic.Bool
	slow      atomic.Bool // its writes go through q and its own goroutine (pump.go)
	sent      atomic.Uint64
	dropped   atomic.Uint64

	endOnce sync.Once
	wg      sync.WaitGroup
}

// newListener answers a WHEP offer and subscribes the listener to its stream's fan-out.
func (a *audience) newListener(ctx context.Context, stream, who, offer string) (*resource, string, int, error) {
	res, err := newResource(a.ep, stream, who, offer)
	if err != nil {
		return nil, "", http.StatusInternalServerError, err
	}
	fail := func(status int, err error) (*resource, string, int, error) {
		_ = res.pc.GracefulClose()
		return nil, "", status, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(proto.Opus.RTPCodecCapability, "audio", "podium")
	if err != nil {
		return fail(http.StatusInternalServerError, err)
	}
	sender, err := res.pc.AddTrack(track)
	if err != nil {
		return fail(http.StatusInternalServerError, err)
	}
	l := &listener{
		resource: res, a: a, out: track,
		q:    make(chan *outPkt, a.queue),
		done: make(chan struct{}),
	}
	res.deleted = func() { l.end("deleted") }
	res.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { l.state(st) })
	answer, status, err := res.answer(ctx, func(sdp string) error {
		if !strings.Contains(sdp, "a=sendonly") && !strings.Contains(sdp, "a=sendrecv") {
			return errors.New("offer leaves no audio to send")
		}
		return nil
	})
	if err != nil {
		return fail(status, err)
	}

	a.mu.Lock()
	if !a.listeners.add(l) {
		a.mu.Unlock()
		return fail(http.StatusServiceUnavailable, errors.New("server shutting down"))
	}
	a.subscribe(l)
	l.wg.Add(2)
	a.mu.Unlock()
	a.total.Add(1)

	go l.write()
	go func() {
		defer l.wg.Done()
		proto.DrainRTCP(sender)
	}()
	if !l.connected.Load() {
		// Should it connect just now, expire finds it connected and leaves it.
		res.reapAfter(signalTimeout+a.timeout, func() { l.expire("never connected") })
	}
	a.s.log.Info("whep: listener joined", "stream", stream, "listener", l.id)
	return res, answer, 0, nil
}

// state follows the PeerConnection: a listener that fails or closes goes at once; one that
// is disconnected goes if it has not come back within the timeout.
func (l *listener) state(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		l.connected.Store(true)
		l.disarm()
	case webrtc.PeerConnectionStateDisconnected:
		l.reapAfter(l.a.timeout, func() { l.expire("disconnected") })
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		// Never close a PeerConnection from its own callback.
		// Once the server shuts down, it ends every listener itself.
		l.a.s.goTracked(func() { l.end(st.String()) })
	}
}

func (l *listener) expire(why string) {
	if l.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
		return
	}
	l.a.s.goTracked(func() { l.end(why) })
}

// end removes the listener and closes its PeerConnection; it waits for its goroutines.
func (l *listener) end(why string) {
	l.endOnce.Do(func() {
		a := l.a
		a.mu.Lock()
		a.listeners.remove(l)
		a.unsubscribe(l)
		a.mu.Unlock()
		close(l.done)
		l.close()
		l.wg.Wait()
		a.s.log.Info("whep: listener left", "stream", l.stream, "listener", l.id, "why", why,
			"sent", l.sent.Load(), "dropped", l.dropped.Load())
	})
}

// enqueue (for a slow listener) never blocks: when the queue is full the oldest packet goes, so a listener that
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

// write sends queued packets on the listener's own track, once the pump has left the
// listener to it (slow).
func (l *listener) write() {
	defer l.wg.Done()
	for {
		select {
		case <-l.done:
			return
		case p := <-l.q:
			l.send(p)
		}
	}
}

// send writes p on the listener's own track. Before ICE and DTLS are up there is nowhere to
// send: those packets are skipped, so the listener starts at the live edge.
func (l *listener) send(p *outPkt) {
	if !l.connected.Load() {
		return
	}
	if err := l.out.WriteRTP(&p.pkt); err != nil {
		return
	}
	l.sent.Add(1)
	l.a.sent.Add(1)
}
