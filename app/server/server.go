// Package server builds the Podium server: podium-server, and the built-in one the desktop
// app runs on loopback so it works with no server configured. One constructor wires the
// WHIP/WHEP server (rtc), the MP3 recorder, HLS, the hardened HTTP server, metrics and
// logging, so both binaries serve the same way.
//
// What only podium-server has (the S3 bucket, the studio uploads) is attached from its main
// through Config's hooks, Handle and RegisterMetrics: the desktop binary must not link
// minio-go or tusd.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"podium/app/recorder"
	"podium/audio/mp3"
	"podium/audio/mp3/repair"
	"podium/rtc"
	"podium/rtc/hls"
)

// diskEvery is how often the free space of Dir is measured: statfs is cheap.
const diskEvery = 2 * time.Second

// Config is rtc.ServerConfig (tokens, limits, ICE, Logger; its Record and RecordingsDir
// are made here, from Dir) and what goes around it.
type Config struct {
	rtc.ServerConfig

	// Dir is the recordings folder: each stream is recorded to MP3 there, listed by GET
	// /recordings, repaired at start (what a crash left unfinished) and watched for free
	// space. Empty records nothing: the built-in server's presenter keeps their own MP3.
	Dir string
	// Bitrate of the MP3s in kbps; 0 means mp3.DefaultBitrate.
	Bitrate int
	// Keep, where set, is handed each MP3 as it opens and returns what the server writes
	// to instead (podium-server's bucket claims the file there, and uploads it once closed).
	Keep func(rtc.NamedSink) rtc.Sink

	// HLS also packages each recorded stream as HLS for listeners behind a CDN or caching
	// proxy (GET /hls/{stream}/index.m3u8, with a listener token).
	HLS bool
	// HLSMirror, where set, gets a copy of every live rendition (the bucket a CDN pulls
	// from), kept there HLSKeep after the stream ends.
	HLSMirror hls.Mirror
	HLSKeep   time.Duration

	// MaxConns caps the HTTP connections (idle and silent ones make room for new ones).
	MaxConns int
}

// Server is the rtc.Server (its methods are the Server's: Handle, RegisterMetrics,
// Publisher, SetListenerTokens…) behind the hardened HTTP server.
type Server struct {
	*rtc.Server
	cfg   Config
	log   *slog.Logger
	http  *rtc.HTTPServer
	stats *recorder.Stats
	// ctx lives until Shutdown: the free-space watch runs until then.
	ctx  context.Context
	stop context.CancelFunc
}

// New builds the server; it listens on nothing until Serve.
func New(cfg Config) (*Server, error) {
	if cfg.Bitrate == 0 {
		cfg.Bitrate = mp3.DefaultBitrate
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	s := &Server{cfg: cfg, log: log, stats: &recorder.Stats{}}
	var live *hls.Renditions
	if cfg.HLS {
		live = &hls.Renditions{Mirror: cfg.HLSMirror, MirrorKeep: cfg.HLSKeep, Failed: func(stream string, err error) {
			log.Warn("podium-server: HLS failed; the recording goes on", "stream", stream, "err", err)
		}}
	}
	if cfg.Dir != "" {
		if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("recordings folder: %w", err)
		}
		// Recordings a crash left unfinished get their headers back before anyone lists them.
		fixed, err := repair.Dir(cfg.Dir, "")
		for _, f := range fixed {
			log.Info("podium-server: recovered", "file", f)
		}
		if err != nil {
			log.Error("podium-server: repair", "err", err)
		}
	}
	cfg.RecordingsDir = cfg.Dir
	cfg.Record = s.recordFunc(live)
	srv, err := rtc.NewServer(cfg.ServerConfig)
	if err != nil {
		return nil, err
	}
	s.Server = srv
	if live != nil {
		srv.HandleHLS(live.Handler())
		srv.RegisterMetrics(live.Collectors()...)
	}
	// Tests and operators read the port from the message as well.
	log.Info(fmt.Sprintf("podium-server: media on UDP port %d (every session)", srv.UDPPort()), "udp_port", srv.UDPPort())
	// Every read and write has a deadline, and connections are capped: a client that stops
	// reading a download, or floods the server with connections, holds nothing for long.
	s.http = rtc.NewHTTPServer(srv, rtc.HTTPLimits{MaxConns: cfg.MaxConns})
	srv.RegisterMetrics(s.stats.Collectors()...)
	srv.RegisterMetrics(s.http.Collectors()...)
	s.ctx, s.stop = context.WithCancel(context.Background())
	return s, nil
}

// recordFunc opens each stream's recording: the MP3 in Dir (through Keep), teed into its
// HLS rendition where live is set; with no Dir, a sink that keeps nothing.
func (s *Server) recordFunc(live *hls.Renditions) rtc.SinkFunc {
	if s.cfg.Dir == "" {
		return func(string, time.Time) (rtc.Sink, error) { return discard{}, nil }
	}
	toMP3 := recorder.New(s.cfg.Dir, s.cfg.Bitrate, s.stats)
	return func(stream string, start time.Time) (rtc.Sink, error) {
		rec, err := toMP3(stream, start)
		if err != nil {
			return nil, err
		}
		if s.cfg.Keep != nil {
			rec = s.cfg.Keep(rec.(rtc.NamedSink))
		}
		if live == nil {
			return rec, nil
		}
		r, err := live.Open(stream, start)
		if err != nil {
			s.log.Warn("podium-server: no HLS", "stream", stream, "err", err)
			return rec, nil
		}
		return live.Tee(stream, rec, r), nil
	}
}

// discard is the recorder when no Dir is given: the built-in server only proves the live
// path works, the presenter's own MP3 is the recording.
type discard struct{}

func (discard) WritePacket(int64, []byte) error { return nil }
func (discard) Close() error                    { return nil }

// Serve serves on every listener until Shutdown (or one fails: its error is returned;
// http.ErrServerClosed after Shutdown). The first listener's address is the one logged.
func (s *Server) Serve(lns ...net.Listener) error {
	if len(lns) == 0 {
		return errors.New("server: no listener")
	}
	if s.cfg.Dir != "" {
		// The room left, for /metrics and a warning in the log while there is time to act.
		s.stats.WatchSpace(s.ctx, s.cfg.Dir, s.cfg.Bitrate, diskEvery, func(format string, args ...any) {
			s.log.Warn(fmt.Sprintf(format, args...))
		})
	}
	served := make(chan error, len(lns))
	for _, ln := range lns {
		go func() { served <- s.http.Serve(ln) }()
	}
	addr := lns[0].Addr()
	// Tests (testkit.ServerBase) read the address from the message.
	s.log.Info(fmt.Sprintf("podium-server: WHIP on http://%s/whip/{stream}, recordings in %s", addr, s.cfg.Dir), "addr", addr.String(), "dir", s.cfg.Dir)
	switch {
	case s.cfg.PublicListen:
		s.log.Info(fmt.Sprintf("podium-server: listeners: http://%s/listen/{stream} (public)", addr))
	case len(s.cfg.ListenerTokens) > 0:
		s.log.Info(fmt.Sprintf("podium-server: listeners: http://%s/listen/{stream}#token=LISTENER-TOKEN", addr))
	default:
		s.log.Warn("podium-server: no listener token and no --public-listen: nobody can listen")
	}
	return <-served
}

// Shutdown ends every session first, so every open MP3 is finalised, then stops listening;
// connections still open when ctx ends are closed.
func (s *Server) Shutdown(ctx context.Context) error {
	s.log.Info("podium-server: shutting down, finalising recordings")
	s.stop()
	err := s.Server.Shutdown(ctx)
	return errors.Join(err, s.http.Shutdown(ctx))
}
