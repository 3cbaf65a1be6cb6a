package rtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"podium/audio/pcm"
	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// heard is one packet as a test listener received it.
type heard struct {
	seq     uint16
	ts      uint32
	payload []byte
	at      time.Time
}

// testListener is a Pion WHEP listener: a recvonly Opus PeerConnection.
type testListener struct {
	t        testing.TB
	pc       *webrtc.PeerConnection
	resource string
	token    string
	net      *cutNet
	onPacket func(p *rtp.Packet, at time.Time) // optional; replaces keeping the packets

	mu     sync.Mutex
	got    []heard
	closed bool // under mu: no reader may start
	n      atomic.Int64
	reader sync.WaitGroup
}

type listenerOpts struct {
	api      *webrtc.API // shared by many listeners (benchmarks); default: a fresh one
	cuttable bool        // on a network the test can cut
	noRead   bool        // never read the track: a listener whose app is stuck
	onPacket func(p *rtp.Packet, at time.Time)
}

// dialListener POSTs a WHEP offer; status is the server's answer (201 on success).
func dialListener(t testing.TB, base, stream, token string, o listenerOpts) (*testListener, int) {
	t.Helper()
	l := &testListener{t: t, token: token, onPacket: o.onPacket}
	api := o.api
	if api == nil || o.cuttable {
		no := proto.NetOptions{IPFilter: proto.LoopbackOnly}
		if o.cuttable {
			cn, err := newCutNet()
			if err != nil {
				t.Fatal(err)
			}
			l.net, no.Net = cn, cn
		}
		var err error
		if api, err = proto.NewAPI(no); err != nil {
			t.Fatal(err)
		}
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	l.pc = pc
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		once.Do(func() {
			l.mu.Lock()
			if l.closed || o.noRead {
				l.mu.Unlock()
				return
			}
			l.reader.Add(1)
			l.mu.Unlock()
			defer l.reader.Done()
			for {
				p, _, err := tr.ReadRTP()
				if err != nil {
					return
				}
				now := time.Now()
				l.n.Add(1)
				if l.onPacket != nil {
					l.onPacket(p, now)
					continue
				}
				l.mu.Lock()
				l.got = append(l.got, heard{p.SequenceNumber, p.Timestamp, bytes.Clone(p.Payload), now})
				l.mu.Unlock()
			}
		})
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ld, err := proto.GatherLocal(ctx, pc, offer)
	if err != nil {
		t.Fatal(err)
	}
	req := authRequest(t, http.MethodPost, base+"/whep/"+stream, token, ld.SDP).WithContext(ctx)
	req.Header.Set("Content-Type", proto.MimeSDP)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		_ = pc.Close()
		return nil, resp.StatusCode
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	l.resource = loc.String()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(body)}); err != nil {
		t.Fatal(err)
	}
	return l, resp.StatusCode
}

// close DELETEs the session (when del) and closes the PeerConnection.
func (l *testListener) close(del bool) {
	if del && l.resource != "" {
		if resp, err := http.DefaultClient.Do(authRequest(l.t, http.MethodDelete, l.resource, l.token, "")); err == nil {
			resp.Body.Close()
		}
	}
	_ = l.pc.Close()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.reader.Wait()
}

func (l *testListener) packets() []heard {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]heard(nil), l.got...)
}

func mustListener(t testing.TB, base, stream, token string, o listenerOpts) *testListener {
	t.Helper()
	l, code := dialListener(t, base, stream, token, o)
	if code != http.StatusCreated {
		t.Fatalf("WHEP POST %s: %d, want 201", stream, code)
	}
	return l
}

func waitConnected(t testing.TB, pcs ...*webrtc.PeerConnection) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, pc := range pcs {
		for pc.ConnectionState() != webrtc.PeerConnectionStateConnected {
			if time.Now().After(deadline) {
				t.Fatalf("listener not connected: %v", pc.ConnectionState())
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// serverConnected waits until the server side of n listeners is up (they get media).
func serverConnected(t testing.TB, srv *Server, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		up := 0
		for _, l := range srv.aud.listeners.all() {
			if l.connected.Load() {
				up++
			}
		}
		if up >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d listeners connected on the server", up, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkHeard checks that got is exactly sent[from:] in payloads, with consecutive sequence
// numbers and 960-sample timestamp steps (the publisher's own numbering is rewritten).
func checkHeard(t *testing.T, who string, got []heard, sent []gotPacket) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s heard nothing", who)
	}
	from := -1
	for i := range sent {
		if bytes.Equal(sent[i].payload, got[0].payload) {
			from = i
			break
		}
	}
	if from < 0 {
		t.Fatalf("%s: first packet %q was never sent", who, got[0].payload)
	}
	want := sent[from:]
	if len(got) != len(want) {
		t.Fatalf("%s heard %d packets from #%d on, want %d", who, len(got), from, len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].payload, want[i].payload) {
			t.Fatalf("%s packet %d: %q, want %q", who, i, got[i].payload, want[i].payload)
		}
		if i > 0 {
			if got[i].seq != got[i-1].seq+1 {
				t.Fatalf("%s packet %d: seq %d after %d", who, i, got[i].seq, got[i-1].seq)
			}
			if d := got[i].ts - got[i-1].ts; int64(d) != want[i].pos-want[i-1].pos {
				t.Fatalf("%s packet %d: timestamp step %d, want %d", who, i, d, want[i].pos-want[i-1].pos)
			}
		}
	}
}

// publishFrom sends n packets of 960 samples from pos start at the given pace.
func publishFrom(c *whip.Client, start int64, n int, pace time.Duration) []gotPacket {
	var sent []gotPacket
	for i := range n {
		pos := start + int64(i)*960
		p := payloadFor(pos)
		c.WritePacket(pos, p)
		sent = append(sent, gotPacket{pos, p})
		time.Sleep(pace)
		if i == 0 {
			time.Sleep(firstPause)
		}
	}
	return sent
}

func whepEnv(t *testing.T, mod func(*ServerConfig)) *testEnv {
	return newTestEnv(t, func(c *ServerConfig) {
		c.Tokens = []string{"pub"}
		c.ListenerTokens = []string{"lis"}
		c.ListenerTimeout = time.Second
		if mod != nil {
			mod(c)
		}
	})
}

// One listener joins before the presenter, one mid-talk: both hear every packet from their
// joining on, byte for byte, in order. The presenter then reconnects with a new session
// (new SSRC, new sequence and timestamp base): the listeners hear one continuous stream.
func TestWHEPListenersHearEveryPacket(t *testing.T) {
	checkGoroutines(t)
	env := whepEnv(t, nil)
	early := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	defer early.close(true)
	waitConnected(t, early.pc)
	if n := env.srv.Listeners("talk"); n != 1 {
		t.Fatalf("Listeners(talk) = %d before the presenter, want 1", n)
	}

	c := env.client(t, "talk", "pub", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	sent := publish(c, 100, -1, 0, 5*time.Millisecond)

	mid := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	defer mid.close(true)
	waitConnected(t, mid.pc)
	serverConnected(t, env.srv, 2)
	sent = append(sent, publishFrom(c, 100*960, 100, 5*time.Millisecond)...)
	testkit.WaitFor(t, 5*time.Second, "listeners to hear the talk", func() bool {
		return early.n.Load() >= 200 && mid.n.Load() >= 1 && len(env.rec.all()) == 1
	})
	time.Sleep(100 * time.Millisecond)
	checkHeard(t, "early listener", early.packets(), sent)
	checkHeard(t, "mid-talk listener", mid.packets(), sent)
	if n := len(mid.packets()); n < 95 || n > 100 {
		t.Errorf("mid-talk listener heard %d packets of the second 100", n)
	}
	sink := env.rec.all()[0]
	testkit.WaitFor(t, 5*time.Second, "the recording", func() bool { got, _ := sink.snapshot(); return len(got) == 200 })

	// The presenter drops and comes back as a new session.
	lastEarly := early.packets()[199]
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	c2 := env.client(t, "talk", "pub", nil)
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c2, whip.Live, 10*time.Second)
	back := time.Now()
	again := publish(c2, 50, -1, 0, 5*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "listeners to hear the presenter again", func() bool { return early.n.Load() >= 250 })
	got := early.packets()[200:]
	checkHeard(t, "early listener after the reconnect", got, again)
	if got[0].seq != lastEarly.seq+1 {
		t.Errorf("after the reconnect seq %d follows %d", got[0].seq, lastEarly.seq)
	}
	gap := got[0].ts - lastEarly.ts
	if gap < 960 || gap > uint32(pcm.Samples(time.Since(back)+10*time.Second)) {
		t.Errorf("timestamp moved by %d across the reconnect", gap)
	}
	st := env.srv.Stats()
	t.Logf("stats %+v", st)
	if st.Listeners != 2 || st.ListenerPacketsDropped != 0 {
		t.Errorf("stats: %d listeners, %d dropped", st.Listeners, st.ListenerPacketsDropped)
	}
	_ = c2.Close()
}

// A presenter's client keeps what it captures while it connects and sends it all on
// connecting, so the recording has the first word; a listener already there starts at the
// live edge instead of getting that second at once (which its jitter buffer would play sped
// up, behind live). The recording still gets every packet.
func TestWHEPListenerStartsAtLiveEdge(t *testing.T) {
	checkGoroutines(t)
	env := whepEnv(t, nil)
	l := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	defer l.close(true)
	waitConnected(t, l.pc)
	serverConnected(t, env.srv, 1)

	c := env.client(t, "talk", "pub", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	const backlog = 50 // a second of capture before the link is up
	var sent []gotPacket
	for i := range backlog {
		pos := int64(i) * 960
		c.WritePacket(pos, payloadFor(pos))
		sent = append(sent, gotPacket{pos, payloadFor(pos)})
	}
	waitState(t, c, whip.Live, 10*time.Second)
	for i := backlog; i < backlog+50; i++ {
		time.Sleep(20 * time.Millisecond) // capture's pace
		pos := int64(i) * 960
		c.WritePacket(pos, payloadFor(pos))
		sent = append(sent, gotPacket{pos, payloadFor(pos)})
	}
	testkit.WaitFor(t, 5*time.Second, "the recording", func() bool {
		if len(env.rec.all()) != 1 {
			return false
		}
		got, _ := env.rec.all()[0].snapshot()
		return len(got) == len(sent)
	})
	time.Sleep(100 * time.Millisecond)
	got := l.packets()
	checkHeard(t, "listener", got, sent)
	first := slices.IndexFunc(sent, func(p gotPacket) bool { return bytes.Equal(p.payload, got[0].payload) })
	st := env.srv.Stats()
	t.Logf("backlog of %d packets: the listener's first was #%d, %d skipped; stats %+v", backlog, first, st.ListenerBacklogSkipped, st)
	if first < backlog-2 || st.ListenerBacklogSkipped != uint64(first) {
		t.Errorf("listener started at packet #%d (%d counted skipped), want the backlog's newest (#%d)", first, st.ListenerBacklogSkipped, backlog-1)
	}
	_, m := testkit.Get(t, env.ts.URL+"/metrics", "pub")
	if !strings.Contains(m, fmt.Sprintf("podium_listener_backlog_skipped_total %d\n", st.ListenerBacklogSkipped)) {
		t.Errorf("metrics lack the skipped backlog:\n%s", m)
	}
}

func do(t *testing.T, method, url, token, ctype, body string) *http.Response {
	t.Helper()
	req := authRequest(t, method, url, token, body)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// Tokens: listener and publisher tokens never stand in for each other, unless the operator
// put one string in both lists; PublicListen needs none. Every refusal creates nothing.
func TestWHEPAccess(t *testing.T) {
	checkGoroutines(t)
	offer, pubOffer := pionOffer(t, webrtc.RTPTransceiverDirectionRecvonly), pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)
	cases := []struct {
		name   string
		mod    func(*ServerConfig)
		path   string
		token  string
		offer  string
		status int
	}{
		{"no token", nil, "/whep/talk", "", offer, 401},
		{"wrong token", nil, "/whep/talk", "nope", offer, 401},
		{"publisher token on WHEP", nil, "/whep/talk", "pub", offer, 401},
		{"listener token on WHIP", nil, "/whip/talk", "lis", pubOffer, 401},
		{"listener token", nil, "/whep/talk", "lis", offer, 201},
		{"public listen", func(c *ServerConfig) { c.PublicListen = true }, "/whep/talk", "", offer, 201},
		{"no listener tokens", func(c *ServerConfig) { c.ListenerTokens = nil }, "/whep/talk", "pub", offer, 401},
		{"public publish, listener token on WHIP", func(c *ServerConfig) { c.Tokens = nil }, "/whip/talk", "lis", pubOffer, 401},
		{"one string in both lists: listens", func(c *ServerConfig) { c.Tokens = []string{"both"}; c.ListenerTokens = []string{"both"} }, "/whep/talk", "both", offer, 201},
		{"one string in both lists: publishes", func(c *ServerConfig) { c.Tokens = []string{"both"}; c.ListenerTokens = []string{"both"} }, "/whip/talk", "both", pubOffer, 201},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := whepEnv(t, tc.mod)
			resp := do(t, http.MethodPost, env.ts.URL+tc.path, tc.token, proto.MimeSDP, tc.offer)
			if resp.StatusCode != tc.status {
				t.Fatalf("POST %s with %q: %d, want %d", tc.path, tc.token, resp.StatusCode, tc.status)
			}
			st := env.srv.Stats()
			if tc.status == 401 {
				if resp.Header.Get("WWW-Authenticate") == "" || st.ListenersTotal != 0 || st.SessionsTotal != 0 {
					t.Errorf("refusal: WWW-Authenticate %q, stats %+v", resp.Header.Get("WWW-Authenticate"), st)
				}
				return
			}
			loc := resp.Header.Get("Location")
			if !strings.HasPrefix(loc, strings.Replace(tc.path, "/talk", "/talk/", 1)) {
				t.Errorf("Location %q", loc)
			}
			if d := do(t, http.MethodDelete, env.ts.URL+loc, tc.token, "", ""); d.StatusCode != 200 {
				t.Errorf("DELETE %s: %d", loc, d.StatusCode)
			}
		})
	}
}

// The same error statuses as WHIP, CORS, /streams, the page, and recordings by query token.
func TestWHEPHandlerErrors(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	env := whepEnv(t, func(c *ServerConfig) {
		c.MaxListeners = 1
		c.MaxOfferBytes = 4096
		c.RecordingsDir = dir
		c.ViewerTokens = []string{"viewer"}
	})
	base := env.ts.URL
	offer := pionOffer(t, webrtc.RTPTransceiverDirectionRecvonly)
	for _, tc := range []struct {
		name, method, path, ctype, body string
		status                          int
	}{
		{"bad stream name", "POST", "/whep/a.b", proto.MimeSDP, offer, 400},
		{"wrong type", "POST", "/whep/talk", "text/plain", offer, 415},
		{"not SDP", "POST", "/whep/talk", proto.MimeSDP, "hello", 400},
		{"sendonly offer", "POST", "/whep/talk", proto.MimeSDP, pionOffer(t, webrtc.RTPTransceiverDirectionSendonly), 400},
		{"PCMU only", "POST", "/whep/talk", proto.MimeSDP, strings.Replace(pcmuOffer, "a=sendonly", "a=recvonly", 1), 400},
		{"too big", "POST", "/whep/talk", proto.MimeSDP, offer + strings.Repeat("a=x:y\r\n", 1000), 413},
		{"PATCH unknown", "PATCH", "/whep/talk/123", proto.MimeSDPFrag, "a=ice-ufrag:x\r\n", 404},
		{"DELETE unknown", "DELETE", "/whep/talk/123", "", "", 404},
	} {
		if r := do(t, tc.method, base+tc.path, "lis", tc.ctype, tc.body); r.StatusCode != tc.status {
			t.Errorf("%s: %s %s: %d, want %d", tc.name, tc.method, tc.path, r.StatusCode, tc.status)
		}
	}
	// Full: the second listener waits.
	l := mustListener(t, base, "talk", "lis", listenerOpts{})
	if r := do(t, "POST", base+"/whep/talk", "lis", proto.MimeSDP, offer); r.StatusCode != 503 || r.Header.Get("Retry-After") == "" {
		t.Errorf("over MaxListeners: %d (Retry-After %q), want 503", r.StatusCode, r.Header.Get("Retry-After"))
	}
	waitConnected(t, l.pc)
	// PATCH: trickle with the session's ufrag is 204; a wrong ETag is 412; the publisher's token 401.
	u := l.pc.LocalDescription()
	frag, err := proto.FragFromSDP(u.SDP)
	if err != nil {
		t.Fatal(err)
	}
	trickle := "a=ice-ufrag:" + frag.Ufrag + "\r\na=ice-pwd:" + frag.Pwd + "\r\n"
	for _, tc := range []struct {
		token, ifMatch string
		status         int
	}{{"lis", "*", 204}, {"lis", `"nope"`, 412}, {"pub", "*", 401}} {
		req := authRequest(t, "PATCH", l.resource, tc.token, trickle)
		req.Header.Set("Content-Type", proto.MimeSDPFrag)
		req.Header.Set("If-Match", tc.ifMatch)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("PATCH (token %s, If-Match %s): %d, want %d", tc.token, tc.ifMatch, resp.StatusCode, tc.status)
		}
	}

	// CORS preflight.
	req, _ := http.NewRequest("OPTIONS", base+"/whep/talk", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Accept-Post") != proto.MimeSDP {
		t.Errorf("OPTIONS /whep/talk: %d %v", resp.StatusCode, resp.Header)
	}

	// /streams: listeners and publishers may look, nobody else.
	if r := do(t, "GET", base+"/streams", "", "", ""); r.StatusCode != 401 {
		t.Errorf("GET /streams without a token: %d", r.StatusCode)
	}
	var all []StreamInfo
	testkit.GetJSON(t, base+"/streams", "lis", &all)
	if len(all) != 1 || all[0].Stream != "talk" || all[0].Live || all[0].Listeners != 1 {
		t.Errorf("GET /streams: %+v", all)
	}
	var one StreamInfo
	testkit.GetJSON(t, base+"/streams/other", "pub", &one)
	if one.Stream != "other" || one.Live || one.Listeners != 0 {
		t.Errorf("GET /streams/other: %+v", one)
	}

	// The page: embedded, no external assets.
	code, page := testkit.Get(t, base+"/listen/talk", "")
	if code != 200 || !strings.Contains(page, "/whep/") || strings.Contains(page, "https://") || strings.Contains(page, "src=\"http") {
		t.Errorf("GET /listen/talk: %d, %d bytes", code, len(page))
	}
	if code, _ := testkit.Get(t, base+"/listen/a.b", ""); code != 404 {
		t.Errorf("GET /listen/a.b: %d", code)
	}

	// Recordings: the viewer, a listener or the publisher token, as Bearer only (a token
	// in the URL would end up in histories and logs).
	for _, tc := range []struct {
		path, token string
		status      int
	}{{"/recordings", "", 401}, {"/recordings", "lis", 200}, {"/recordings", "viewer", 200},
		{"/recordings", "pub", 200}, {"/recordings?token=lis", "", 401}, {"/recordings?token=viewer", "", 401}} {
		if r := do(t, "GET", base+tc.path, tc.token, "", ""); r.StatusCode != tc.status {
			t.Errorf("GET %s (Bearer %q): %d, want %d", tc.path, tc.token, r.StatusCode, tc.status)
		}
	}

	// Metrics.
	_, m := testkit.Get(t, base+"/metrics", "pub")
	for _, want := range []string{"podium_listeners 1\n", "podium_listener_packets_dropped_total 0\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	l.close(true)
	testkit.WaitFor(t, 2*time.Second, "DELETE to remove the listener", func() bool { return env.srv.Stats().Listeners == 0 })
}

// Listeners that vanish without a DELETE are removed: one whose network goes (no ICE
// answers), one that simply closes. Sessions and goroutines return to the baseline.
func TestWHEPVanishedListenerRemoved(t *testing.T) {
	checkGoroutines(t)
	env := whepEnv(t, nil) // ListenerTimeout 1 s
	c := env.client(t, "talk", "pub", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	gone := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{cuttable: true})
	closed := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	stays := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	waitConnected(t, gone.pc, closed.pc, stays.pc)
	serverConnected(t, env.srv, 3)

	stop := make(chan struct{})
	var pub sync.WaitGroup
	pub.Add(1)
	go func() {
		defer pub.Done()
		for pos := int64(0); ; pos += 960 {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			c.WritePacket(pos, payloadFor(pos))
		}
	}()
	defer func() { close(stop); pub.Wait() }()
	testkit.WaitFor(t, 5*time.Second, "media at the listeners", func() bool { return gone.n.Load() > 5 && stays.n.Load() > 5 })

	t0 := time.Now()
	gone.net.cut.Store(true)
	_ = closed.pc.Close() // no DELETE
	testkit.WaitFor(t, 10*time.Second, "the vanished listeners to be removed", func() bool { return env.srv.Listeners("talk") == 1 })
	t.Logf("removed after %v", time.Since(t0).Round(time.Millisecond))
	n := stays.n.Load()
	testkit.WaitFor(t, 2*time.Second, "the remaining listener to keep hearing", func() bool { return stays.n.Load() > n+10 })
	var one StreamInfo
	testkit.GetJSON(t, env.ts.URL+"/streams/talk", "lis", &one)
	if !one.Live || one.Listeners != 1 || one.Started == nil {
		t.Errorf("GET /streams/talk: %+v", one)
	}
	gone.close(false)
	closed.close(false)
	stays.close(false) // no DELETE either: the server notices
	testkit.WaitFor(t, 10*time.Second, "every listener to be removed", func() bool { return env.srv.Stats().Listeners == 0 })
	env.srv.aud.listeners.mu.Lock()
	pending := env.srv.aud.listeners.pending
	env.srv.aud.listeners.mu.Unlock()
	if _, ok := env.srv.aud.fanouts.Load("talk"); ok || pending != 0 {
		t.Errorf("fanout left behind (pending %d)", pending)
	}
}

// A listener whose writer is stuck (as in a full socket) and one that never reads its
// track cost the others nothing: they and the recording get every packet on time, and only
// the stuck one's drop counter rises.
func TestWHEPSlowListener(t *testing.T) {
	checkGoroutines(t)
	env := whepEnv(t, func(c *ServerConfig) { c.ListenerQueue = 16 })
	slow := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	stuckID := strings.TrimPrefix(slow.resource[strings.LastIndex(slow.resource, "/"):], "/")
	var sl *listener
	for _, l := range env.srv.aud.listeners.all() {
		if l.id == stuckID {
			sl = l
		}
	}
	sl.out = stuckWriter{sl.done} // before any packet flows: nothing reads it yet
	deaf := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{noRead: true})
	a := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	b := mustListener(t, env.ts.URL, "talk", "lis", listenerOpts{})
	defer func() {
		for _, l := range []*testListener{slow, deaf, a, b} {
			l.close(true)
		}
	}()
	waitConnected(t, slow.pc, deaf.pc, a.pc, b.pc)
	serverConnected(t, env.srv, 4)

	c := env.client(t, "talk", "pub", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	const n = 200
	sent := publish(c, n, -1, 0, 4*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "the good listeners", func() bool { return a.n.Load() >= n && b.n.Load() >= n })
	checkHeard(t, "listener a", a.packets(), sent)
	checkHeard(t, "listener b", b.packets(), sent)
	// On time: each packet reached them within 100 ms of the one sent just as early.
	for _, l := range []*testListener{a, b} {
		got := l.packets()
		for i := 1; i < len(got); i++ {
			if d := got[i].at.Sub(got[0].at); d > time.Duration(i)*4*time.Millisecond+500*time.Millisecond {
				t.Fatalf("packet %d arrived %v after the first", i, d)
			}
		}
	}
	sink := env.rec.all()[0]
	testkit.WaitFor(t, 5*time.Second, "the recording", func() bool { got, _ := sink.snapshot(); return len(got) == n })

	st := env.srv.Stats()
	t.Logf("stuck listener: %d sent, %d dropped; server %+v", sl.sent.Load(), sl.dropped.Load(), st)
	if sl.dropped.Load() < n-16-2 || st.ListenerPacketsDropped != sl.dropped.Load() {
		t.Errorf("stuck listener dropped %d, server counts %d; want about %d", sl.dropped.Load(), st.ListenerPacketsDropped, n-16-1)
	}
	_, m := testkit.Get(t, env.ts.URL+"/metrics", "pub")
	if !strings.Contains(m, fmt.Sprintf("podium_listener_packets_dropped_total %d\n", st.ListenerPacketsDropped)) ||
		!strings.Contains(m, "podium_listeners 4\n") {
		t.Errorf("/metrics:\n%s", m)
	}
	_ = c.Close()
}

// stuckWriter is a listener's writer stuck as in a full socket, until the listener ends.
type stuckWriter struct{ done <-chan struct{} }

func (w stuckWriter) WriteRTP(*rtp.Packet) error {
	<-w.done
	return errors.New("listener ended")
}

// FuzzWHEPOfferHandler throws arbitrary bodies at POST /whep/{stream}: the handler must
// never panic and must answer 201 (then the session is deleted), 400, 413 or 415.
func FuzzWHEPOfferHandler(f *testing.F) {
	fuzzPost(f, ServerConfig{PublicListen: true}, "/whep/fuzz", pionOffer(f, webrtc.RTPTransceiverDirectionRecvonly), pionOffer(f, webrtc.RTPTransceiverDirectionSendonly),
		strings.Replace(pcmuOffer, "a=sendonly", "a=recvonly", 1),
		"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\n")
}
