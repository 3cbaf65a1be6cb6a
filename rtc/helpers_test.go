package rtc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"

	"github.com/pion/webrtc/v4"
)

// checkGoroutines fails the test if goroutines started during it are still running once
// every cleanup registered after it has run.
func checkGoroutines(t testing.TB) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				var b bytes.Buffer
				_ = pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("goroutines: %d before, %d after\n%s", before, runtime.NumGoroutine(), b.String())
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

type gotPacket struct {
	pos     int64
	payload []byte
}

// testSink records what a recording received and checks the Sink contract.
type testSink struct {
	stream string
	name   string

	block  <-chan struct{} // when set, each WritePacket waits for it to close (a stalled disk)
	failAt int             // when > 0, the failAt-th WritePacket fails (a full disk)

	mu      sync.Mutex
	packets []gotPacket
	closed  bool
	errs    []string
	busy    atomic.Int32
	calls   int
	talk    Talk // as SetTalk last told it (TalkSink)
	talks   int  // SetTalk calls
}

func (s *testSink) SetTalk(t Talk) {
	if s.busy.Add(1) != 1 {
		s.fail("SetTalk beside WritePacket")
	}
	defer s.busy.Add(-1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.errs = append(s.errs, "SetTalk after Close")
	}
	s.talk, s.talks = t, s.talks+1
}

// told is the talk as the sink was last told it, and how often it was.
func (s *testSink) told() (Talk, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.talk, s.talks
}

var errTestSinkFull = errors.New("test sink: disk full")

func (s *testSink) WritePacket(pos int64, payload []byte) error {
	if s.busy.Add(1) != 1 {
		s.fail("concurrent WritePacket")
	}
	defer s.busy.Add(-1)
	if s.block != nil {
		<-s.block
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.errs = append(s.errs, "WritePacket after Close")
	}
	if s.calls++; s.calls == s.failAt {
		return errTestSinkFull
	}
	if s.failAt > 0 && s.calls > s.failAt {
		s.errs = append(s.errs, "WritePacket after it failed")
	}
	if n := len(s.packets); n > 0 && pos <= s.packets[n-1].pos {
		s.errs = append(s.errs, fmt.Sprintf("pos %d after %d", pos, s.packets[n-1].pos))
	}
	s.packets = append(s.packets, gotPacket{pos, bytes.Clone(payload)})
	return nil
}

func (s *testSink) fail(msg string) {
	s.mu.Lock()
	s.errs = append(s.errs, msg)
	s.mu.Unlock()
}

func (s *testSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.errs = append(s.errs, "closed twice")
	}
	s.closed = true
	return nil
}

func (s *testSink) snapshot() ([]gotPacket, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]gotPacket(nil), s.packets...), s.closed
}

func (s *testSink) check(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.errs {
		t.Errorf("sink %s: %s", s.stream, e)
	}
}

type namedTestSink struct{ *testSink }

func (n namedTestSink) Name() string { return "/somewhere/" + n.name }

// recorder is a SinkFunc that keeps its sinks.
type recorder struct {
	mu     sync.Mutex
	sinks  []*testSink
	named  bool
	block  <-chan struct{} // given to each new sink
	failAt int             // given to each new sink
}

func (r *recorder) record(stream string, _ time.Time) (Sink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &testSink{stream: stream, name: stream + ".mp3", block: r.block, failAt: r.failAt}
	r.sinks = append(r.sinks, s)
	if r.named {
		return namedTestSink{s}, nil
	}
	return s, nil
}

func (r *recorder) all() []*testSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*testSink(nil), r.sinks...)
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	for _, s := range r.all() {
		s.check(t)
	}
}

// gate wraps a handler so a test can make the server refuse (or drop requests).
type gate struct {
	h       http.Handler
	refuse  atomic.Bool // answer 503 to everything
	noDel   atomic.Bool // "lose" DELETEs
	patches atomic.Int32
	patchOK atomic.Int32
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.refuse.Load() || (g.noDel.Load() && r.Method == http.MethodDelete) {
		http.Error(w, "down for the test", http.StatusServiceUnavailable)
		return
	}
	if r.Method == http.MethodPatch {
		g.patches.Add(1)
		rw := &statusRecorder{ResponseWriter: w}
		g.h.ServeHTTP(rw, r)
		if rw.status == http.StatusOK {
			g.patchOK.Add(1)
		}
		return
	}
	g.h.ServeHTTP(w, r)
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

type testEnv struct {
	srv  *Server
	ts   *httptest.Server
	rec  *recorder
	gate *gate
}

// newTestEnv starts a Server on loopback. Cleanup shuts it down and checks the sinks.
func newTestEnv(t *testing.T, mod func(*ServerConfig)) *testEnv {
	t.Helper()
	rec := &recorder{}
	cfg := ServerConfig{
		Record:   rec.record,
		IPFilter: proto.LoopbackOnly,
		Logger:   testkit.Logger(t),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &gate{h: srv}
	ts := httptest.NewServer(g)
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		for _, s := range rec.all() {
			if _, closed := s.snapshot(); !closed {
				t.Errorf("sink %s not closed after Shutdown", s.stream)
			}
		}
		rec.check(t)
	})
	return &testEnv{srv: srv, ts: ts, rec: rec, gate: g}
}

// authRequest is a request to url with token, when set, as its Bearer token (tokens travel
// in the Authorization header alone: auth.go): how the rtc tests speak to the server as
// someone.
func authRequest(t testing.TB, method, url, token, body string) *http.Request {
	t.Helper()
	var b io.Reader
	if body != "" {
		b = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, b)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

func (e *testEnv) client(t *testing.T, stream, token string, mod func(*whip.Config)) *whip.Client {
	t.Helper()
	cfg := whip.Config{
		URL:               e.ts.URL + "/whip/" + stream,
		Token:             token,
		IPFilter:          proto.LoopbackOnly,
		Logf:              t.Logf,
		MinBackoff:        50 * time.Millisecond,
		MaxBackoff:        300 * time.Millisecond,
		DisconnectTimeout: time.Second,
		ConnectTimeout:    5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := whip.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitState(t testing.TB, c *whip.Client, want whip.State, d time.Duration) {
	t.Helper()
	testkit.WaitFor(t, d, "client "+want.String(), func() bool { return c.Status().State == want })
}

// payloadFor makes a recognisable payload of varying length; rtc never looks inside.
func payloadFor(pos int64) []byte {
	p := []byte(fmt.Sprintf("pos=%d;", pos))
	for i := 0; i < int(pos/960%50); i++ {
		p = append(p, byte(i))
	}
	return p
}

func posOf(payload []byte) (int64, error) {
	var pos int64
	s, _, ok := strings.Cut(string(payload), ";")
	if !ok {
		return 0, errors.New("no pos in payload")
	}
	_, err := fmt.Sscanf(s, "pos=%d", &pos)
	return pos, err
}

// pionOffer gathers a real Pion offer with one Opus audio transceiver: sendonly for WHIP,
// recvonly for WHEP.
func pionOffer(t testing.TB, dir webrtc.RTPTransceiverDirection) string {
	t.Helper()
	api, err := proto.NewAPI(proto.NetOptions{IPFilter: proto.LoopbackOnly})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.GracefulClose() }()
	init := webrtc.RTPTransceiverInit{Direction: dir}
	if dir == webrtc.RTPTransceiverDirectionSendonly {
		track, err := webrtc.NewTrackLocalStaticRTP(proto.Opus.RTPCodecCapability, "audio", "test")
		if err != nil {
			t.Fatal(err)
		}
		_, err = pc.AddTransceiverFromTrack(track, init)
	} else {
		_, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, init)
	}
	if err != nil {
		t.Fatal(err)
	}
	return testkit.LocalOffer(t, pc)
}

// pcmuOffer is a well-formed offer whose only audio codec is PCMU.
var pcmuOffer = testkit.StaticOffer(0, "PCMU/8000")
