package main_test

// End-to-end tests of the real podium-server binary on loopback: a headless Chromium
// publishing over WHIP from a page on another origin, refused tokens, SIGTERM while a
// publisher is live, and the HTTP endpoints an operator watches.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/filename"
	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/rtc/proto"
	"podium/rtc/recordings"
	"podium/rtc/whip"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podium-server-bin")
	if err != nil {
		panic(err)
	}
	serverBin = filepath.Join(dir, "podium-server")
	if err := testkit.Build(serverBin, "podium/cmd/podium-server"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverProc is one running podium-server.
type serverProc struct {
	*testkit.Proc
	base  string // http://127.0.0.1:PORT
	dir   string
	token string
}

// startServer runs the binary on 127.0.0.1 port 0 and reads the port it got from its log
// line, so no other process can take a port between our choosing it and the server binding.
func startServer(t *testing.T) *serverProc {
	t.Helper()
	tok := make([]byte, 12)
	_, _ = rand.Read(tok)
	p := &serverProc{dir: t.TempDir(), token: hex.EncodeToString(tok)}
	p.Proc = testkit.Start(t, nil, serverBin, "--listen", "127.0.0.1:0", "--dir", p.dir, "--token", p.token)
	p.base = testkit.ServerBase(t, p.Proc)
	return p
}

func (p *serverProc) mp3s(t *testing.T) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(p.dir, "*.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	return slices.DeleteFunc(m, func(f string) bool { return strings.HasSuffix(f, filename.StudioSuffix) }) // the live copies
}

// recordings and metrics are the operator's: the publisher token reads them.
func (p *serverProc) recordings(t *testing.T) []recordings.File {
	t.Helper()
	var list []recordings.File
	testkit.GetJSON(t, p.base+"/recordings", p.token, &list)
	return list
}

func (p *serverProc) metrics(t *testing.T) map[string]float64 {
	t.Helper()
	return testkit.Metrics(t, p.base+"/metrics", p.token)
}

// checkEndpoints is what an operator's monitoring sees: health, the packet counter, and the
// recording in the list with its real size (and whether it is still being written).
func checkEndpoints(t *testing.T, p *serverProc, file string, live bool) {
	t.Helper()
	if code, body := testkit.Get(t, p.base+"/healthz", ""); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("GET /healthz: %d %q", code, body)
	}
	m := p.metrics(t)
	if m["podium_packets_received_total"] <= 0 {
		t.Errorf("podium_packets_received_total = %v after publishing", m["podium_packets_received_total"])
	}
	if m["podium_recordings_total"] != 1 {
		t.Errorf("podium_recordings_total = %v, want 1", m["podium_recordings_total"])
	}
	list := p.recordings(t)
	var found *recordings.File
	for i := range list {
		if list[i].Name == filepath.Base(file) {
			found = &list[i]
		}
	}
	if len(list) != 1 || found == nil {
		t.Errorf("GET /recordings lists %+v, want exactly %q", list, filepath.Base(file))
		return
	}
	if found.Live != live {
		t.Errorf("GET /recordings says live=%v for %q, want %v", found.Live, found.Name, live)
	}
	if !live {
		// A finished recording downloads whole, by the name the list gave.
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		code, body := testkit.Get(t, p.base+"/recordings/"+url.PathEscape(found.Name), p.token)
		if found.Size != int64(len(want)) || code != http.StatusOK || body != string(want) {
			t.Errorf("GET /recordings says %d bytes; GET /recordings/%s: %d with %d bytes; the file has %d",
				found.Size, found.Name, code, len(body), len(want))
		}
	}
	t.Logf("metrics: %v packets received; /recordings: %+v", m["podium_packets_received_total"], *found)
}

// ---- a real browser ----

type pageResult struct {
	Candidates   []string `json:"candidates"`
	PostStatus   int      `json:"postStatus"`
	Location     string   `json:"location"`
	State        string   `json:"state"`
	PacketsSent  int      `json:"packetsSent"`
	DeleteStatus int      `json:"deleteStatus"`
	Error        string   `json:"error"`
}

// TestChromiumPublishesToServer: headless Chromium captures the speech fixture through its
// fake microphone and publishes it to the real binary for 8 s from a page on another origin
// (CORS preflight, exposed Location), then DELETEs. The server's MP3 must be the speech.
func TestChromiumPublishesToServer(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	srv := startServer(t)

	const publish = 8 * time.Second
	result := make(chan pageResult, 1)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/result":
			var res pageResult
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &res); err != nil {
				res.Error = fmt.Sprintf("bad report %q: %v", b, err)
			}
			select {
			case result <- res:
			default:
			}
		case "/":
			cfg, _ := json.Marshal(map[string]any{
				"whip": srv.base + "/whip/browser", "token": srv.token, "publishMs": publish.Milliseconds(),
			})
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, browserPage, cfg)
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	chrome := testkit.Chromium(t, page.URL, testkit.FakeMicrophone(speech)...)

	var res pageResult
	select {
	case res = <-result:
	case <-ctx.Done():
		t.Fatalf("no result from the page within 45 s; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
	}
	t.Logf("page: POST %d, Location %s, %s, %d packets sent, DELETE %d, error %q; %d ICE candidates",
		res.PostStatus, res.Location, res.State, res.PacketsSent, res.DeleteStatus, res.Error, len(res.Candidates))
	if res.Error != "" || res.PostStatus != http.StatusCreated || res.Location == "" ||
		res.State != "connected" || res.DeleteStatus != http.StatusOK {
		t.Fatalf("browser publish failed: %+v", res)
	}
	if !strings.HasPrefix(res.Location, "/whip/browser/") {
		t.Errorf("Location %q is not the session resource", res.Location)
	}
	loopback := false
	for _, c := range res.Candidates {
		if strings.Contains(c, ".local ") {
			t.Errorf("offer still hides an address behind mDNS: %s", c)
		}
		if strings.Contains(c, " 127.0.0.1 ") || strings.Contains(c, " ::1 ") {
			loopback = true
		}
	}
	if !loopback {
		t.Errorf("offer has no loopback host candidate: %q", res.Candidates)
	}

	// DELETE answered 200 only after the server closed the sink: the file is final now.
	files := srv.mp3s(t)
	if len(files) != 1 {
		t.Fatalf("recordings in --dir: %v, want one", files)
	}
	checkEndpoints(t, srv, files[0], false)
	got := audiotest.Decode(t, files[0])
	secs := float64(len(got)) / pcm.SampleRate
	if secs < publish.Seconds()-1.5 || secs > publish.Seconds()+1 {
		t.Errorf("server recorded %.2f s of an %v publish", secs, publish)
	}
	corr, offset, overlap := correlateLooped(t, in, got)
	t.Logf("server MP3: %.2f s; correlates %.3f with the speech over %.2f s, starting %.2f s into the file",
		secs, corr, float64(overlap)/pcm.SampleRate, float64(offset)/pcm.SampleRate)
	// Opus (Chromium's default ~32 kb/s) then MP3 64 kb/s keep speech at about 0.95 in
	// Podium's own path; 0.9 leaves room for the browser's resampling, not for lost or
	// misplaced packets (a 20 ms hole or slip in 8 s costs more than that).
	if corr < 0.9 {
		t.Errorf("server recording correlates %.3f with the speech, want >= 0.9", corr)
	}
	if overlap < len(got)*9/10 {
		t.Errorf("correlated over %d of %d samples", overlap, len(got))
	}
}

// correlateLooped finds where in the looping fake microphone got starts and correlates it
// with the speech there. Chromium opens the fake device at getUserMedia and loops the file,
// so the recording may begin anywhere in it and run over the end into the start. A coarse
// search at 1/8 of the rate over the whole loop finds the place cheaply; audiotest.Correlate
// then aligns exactly within ±3 s of it, over the overlap.
func correlateLooped(t *testing.T, in, got []int16) (corr float64, offset, overlap int) {
	t.Helper()
	loop := append(append(append([]int16(nil), in...), in...), in[:min(len(in), len(got))]...)
	const k = 8
	down := func(p []int16) []int16 {
		out := make([]int16, len(p)/k)
		for i := range out {
			s := 0
			for _, v := range p[i*k : i*k+k] {
				s += int(v)
			}
			out[i] = int16(s / k)
		}
		return out
	}
	// got[i+lag] ≈ loop[i]: got begins at loop[-lag].
	coarse := -audiotest.Align(down(loop[:len(in)+len(got)]), down(got), len(in)/k) * k
	if coarse < 0 {
		coarse += len(in)
	}
	const maxLag = 3 * pcm.SampleRate
	from := max(coarse-maxLag, 0)
	window := loop[from:min(coarse+len(got)+maxLag, len(loop))]
	corr, lag, overlap := audiotest.Correlate(window, got, maxLag+coarse-from)
	return corr, (from - lag) % len(in), overlap
}

// browserPage publishes the fake microphone over WHIP and reports to /result. Chromium's
// echo cancellation, noise suppression and gain control are off: the test measures the
// transport and the server, not the browser's voice processing.
const browserPage = `<!doctype html><meta charset=utf-8><title>podium whip</title><script>
const cfg = %s;
const sleep = (ms) => new Promise(r => setTimeout(r, ms));
const res = {candidates: []};
const report = () => fetch('/result', {method: 'POST', body: JSON.stringify(res)});
(async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio:
      {echoCancellation: false, noiseSuppression: false, autoGainControl: false}});
    const pc = new RTCPeerConnection();
    const tr = pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly'});
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(r => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
      setTimeout(r, 3000);
    });
    const offer = pc.localDescription.sdp;
    res.candidates = offer.split('\r\n').filter(l => l.startsWith('a=candidate:'));
    const auth = {'Authorization': 'Bearer ' + cfg.token};
    const post = await fetch(cfg.whip, {method: 'POST',
      headers: {...auth, 'Content-Type': 'application/sdp'}, body: offer});
    res.postStatus = post.status;
    res.location = post.headers.get('Location') || '';
    const body = await post.text();
    if (post.status !== 201) throw new Error('POST ' + post.status + ': ' + body);
    await pc.setRemoteDescription({type: 'answer', sdp: body});
    for (let i = 0; i < 200 && pc.connectionState !== 'connected'; i++) await sleep(25);
    res.state = pc.connectionState;
    await sleep(cfg.publishMs);
    (await tr.sender.getStats()).forEach(s => { if (s.type === 'outbound-rtp') res.packetsSent = s.packetsSent; });
    const del = await fetch(new URL(res.location, cfg.whip).href, {method: 'DELETE', headers: auth});
    res.deleteStatus = del.status;
    pc.close();
  } catch (e) { res.error = String(e); }
  report();
})();
</script>`

// ---- refusals ----

// A wrong or missing token is refused by the binary with 401 before anything is opened.
func TestServerRefusesBadToken(t *testing.T) {
	srv := startServer(t)
	for _, auth := range []string{"Bearer wrong", "", "Basic " + srv.token, "Bearer " + srv.token + "x"} {
		req, _ := http.NewRequest(http.MethodPost, srv.base+"/whip/talk", strings.NewReader(opusOffer))
		req.Header.Set("Content-Type", "application/sdp")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" ||
			!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %s, Location %q, WWW-Authenticate %q; want 401 with a Bearer challenge",
				auth, resp.Status, resp.Header.Get("Location"), resp.Header.Get("WWW-Authenticate"))
		}
	}
	// Podium's own client reports it as the token, and does not retry.
	c, err := whip.NewClient(whip.Config{URL: srv.base + "/whip/talk", Token: "wrong", IPFilter: proto.LoopbackOnly, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Start(t.Context())
	if !errors.Is(err, whip.ErrTokenRefused) || c.Status().State != whip.Failed {
		t.Errorf("whip client with a wrong token: %v, state %v; want ErrTokenRefused, failed", err, c.Status().State)
	}
	c.Close()
	if files := srv.mp3s(t); len(files) != 0 {
		t.Errorf("refused publishers left files: %v", files)
	}
	if m := srv.metrics(t); m["podium_sessions_total"] != 0 || m["podium_recordings_total"] != 0 {
		t.Errorf("refused publishers: %v sessions, %v recordings", m["podium_sessions_total"], m["podium_recordings_total"])
	}
}

// opusOffer is a well-formed Opus offer, so a 401 can only be about the token.
var opusOffer = testkit.StaticOffer(111, "opus/48000/2")

// ---- SIGTERM with a live publisher ----

// publisher feeds real Opus (the speech, encoded by audio.OpusEncoder) to a whip.Client in
// real time, the way the app's pipeline does.
type publisher struct {
	client *whip.Client
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	frames int
}

func startPublisher(t testing.TB, url, token string, samples []int16) *publisher {
	t.Helper()
	c, err := whip.NewClient(whip.Config{URL: url, Token: token, IPFilter: proto.LoopbackOnly, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Frames only once live, so the first frame is the server's position 0.
	deadline := time.Now().Add(10 * time.Second)
	for c.Status().State != whip.Live {
		if time.Now().After(deadline) {
			c.Close()
			t.Fatalf("publisher not live after 10 s: %+v", c.Status())
		}
		time.Sleep(10 * time.Millisecond)
	}
	enc, err := audio.NewOpusEncoder(0)
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{client: c, stop: make(chan struct{}), done: make(chan struct{})}
	sink := audio.NewOpusBranch(enc, c)
	go func() {
		defer close(p.done)
		start := time.Now()
		for i := 0; (i+1)*pcm.FrameSamples <= len(samples); i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(time.Until(start.Add(time.Duration(i) * 20 * time.Millisecond))):
			}
			if err := sink.WriteFrame(audio.Frame{Pos: int64(i * pcm.FrameSamples), Samples: samples[i*pcm.FrameSamples : (i+1)*pcm.FrameSamples]}); err != nil {
				t.Errorf("opus: %v", err)
				return
			}
			p.mu.Lock()
			p.frames++
			p.mu.Unlock()
		}
	}()
	t.Cleanup(p.close)
	return p
}

func (p *publisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
	_ = p.client.Close()
}

// While a publisher is live the endpoints show it; SIGTERM then ends the binary cleanly
// within seconds and leaves a complete MP3 (Xing header agreeing with the audio) of the
// speech that was sent.
func TestServerSIGTERMWithLivePublisher(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	srv := startServer(t)
	pub := startPublisher(t, srv.base+"/whip/talk", srv.token, in)

	time.Sleep(4 * time.Second)
	files := srv.mp3s(t)
	if len(files) != 1 {
		t.Fatalf("recordings in --dir while live: %v, want one", files)
	}
	checkEndpoints(t, srv, files[0], true)

	if st := pub.client.Status(); st.State != whip.Live {
		t.Fatalf("publisher no longer live before SIGTERM: %+v", st)
	}
	sent := time.Now()
	code := srv.Stop(t, 5*time.Second)
	took := time.Since(sent)
	if code != 0 {
		t.Errorf("podium-server exited %d after SIGTERM:\n%s", code, srv.Log())
	}
	pub.mu.Lock()
	published := pub.frames
	pub.mu.Unlock()
	pub.close()
	t.Logf("exited %v after SIGTERM, with %d frames (%.2f s) published", took.Round(time.Millisecond), published, float64(published)/50)

	got := audiotest.Decode(t, files[0])
	info, err := frames.ReadFileInfo(files[0])
	if err != nil || !info.HasXing || info.Samples() != int64(len(got)) {
		t.Errorf("after SIGTERM: header %+v (%v), decoded %d samples; want a Xing header promising exactly that", info, err, len(got))
	}
	// Everything sent up to the signal is in the file, give or take the frames in flight.
	if d := len(got) - published*pcm.FrameSamples; d < -10*pcm.FrameSamples || d > 5*pcm.FrameSamples {
		t.Errorf("file has %d samples, publisher sent %d", len(got), published*pcm.FrameSamples)
	}
	corr, lag, _ := audiotest.Correlate(in[:min(len(got), len(in))], got, pcm.SampleRate/10)
	t.Logf("server MP3 %.2f s, correlation %.3f at lag %d", float64(len(got))/pcm.SampleRate, corr, lag)
	if corr < 0.9 || lag < -pcm.FrameSamples || lag > pcm.FrameSamples {
		t.Errorf("server copy correlates %.3f at lag %d; want >= 0.9 within a frame of 0", corr, lag)
	}
}
