// Package studiotest runs podium-server's handler for tests: WHIP, the MP3 recorder and the
// studio uploads, on a loopback port whose HTTP side can be taken down and brought back.
package studiotest

import (
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/app/recorder"
	"podium/app/studio/studioproto"
	"podium/app/studio/studioserver"
	"podium/audio/filename"
	"podium/audio/mp3"
	"podium/rtc"
	"podium/rtc/proto"
)

// Token is the publisher token the server takes.
const Token = "pub"

// Server is one such server.
type Server struct {
	Dir  string // its recordings folder
	Addr string // host:port of its HTTP side
	srv  *rtc.Server
	hs   *http.Server
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	var up *studioserver.Server
	srv, err := rtc.NewServer(rtc.ServerConfig{Tokens: []string{Token}, RecordingsDir: dir,
		Record: recorder.New(dir, mp3.DefaultBitrate, &recorder.Stats{}), IPFilter: proto.LoopbackOnly, Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
		Began: func(name, who string) { up.Began(name, who) }})
	if err != nil {
		t.Fatal(err)
	}
	up, err = studioserver.New(studioserver.Config{Dir: dir, Publisher: srv.Publisher, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle(studioproto.BasePath, up.Handler())
	s := &Server{srv: srv, Dir: dir, Addr: "127.0.0.1:0"}
	s.Up(t)
	t.Cleanup(func() {
		s.Down()
		_ = srv.Shutdown(t.Context())
	})
	return s
}

// WHIP is the server's WHIP endpoint for stream.
func (s *Server) WHIP(stream string) string { return "http://" + s.Addr + "/whip/" + stream }

// Up serves HTTP (again) on the same address.
func (s *Server) Up(t testing.TB) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port was ours a moment ago
		if ln, err = net.Listen("tcp", s.Addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	s.hs = &http.Server{Handler: s.srv}
	go s.hs.Serve(ln)
}

// Down closes the HTTP side (media already flowing goes on).
func (s *Server) Down() { _ = s.hs.Close() }

// StudioCopy is the one studio copy on the server.
func (s *Server) StudioCopy(t testing.TB) []byte {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(s.Dir, "*"+filename.StudioSuffix))
	if len(m) != 1 {
		t.Fatalf("studio copies on the server: %v, want one", m)
	}
	b, err := os.ReadFile(m[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}
