package rtc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Listeners: WHEP (the playback twin of WHIP) per stream.
//
// The publisher's reader goroutine hands every received Opus packet, before the reorder
// buffer, to its stream's channel: the channel rewrites the RTP header once (its own sequence
// numbers and timestamps, continuous across presenter reconnects) and puts one shared,
// immutable packet on every listener's bounded queue without ever blocking. Each listener has
// its own writer goroutine, track and PeerConnection, so a listener whose socket or CPU
// share is slow only loses its own (oldest) packets, counted, and the presenter, the
// recording and the other listeners never wait for it.

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
}

// outPkt is one packet as every listener of a stream receives it. Shared: never modified.
type outPkt struct {
	hdr     rtp.Header
	payload []byte
}

// audience holds every listener of the server.
type audience struct {
	s       *Server
	api     *webrtc.API
	tokens  [][]byte
	timeout time.Duration
	queue   int
	max     int

	channels sync.Map // stream -> *channel; read lock-free by publishers, written under mu

	mu        sync.Mutex
	listeners map[string]*listener
	pending   int
	closed    bool
	wg        sync.WaitGroup

	total   atomic.Uint64
	sent    atomic.Uint64
	dropped atomic.Uint64

	// writeHook, when set (tests), runs before each packet a listener writes; it may block
	// until done is closed, as a writer stuck in a full socket would.
	writeHook func(id string, done <-chan struct{})
}

// channel is one stream's fan-out: its listeners and the header rewriting.
type channel struct {
	stream string
	subs   atomic.Pointer[[]*listener] // copy-on-write under audience.mu
	n      int                         // listeners, under audience.mu

	mu      sync.Mutex // the rewriting state below
	src     *session
	ssrc    uint32
	started bool
	seqOff  uint16
	tsOff   uint32
	lastSeq uint16 // newest sequence number sent
	lastTS  uint32
	lastAt  time.Time
}

// listener is one WHEP session.
type listener struct {
	a      *audience
	id     string
	stream string
	ch     *channel
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticRTP
	sig    *session // signalling state (offer, ufrag, ETag) for PATCH, shared with WHIP's code

	q         chan *outPkt
	done      chan struct{}
	connected atomic.Bool
	sent      atomic.Uint64
	dropped   atomic.Uint64

	mu    sync.Mutex
	watch *time.Timer // not connected in time, or disconnected too long: end

	endOnce sync.Once
	wg      sync.WaitGroup
}

func newAudience(s *Server) (*audience, error) {
	cfg := &s.cfg
	if cfg.ListenerTimeout <= 0 {
		cfg.ListenerTimeout = defaultListenerTimeout
	}
	if cfg.MaxListeners <= 0 {
		cfg.MaxListeners = defaultMaxListeners
	}
	if cfg.ListenerQueue <= 0 {
		cfg.ListenerQueue = defaultListenerQueue
	}
	// ICE says "disconnected" after this long without a word from the listener (our
	// keepalives draw answers, so a live one always speaks), "failed" when the timeout is up.
	disc := min(max(cfg.ListenerTimeout/2, 200*time.Millisecond), 5*time.Second)
	api, err := newAPI(netOptions{
		ipFilter: cfg.IPFilter, publicIPs: cfg.PublicIPs, udpMin: cfg.UDPPortMin, udpMax: cfg.UDPPortMax,
		disconnected: disc, failed: disc + cfg.ListenerTimeout, keepalive: disc / 3,
		nackHistory: listenerNACKHistory,
	})
	if err != nil {
		return nil, err
	}
	a := &audience{s: s, api: api, timeout: cfg.ListenerTimeout, queue: cfg.ListenerQueue,
		max: cfg.MaxListeners, listeners: map[string]*listener{}}
	for _, t := range cfg.ListenerTokens {
		a.tokens = append(a.tokens, []byte(t))
	}
	return a, nil
}

func (s *Server) routeWHEP(mux *http.ServeMux) {
	mux.HandleFunc("POST /whep/{stream}", s.handleWHEPPost)
	mux.HandleFunc("PATCH /whep/{stream}/{id}", s.handleWHEPPatch)
	mux.HandleFunc("DELETE /whep/{stream}/{id}", s.handleWHEPDelete)
	mux.HandleFunc("GET /streams", s.handleStreams)
	mux.HandleFunc("GET /streams/{stream}", s.handleStreams)
	mux.HandleFunc("GET /listen/{stream}", s.handleListenPage)
}

// ---- access ----

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// matchToken compares tok with every token in constant time.
func matchToken(tok string, tokens [][]byte) bool {
	tb := []byte(tok)
	match := 0
	for _, t := range tokens {
		match |= subtle.ConstantTimeCompare(tb, t)
	}
	return match == 1 && len(tb) > 0
}

// listenerAuthorized: a listener token, or any request when the operator made listening
// public. No listener tokens and not public means nobody listens. A publisher token is
// not a listener token unless the operator put the same string in both lists.
func (s *Server) listenerAuthorized(r *http.Request) bool {
	return s.cfg.PublicListen || matchToken(bearer(r), s.aud.tokens)
}

// publisherAuthorized is the WHIP check. With publishing open to anyone (no publisher
// tokens), a request that presents a listener token is still refused: a listener never
// publishes.
func (s *Server) publisherAuthorized(r *http.Request) bool {
	if !s.authorized(r, s.tokens) {
		return false
	}
	if len(s.tokens) == 0 && matchToken(bearer(r), s.aud.tokens) {
		return false
	}
	return true
}

// viewerAuthorized guards GET /recordings: open when no viewer tokens are set; otherwise a
// viewer or a listener token, as a Bearer header or a token query parameter (an <audio>
// element or a download link cannot send headers).
func (s *Server) viewerAuthorized(r *http.Request) bool {
	if len(s.viewer) == 0 {
		return true
	}
	tok := bearer(r)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	return matchToken(tok, s.viewer) || matchToken(tok, s.aud.tokens)
}

// ---- HTTP ----

func (s *Server) handleWHEPPost(w http.ResponseWriter, r *http.Request) {
	a := s.aud
	stream := r.PathValue("stream")
	if !s.listenerAuthorized(r) {
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
	if err := checkWHEPOffer(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if !a.admit() {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "too many listeners or shutting down", http.StatusServiceUnavailable)
		return
	}
	l, answer, status, err := a.newListener(r.Context(), stream, string(body))
	if err != nil {
		s.log.printf("whep: POST %s from %s: %v", stream, r.RemoteAddr, err)
		http.Error(w, err.Error(), status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", mimeSDP)
	h.Set("Location", "/whep/"+stream+"/"+l.id)
	h.Set("ETag", l.sig.etagValue())
	h.Set("Accept-Patch", mimeSDPFrag)
	for _, lh := range linkHeaders(s.cfg.ICEServers) {
		h.Add("Link", lh)
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (s *Server) lookupListener(r *http.Request) *listener {
	a := s.aud
	a.mu.Lock()
	defer a.mu.Unlock()
	l := a.listeners[r.PathValue("id")]
	if l == nil || l.stream != r.PathValue("stream") {
		return nil
	}
	return l
}

func (s *Server) handleWHEPPatch(w http.ResponseWriter, r *http.Request) {
	if !s.listenerAuthorized(r) {
		unauthorized(w)
		return
	}
	l := s.lookupListener(r)
	if l == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	if !hasContentType(r, mimeSDPFrag) {
		http.Error(w, "PATCH body must be "+mimeSDPFrag, http.StatusUnsupportedMediaType)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != `"*"` && m != l.sig.etagValue() {
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
	local, etag, status, err := l.sig.patch(r.Context(), frag)
	if err != nil {
		s.log.printf("whep: PATCH %s/%s: %v", l.stream, l.id, err)
		http.Error(w, err.Error(), status)
		return
	}
	writePatchAnswer(w, local, etag)
}

func (s *Server) handleWHEPDelete(w http.ResponseWriter, r *http.Request) {
	if !s.listenerAuthorized(r) {
		unauthorized(w)
		return
	}
	l := s.lookupListener(r)
	if l == nil {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	l.end("deleted")
	w.WriteHeader(http.StatusOK)
}

// checkWHEPOffer: an offer must parse and must be able to receive Opus audio.
func checkWHEPOffer(body []byte) error {
	return checkOpusOffer(body, "sendonly",
		"offer has no audio to receive Opus on (need an audio m-line with opus/48000/2, recvonly or sendrecv)")
}

// ---- listeners ----

func (a *audience) admit() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed || len(a.listeners)+a.pending >= a.max {
		return false
	}
	a.pending++
	return true
}

// spawn runs f in a goroutine that shutdown waits for; it refuses once shut down (shutdown
// then ends the listener itself).
func (a *audience) spawn(f func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		f()
	}()
}

// newListener answers a WHEP offer and subscribes the listener to its stream's channel.
func (a *audience) newListener(ctx context.Context, stream, offer string) (*listener, string, int, error) {
	registered := false
	defer func() {
		if !registered {
			a.mu.Lock()
			a.pending--
			a.mu.Unlock()
		}
	}()
	pc, err := a.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, "", http.StatusInternalServerError, fmt.Errorf("new peer connection: %w", err)
	}
	fail := func(status int, err error) (*listener, string, int, error) {
		_ = pc.GracefulClose()
		return nil, "", status, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(opusCodec.RTPCodecCapability, "audio", "podium")
	if err != nil {
		return fail(http.StatusInternalServerError, err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		return fail(http.StatusInternalServerError, err)
	}
	id := newID()
	l := &listener{
		a: a, id: id, stream: stream, pc: pc, track: track,
		sig:  &session{srv: a.s, id: id, stream: stream, pc: pc, offer: offer, etag: newETag()},
		q:    make(chan *outPkt, a.queue),
		done: make(chan struct{}),
	}
	if f, err := fragFromSDP(offer); err == nil {
		l.sig.remoteUfrag = f.Ufrag
	}
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) { l.state(st) })
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return fail(http.StatusBadRequest, fmt.Errorf("offer refused: %w", err))
	}
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return fail(http.StatusBadRequest, fmt.Errorf("cannot answer offer: %w", err))
	}
	if !strings.Contains(answer.SDP, "a=sendonly") && !strings.Contains(answer.SDP, "a=sendrecv") {
		return fail(http.StatusBadRequest, errors.New("offer leaves no audio to send"))
	}
	gctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	ld, err := gatherLocal(gctx, pc, answer)
	if err != nil {
		return fail(http.StatusInternalServerError, err)
	}

	a.mu.Lock()
	if a.closed {
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
	ch.n++
	subs := []*listener{l}
	if old := ch.subs.Load(); old != nil {
		subs = append(append(make([]*listener, 0, len(*old)+1), *old...), l)
	}
	ch.subs.Store(&subs)
	a.listeners[id] = l
	a.pending--
	registered = true
	l.wg.Add(2)
	a.mu.Unlock()
	a.total.Add(1)

	go l.write()
	go func() { // RTCP must be read for NACK repair and receiver reports to work
		defer l.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := sender.Read(buf); err != nil {
				return
			}
		}
	}()
	l.mu.Lock()
	if !l.connected.Load() {
		l.watch = time.AfterFunc(signalTimeout+a.timeout, func() { l.expire("never connected") })
	}
	l.mu.Unlock()
	a.s.log.printf("whep: %s: listener %s joined", stream, id)
	return l, ld.SDP, 0, nil
}

// state follows the PeerConnection: a listener that fails or closes goes at once; one that
// is disconnected goes if it has not come back within the timeout.
func (l *listener) state(st webrtc.PeerConnectionState) {
	switch st {
	case webrtc.PeerConnectionStateConnected:
		l.connected.Store(true)
		l.mu.Lock()
		if l.watch != nil {
			l.watch.Stop()
		}
		l.mu.Unlock()
	case webrtc.PeerConnectionStateDisconnected:
		l.mu.Lock()
		if l.watch != nil {
			l.watch.Stop()
		}
		l.watch = time.AfterFunc(l.a.timeout, func() { l.expire("disconnected") })
		l.mu.Unlock()
	case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
		// Never close a PeerConnection from its own callback.
		l.a.spawn(func() { l.end(st.String()) })
	}
}

func (l *listener) expire(why string) {
	if l.pc.ConnectionState() == webrtc.PeerConnectionStateConnected {
		return
	}
	l.a.spawn(func() { l.end(why) })
}

// end removes the listener and closes its PeerConnection; it waits for its goroutines.
func (l *listener) end(why string) {
	l.endOnce.Do(func() {
		a := l.a
		a.mu.Lock()
		delete(a.listeners, l.id)
		if ch := l.ch; ch != nil {
			ch.n--
			old := *ch.subs.Load()
			subs := make([]*listener, 0, len(old))
			for _, o := range old {
				if o != l {
					subs = append(subs, o)
				}
			}
			ch.subs.Store(&subs)
			if ch.n == 0 {
				a.channels.CompareAndDelete(l.stream, ch)
			}
		}
		a.mu.Unlock()
		close(l.done)
		l.mu.Lock()
		if l.watch != nil {
			l.watch.Stop()
		}
		l.mu.Unlock()
		if err := l.pc.GracefulClose(); err != nil {
			a.s.log.printf("whep: %s: close listener %s: %v", l.stream, l.id, err)
		}
		l.wg.Wait()
		a.s.log.printf("whep: %s: listener %s left (%s; %d packets sent, %d dropped)",
			l.stream, l.id, why, l.sent.Load(), l.dropped.Load())
	})
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

// write sends queued packets on the listener's own track. Before ICE and DTLS are up there
// is nowhere to send: those packets are skipped, so the listener starts at the live edge.
func (l *listener) write() {
	defer l.wg.Done()
	hook := l.a.writeHook
	for {
		var p *outPkt
		select {
		case <-l.done:
			return
		case p = <-l.q:
		}
		if hook != nil {
			hook(l.id, l.done)
		}
		if !l.connected.Load() {
			continue
		}
		pkt := rtp.Packet{Header: p.hdr, Payload: p.payload}
		if err := l.track.WriteRTP(&pkt); err != nil {
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
	p := ch.rewrite(sess, pkt, now)
	for _, l := range *subs {
		l.enqueue(p)
	}
}

// owns says whether sess is its stream's publisher now (during a takeover the old session
// may still deliver a packet or two; listeners hear only the new one).
func (sess *session) owns() bool {
	rec := sess.rec.Load()
	if rec == nil {
		return false
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.owner == sess
}

// rewrite maps a publisher packet onto the channel's own RTP numbering. Within one source
// (session and SSRC) offsets are fixed, so loss and reordering stay visible to the
// listeners' jitter buffers. A new source (the presenter reconnected, or the browser
// restarted its track) continues the sequence and places its first timestamp by the wall
// clock time since the last packet, so listeners see one continuous stream with a gap.
func (ch *channel) rewrite(sess *session, pkt *rtp.Packet, now time.Time) *outPkt {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	marker := pkt.Marker
	if !ch.started || ch.src != sess || ch.ssrc != pkt.SSRC {
		var seq uint16
		var ts uint32
		if ch.started {
			seq = ch.lastSeq + 1
			ts = ch.lastTS + uint32(max(samplesIn(now.Sub(ch.lastAt)), 960))
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

// shutdown ends every listener and refuses new ones.
func (a *audience) shutdown() {
	a.mu.Lock()
	a.closed = true
	all := make([]*listener, 0, len(a.listeners))
	for _, l := range a.listeners {
		all = append(all, l)
	}
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.end("shutdown")
		}()
	}
	wg.Wait()
	a.wg.Wait()
}

func (a *audience) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.listeners)
}

// listenerCounts is the number of listeners per stream.
func (a *audience) listenerCounts() (map[string]int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for _, l := range a.listeners {
		out[l.stream]++
	}
	return out, len(a.listeners)
}

// Listeners is the number of listeners of stream now.
func (s *Server) Listeners(stream string) int {
	v, ok := s.aud.channels.Load(stream)
	if !ok {
		return 0
	}
	s.aud.mu.Lock()
	defer s.aud.mu.Unlock()
	return v.(*channel).n
}

// Streams lists the streams that have a presenter, a recording waiting for one, or listeners.
func (s *Server) Streams() []StreamInfo {
	counts, _ := s.aud.listenerCounts()
	byName := map[string]*StreamInfo{}
	s.mu.Lock()
	for name, rec := range s.streams {
		rec.mu.Lock()
		info := &StreamInfo{Stream: name, Live: rec.owner != nil && !rec.closed}
		if !rec.closed {
			start := rec.start.UTC()
			info.Started = &start
		}
		rec.mu.Unlock()
		byName[name] = info
	}
	s.mu.Unlock()
	for name, n := range counts {
		if byName[name] == nil {
			byName[name] = &StreamInfo{Stream: name}
		}
		byName[name].Listeners = n
	}
	out := make([]StreamInfo, 0, len(byName))
	for _, info := range byName {
		out = append(out, *info)
	}
	sortStreams(out)
	return out
}
