// Package whip is the presenter's side of Podium's live link: a WHIP client (RFC 9725) that
// publishes one Opus stream and keeps it published, restarting ICE on its session or
// starting new sessions with backoff, while its writer never waits for the network. What it
// shares with the server (package rtc) is in package rtc/proto.
package whip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"podium/rtc/proto"

	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// Config configures a Client.
type Config struct {
	URL   string // WHIP endpoint, http or https
	Token string // Bearer token, may be empty
	// Title and Presenter go in the offer's s= and i= lines (proto.WithTalk); empty, the
	// offer says none, as a browser's does.
	Title, Presenter string
	HTTPClient       *http.Client       // optional
	ICEServers       []webrtc.ICEServer // optional; Link headers from the server add to these
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
	// IPFilter restricts which local addresses ICE uses (proto.LoopbackOnly in tests).
	IPFilter func(net.IP) bool
	// Net is the network ICE runs on; nil is the machine's. Tests lose packets on it.
	Net transport.Net
}

// State is where a Client is in its life.
type State int

// The states of a Client.
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

// Status is a Client's state with what a UI needs to explain it.
type Status struct {
	State   State
	Attempt int           // retries since the connection was last up
	NextTry time.Duration // delay before the next attempt, while Reconnecting
	Err     error         // why the client is not Live, if known
}

// Stats counts what a Client did with the packets it was given.
type Stats struct {
	PacketsSent, PacketsDropped uint64
	Reconnects                  int
	TimeLive                    time.Duration
}

// Errors Start (and Status.Err) wrap for refusals that retrying cannot fix.
var (
	ErrTokenRefused = errors.New("token refused by the server")
	ErrNoEndpoint   = errors.New("no WHIP endpoint")
)

// Client publishes one Opus stream to a WHIP endpoint and keeps it published: it
// restarts ICE or reconnects by itself, while WritePacket never waits for the network.
type Client struct {
	cfg     Config
	url     *url.URL
	http    *http.Client
	ownHTTP *http.Transport // ours to close when cfg.HTTPClient is nil
	api     *webrtc.API
	log     logfFunc

	ctx    context.Context // the client's lifetime; Close cancels it
	cancel context.CancelFunc
	queue  chan outPacket
	// drain is closed by Close: the sender sends what is queued, then stops.
	drain chan struct{}

	// phase is where the client is (state.go). Only step changes it, under mu; WritePacket
	// and the sender read it without the lock.
	phase atomic.Int32
	// firstLive is closed when the client first goes live. Until then packets wait in the
	// queue instead of being dropped, so the recording's first frames reach the server even
	// though Start returns before ICE and DTLS are done.
	firstLive chan struct{}
	track     atomic.Pointer[webrtc.TrackLocalStaticRTP]
	// chapters queues the chapters extension's messages (chapters.go); noChapters is set
	// once the server has said it has no such resource.
	chapters    chan []byte
	chapterDone chan struct{}
	noChapters  atomic.Bool
	sent        atomic.Uint64
	dropped     atomic.Uint64

	mu          sync.Mutex
	status      Status
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
	payload []byte
}

// conn is one PeerConnection and the WHIP session resource it was created with.
type conn struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	resource string // absolute URL of the session
	chapters string // its chapters resource, if the server has the extension
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

// sendQueue holds about a second of 20 ms packets between WritePacket and the network.
const sendQueue = 64

// drainWait bounds how long Close waits for the queue to go out.
const drainWait = time.Second

// NewClient checks cfg; nothing is sent before Start.
func NewClient(cfg Config) (*Client, error) {
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
	api, err := proto.NewAPI(proto.NetOptions{
		IPFilter:     cfg.IPFilter,
		Disconnected: disc,
		Failed:       disc + cfg.DisconnectTimeout + 5*time.Second,
		Keepalive:    disc / 3,
		Net:          cfg.Net,
	})
	if err != nil {
		return nil, fmt.Errorf("whip client: %w", err)
	}
	c := &Client{
		cfg:       cfg,
		url:       u,
		http:      cfg.HTTPClient,
		api:       api,
		log:       logfFunc(cfg.Logf),
		queue:     make(chan outPacket, sendQueue),
		drain:     make(chan struct{}),
		status:    Status{State: Stopped},
		loopDone:  make(chan struct{}),
		sendDone:  make(chan struct{}),
		firstLive: make(chan struct{}),

		chapters:    make(chan []byte, chapterQueue),
		chapterDone: make(chan struct{}),
	}
	if c.http == nil {
		c.ownHTTP = http.DefaultTransport.(*http.Transport).Clone()
		c.http = &http.Client{Transport: c.ownHTTP}
	}
	c.http = proto.SameOriginClient(c.http) // the token goes to the endpoint's origin only
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start makes the first connection attempt and returns its outcome: an error for a refusal
// that retrying cannot fix (bad token, no endpoint, offer refused). A network error or a
// server error is not fatal: Start returns nil and the client keeps trying in the background
// (state Reconnecting), because the recording goes on either way. Like net.Dialer.DialContext,
// ctx bounds this first attempt only; the client runs until Close.
func (c *Client) Start(ctx context.Context) error {
	if err := c.step(evStart); err != nil {
		return errors.New("whip client: already started or closed")
	}
	go c.send()
	go c.chapterLoop()

	c.setStatus(Status{State: Connecting, Attempt: 1})
	cn, err := c.dial(ctx)
	if err != nil {
		if ctx.Err() != nil || isPermanent(err) {
			if c.step(evRefused) == nil {
				c.setStatus(Status{State: Failed, Attempt: 1, Err: err})
			}
			c.cancel()
			close(c.loopDone)
			return err
		}
		c.log.printf("whip: %v; will retry", err)
		d := c.backoff(1, err)
		if c.step(evDialFailed) == nil {
			c.setStatus(Status{State: Reconnecting, Attempt: 1, NextTry: d, Err: err})
		}
		go c.run(nil, retry{attempt: 1, err: err, delay: d})
		return nil
	}
	if c.attach(cn) {
		c.setStatus(Status{State: Connecting})
	}
	go c.run(cn, retry{})
	return nil
}

// WritePacket queues one 20 ms Opus packet whose first sample is at pos (48 kHz samples from
// the start of the capture). It never blocks: while the client is not live, or the queue is
// full, the packet is dropped and counted, and that is no error, since the recording goes on
// either way. The RTP timestamp is a fixed base plus pos, so a gap in capture stays a gap in
// RTP time. After Close it returns an error.
func (c *Client) WritePacket(pos int64, payload []byte) error {
	switch p := c.current(); {
	case p == phDraining || p == phClosed:
		return errClientClosed
	case p != phLive && c.wasLive():
		c.dropped.Add(1)
		return nil
	}
	select {
	case c.queue <- outPacket{pos: pos, payload: bytes.Clone(payload)}:
	default:
		c.dropped.Add(1)
	}
	return nil
}

var errClientClosed = errors.New("whip client: closed")

// Status returns the current state.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// Stats returns the counters.
func (c *Client) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	live := c.liveTotal
	if !c.liveSince.IsZero() {
		live += time.Since(c.liveSince)
	}
	return Stats{
		PacketsSent:    c.sent.Load(),
		PacketsDropped: c.dropped.Load(),
		Reconnects:     c.reconnects,
		TimeLive:       live,
	}
}

// Close stops publishing: it DELETEs the session (a failure is logged, not returned: the
// server ends the session by itself), closes the PeerConnection and waits for the client's
// goroutines.
func (c *Client) Close() error {
	c.mu.Lock()
	from := c.current()
	if from == phDraining || from == phClosed {
		c.mu.Unlock()
		return nil
	}
	to, _ := c.stepLocked(evClose) // every phase but these two can close
	c.mu.Unlock()
	started := from != phIdle

	if to == phDraining {
		// The last packets of a talk are in the queue when it stops (a busy machine's sender
		// can be a fraction of a second behind): they go out before the connection closes,
		// for as long as drainWait allows.
		close(c.drain)
		select {
		case <-c.sendDone:
		case <-time.After(drainWait):
		}
		_ = c.step(evDrained)
	}
	c.cancel()
	if started {
		<-c.loopDone
		<-c.sendDone
		<-c.chapterDone
	}
	// What is still queued never went out: counted, never lost silently.
	c.dropped.Add(uint64(len(c.queue)))
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

func (c *Client) setStatus(st Status) {
	c.mu.Lock()
	c.status = st
	cb := c.cfg.OnState
	c.mu.Unlock()
	if cb != nil {
		cb(st)
	}
}

// current is the client's phase.
func (c *Client) current() phase { return phase(c.phase.Load()) }

// step moves the client on by ev (state.go) and does what entering the new phase takes. An
// illegal event changes nothing and is an error, which only a race with Close makes (Close
// won: the loop then stops), so it is logged when Close is not the reason.
func (c *Client) step(ev event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, err := c.stepLocked(ev)
	return err
}

func (c *Client) stepLocked(ev event) (phase, error) {
	from := c.current()
	to, err := from.next(ev)
	if err != nil {
		if from != phClosed {
			c.log.printf("whip: %v", err)
		}
		return from, err
	}
	c.phase.Store(int32(to))
	// Time live counts while packets go out.
	switch {
	case to.sending() && !from.sending():
		c.liveSince = time.Now()
	case !to.sending() && from.sending():
		c.liveTotal += time.Since(c.liveSince)
		c.liveSince = time.Time{}
	}
	if to == phLive && !c.wasLive() {
		close(c.firstLive)
	}
	return to, nil
}

// attach makes cn, a new session, the client's connection (Close closes it from then on)
// and steps the client on to connecting; false if Close came first.
func (c *Client) attach(cn *conn) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.conn = cn
	_, err := c.stepLocked(evDialed)
	return err == nil
}

// detach closes cn, a lost connection, and forgets it.
func (c *Client) detach(cn *conn) {
	c.mu.Lock()
	if c.conn == cn {
		c.conn = nil
	}
	c.mu.Unlock()
	c.closeConn(cn)
}

func (c *Client) wasLive() bool {
	select {
	case <-c.firstLive:
		return true
	default:
		return false
	}
}

// closeConn detaches cn from the sender and closes it, waiting for its goroutines.
func (c *Client) closeConn(cn *conn) {
	if cn.track != nil {
		c.track.CompareAndSwap(cn.track, nil)
	}
	if err := cn.pc.GracefulClose(); err != nil {
		c.log.printf("whip: close peer connection: %v", err)
	}
	<-cn.rtcpDone
}

// logfFunc is Config.Logf, or log.Printf when that is nil.
type logfFunc func(format string, args ...any)

func (f logfFunc) printf(format string, args ...any) {
	if f != nil {
		f(format, args...)
		return
	}
	log.Printf(format, args...)
}
