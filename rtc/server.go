package rtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// ServerConfig configures a WHIP ingest Server.
type ServerConfig struct {
	// Tokens are the publisher Bearer tokens; empty means no authentication.
	Tokens []string
	// ViewerTokens, when set, are also required (as Bearer tokens) for GET /recordings.
	// Empty leaves the recordings readable by anyone who can reach the server.
	ViewerTokens []string
	// Record opens the Recorder of each new recording. Required.
	Record RecorderFunc
	// Grace is how long a recording whose publisher vanished (without DELETE) stays open
	// for that publisher to return to the same stream. Default 5 min.
	Grace time.Duration
	// IdleTimeout: a session that receives no packet for this long is treated as gone.
	// Default 10 s.
	IdleTimeout time.Duration
	// MaxSessions bounds concurrent publisher sessions; beyond it POST answers 503. Default 200.
	MaxSessions int
	// MaxOfferBytes bounds an offer or PATCH body; beyond it the answer is 413. Default 64 KiB.
	MaxOfferBytes int64
	// RecordingsDir is listed by GET /recordings; empty disables those routes (404).
	RecordingsDir string

	// ICEServers are announced to publishers in Link headers (RFC 9725 §4.6); the server
	// itself gathers host candidates only.
	ICEServers []webrtc.ICEServer
	// PublicIPs replace the host candidate addresses (server behind 1:1 NAT or in a container).
	PublicIPs []string
	// UDPPortMin and UDPPortMax restrict ICE to a UDP port range (both 0: any port).
	UDPPortMin, UDPPortMax uint16
	// IPFilter restricts which local addresses ICE uses (LoopbackOnly in tests).
	IPFilter func(net.IP) bool

	// ListenerTokens are the Bearer tokens of listeners (WHEP, GET /streams). They never
	// publish, and a publisher token does not listen unless it is in both lists.
	ListenerTokens []string
	// PublicListen lets anyone listen without a token. With neither this nor
	// ListenerTokens, nobody can listen.
	PublicListen bool
	// MaxListeners bounds concurrent listeners (all streams); beyond it POST answers 503.
	// Default 1000.
	MaxListeners int
	// ListenerTimeout: a listener whose connection is down (ICE disconnected, or never
	// connected after signalling) for this long is removed. Default 10 s.
	ListenerTimeout time.Duration
	// ListenerQueue is each listener's queue in packets; when full the oldest is dropped and
	// counted. Default 32 (640 ms).
	ListenerQueue int

	// ExtraMetrics appends Prometheus text lines to GET /metrics.
	ExtraMetrics func(w io.Writer)
	// Logf logs session events; default log.Printf.
	Logf func(format string, args ...any)
}

// ServerStats is a snapshot of the server's counters.
type ServerStats struct {
	Sessions        int    `metric:"podium_sessions gauge" help:"Publisher sessions connected now."`
	Recordings      int    `metric:"podium_recordings gauge" help:"Recordings open now, including those waiting for their publisher to return."`
	SessionsTotal   uint64 `metric:"podium_sessions_total counter" help:"Publisher sessions created."`
	PacketsReceived uint64 `metric:"podium_packets_received_total counter" help:"RTP packets received."`
	PacketsLost     uint64 `metric:"podium_packets_lost_total counter" help:"RTP packets that never arrived in time to be recorded."`
	PacketsLate     uint64 `metric:"podium_packets_late_total counter" help:"RTP packets dropped as duplicates or too late."`
	PacketsAhead    uint64 `metric:"podium_packets_ahead_total counter" help:"RTP packets dropped because they would have put a recording ahead of the wall clock."`
	BytesReceived   uint64 `metric:"podium_bytes_received_total counter" help:"RTP payload bytes received."`
	SinkErrors      uint64 `metric:"podium_sink_errors_total counter" help:"Failed writes to a recording."`

	Listeners              int    `metric:"podium_listeners gauge" help:"WHEP listeners connected now."`
	ListenersTotal         uint64 `metric:"podium_listeners_total counter" help:"WHEP listeners admitted."`
	ListenerPacketsSent    uint64 `metric:"podium_listener_packets_sent_total counter" help:"RTP packets sent to listeners."`
	ListenerPacketsDropped uint64 `metric:"podium_listener_packets_dropped_total counter" help:"RTP packets dropped from full listener queues."`
}

// Server is a WHIP ingest endpoint that records every published stream to a Recorder.
type Server struct {
	cfg      ServerConfig
	mux      *http.ServeMux
	log      logfFunc
	access   liveAccess
	pub      *endpoint // publishers (session.go)
	sessions *registry[*session]
	aud      *audience // listeners (whep.go)

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
	sinkErrors    atomic.Uint64
}

const (
	defaultGrace       = 5 * time.Minute
	defaultIdle        = 10 * time.Second
	defaultMaxSessions = 200
	defaultMaxOffer    = 64 << 10
	signalTimeout      = 10 * time.Second // ICE gathering for one answer
	reorderWait        = 150 * time.Millisecond

	mimeSDP     = "application/sdp"
	mimeSDPFrag = "application/trickle-ice-sdpfrag"
)

var streamName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// CheckStreamName is the one rule for a stream's name: 1 to 64 of A-Z a-z 0-9 _ -, so it
// is safe in a URL path and in a file name as it is.
func CheckStreamName(name string) error {
	if !streamName.MatchString(name) {
		return fmt.Errorf("stream name %q: use 1 to 64 letters, digits, - or _", name)
	}
	return nil
}

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
	api, err := newAPI(cfg.netOptions())
	if err != nil {
		return nil, fmt.Errorf("rtc server: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      logfFunc(cfg.Logf),
		sessions: newRegistry[*session](cfg.MaxSessions),
		streams:  map[string]*recording{},
	}
	s.access.set(newAccess(&cfg))
	if s.aud, err = newAudience(s); err != nil {
		return nil, fmt.Errorf("rtc server: %w", err)
	}
	mux := http.NewServeMux()
	s.pub = &endpoint{
		name: "whip", noun: "session", act: actPublish, api: api, log: s.log,
		checkOffer: checkPublishOffer,
		busy:       s.streamBusy,
		open:       s.newSession,
		resources:  s.sessions,
		full:       "server full or shutting down",
	}
	s.route(mux, s.pub)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /metrics", s.handleMetrics)
	mux.HandleFunc("GET /recordings", s.handleRecordings)
	mux.HandleFunc("GET /recordings/{name}", s.handleRecording)
	s.routeWHEP(mux)
	s.mux = mux
	return s, nil
}

// liveAccess is the server's access, which SetListenerTokens may replace while it runs.
type liveAccess struct{ p atomic.Pointer[access] }

func (l *liveAccess) set(a access) { l.p.Store(&a) }

func (l *liveAccess) allows(r *http.Request, act action) bool { return l.p.Load().allows(r, act) }

// SetListenerTokens replaces the listener tokens: from now on a request with one of the old
// tokens is refused (401), while listeners already connected with it stay until they leave.
func (s *Server) SetListenerTokens(tokens []string) {
	cfg := s.cfg
	cfg.ListenerTokens = slices.Clone(tokens)
	s.access.set(newAccess(&cfg))
}

// orDefault replaces a setting left zero (or negative) with its default.
func orDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// netOptions are the ICE settings publishers and listeners share.
func (cfg *ServerConfig) netOptions() netOptions {
	return netOptions{ipFilter: cfg.IPFilter, publicIPs: cfg.PublicIPs, udpMin: cfg.UDPPortMin, udpMax: cfg.UDPPortMax}
}

// ServeHTTP adds CORS so a browser page on another origin can publish, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "Location, Link, ETag, Accept-Patch, Accept-Post")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "OPTIONS, GET, POST, PATCH, DELETE")
		h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match")
		h.Set("Access-Control-Max-Age", "86400")
		if strings.HasPrefix(r.URL.Path, "/whip/") || strings.HasPrefix(r.URL.Path, "/whep/") {
			h.Set("Accept-Post", mimeSDP)
			h.Set("Accept-Patch", mimeSDPFrag)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() ServerStats {
	s.mu.Lock()
	recs := len(s.streams)
	s.mu.Unlock()
	listeners := s.aud.listeners.len()
	return ServerStats{
		Sessions:        s.sessions.len(),
		Recordings:      recs,
		SessionsTotal:   s.sessionsTotal.Load(),
		PacketsReceived: s.packets.Load(),
		PacketsLost:     s.lost.Load(),
		PacketsLate:     s.late.Load(),
		PacketsAhead:    s.ahead.Load(),
		BytesReceived:   s.bytes.Load(),
		SinkErrors:      s.sinkErrors.Load(),

		Listeners:              listeners,
		ListenersTotal:         s.aud.total.Load(),
		ListenerPacketsSent:    s.aud.sent.Load(),
		ListenerPacketsDropped: s.aud.dropped.Load(),
	}
}

// Shutdown ends every session, finalises every recording (each Recorder is closed) and
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
