package rtc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ServerConfig configures a WHIP ingest Server.
type ServerConfig struct {
	// Tokens are the publisher Bearer tokens; empty means no authentication.
	Tokens []string
	// ViewerTokens, when set, are also required (as Bearer tokens) for GET /recordings.
	// Empty leaves the recordings readable by anyone who can reach the server.
	ViewerTokens []string
	// Record opens the sink of each new recording. Required.
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
	Sessions        int    // publisher sessions now
	Recordings      int    // open recordings, including those waiting out Grace
	SessionsTotal   uint64 // sessions ever created
	PacketsReceived uint64
	PacketsLost     uint64 // never arrived (or arrived too late to place)
	PacketsLate     uint64 // duplicates and packets after their place was given up
	BytesReceived   uint64 // RTP payload bytes
	SinkErrors      uint64 // failed OpusSink.WriteOpus calls

	Listeners              int    // WHEP listeners now
	ListenersTotal         uint64 // listeners ever admitted
	ListenerPacketsSent    uint64
	ListenerPacketsDropped uint64 // dropped from full listener queues
}

// Server is a WHIP ingest endpoint that records every published stream to an OpusSink.
type Server struct {
	cfg    ServerConfig
	api    *webrtc.API
	mux    *http.ServeMux
	log    logfFunc
	tokens [][]byte
	viewer [][]byte
	aud    *audience // listeners (whep.go)

	mu       sync.Mutex
	shut     bool
	pending  int // POSTs between admission and registration
	sessions map[string]*session
	streams  map[string]*recording
	wg       sync.WaitGroup // goroutines the server started that Shutdown must wait for

	sessionsTotal atomic.Uint64
	packets       atomic.Uint64
	lost          atomic.Uint64
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

// NewServer checks cfg and builds a Server. It listens on nothing: mount it on an
// http.Server (or a mux) and call Shutdown when done.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Record == nil {
		return nil, errors.New("rtc server: Record is required")
	}
	if cfg.Grace <= 0 {
		cfg.Grace = defaultGrace
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = defaultIdle
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = defaultMaxSessions
	}
	if cfg.MaxOfferBytes <= 0 {
		cfg.MaxOfferBytes = defaultMaxOffer
	}
	api, err := newAPI(netOptions{
		ipFilter: cfg.IPFilter, publicIPs: cfg.PublicIPs, udpMin: cfg.UDPPortMin, udpMax: cfg.UDPPortMax,
	})
	if err != nil {
		return nil, fmt.Errorf("rtc server: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		api:      api,
		log:      logfFunc(cfg.Logf),
		sessions: map[string]*session{},
		streams:  map[string]*recording{},
	}
	for _, t := range cfg.Tokens {
		s.tokens = append(s.tokens, []byte(t))
	}
	for _, t := range cfg.ViewerTokens {
		s.viewer = append(s.viewer, []byte(t))
	}
	if s.aud, err = newAudience(s); err != nil {
		return nil, fmt.Errorf("rtc server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{stream}", s.handlePost)
	mux.HandleFunc("PATCH /whip/{stream}/{id}", s.handlePatch)
	mux.HandleFunc("DELETE /whip/{stream}/{id}", s.handleDelete)
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
	n, recs := len(s.sessions), len(s.streams)
	s.mu.Unlock()
	listeners := s.aud.count()
	return ServerStats{
		Sessions:        n,
		Recordings:      recs,
		SessionsTotal:   s.sessionsTotal.Load(),
		PacketsReceived: s.packets.Load(),
		PacketsLost:     s.lost.Load(),
		PacketsLate:     s.late.Load(),
		BytesReceived:   s.bytes.Load(),
		SinkErrors:      s.sinkErrors.Load(),

		Listeners:              listeners,
		ListenersTotal:         s.aud.total.Load(),
		ListenerPacketsSent:    s.aud.sent.Load(),
		ListenerPacketsDropped: s.aud.dropped.Load(),
	}
}

// Shutdown ends every session, finalises every recording (each OpusSink is closed) and
// waits for the server's goroutines. New publishers are refused from the first moment.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shut = true
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	recs := make([]*recording, 0, len(s.streams))
	for _, rec := range s.streams {
		recs = append(recs, rec)
	}
	s.mu.Unlock()

	// The work runs apart from the caller so ctx can bound the wait; if ctx expires, the
	// sinks are still closed, just after Shutdown has returned.
	done := make(chan error, 1)
	go func() {
		var wg sync.WaitGroup
		for _, sess := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.endSession(sess, endShutdown)
			}()
		}
		wg.Wait()
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

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	stream := r.PathValue("stream")
	if !s.publisherAuthorized(r) {
		unauthorized(w)
		return
	}
	if !streamName.MatchString(stream) {
		http.Error(w, "invalid stream name: use 1-64 of A-Z a-z 0-9 _ -", http.StatusBadRequest)
		return
	}
	if !hasContentType(r, mimeSDP) {
		http.Error(w, "offer must be "+mimeSDP, http.StatusUnsupportedMediaType)
		return
	}
	body, status, err := readBody(w, r, s.cfg.MaxOfferBytes)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	if err := checkOffer(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.streamBusy(stream) { // cheap early answer; newSession checks again
		http.Error(w, errStreamBusy.Error(), http.StatusConflict)
		return
	}
	if !s.admit() {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "server full or shutting down", http.StatusServiceUnavailable)
		return
	}
	sess, answer, status, err := s.newSession(r.Context(), stream, string(body))
	if err != nil {
		s.log.printf("whip: POST %s from %s: %v", stream, r.RemoteAddr, err)
		http.Error(w, err.Error(), status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mimeSDP)
	h.Set("Location", "/whip/"+stream+"/"+sess.id)
	h.Set("ETag", sess.etagValue())
	h.Set("Accept-Patch", mimeSDPFrag)
	for _, l := range linkHeaders(s.cfg.ICEServers) {
		h.Add("Link", l)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request) {
	if !s.publisherAuthorized(r) {
		unauthorized(w)
		return
	}
	sess := s.lookup(r)
	if sess == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	if !hasContentType(r, mimeSDPFrag) {
		http.Error(w, "PATCH body must be "+mimeSDPFrag, http.StatusUnsupportedMediaType)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != `"*"` && m != sess.etagValue() {
		http.Error(w, "ETag does not match the session", http.StatusPreconditionFailed)
		return
	}
	body, status, err := readBody(w, r, s.cfg.MaxOfferBytes)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	frag, err := parseSDPFrag(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	local, etag, status, err := sess.patch(r.Context(), frag)
	if err != nil {
		s.log.printf("whip: PATCH %s/%s: %v", sess.stream, sess.id, err)
		http.Error(w, err.Error(), status)
		return
	}
	writePatchAnswer(w, local, etag)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request) {
	if !s.publisherAuthorized(r) {
		unauthorized(w)
		return
	}
	sess := s.lookup(r)
	if sess == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	s.endSession(sess, endDeleted)
	w.WriteHeader(http.StatusOK)
}

func (s *Server) lookup(r *http.Request) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessions[r.PathValue("id")]
	if sess == nil || sess.stream != r.PathValue("stream") {
		return nil
	}
	return sess
}

func (s *Server) streamBusy(stream string) bool {
	s.mu.Lock()
	rec := s.streams[stream]
	s.mu.Unlock()
	if rec == nil {
		return false
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.owner != nil && rec.owner.active()
}

// admit reserves room for one more session.
func (s *Server) admit() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut || len(s.sessions)+s.pending >= s.cfg.MaxSessions {
		return false
	}
	s.pending++
	return true
}

// authorized compares the Bearer token with every configured one in constant time, so
// neither which token matched nor how much of it did leaks through timing.
func (s *Server) authorized(r *http.Request, tokens [][]byte) bool {
	if len(tokens) == 0 {
		return true
	}
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		tok = ""
	}
	tb := []byte(strings.TrimSpace(tok))
	match := 0
	for _, t := range tokens {
		match |= subtle.ConstantTimeCompare(tb, t)
	}
	return match == 1 && len(tb) > 0
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
	http.Error(w, "missing or wrong Bearer token", http.StatusUnauthorized)
}

func hasContentType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, want)
}

// readBody reads at most limit bytes; the status says how to answer a failure.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body larger than %d bytes", limit)
		}
		return nil, http.StatusBadRequest, fmt.Errorf("read body: %w", err)
	}
	return b, 0, nil
}

// checkOffer refuses what Pion might accept but we cannot record: an offer must parse and
// must send Opus audio.
func checkOffer(body []byte) error {
	return checkOpusOffer(body, "recvonly",
		"offer has no Opus audio to send (need an audio m-line with opus/48000/2, sendonly or sendrecv)")
}

// checkOpusOffer: the offer parses and has an audio m-line with Opus that does not flow
// only the wrong way (wrongWay is the direction attribute that rules a line out).
func checkOpusOffer(body []byte, wrongWay, none string) error {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return fmt.Errorf("malformed SDP offer: %w", err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		if _, ok := m.Attribute(wrongWay); ok {
			continue
		}
		if _, ok := m.Attribute("inactive"); ok {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, _ := strings.Cut(a.Value, " ")
			if strings.HasPrefix(strings.ToLower(enc), "opus/48000") {
				return nil
			}
		}
	}
	return errors.New(none)
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.Quote(hex.EncodeToString(b[:]))
}

// writePatchAnswer answers a WHIP or WHEP PATCH: 204 for trickled candidates, or 200 with the
// new local sdpfrag and its ETag after an ICE restart.
func writePatchAnswer(w http.ResponseWriter, local []byte, etag string) {
	if local == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", mimeSDPFrag)
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(local)
}
