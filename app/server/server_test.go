package server_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/app/server"
	"podium/rtc"
	"podium/rtc/proto"
)

// syncBuffer is a log both the server's goroutines and the test use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// One server's whole life: built, served on two listeners (as the built-in one serves on
// loopback and the LAN address), asked over both, shut down; Serve then returns.
func TestServeAndShutdown(t *testing.T) {
	var log syncBuffer
	dir := filepath.Join(t.TempDir(), "recordings")
	srv, err := server.New(server.Config{ServerConfig: rtc.ServerConfig{
		Tokens: []string{"op"}, IPFilter: proto.LoopbackOnly, Logger: slog.New(slog.NewTextHandler(&log, nil)),
	}, Dir: dir, HLS: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("recordings folder not made: %v", err)
	}
	var lns []net.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lns...) }()
	for _, ln := range lns {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer op")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET /metrics on %s: %s", ln.Addr(), resp.Status)
		}
	}
	if want := "WHIP on http://" + lns[0].Addr().String(); !strings.Contains(log.String(), want) {
		t.Errorf("log has no %q:\n%s", want, log.String())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		if !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve after Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still running after Shutdown")
	}
}

func TestServeNeedsAListener(t *testing.T) {
	srv, err := server.New(server.Config{ServerConfig: rtc.ServerConfig{
		IPFilter: proto.LoopbackOnly, Logger: slog.New(slog.DiscardHandler)}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(context.Background())
	if err := srv.Serve(); err == nil {
		t.Fatal("Serve with no listener: no error")
	}
}
