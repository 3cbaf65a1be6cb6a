package whip

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"podium/rtc/proto"

	"github.com/pion/webrtc/v4"
)

// The WHIP client's reconnect loop: watch the connection, restart ICE on the same session
// when it is lost, and fall back to new sessions with backoff. It steers on the client's
// phase (state.go) and waits on events: Pion's state changes, timers, Close.

// retry is what the loop knows about getting a connection back.
type retry struct {
	attempt int           // new sessions tried since a connection last held
	err     error         // why the last attempt or connection failed
	delay   time.Duration // the wait before the next attempt, already announced; 0: not yet
}

// run keeps the stream published until Close or a refusal, from the phase Start left the
// client in: cn is the connection Start made, if it made one.
func (c *Client) run(cn *conn, r retry) {
	defer close(c.loopDone)
	for {
		switch c.current() {
		case phWaiting:
			if r.attempt > 0 {
				d := r.delay
				if d == 0 {
					d = c.backoff(r.attempt, r.err)
					c.setStatus(Status{State: Reconnecting, Attempt: r.attempt, NextTry: d, Err: r.err})
				}
				r.delay = 0
				if !sleepCtx(c.ctx, d) {
					return
				}
			}
			if c.step(evRetry) != nil {
				return
			}

		case phDialing:
			r.attempt++
			next, err := c.dial(c.ctx)
			if err != nil {
				if c.ctx.Err() != nil {
					return
				}
				r.err = err
				if isPermanent(err) {
					c.log.printf("whip: %v; giving up", err)
					if c.step(evRefused) == nil {
						c.setStatus(Status{State: Failed, Attempt: r.attempt, Err: err})
					}
					return
				}
				c.log.printf("whip: %v; will retry", err)
				if c.step(evDialFailed) != nil {
					return
				}
				continue
			}
			cn = next
			if !c.attach(cn) {
				return // Close came first; it closes cn
			}
			r.err = nil
			c.setStatus(Status{State: Connecting})

		case phConnecting, phRechecking:
			fromRestart := c.current() == phRechecking
			why, upFor := c.watch(cn)
			if c.ctx.Err() != nil {
				return
			}
			if upFor >= stableAfter {
				r.attempt = 0 // a connection that held resets the backoff; a flapping one does not
			}
			// An ICE restart keeps the session (and the server's clock); but if the last one
			// never came up, the session itself may be the trouble: start a new one instead.
			ev := evLost
			if fromRestart && upFor == 0 {
				ev = evGone
			}
			if c.step(ev) != nil {
				return
			}
			c.mu.Lock()
			c.reconnects++
			c.mu.Unlock()
			c.log.printf("whip: %v; reconnecting", why)
			c.setStatus(Status{State: Reconnecting, Attempt: 1, Err: why})
			r.err = why
			if ev == evGone {
				c.detach(cn)
			}

		case phRestarting:
			err := c.restartICE(cn)
			if err == nil {
				if c.step(evRestarted) != nil {
					return
				}
				c.setStatus(Status{State: Connecting, Attempt: 1, Err: r.err})
				continue
			}
			if c.ctx.Err() != nil {
				return
			}
			c.log.printf("whip: ice restart: %v; starting a new session", err)
			if c.step(evGone) != nil {
				return
			}
			// No DELETE of the old session: to a Podium server that would end the recording,
			// while a new session on the same stream continues it.
			c.detach(cn)

		default: // failed, draining or closed: Close does the rest
			return
		}
	}
}

// stableAfter is how long a connection must hold before a loss counts as a first failure
// again, so a server that accepts and then drops us at once is not hammered.
const stableAfter = 10 * time.Second

// watch follows cn from connecting (or rechecking) until it needs replacing, or Close,
// stepping the client between live and interrupted as Pion reports. It returns why the
// connection is no longer usable, and how long it was up. It wakes on Pion's state changes
// and on its two timers only.
func (c *Client) watch(cn *conn) (why error, upFor time.Duration) {
	var upSince time.Time
	upDuration := func() time.Duration {
		if upSince.IsZero() {
			return 0
		}
		return max(time.Since(upSince), 1)
	}
	connect := time.NewTimer(c.cfg.ConnectTimeout) // until ICE and DTLS are first up
	defer connect.Stop()
	var (
		discSince time.Time
		disc      *time.Timer // while ICE is disconnected: DisconnectTimeout
		discC     <-chan time.Time
	)
	stopDisc := func() {
		if disc != nil {
			disc.Stop()
			disc, discC, discSince = nil, nil, time.Time{}
		}
	}
	defer stopDisc()
	for {
		pcs, ices := cn.pc.ConnectionState(), cn.pc.ICEConnectionState()
		switch {
		case pcs == webrtc.PeerConnectionStateClosed:
			return errors.New("connection closed by the server"), upDuration()
		case pcs == webrtc.PeerConnectionStateFailed || ices == webrtc.ICEConnectionStateFailed:
			return errors.New("connection failed"), upDuration()
		case ices == webrtc.ICEConnectionStateDisconnected:
			if disc == nil {
				discSince = time.Now()
				disc = time.NewTimer(c.cfg.DisconnectTimeout)
				discC = disc.C
				if c.step(evInterrupted) == nil {
					c.setStatus(Status{State: Reconnecting, Err: errors.New("connection interrupted")})
				}
			}
		case pcs == webrtc.PeerConnectionStateConnected:
			if p := c.current(); !p.sending() && p != phClosed {
				if upSince.IsZero() {
					upSince = time.Now()
				}
				stopDisc()
				if c.step(evUp) == nil {
					c.setStatus(Status{State: Live})
				}
			}
		}
		select {
		case <-c.ctx.Done():
			return c.ctx.Err(), upDuration()
		case <-cn.kick:
		case <-connect.C:
			if upSince.IsZero() {
				return fmt.Errorf("not connected after %v", c.cfg.ConnectTimeout), 0
			}
		case <-discC:
			return fmt.Errorf("no ICE connectivity for %v", time.Since(discSince).Round(time.Millisecond)), upDuration()
		}
	}
}

// dial creates a PeerConnection and a WHIP session for it.
func (c *Client) dial(ctx context.Context) (*conn, error) {
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
	track, err := webrtc.NewTrackLocalStaticRTP(proto.Opus.RTPCodecCapability, "audio", "podium")
	if err != nil {
		close(cn.rtcpDone)
		return fail(permanent(fmt.Errorf("whip: new track: %w", err)))
	}
	tr, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		close(cn.rtcpDone)
		return fail(permanent(fmt.Errorf("whip: add track: %w", err)))
	}
	go func(s *webrtc.RTPSender) {
		defer close(cn.rtcpDone)
		proto.DrainRTCP(s)
	}(tr.Sender())
	pc.OnConnectionStateChange(func(webrtc.PeerConnectionState) { cn.poke() })
	pc.OnICEConnectionStateChange(func(webrtc.ICEConnectionState) { cn.poke() })

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(permanent(fmt.Errorf("whip: create offer: %w", err)))
	}
	gctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectTimeout)
	defer cancel()
	ld, err := proto.GatherLocal(gctx, pc, offer)
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

// restartICE asks the server for new ICE credentials on the same session (RFC 9725 §4.3.2).
func (c *Client) restartICE(cn *conn) error {
	if cn.resource == "" || cn.pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return errors.New("nothing to restart")
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.ConnectTimeout)
	defer cancel()
	offer, err := cn.pc.CreateOffer(&webrtc.OfferOptions{ICERestart: true})
	if err != nil {
		return fmt.Errorf("create restart offer: %w", err)
	}
	ld, err := proto.GatherLocal(ctx, cn.pc, offer)
	if err != nil {
		return err
	}
	local, err := proto.FragFromSDP(ld.SDP)
	if err != nil {
		return err
	}
	remote, etag, err := c.patch(ctx, cn.resource, local)
	if err != nil {
		return err
	}
	answer, err := proto.WithICE(cn.answer, remote)
	if err != nil {
		return err
	}
	if err := cn.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		return fmt.Errorf("apply restart answer: %w", err)
	}
	cn.answer = answer
	if etag != "" {
		cn.etag = etag
	}
	return nil
}

// backoff is capped exponential with jitter (half to full), never less than a server's
// Retry-After.
func (c *Client) backoff(attempt int, err error) time.Duration {
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
