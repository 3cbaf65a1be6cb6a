package whip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/rtc"
	"podium/rtc/proto"
	"podium/scripts/testkit"
)

// The client is tested against a real server (package rtc, through its exported API only):
// these are the parts of rtc's own test helpers that the client's tests need.

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

// testSink records what a recording received and checks the Recorder contract.
type testSink struct {
	stream  string
	mu      sync.Mutex
	packets []gotPacket
	closed  bool
	errs    []string
}

func (s *testSink) WritePacket(pos int64, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		s.errs = append(s.errs, "WritePacket after Close")
	}
	if n := len(s.packets); n > 0 && pos <= s.packets[n-1].pos {
		s.errs = append(s.errs, fmt.Sprintf("pos %d after %d", pos, s.packets[n-1].pos))
	}
	s.packets = append(s.packets, gotPacket{pos, bytes.Clone(payload)})
	return nil
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

// recorder is a RecorderFunc that keeps its sinks.
type recorder struct {
	mu    sync.Mutex
	sinks []*testSink
}

func (r *recorder) record(stream string, _ time.Time) (rtc.Sink, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := &testSink{stream: stream}
	r.sinks = append(r.sinks, s)
	return s, nil
}

func (r *recorder) all() []*testSink {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*testSink(nil), r.sinks...)
}

// gate wraps a handler so a test can make the server refuse, and counts ICE restarts.
type gate struct {
	h       http.Handler
	refuse  atomic.Bool // answer 503 to everything
	patches atomic.Int32
	patchOK atomic.Int32
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.refuse.Load() {
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
	srv  *rtc.Server
	ts   *httptest.Server
	rec  *recorder
	gate *gate
}

// newTestEnv starts a server on loopback. Cleanup shuts it down and checks the sinks.
func newTestEnv(t *testing.T, mod func(*rtc.ServerConfig)) *testEnv {
	t.Helper()
	rec := &recorder{}
	cfg := rtc.ServerConfig{Record: rec.record, IPFilter: proto.LoopbackOnly, Logger: testkit.Logger(t)}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := rtc.NewServer(cfg)
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
			s.mu.Lock()
			for _, e := range s.errs {
				t.Errorf("sink %s: %s", s.stream, e)
			}
			s.mu.Unlock()
		}
	})
	return &testEnv{srv: srv, ts: ts, rec: rec, gate: g}
}

func (e *testEnv) client(t *testing.T, stream, token string, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{
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
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func waitState(t testing.TB, c *Client, want State, d time.Duration) {
	t.Helper()
	testkit.WaitFor(t, d, "client "+want.String(), func() bool { return c.Status().State == want })
}

// payloadFor makes a recognisable payload of varying length; the client never looks inside.
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
