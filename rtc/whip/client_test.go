package whip

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"podium/audio/pcm"
	"podium/rtc"
	"podium/rtc/proto"
	"podium/scripts/testkit"
)

// publish sends n packets of 960 samples at the given pace; gap (in packets) is skipped in
// pos after packet gapAt, as when the capture device stalls.
// firstPause follows a source's first packet: a burst faster than capture at a source's
// start is taken for the client's connect-time backlog, which listeners skip (burstGap),
// and these helpers send faster than real time.
const firstPause = 3 * 8 * time.Millisecond // 3 × rtc's burstGap

func publish(c *Client, n, gapAt, gap int, pace time.Duration) []gotPacket {
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

func TestStartRefused(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *rtc.ServerConfig) { c.Tokens = []string{"s3cret"} })
	cases := []struct {
		name, path, token string
		want              error
		text              string
	}{
		{"wrong token", "/whip/talk", "guess", ErrTokenRefused, "token"},
		{"no token", "/whip/talk", "", ErrTokenRefused, "401"},
		{"wrong path", "/nothing/here", "s3cret", ErrNoEndpoint, "no WHIP endpoint at " + env.ts.URL + "/nothing/here"},
		{"bad stream name", "/whip/bad.name", "s3cret", nil, "400"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(Config{URL: env.ts.URL + tc.path, Token: tc.token, IPFilter: proto.LoopbackOnly, Logf: t.Logf})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = c.Start(context.Background())
			if err == nil {
				t.Fatal("Start succeeded")
			}
			t.Logf("Start: %v", err)
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v is not %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.text) {
				t.Errorf("error %q does not mention %q", err, tc.text)
			}
			if st := c.Status(); st.State != Failed || st.Err == nil {
				t.Errorf("status %+v, want Failed with the error", st)
			}
		})
	}
	if n := len(env.rec.all()); n != 0 {
		t.Errorf("%d recordings opened by refused publishers", n)
	}
	if st := env.srv.Stats(); st.SessionsTotal != 0 {
		t.Errorf("sessions created by refused publishers: %+v", st)
	}
}

func TestNewClientBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8080/whip", "ftp://host/whip", "http://", "http://[::1", "://x"} {
		if _, err := NewClient(Config{URL: u}); err == nil {
			t.Errorf("NewClient(%q) accepted", u)
		} else if !strings.Contains(err.Error(), "whip url") {
			t.Errorf("NewClient(%q): unclear error %v", u, err)
		}
	}
}

// A server that is down when the presenter starts must not stop the recording: Start
// returns nil and the client connects once the server is back.
func TestStartWhileServerDown(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	env.gate.refuse.Store(true)
	c := env.client(t, "talk", "", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("Start with the server down: %v", err)
	}
	if st := c.Status(); st.State != Reconnecting || st.Err == nil || st.NextTry <= 0 {
		t.Errorf("status %+v, want Reconnecting with an error and a next try", st)
	}
	time.Sleep(300 * time.Millisecond)
	env.gate.refuse.Store(false)
	waitState(t, c, Live, 10*time.Second)
}

// receiveGap runs a real-time publisher, lets cut interrupt it, and checks that the
// recording continues on one sink with the absence measured in wall-clock time.
func receiveGap(t *testing.T, env *testEnv, c *Client, wantGap bool, cut func()) {
	t.Helper()
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, Live, 10*time.Second)

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
		return c.Status().State == Live && c.Stats().Reconnects > 0
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

// An ICE restart through PATCH keeps the same session and the same clock, and comes up as
// soon as the network is back: UDP is lost only until the client starts the restart.
func TestICERestart(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	n, err := newTestNet()
	if err != nil {
		t.Fatal(err)
	}
	c := env.client(t, "talk", "", func(cfg *Config) { cfg.Net = n })
	receiveGap(t, env, c, false, func() {
		n.cut.Store(true)
		testkit.WaitFor(t, 10*time.Second, "an ICE restart", func() bool {
			p := c.current()
			return p == phRestarting || p == phRechecking
		})
		n.cut.Store(false)
	})
	checkRestartedInPlace(t, env)
}

// checkRestartedInPlace: the client came back through a PATCH ICE restart, on its one session.
func checkRestartedInPlace(t *testing.T, env *testEnv) {
	t.Helper()
	if env.gate.patchOK.Load() == 0 {
		t.Errorf("no successful ICE restart via PATCH (%d tried)", env.gate.patches.Load())
	}
	if n := env.srv.Stats().SessionsTotal; n != 1 {
		t.Errorf("%d sessions, want the ICE restart to keep the one session", n)
	}
}

// Packets lost on the way show up at the sink as jumps in pos, and are counted.
func TestLossIsAJump(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	n, err := newTestNet()
	if err != nil {
		t.Fatal(err)
	}
	var first atomic.Int32
	first.Store(-1)
	n.lose = func(seq uint16) bool {
		first.CompareAndSwap(-1, int32(seq))
		n := seq - uint16(first.Load())
		return n == 10 || n == 11 || n == 40
	}
	c := env.client(t, "talk", "", func(cfg *Config) { cfg.Net = n })
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, Live, 10*time.Second)
	sent := publish(c, 60, -1, 0, 3*time.Millisecond)
	sink := env.rec.all()[0]
	testkit.WaitFor(t, 5*time.Second, "57 packets", func() bool { got, _ := sink.snapshot(); return len(got) == 57 })
	_ = c.Close()
	got, _ := sink.snapshot()
	var want []gotPacket
	for i, p := range sent {
		if i != 10 && i != 11 && i != 40 {
			want = append(want, p)
		}
	}
	for i := range want {
		if got[i].pos != want[i].pos || !bytes.Equal(got[i].payload, want[i].payload) {
			t.Fatalf("packet %d: pos %d, want %d", i, got[i].pos, want[i].pos)
		}
	}
	if st := env.srv.Stats(); st.PacketsLost != 3 {
		t.Errorf("lost %d, want 3 (%+v)", st.PacketsLost, st)
	}
}

// UDP is lost for three seconds while HTTP keeps working: the client notices, restarts ICE
// through PATCH on the same session, and the recording carries the absence as a gap.
func TestConnectivityLoss(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	cn, err := newTestNet()
	if err != nil {
		t.Fatal(err)
	}
	c := env.client(t, "talk", "", func(cfg *Config) { cfg.Net = cn })
	receiveGap(t, env, c, true, func() {
		cn.cut.Store(true)
		time.Sleep(3 * time.Second)
		cn.cut.Store(false)
	})
	checkRestartedInPlace(t, env)
}

// ICE servers the server announces in Link headers are kept for the client's next
// PeerConnection.
func TestClientKeepsLinkServers(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *rtc.ServerConfig) {
		c.ICEServers = []webrtc.ICEServer{{URLs: []string{"turn:127.0.0.1:9?transport=udp"}, Username: "u", Credential: "p"}}
	})
	c := env.client(t, "talk", "", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	links := c.linkServers
	c.mu.Unlock()
	if len(links) != 1 || links[0].URLs[0] != "turn:127.0.0.1:9?transport=udp" || links[0].Username != "u" || links[0].Credential != "p" {
		t.Errorf("link servers %+v", links)
	}
}

// The last packets of a talk are still queued when it stops: Close sends them before it
// closes the connection, and counts any it could not, so the summary never loses one.
func TestCloseSendsWhatIsQueued(t *testing.T) {
	env := newTestEnv(t, nil)
	c := env.client(t, "talk", "s3cret", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, Live, 10*time.Second)
	const n = sendQueue - 4 // all fit in the queue, written faster than any sender
	for i := range int64(n) {
		c.WritePacket(i*960, payloadFor(i*960))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.PacketsSent != n || st.PacketsDropped != 0 {
		t.Errorf("client stats %+v: want all %d sent", st, n)
	}
}
