package rtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// ClientConfig configures a WHIPClient.
type ClientConfig struct {
	URL        string             // WHIP endpoint, http or https
	Token      string             // Bearer token, may be empty
	HTTPClient *http.Client       // optional
	ICEServers []webrtc.ICEServer // optional; Link headers from the server add to these
	// OnState is called on every status change (from Start, Close or the client's goroutine,
	// never two at a time); it must not block. Before Start the state is Stopped.
	OnState func(Status)
	Logf    func(format string, args ...any) // optional; default log.Printf

	MinBackoff time.Duration // first retry delay; default 500 ms
	MaxBackoff time.Duration // retry delay cap; default 30 s
	// DisconnectTimeout is how long ICE may stay disconnected (recovering by itself) before
	// the client restarts it. Default 5 s.
	DisconnectTimeout time.Duration
	// ConnectTimeout bounds one connection attempt, from POST to media flowing. Default 15 s.
	ConnectTimeout time.Duration
	// IPFilter restricts which local addresses ICE uses (LoopbackOnly in tests).
	IPFilter func(net.IP) bool

	net transport.Net // tests: a network that can be cut
}

// State is where a WHIPClient is in its life.
type State int

// The states of a WHIPClient.
const (
	Connecting   State = iota // signalling or ICE/DTLS in progress
	Live                      // media flows
	Reconnecting              // connection lost or refused for now; retrying
	Stopped                   // Close was called (or Start was not)
	Failed                    // the server refused for good (token, endpoint, offer)
)

func (s State) String() string {
	switch s {
	case Connecting:
		return "connecting"
	case Live:
		return "live"
	case Reconnecting:
		return "reconnecting"
	case Stopped:
		return "stopped"
	case Failed:
		return "failed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// Status is a WHIPClient's state with what a UI needs to explain it.
type Status struct {
	State   State
	Attempt int           // retries since the connection was last up
	NextTry time.Duration // delay before the next attempt, while Reconnecting
	Err     error         // why the client is not Live, if known
}

// ClientStats counts what a WHIPClient did with the packets it was given.
type ClientStats struct {
	PacketsSent, PacketsDropped uint64
	Reconnects                  int
	TimeLive                    time.Duration
}

// Errors Start (and Status.Err) wrap for refusals that retrying cannot fix.
var (
	ErrTokenRefused = errors.New("token refused by the server")
	ErrNoEndpoint   = errors.New("no WHIP endpoint")
)

// WHIPClient publishes one Opus stream to a WHIP endpoint and keeps it published: it
// restarts ICE or reconnects by itself, while WriteOpus never waits for the network.
type WHIPClient struct {
	cfg     ClientConfig
	url     *url.URL
	http    *http.Client
	ownHTTP *http.Transport // ours to close when cfg.HTTPClient is nil
	api     *webrtc.API
	log     logfFunc

	ctx    context.Context // the client's lifetime; Close cancels it
	cancel context.CancelFunc
	queue  chan outPacket
	force  chan struct{} // tests: ask the loop for an ICE restart
	// testLoss, set by tests before Start, drops packets after numbering them.
	testLoss func(seq uint16) bool

	live atomic.Bool
	// firstLive is closed the first time media flows. Until then packets wait in the queue
	// instead of being dropped, so the recording's first frames reach the server even
	// though Start returns before ICE and DTLS are done.
	firstLive     chan struct{}
	firstLiveOnce sync.Once
	track         atomic.Pointer[webrtc.TrackLocalStaticRTP]
	sent          atomic.Uint64
	dropped       atomic.Uint64

	mu          sync.Mutex
	status      Status
	started     bool
	closed      bool
	reconnects  int
	liveSince   time.Time
	liveTotal   time.Duration
	linkServers []webrtc.ICEServer
	conn        *conn
	loopDone    chan struct{}
	sendDone    chan struct{}
}

type outPacket struct {
	pos     int64
	samples int
	payload []byte
}

// conn is one PeerConnection and the WHIP session resource it was created with.
type conn struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	resource string // absolute URL of the session
	etag     string
	answer   string // last full remote description, patched on ICE restart
	kick     chan struct{}
	rtcpDone chan struct{}
}

func (cn *conn) poke() {
	select {
	case cn.kick <- struct{}{}:
	default:
	}
}

// sendQueue holds about a second of 20 ms packets between WriteOpus and the network.
const sendQueue = 64

// NewWHIPClient checks cfg; nothing is sent before Start.
func NewWHIPClient(cfg ClientConfig) (*WHIPClient, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("whip url %q: %w", cfg.URL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("whip url %q: want an http:// or https:// URL with a host", cfg.URL)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 500 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 30 * time.Second
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.MinBackoff)
	if cfg.DisconnectTimeout <= 0 {
		cfg.DisconnectTimeout = 5 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 15 * time.Second
	}
	// Pion reports "disconnected" after this long without ICE traffic; we then give it
	// DisconnectTimeout to recover before acting, and act before Pion gives up ("failed").
	disc := min(max(cfg.DisconnectTimeout, time.Second), 3*time.Second)
	api, err := newAPI(netOptions{
		ipFilter:     cfg.IPFilter,
		disconnected: disc,
		failed:       disc + cfg.DisconnectTimeout + 5*time.Second,
		keepalive:    disc / 3,
		net:          cfg.net,
	})
	if err != nil {
		return nil, fmt.Errorf("whip client: %w", err)
	}
	c := &WHIPClient{
		cfg:       cfg,
		url:       u,
		http:      cfg.HTTPClient,
		api:       api,
		log:       logfFunc(cfg.Logf),
		queue:     make(chan outPacket, sendQueue),
		force:     make(chan struct{}, 1),
		status:    Status{State: Stopped},
		loopDone:  make(chan struct{}),
		sendDone:  make(chan struct{}),
		firstLive: make(chan struct{}),
	}
	if c.http == nil {
		c.ownHTTP = http.DefaultTransport.(*http.Transport).Clone()
		c.http = &http.Client{Transport: c.ownHTTP}
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start makes the first connection attempt and returns its outcome: an error for a refusal
// that retrying cannot fix (bad token, no endpoint, offer refused). A network error or a
// server error is not fatal: Start returns nil and the client keeps trying in the background
// (state Reconnecting), because the recording goes on either way. Like net.Dialer.DialContext,
// ctx bounds this first attempt only; the client runs until Close.
func (c *WHIPClient) Start(ctx context.Context) error {
	c.mu.Lock()
	if c.started || c.closed {
		c.mu.Unlock()
		return errors.New("whip client: already started or closed")
	}
	c.started = true
	c.mu.Unlock()
	go c.send()

	c.setStatus(Status{State: Connecting, Attempt: 1})
	cn, err := c.dial(ctx)
	if err != nil {
		if ctx.Err() != nil || isPermanent(err) {
			c.setStatus(Status{State: Failed, Attempt: 1, Err: err})
			c.cancel()
			close(c.loopDone)
			return err
		}
		c.log.printf("whip: %v; will retry", err)
		d := c.backoff(1, err)
		c.setStatus(Status{State: Reconnecting, Attempt: 1, NextTry: d, Err: err})
		go c.run(nil, 1, err, d)
		return nil
	}
	c.setConn(cn)
	c.setStatus(Status{State: Connecting})
	go c.run(cn, 0, nil, 0)
	return nil
}

// WriteOpus queues one Opus packet whose first sample is at pos (48 kHz samples from the
// start of the capture). It never blocks: while the client is not live, or the queue is
// full, the packet is dropped and counted. The RTP timestamp is a fixed base plus pos, so
// a gap in capture stays a gap in RTP time.
func (c *WHIPClient) WriteOpus(pos int64, payload []byte, samples int) {
	if !c.live.Load() && c.wasLive() {
		c.dropped.Add(1)
		return
	}
	select {
	case c.queue <- outPacket{pos: pos, samples: samples, payload: bytes.Clone(payload)}:
	default:
		c.dropped.Add(1)
	}
}

// Status returns the current state.
func (c *WHIPClient) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Stats returns the counters.
func (c *WHIPClient) Stats() ClientStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.liveTotal
	if !c.liveSince.IsZero() {
		live += time.Since(c.liveSince)
	}
	return ClientStats{
		PacketsSent:    c.sent.Load(),
		PacketsDropped: c.dropped.Load(),
		Reconnects:     c.reconnects,
		TimeLive:       live,
	}
}

// Close stops publishing: it DELETEs the session (a failure is logged, not returned: the
// server ends the session by itself), closes the PeerConnection and waits for the client's
// goroutines.
func (c *WHIPClient) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	started := c.started
	c.mu.Unlock()

	c.cancel()
	if started {
		<-c.loopDone
		<-c.sendDone
	}
	c.setLive(false)
	c.mu.Lock()
	cn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if cn != nil {
		c.deleteResource(cn.resource)
		c.closeConn(cn)
	}
	if c.ownHTTP != nil {
		c.ownHTTP.CloseIdleConnections()
	}
	c.setStatus(Status{State: Stopped})
	return nil
}

func (c *WHIPClient) setStatus(st Status) {
	c.mu.Lock()
	c.status = st
	cb := c.cfg.OnState
	c.mu.Unlock()
	if cb != nil {
		cb(st)
	}
}

func (c *WHIPClient) setConn(cn *conn) {
	c.mu.Lock()
	c.conn = cn
	c.mu.Unlock()
}

func (c *WHIPClient) setLive(live bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case live && c.liveSince.IsZero():
		c.liveSince = time.Now()
	case !live && !c.liveSince.IsZero():
		c.liveTotal += time.Since(c.liveSince)
		c.liveSince = time.Time{}
	}
	c.live.Store(live)
	if live {
		c.firstLiveOnce.Do(func() { close(c.firstLive) })
	}
}

func (c *WHIPClient) wasLive() bool {
	select {
	case <-c.firstLive:
		return true
	default:
		return false
	}
}

// send moves queued packets to the current track. Sequence numbers and the timestamp base
// live here, not in the connection, so they continue across reconnects.
func (c *WHIPClient) send() {
	defer close(c.sendDone)
	seq := uint16(rand.Uint32())
	base := rand.Uint32()
	var (
		lastTrack *webrtc.TrackLocalStaticRTP
		nextPos   int64 = -1
	)
	for {
		var p outPacket
		select {
		case <-c.ctx.Done():
			return
		case p = <-c.queue:
		}
		if !c.wasLive() {
			select {
			case <-c.ctx.Done():
				return
			case <-c.firstLive:
			}
		}
		tr := c.track.Load()
		if tr == nil || !c.live.Load() {
			c.dropped.Add(1)
			continue
		}
		pkt := rtp.Packet{
			Header: rtp.Header{
				Version: 2,
				// Marker flags the first packet after a gap (RFC 3551 §4.1 "talkspurt").
				Marker:         tr != lastTrack || p.pos != nextPos,
				SequenceNumber: seq,
				Timestamp:      base + uint32(p.pos),
			},
			Payload: p.payload,
		}
		seq++
		lastTrack, nextPos = tr, p.pos+int64(p.samples)
		if c.testLoss != nil && c.testLoss(pkt.SequenceNumber) {
			continue // the network "lost" it
		}
		if err := tr.WriteRTP(&pkt); err != nil {
			c.dropped.Add(1)
			continue
		}
		c.sent.Add(1)
	}
}

// run keeps the stream published until Close: it watches the connection and, when it is
// lost, tries an ICE restart first and then fresh sessions with backoff.
// firstDelay, when positive, is the wait before the first attempt, already announced.
func (c *WHIPClient) run(cn *conn, attempt int, lastErr error, firstDelay time.Duration) {
	defer close(c.loopDone)
	restarted := false // cn's current ICE session came from a restart
	for {
		if cn == nil {
			if attempt > 0 {
				d := firstDelay
				if d > 0 {
					firstDelay = 0
				} else {
					d = c.backoff(attempt, lastErr)
					c.setStatus(Status{State: Reconnecting, Attempt: attempt, NextTry: d, Err: lastErr})
				}
				if !sleepCtx(c.ctx, d) {
					return
				}
			}
			attempt++
			var err error
			cn, err = c.dial(c.ctx)
			if err != nil {
				if c.ctx.Err() != nil {
					return
				}
				lastErr = err
				if isPermanent(err) {
					c.log.printf("whip: %v; giving up", err)
					c.setStatus(Status{State: Failed, Attempt: attempt, Err: err})
					return
				}
				c.log.printf("whip: %v; will retry", err)
				continue
			}
			c.setConn(cn)
			lastErr = nil
			c.setStatus(Status{State: Connecting})
		}

		why, upFor := c.watch(cn)
		if c.ctx.Err() != nil {
			return
		}
		wasUp := upFor > 0
		if upFor >= stableAfter {
			attempt = 0 // a connection that held resets the backoff; a flapping one does not
		}
		c.setLive(false)
		c.mu.Lock()
		c.reconnects++
		c.mu.Unlock()
		c.log.printf("whip: %v; reconnecting", why)
		c.setStatus(Status{State: Reconnecting, Attempt: 1, Err: why})
		// An ICE restart keeps the session (and the server's clock); but if the last one
		// never came up, the session itself may be the trouble: start a new one instead.
		if wasUp || !restarted {
			err := c.restartICE(cn)
			if err == nil {
				restarted = true
				c.setStatus(Status{State: Connecting, Attempt: 1, Err: why})
				continue
			}
			if c.ctx.Err() != nil {
				return
			}
			c.log.printf("whip: ice restart: %v; starting a new session", err)
		}
		restarted = false
		// No DELETE of the old session: to a Podium server that would end the recording,
		// while a new session on the same stream continues it.
		c.setConn(nil)
		c.closeConn(cn)
		cn, lastErr = nil, why
	}
}

// stableAfter is how long a connection must hold before a loss counts as a first failure
// again, so a server that accepts and then drops us at once is not hammered.
const stableAfter = 10 * time.Second

// watch follows cn until it needs replacing (or Close), keeping live and the status
// current. It returns why the connection is no longer usable, and how long it was up.
func (c *WHIPClient) watch(cn *conn) (why error, upFor time.Duration) {
	deadline := time.Now().Add(c.cfg.ConnectTimeout)
	var upSince time.Time
	upDuration := func() time.Duration {
		if upSince.IsZero() {
			return 0
		}
		return max(time.Since(upSince), 1)
	}
	var discSince time.Time
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		pcs, ices := cn.pc.ConnectionState(), cn.pc.ICEConnectionState()
		switch {
		case pcs == webrtc.PeerConnectionStateClosed:
			return errors.New("connection closed by the server"), upDuration()
		case pcs == webrtc.PeerConnectionStateFailed || ices == webrtc.ICEConnectionStateFailed:
			return errors.New("connection failed"), upDuration()
		case ices == webrtc.ICEConnectionStateDisconnected:
			if discSince.IsZero() {
				discSince = time.Now()
				c.setLive(false)
				c.setStatus(Status{State: Reconnecting, Err: errors.New("connection interrupted")})
			}
			if d := time.Since(discSince); d >= c.cfg.DisconnectTimeout {
				return fmt.Errorf("no ICE connectivity for %v", d.Round(time.Millisecond)), upDuration()
			}
		case pcs == webrtc.PeerConnectionStateConnected:
			if !c.live.Load() {
				if upSince.IsZero() {
					upSince = time.Now()
				}
				discSince = time.Time{}
				c.setLive(true)
				c.setStatus(Status{State: Live})
			}
		}
		if upSince.IsZero() && time.Now().After(deadline) {
			return fmt.Errorf("not connected after %v", c.cfg.ConnectTimeout), 0
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err(), upDuration()
		case <-c.force:
			return errors.New("restart requested"), upDuration()
		case <-cn.kick:
		case <-tick.C:
		}
	}
}

// dialError says whether retrying can help.
type dialError struct {
	err        error
	permanent  bool
	retryAfter time.Duration
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	var de *dialError
	return errors.As(err, &de) && de.permanent
}

func permanent(err error) error { return &dialError{err: err, permanent: true} }

// dial creates a PeerConnection and a WHIP session for it.
func (c *WHIPClient) dial(ctx context.Context) (*conn, error) {
	c.mu.Lock()
	servers := append(append([]webrtc.ICEServer(nil), c.cfg.ICEServers...), c.linkServers...)
	c.mu.Unlock()
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{ICEServers: servers})
	if err != nil {
		return nil, permanent(fmt.Errorf("whip: new peer connection: %w", err))
	}
	cn := &conn{pc: pc, kick: make(chan struct{}, 1), rtcpDone: make(chan struct{})}
	fail := func(err error) (*conn, error) {
		c.closeConn(cn)
		return nil, err
	}
	track, err := webrtc.NewTrackLocalStaticRTP(opusCodec.RTPCodecCapability, "audio", "podium")
	if err != nil {
		close(cn.rtcpDone)
		return fail(permanent(fmt.Errorf("whip: new track: %w", err)))
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		close(cn.rtcpDone)
		return fail(permanent(fmt.Errorf("whip: add track: %w", err)))
	}
	// RTCP must be read for the NACK responder and reports to work.
	go func(s *webrtc.RTPSender) {
		defer close(cn.rtcpDone)
		buf := make([]byte, 1500)
		for {
			if _, _, err := s.Read(buf); err != nil {
				return
			}
		}
	}(tr.Sender())
	pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { cn.poke() })
	pc.OnICEConnectionStateChange(func(webrtc.ICEConnectionState) { cn.poke() })

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(permanent(fmt.Errorf("whip: create offer: %w", err)))
	}
	gctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	ld, err := gatherLocal(gctx, pc, offer)
	if err != nil {
		return fail(fmt.Errorf("whip: %w", err))
	}
	answer, err := c.post(gctx, ld.SDP, cn)
	if err != nil {
		return fail(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		c.deleteResource(cn.resource)
		return fail(permanent(fmt.Errorf("whip answer from %s: %w", c.url, err)))
	}
	cn.answer, cn.track = answer, track
	c.track.Store(track)
	return cn, nil
}

// post sends the offer and fills in cn's session resource.
func (c *WHIPClient) post(ctx context.Context, offer string, cn *conn) (string, error) {
	u := c.url.String()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(offer))
	if err != nil {
		return "", permanent(fmt.Errorf("whip post %s: %w", u, err))
	}
	req.Header.Set("Content-Type", mimeSDP)
	req.Header.Set("Accept", mimeSDP)
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("whip post %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("whip post %s: read answer: %w", u, err)
	}
	if err := statusError("whip post "+u, resp, body); err != nil {
		return "", err
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", permanent(fmt.Errorf("whip post %s: %s without a Location header", u, resp.Status))
	}
	// Relative to the URL that answered, after any redirect.
	res, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", permanent(fmt.Errorf("whip post %s: bad Location %q: %w", u, loc, err))
	}
	cn.resource, cn.etag = res.String(), resp.Header.Get("ETag")
	if links := parseLinkHeaders(resp.Header.Values("Link")); len(links) > 0 {
		c.mu.Lock()
		c.linkServers = links // used from the next PeerConnection on
		c.mu.Unlock()
	}
	return string(body), nil
}

// statusError classifies a WHIP response: nil for success, permanent for refusals that
// retrying cannot fix, temporary for overload and server errors.
func statusError(op string, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg != "" {
		msg = ": " + msg
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return permanent(fmt.Errorf("%s: %w (%s)%s", op, ErrTokenRefused, resp.Status, msg))
	case code == http.StatusNotFound:
		return permanent(fmt.Errorf("%s: %w at %s (%s)", op, ErrNoEndpoint, resp.Request.URL, resp.Status))
	// 409: the stream is still held by our own previous session (or another publisher);
	// the server frees it when that session falls silent.
	case code == http.StatusRequestTimeout || code == http.StatusConflict || code == http.StatusTooManyRequests || code >= 500:
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &dialError{err: fmt.Errorf("%s: %s%s", op, resp.Status, msg), retryAfter: time.Duration(ra) * time.Second}
	default:
		return permanent(fmt.Errorf("%s: refused: %s%s", op, resp.Status, msg))
	}
}

func (c *WHIPClient) authorize(req *http.Request) {
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
}

// restartICE asks the server for new ICE credentials on the same session (RFC 9725 §4.3.2).
func (c *WHIPClient) restartICE(cn *conn) error {
	if cn.resource == "" || cn.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return errors.New("nothing to restart")
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.ConnectTimeout)
	defer cancel()
	offer, err := cn.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return fmt.Errorf("create restart offer: %w", err)
	}
	ld, err := gatherLocal(ctx, cn.pc, offer)
	if err != nil {
		return err
	}
	local, err := fragFromSDP(ld.SDP)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, cn.resource, bytes.NewReader(local.marshal()))
	if err != nil {
		return fmt.Errorf("whip patch %s: %w", cn.resource, err)
	}
	req.Header.Set("Content-Type", mimeSDPFrag)
	req.Header.Set("If-Match", "*")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("whip patch %s: %w", cn.resource, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("whip patch %s: %w", cn.resource, err)
	}
	if err := statusError("whip patch "+cn.resource, resp, body); err != nil {
		return err
	}
	remote, err := parseSDPFrag(body)
	if err != nil {
		return fmt.Errorf("whip patch %s: answer: %w", cn.resource, err)
	}
	if remote.Ufrag == "" {
		return fmt.Errorf("whip patch %s: answer has no ICE credentials", cn.resource)
	}
	answer, err := withICE(cn.answer, remote)
	if err != nil {
		return err
	}
	if err := cn.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("apply restart answer: %w", err)
	}
	cn.answer = answer
	if et := resp.Header.Get("ETag"); et != "" {
		cn.etag = et
	}
	return nil
}

// deleteResource ends the session on the server; any 2xx will do.
func (c *WHIPClient) deleteResource(resource string) {
	if resource == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, resource, nil)
	if err != nil {
		c.log.printf("whip delete %s: %v", resource, err)
		return
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.printf("whip delete %s: %v", resource, err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.log.printf("whip delete %s: %s", resource, resp.Status)
	}
}

// closeConn detaches cn from the sender and closes it, waiting for its goroutines.
func (c *WHIPClient) closeConn(cn *conn) {
	if cn.track != nil {
		c.track.CompareAndSwap(cn.track, nil)
	}
	if err := cn.pc.GracefulClose(); err != nil {
		c.log.printf("whip: close peer connection: %v", err)
	}
	<-cn.rtcpDone
}

// backoff is capped exponential with jitter (half to full), never less than a server's
// Retry-After.
func (c *WHIPClient) backoff(attempt int, err error) time.Duration {
	d := c.cfg.MinBackoff << min(attempt-1, 30)
	if d <= 0 || d > c.cfg.MaxBackoff {
		d = c.cfg.MaxBackoff
	}
	d = d/2 + rand.N(d/2+1)
	var de *dialError
	if errors.As(err, &de) && de.retryAfter > d {
		d = min(de.retryAfter, c.cfg.MaxBackoff)
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
