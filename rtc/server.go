package rtc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"podium/rtc/proto"
	"podium/rtc/recordings"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

// ServerConfig configures a WHIP ingest Server.
type ServerConfig struct {
	// Tokens are the operator's Bearer tokens: they publish on every stream and read the
	// recordings and metrics. With neither these nor StreamTokens, anyone may publish.
	Tokens []string
	// StreamTokens are publisher tokens for some streams only (stream -> tokens): they
	// publish on, and read the recordings of, those streams.
	StreamTokens map[string][]string
	// ViewerTokens may read the recordings (GET /recordings), as listener tokens may.
	ViewerTokens []string
	// PublicRecordings lets anyone read the recordings without a token.
	PublicRecordings bool
	// MetricsTokens may read GET /metrics, as Tokens may; PublicMetrics lets anyone.
	MetricsTokens []string
	PublicMetrics bool
	// Record opens the Sink of each new recording, at its first packet (a session that
	// never sends media opens none). Required.
	Record SinkFunc
	// Began, where set, is told the file name of each recording as it opens (a
	// NamedSink's) and who began it (the token, as Publisher names it): a presenter's
	// studio copy is attached only to a recording its own token began.
	Began func(name, who string)
	// Grace is how long a recording whose publisher vanished (without DELETE) stays open
	// for that publisher to return to the same stream. Default 5 min.
	Grace time.Duration
	// IdleTimeout: a session that receives no packet for this long is treated as gone.
	// Default 10 s.
	IdleTimeout time.Duration
	// MaxSessions bounds concurrent publisher sessions, and recordings waiting out their
	// Grace count as sessions; beyond it POST answers 503. Default 200.
	MaxSessions int
	// MaxOfferBytes bounds an offer or PATCH body; beyond it the answer is 413. Default 64 KiB.
	MaxOfferBytes int64
	// RecordingsDir is listed by GET /recordings; empty disables those routes (404).
	RecordingsDir string
	// Archive, where set, holds finished recordings beyond RecordingsDir (object storage):
	// GET /recordings lists them beside the local files, and serves those not kept locally.
	Archive recordings.Archive

	// ICEServers are announced to publishers in Link headers (RFC 9725 §4.6); the server
	// itself gathers host candidates only.
	ICEServers []webrtc.ICEServer
	// PublicIPs replace the host candidate addresses (server behind 1:1 NAT or in a container).
	PublicIPs []string
	// UDPPort is the one UDP port that carries every session's media, publishers' and
	// listeners' alike (Pion's ICE UDP mux), on each local address IPFilter keeps; 0 picks
	// one free port at start (Server.UDPPort says which).
	UDPPort int
	// IPFilter restricts which local addresses ICE uses (proto.LoopbackOnly in tests). The
	// addresses kept also decide which remote addresses the server sends checks to
	// (remotePolicy in ice.go).
	IPFilter func(net.IP) bool

	// ListenerTokens are the Bearer tokens of listeners (WHEP, GET /streams). They never
	// publish, and a publisher token does not listen unless it is in both lists.
	ListenerTokens []string
	// PublicListen lets anyone listen without a token. With neither this nor
	// ListenerTokens, nobody can listen.
	PublicListen bool
	// HLSSecret signs HLS links (HLSLink) in the form nginx's secure_link module checks, so
	// a caching proxy or CDN in front that knows it refuses a listener without asking the
	// origin. Every origin behind one proxy needs the same one. Empty: a new random secret
	// at every start (links work on this server only, until it restarts).
	HLSSecret string
	// HLSBase is where listener pages fetch HLS from, when not from this server: the URL
	// (scheme and host, and any path before /hls/) of a CDN in front of the origins or of
	// the bucket the renditions are copied to. It must send CORS headers to the page.
	HLSBase string
	// PreferHLS sends listener pages to HLS instead of WHEP (StreamInfo.Via), where HLS is
	// mounted: for a server behind a CDN, or one whose UDP port listeners cannot reach.
	PreferHLS bool
	// MaxListeners bounds concurrent listeners (all streams); beyond it POST answers 503.
	// Default 1000.
	MaxListeners int
	// ListenerTimeout: a listener whose connection is down (ICE disconnected, or never
	// connected after signalling) for this long is removed. Default 10 s.
	ListenerTimeout time.Duration
	// ListenerQueue is each listener's queue in packets; when full the oldest is dropped and
	// counted. Default 32 (640 ms).
	ListenerQueue int

	// Logger logs session events, each with its stream (and session, listener or remote
	// address) as attributes; default slog.Default().
	Logger *slog.Logger
}

// ServerStats is a snapshot of the server's counters (serverMetrics names each on /metrics).
type ServerStats struct {
	Sessions        int
	Recordings      int
	RecordingsWait  int
	SessionsTotal   uint64
	PacketsReceived uint64
	PacketsLost     uint64
	PacketsLate     uint64
	PacketsAhead    uint64
	BytesReceived   uint64
	PacketsOverrun  uint64
	RecordingsFail  uint64

	RemoteCandidates          uint64
	RemoteCandidatesRefused   uint64
	RemoteCandidatesOverLimit uint64

	Listeners              int
	ListenersTotal         uint64
	ListenerPacketsSent    uint64
	ListenerPacketsDropped uint64
	ListenerBacklogSkipped uint64
}

// Server is a WHIP ingest endpoint that records every published stream to a Sink.
type Server struct {
	cfg      ServerConfig
	mux      *http.ServeMux
	log      *slog.Logger
	access   liveAccess
	hls      atomic.Bool // HandleHLS mounted HLS routes
	pub      *endpoint   // publishers (session.go)
	sessions *registry[*session]
	aud      *audience               // listeners (audience.go)
	udpMux   *ice.MultiUDPMuxDefault // the one UDP port of all sessions (ice.go)
	batch    batcher                 // its sockets, sending in batches (batchconn.go)
	remote   *remotePolicy           // which remote candidates are checked (ice.go)
	files    *recordings.Folder      // GET /recordings; nil without RecordingsDir (recordings.go)
	metrics  *metrics                // GET /metrics (metrics.go)
	handler  http.Handler            // serve, timed by metrics

	mu      sync.Mutex
	shut    bool
	streams map[string]*recording
	wg      sync.WaitGroup // goroutines the server started that Shutdown must wait for

	sessionsTotal atomic.Uint64
	packets       atomic.Uint64
	lost          atomic.Uint64
	ahead         atomic.Uint64 // packets refused for running ahead of the wall clock
	late          atomic.Uint64
	bytes         atomic.Uint64
	overrun       atomic.Uint64 // packets dropped from a full recording queue
	failed        atomic.Uint64 // recordings stopped by their sink failing
	talkRevs      atomic.Int64  // the last talk revision handed out (recording.talkRev)
}

const (
	defaultGrace       = 5 * time.Minute
	defaultIdle        = 10 * time.Second
	defaultMaxSessions = 200
	defaultMaxOffer    = 64 << 10
	signalTimeout      = 10 * time.Second // ICE gathering for one answer
	reorderWait        = 150 * time.Millisecond
)

// NewServer checks cfg and builds a Server. It listens on nothing: mount it on an
// http.Server (or a mux) and call Shutdown when done.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Record == nil {
		return nil, errors.New("rtc server: Record is required")
	}
	orDefault(&cfg.Grace, defaultGrace)
	orDefault(&cfg.IdleTimeout, defaultIdle)
	orDefault(&cfg.MaxSessions, defaultMaxSessions)
	orDefault(&cfg.MaxOfferBytes, defaultMaxOffer)
	orDefault(&cfg.ListenerTimeout, defaultListenerTimeout)
	orDefault(&cfg.MaxListeners, defaultMaxListeners)
	orDefault(&cfg.ListenerQueue, defaultListenerQueue)
	udpMux, batch, err := newUDPMux(cfg.UDPPort, cfg.IPFilter)
	if err != nil {
		return nil, fmt.Errorf("rtc server: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      cmp.Or(cfg.Logger, slog.Default()),
		sessions: newRegistry[*session](cfg.MaxSessions),
		streams:  map[string]*recording{},
		udpMux:   udpMux,
		batch:    batch,
		remote:   newRemotePolicy(udpMux.GetListenAddresses()),
	}
	// A page that polled the server before it restarted must not take a new talk's revision
	// for the one it saw: revisions go on from the clock (milliseconds stay exact in JSON).
	s.talkRevs.Store(time.Now().UnixMilli())
	s.access.set(newAccess(&cfg))
	s.metrics = newMetrics(s)
	s.handler = s.metrics.instrument(http.HandlerFunc(s.serve))
	api, err := proto.NewAPI(s.netOptions())
	if err == nil {
		s.aud, err = newAudience(s)
	}
	if err != nil {
		_ = udpMux.Close()
		return nil, fmt.Errorf("rtc server: %w", err)
	}
	mux := http.NewServeMux()
	s.pub = &endpoint{
		name: "whip", noun: "session", act: actPublish, api: api, log: s.log, remote: s.remote,
		checkOffer: checkPublishOffer,
		busy:       s.streamBusy,
		admit:      s.admitPublisher,
		open:       s.newSession,
		links:      func(location string) []string { return []string{chaptersLink(location)} },
		resources:  s.sessions,
		full:       "server full or shutting down",
	}
	s.route(mux, s.pub)
	mux.HandleFunc("POST /whip/{stream}/{id}/chapters", s.handleChapters)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	s.routeRecordings(mux)
	s.routeWHEP(mux)
	s.mux = mux
	return s, nil
}

// Publisher says whether r carries a token that may publish stream, and names the token,
// for routes mounted from outside this package (Handle) that publishers use.
func (s *Server) Publisher(r *http.Request, stream string) (who string, ok bool) {
	g := s.access.check(r, actPublish, stream)
	return g.who, g.ok
}

// HandleHLS mounts h, which serves each live stream's HLS, at GET /hls/{stream}/{file}, for
// those who may listen to the stream: a listener token for it, a public stream, or an
// unexpired signed link, which GET /streams/{stream} then hands each listener (StreamInfo.HLS).
func (s *Server) HandleHLS(h http.Handler) {
	s.hls.Store(true)
	s.mux.HandleFunc("GET /hls/{stream}/{file}", func(w http.ResponseWriter, r *http.Request) {
		if !s.access.hlsListener(r, r.PathValue("stream"), time.Now()) {
			unauthorized(w)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Handle mounts h at pattern beside the server's own routes (the studio uploads).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// SetListenerTokens replaces the listener tokens: from now on a request with one of the old
// tokens is refused (401), while listeners already connected with it stay until they leave.
func (s *Server) SetListenerTokens(tokens []string) {
	cfg := s.cfg
	cfg.ListenerTokens = slices.Clone(tokens)
	a := newAccess(&cfg)
	a.linkKey = s.access.p.Load().linkKey // recording and HLS links already handed out keep working
	a.hlsSecret = s.access.p.Load().hlsSecret
	s.access.set(a)
}

// orDefault replaces a setting left zero (or negative) with its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// netOptions are the ICE settings publishers and listeners share.
func (s *Server) netOptions() proto.NetOptions {
	return proto.NetOptions{IPFilter: s.cfg.IPFilter, PublicIPs: s.cfg.PublicIPs, UDPMux: s.udpMux}
}

// UDPPort is the UDP port that carries all media (ServerConfig.UDPPort, or the one picked).
func (s *Server) UDPPort() int { return muxPort(s.udpMux) }

// ServeHTTP adds CORS so a browser page on another origin can publish, then routes; each
// request is timed for /metrics.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Patch, Accept-Post")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "86400")
		if strings.HasPrefix(r.URL.Path, "/whip/") || strings.HasPrefix(r.URL.Path, "/whep/") {
			h.Set("Accept-Post", proto.MimeSDP)
			h.Set("Accept-Patch", proto.MimeSDPFrag)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	var recs, waiting int
	for _, rec := range s.recordings() {
		open, w := rec.gauges()
		if open {
			recs++
		}
		if w {
			waiting++
		}
	}
	listeners := s.aud.listeners.len()
	return ServerStats{
		Sessions:        s.sessions.len(),
		Recordings:      recs,
		RecordingsWait:  waiting,
		SessionsTotal:   s.sessionsTotal.Load(),
		PacketsReceived: s.packets.Load(),
		PacketsLost:     s.lost.Load(),
		PacketsLate:     s.late.Load(),
		PacketsAhead:    s.ahead.Load(),
		BytesReceived:   s.bytes.Load(),
		PacketsOverrun:  s.overrun.Load(),
		RecordingsFail:  s.failed.Load(),

		RemoteCandidates:          s.remote.accepted.Load(),
		RemoteCandidatesRefused:   s.remote.refused.Load(),
		RemoteCandidatesOverLimit: s.remote.over.Load(),

		Listeners:              listeners,
		ListenersTotal:         s.aud.total.Load(),
		ListenerPacketsSent:    s.aud.sent.Load(),
		ListenerPacketsDropped: s.aud.dropped.Load(),
		ListenerBacklogSkipped: s.aud.skipped.Load(),
	}
}

// Shutdown ends every session, finalises every recording (each Sink is closed) and
// waits for the server's goroutines. New publishers are refused from the first moment.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shut = true
	sessions := s.sessions.close()
	recs := make([]*recording, 0, len(s.streams))
	for _, rec := range s.streams {
		recs = append(recs, rec)
	}
	s.mu.Unlock()

	// The work runs apart from the caller so ctx can bound the wait; if ctx expires, the
	// sinks are still closed, just after Shutdown has returned.
	done := make(chan error, 1)
	go func() {
		endAll(sessions, func(sess *session) { s.endSession(sess, endShutdown) })
		s.aud.shutdown()
		var errs []error
		for _, rec := range recs {
			if err := rec.close(); err != nil {
				errs = append(errs, fmt.Errorf("close recording %s: %w", rec.stream, err))
			}
		}
		s.wg.Wait()
		// Every PeerConnection is closed: nothing uses the shared port any more.
		if err := s.udpMux.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close udp port: %w", err))
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("rtc server shutdown: %w", ctx.Err())
	}
}

// goTracked runs f in a goroutine that Shutdown waits for; it refuses once shut down.
func (s *Server) goTracked(f func()) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return false
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
	return true
}
