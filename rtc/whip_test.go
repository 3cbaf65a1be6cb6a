package rtc

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"podium/audio/pcm"
	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// publish sends n packets of 960 samples at the given pace; gap (in packets) is skipped in
// pos after packet gapAt, as when the capture device stalls.
// firstPause follows a source's first packet: a burst faster than capture at a source's
// start is taken for the client's connect-time backlog, which listeners skip (burstGap),
// and these helpers send faster than real time.
const firstPause = 3 * burstGap

func publish(c *whip.Client, n, gapAt, gap int, pace time.Duration) []gotPacket {
	var sent []gotPacket
	pos := int64(0)
	for i := range n {
		if i == gapAt {
			pos += int64(gap) * 960
		}
		p := payloadFor(pos)
		c.WritePacket(pos, p)
		sent = append(sent, gotPacket{pos, p})
		pos += 960
		time.Sleep(pace)
		if i == 0 {
			time.Sleep(firstPause)
		}
	}
	return sent
}

func TestPublishToServer(t *testing.T) {
	cases := []struct {
		name       string
		gapAt, gap int
	}{
		{"contiguous", -1, 0},
		{"capture gap", 100, 25},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			env := newTestEnv(t, func(c *ServerConfig) { c.Tokens = []string{"other", "s3cret"} })
			var states []whip.State
			var mu sync.Mutex
			c := env.client(t, "talk", "s3cret", func(cfg *whip.Config) {
				cfg.OnState = func(s whip.Status) { mu.Lock(); states = append(states, s.State); mu.Unlock() }
			})
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitState(t, c, whip.Live, 10*time.Second)

			sent := publish(c, 250, tc.gapAt, tc.gap, 3*time.Millisecond)
			sinks := env.rec.all()
			if len(sinks) != 1 {
				t.Fatalf("%d recordings, want 1", len(sinks))
			}
			sink := sinks[0]
			testkit.WaitFor(t, 5*time.Second, "250 packets at the sink", func() bool {
				got, _ := sink.snapshot()
				return len(got) == len(sent)
			})
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			got, closed := sink.snapshot()
			if !closed {
				t.Error("DELETE did not finalise the recording")
			}
			for i := range sent {
				if got[i].pos != sent[i].pos || !bytes.Equal(got[i].payload, sent[i].payload) {
					t.Fatalf("packet %d: got pos %d %q, want pos %d %q", i, got[i].pos, got[i].payload, sent[i].pos, sent[i].payload)
				}
			}
			st := c.Stats()
			if st.PacketsSent != 250 || st.PacketsDropped != 0 || st.Reconnects != 0 || st.TimeLive <= 0 {
				t.Errorf("client stats %+v", st)
			}
			ss := env.srv.Stats()
			if ss.PacketsReceived < 250 || ss.PacketsLost != 0 || ss.Sessions != 0 || ss.Recordings != 0 || ss.SessionsTotal != 1 {
				t.Errorf("server stats %+v", ss)
			}
			if c.Status().State != whip.Stopped {
				t.Errorf("state after Close: %v", c.Status().State)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(states) < 3 || states[0] != whip.Connecting || states[len(states)-1] != whip.Stopped {
				t.Errorf("state changes %v", states)
			}
		})
	}
}

// receiveGap runs a real-time publisher, lets cut interrupt it, and checks that the
// recording continues on one sink with the absence measured in wall-clock time.
func receiveGap(t *testing.T, env *testEnv, c *whip.Client, wantGap bool, cut func()) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // a capture clock: pos follows wall time, 20 ms packets
		defer close(done)
		t0 := time.Now()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		last := int64(-1)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pos := int64(time.Since(t0)/(20*time.Millisecond)) * 960
			if pos != last {
				c.WritePacket(pos, payloadFor(pos))
				last = pos
			}
		}
	}()
	time.Sleep(time.Second)
	cut()
	testkit.WaitFor(t, 15*time.Second, "client back live", func() bool {
		return c.Status().State == whip.Live && c.Stats().Reconnects > 0
	})
	time.Sleep(time.Second)
	close(stop)
	<-done
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}

	sinks := env.rec.all()
	if len(sinks) != 1 {
		t.Fatalf("%d recordings, want the same one continued", len(sinks))
	}
	got, closed := sinks[0].snapshot()
	if !closed {
		t.Error("recording not finalised by DELETE")
	}
	// Server pos and the publisher's own pos (in the payload) differ by a constant before
	// the cut; after it they must still agree within 0.3 s.
	var offset0 int64
	maxSkew, gaps := int64(0), 0
	for i, p := range got {
		cp, err := posOf(p.payload)
		if err != nil {
			t.Fatal(err)
		}
		off := p.pos - cp
		if i == 0 {
			offset0 = off
			continue
		}
		if p.pos-got[i-1].pos > 960*5 {
			gaps++
			t.Logf("gap at server pos %d: %.3f s; publisher/server skew %.3f s",
				p.pos, float64(p.pos-got[i-1].pos)/pcm.SampleRate, float64(off-offset0)/pcm.SampleRate)
		}
		maxSkew = max(maxSkew, abs(off-offset0))
	}
	if wantGap && gaps == 0 {
		t.Error("no gap in the recording: was the publisher away at all?")
	}
	if maxSkew > pcm.SampleRate*3/10 {
		t.Errorf("recording drifted %.3f s from the publisher's clock", float64(maxSkew)/pcm.SampleRate)
	}
	t.Logf("%d packets, client %+v, server %+v", len(got), c.Stats(), env.srv.Stats())
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// The server drops the session and refuses for two seconds; the client reconnects on its
// own and the server continues the same recording.
func TestReconnectContinuesRecording(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) { c.Grace = 30 * time.Second })
	var mu sync.Mutex
	var states []whip.State
	c := env.client(t, "talk", "", func(cfg *whip.Config) {
		cfg.OnState = func(s whip.Status) { mu.Lock(); states = append(states, s.State); mu.Unlock() }
	})
	receiveGap(t, env, c, true, func() {
		env.gate.refuse.Store(true)
		for _, sess := range env.srv.sessions.all() {
			_ = sess.pc.Close()
		}
		waitState(t, c, whip.Reconnecting, 5*time.Second)
		time.Sleep(2 * time.Second)
		env.gate.refuse.Store(false)
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("states: %v", states)
	if env.srv.Stats().SessionsTotal < 2 {
		t.Errorf("expected a second session, got %+v", env.srv.Stats())
	}
}

// A publisher that vanishes without DELETE keeps its recording open for Grace, then the
// recording is finalised.
func TestGraceExpiry(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) {
		c.Grace = 1500 * time.Millisecond
		c.IdleTimeout = time.Second
	})
	env.gate.noDel.Store(true)
	c := env.client(t, "talk", "", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	publish(c, 20, -1, 0, 5*time.Millisecond)
	sink := env.rec.all()[0]
	testkit.WaitFor(t, 5*time.Second, "packets", func() bool { got, _ := sink.snapshot(); return len(got) == 20 })
	gone := time.Now()
	_ = c.Close() // its DELETE is lost
	testkit.WaitFor(t, 5*time.Second, "session to end", func() bool { return env.srv.Stats().Sessions == 0 })
	if _, closed := sink.snapshot(); closed {
		t.Fatal("recording closed before Grace")
	}
	if n := env.srv.Stats().Recordings; n != 1 {
		t.Errorf("%d recordings open during Grace, want 1", n)
	}
	testkit.WaitFor(t, 10*time.Second, "grace expiry", func() bool { _, closed := sink.snapshot(); return closed })
	if d := time.Since(gone); d < 1500*time.Millisecond {
		t.Errorf("recording closed after %v, before Grace", d)
	}
	if n := env.srv.Stats().Recordings; n != 0 {
		t.Errorf("%d recordings open after Grace", n)
	}
}

func TestShutdownClosesSinks(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	env.gate.noDel.Store(true)
	var clients []*whip.Client
	for _, name := range []string{"a", "b", "c"} {
		c := env.client(t, name, "", nil)
		if err := c.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
	}
	for _, c := range clients {
		waitState(t, c, whip.Live, 10*time.Second)
		publish(c, 5, -1, 0, time.Millisecond)
	}
	// One publisher leaves without DELETE: its recording waits out the (default 5 min) Grace.
	_ = clients[2].Close()
	testkit.WaitFor(t, 5*time.Second, "c to leave", func() bool { return env.srv.Stats().Sessions == 2 })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := env.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range env.rec.all() {
		if _, closed := s.snapshot(); !closed {
			t.Errorf("sink %s open after Shutdown", s.stream)
		}
	}
	if st := env.srv.Stats(); st.Sessions != 0 {
		t.Errorf("after Shutdown: %+v", st)
	}
	// A new publisher is refused, and retrying is its business.
	resp, err := env.ts.Client().Post(env.ts.URL+"/whip/d", proto.MimeSDP, strings.NewReader(pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Errorf("POST after Shutdown: %s", resp.Status)
	}
}

// A second publisher on a stream that is still sending is refused with 409 and retries;
// once the first falls silent (a frozen app, a dead connection the server has not noticed
// yet) the second takes the same recording over.
func TestTakeover(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	a := env.client(t, "talk", "", nil)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, whip.Live, 10*time.Second)
	stop := make(chan struct{})
	go func() {
		for i := int64(0); ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			a.WritePacket(i*960, payloadFor(i*960))
		}
	}()
	time.Sleep(200 * time.Millisecond)

	b := env.client(t, "talk", "", func(c *whip.Config) { c.MaxBackoff = 500 * time.Millisecond })
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if st := b.Status(); st.State != whip.Reconnecting || st.Err == nil || !strings.Contains(st.Err.Error(), "409") {
		t.Errorf("second publisher on a live stream: %+v", st)
	}
	time.Sleep(500 * time.Millisecond)
	close(stop) // a freezes
	waitState(t, b, whip.Live, 10*time.Second)
	for i := range 10 {
		pos := int64(1000+i) * 960
		b.WritePacket(pos, payloadFor(pos))
		time.Sleep(5 * time.Millisecond)
	}
	sinks := env.rec.all()
	if len(sinks) != 1 {
		t.Fatalf("%d recordings, want 1", len(sinks))
	}
	testkit.WaitFor(t, 5*time.Second, "b's packets", func() bool {
		got, _ := sinks[0].snapshot()
		p, err := posOf(got[len(got)-1].payload)
		return err == nil && p == 1009*960
	})
	_ = b.Close()
	_ = a.Close()
}

// Only the token that began a recording takes it over: another publisher token, even one
// for every stream, waits until the recording has ended, however silent it is.
func TestTakeoverNeedsTheSameToken(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) { c.Tokens = []string{"tok-a", "tok-b"} })
	a := env.client(t, "talk", "tok-a", nil)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, whip.Live, 10*time.Second)
	publish(a, 10, -1, 0, 5*time.Millisecond)
	time.Sleep(takeoverSilence + 500*time.Millisecond) // a is silent: frozen, or gone

	b := env.client(t, "talk", "tok-b", func(c *whip.Config) { c.MaxBackoff = 300 * time.Millisecond })
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if st := b.Status(); st.State != whip.Reconnecting || st.Err == nil || !strings.Contains(st.Err.Error(), "409") {
		t.Errorf("another token on a silent stream: %+v, want 409 and retrying", st)
	}
	_ = b.Close()
	again := env.client(t, "talk", "tok-a", nil)
	if err := again.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, again, whip.Live, 10*time.Second)
	if n := len(env.rec.all()); n != 1 {
		t.Errorf("%d recordings, want the one that tok-a resumed", n)
	}
	_ = again.Close()
	_ = a.Close()
}
