package rtc

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"podium/rtc/proto"

	"github.com/pion/webrtc/v4"
)

// Listeners: WHEP (the playback twin of WHIP) per stream. Signalling is WHIP's (signal.go,
// resource.go); the media path is in fanout.go.

const (
	defaultMaxListeners    = 1000
	defaultListenerTimeout = 10 * time.Second
	defaultListenerQueue   = 32 // 640 ms of 20 ms packets
	// listenerNACKHistory is what each listener's sender keeps for NACK repair (1.28 s);
	// Pion's default (1024 packets of pooled 1.5 KB buffers) would cost 1.5 MB per listener.
	listenerNACKHistory = 64
)

// StreamInfo is one stream in GET /streams.
type StreamInfo struct {
	Stream    string     `json:"stream"`
	Live      bool       `json:"live"`      // a presenter is connected
	Listeners int        `json:"listeners"` // WHEP sessions now
	Started   *time.Time `json:"started"`   // start of the recording, while there is one
	// HLS is the stream's signed HLS playlist path, for a listener, where the server has HLS.
	HLS string `json:"hls,omitempty"`
	// Via is "hls" where the server would rather the listener played HLS: it is told to
	// (PreferHLS), or its WHEP listeners are at MaxListeners.
	Via string `json:"via,omitempty"`
}

// audience holds every listener of the server.
type audience struct {
	s       *Server
	ep      *endpoint
	timeout time.Duration
	queue   int

	channels sync.Map // stream -> *channel; read lock-free by publishers, written under mu

	listeners *registry[*listener]

	mu sync.Mutex // channel membership

	total   atomic.Uint64
	sent    atomic.Uint64
	dropped atomic.Uint64
	skipped atomic.Uint64 // presenters' connect-time backlog, not forwarded (see burstGap)
}

// listener is one WHEP session.
type listener struct {
	*resource
	a  *audience
	ch *channel
	// out takes what write sends: the listener's own track. (A test puts a writer stuck
	// as in a full socket in its place, before any packet flows.)
	out rtpWriter

	q         chan *outPkt
	done      chan struct{}
	connected atomic.Bool
	sent      atomic.Uint64
	dropped   atomic.Uint64

	endOnce sync.Once
	wg      sync.WaitGroup
}

func newAudience(s *Server) (*audience, error) {
	cfg := &s.cfg
	// ICE says "disconnected" after this long without a word from the listener (our
	// keepalives draw answers, so a live one always speaks), "failed" when the timeout is up.
	disc := min(max(cfg.ListenerTimeout/2, 200*time.Millisecond), 5*time.Second)
	opt := s.netOptions()
	opt.Disconnected, opt.Failed, opt.Keepalive = disc, disc+cfg.ListenerTimeout, disc/3
	opt.NACKHistory = listenerNACKHistory
	api, err := proto.NewAPI(opt)
	if err != nil {
		return nil, err
	}
	a := &audience{s: s, timeout: cfg.ListenerTimeout, queue: cfg.ListenerQueue,
		listeners: newRegistry[*listener](cfg.MaxListeners)}
	a.ep = &endpoint{
		name: "whep", noun: "listener", act: actListen, api: api, log: s.log, remote: s.remote,
		checkOffer: checkListenOffer,
		open:       a.newListener,
		resources:  a.listeners,
		full:       "too many listeners or shutting down",
	}
	return a, nil
}

func (s *Server) routeWHEP(mux *http.ServeMux) {
	s.route(mux, s.aud.ep)
	mux.HandleFunc("GET /streams", s.handleStreams)
	mux.HandleFunc("GET /streams/{stream}", s.handleStreams)
	mux.HandleFunc("GET /listen/{stream}", s.handleListenPage)
	mux.HandleFunc("GET /listen/hls.js", handleHLSJS) // no stream has a dot in its name
}

// newListener answers a WHEP offer and subscribes the listener to its stream's channel.
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
	var ch *channel
	if v, ok := a.channels.Load(stream); ok {
		ch = v.(*channel)
	} else {
		ch = &channel{stream: stream}
		a.channels.Store(stream, ch)
	}
	l.ch = ch
	ch.n.Add(1)
	subs := []*listener{l}
	if old := ch.subs.Load(); old != nil {
		subs = append(append(make([]*listener, 0, len(*old)+1), *old...), l)
	}
	ch.subs.Store(&subs)
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
		if ch := l.ch; ch != nil {
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
				a.channels.CompareAndDelete(l.stream, ch)
			}
		}
		a.mu.Unlock()
		close(l.done)
		l.close()
		l.wg.Wait()
		a.s.log.Info("whep: listener left", "stream", l.stream, "listener", l.id, "why", why,
			"sent", l.sent.Load(), "dropped", l.dropped.Load())
	})
}

// shutdown ends every listener and refuses new ones.
func (a *audience) shutdown() {
	endAll(a.listeners.close(), func(l *listener) { l.end("shutdown") })
}
