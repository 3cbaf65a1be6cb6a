package rtc

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"podium/rtc/proto"
)

// The audience: every listener of the server, over WHEP (the playback twin of WHIP) per
// stream. Signalling is WHIP's (signal.go, resource.go); each listener is in listener.go, and
// the media path from a presenter to its stream's listeners in fanout.go.

const (
	defaultMaxListeners    = 1000
	defaultListenerTimeout = 10 * time.Second
	defaultListenerQueue   = 32 // 640 ms of 20 ms packets
	// listenerNACKHistory is what each listener's sender keeps for NACK repair (1.28 s);
	// Pion's default (1024 packets of pooled 1.5 KB buffers) would cost 1.5 MB per listener.
	listenerNACKHistory = 64
)

// audience holds every listener of the server.
type audience struct {
	s       *Server
	ep      *endpoint
	timeout time.Duration
	queue   int

	fanouts sync.Map // stream -> *fanout; read lock-free by publishers, written under mu

	listeners *registry[*listener]

	mu sync.Mutex // listeners and fanout membership

	total   atomic.Uint64
	sent    atomic.Uint64
	dropped atomic.Uint64
	skipped atomic.Uint64 // presenters' connect-time backlog, not forwarded (see burstGap)
}

func newAudience(s *Server) (*audience, error) {
	cfg := &s.cfg
	// ICE says "disconnected" after this long without a word from the listener (our
	// keepalives draw answers, so a live one always speaks), "failed" when the timeout is up.
	disc := min(max(cfg.ListenerTimeout/2, 200*time.Millisecond), 5*time.Second)
	opt := s.netOptions()
	opt.Disconnected, opt.Failed, opt.Keepalive = disc, disc+cfg.ListenerTimeout, disc/3
	opt.NACKHistory = listenerNACKHistory
	opt.SendOnly = true
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

// shutdown ends every listener and refuses new ones.
func (a *audience) shutdown() {
	endAll(a.listeners.close(), func(l *listener) { l.end("shutdown") })
}

// listenerCounts is the number of listeners per stream.
func (a *audience) listenerCounts() map[string]int {
	out := map[string]int{}
	for _, l := range a.listeners.all() {
		out[l.stream]++
	}
	return out
}
