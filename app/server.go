package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"podium/audio"
	"podium/rtc"
)

// RecorderStats are podium-server's codec-side counters, for /metrics.
type RecorderStats struct {
	Recordings      atomic.Int64
	EncodeNanos     atomic.Int64 // time spent decoding Opus and encoding MP3
	ConcealedSample atomic.Int64
	CorruptPackets  atomic.Int64
}

// WriteMetrics appends the counters in the Prometheus text format.
func (s *RecorderStats) WriteMetrics(w io.Writer) {
	fmt.Fprintf(w, "# HELP podium_recordings_total Recordings opened.\n# TYPE podium_recordings_total counter\npodium_recordings_total %d\n", s.Recordings.Load())
	fmt.Fprintf(w, "# HELP podium_mp3_encode_seconds_total Time spent decoding Opus and encoding MP3.\n# TYPE podium_mp3_encode_seconds_total counter\npodium_mp3_encode_seconds_total %.6f\n", float64(s.EncodeNanos.Load())/1e9)
	fmt.Fprintf(w, "# HELP podium_concealed_seconds_total Audio rebuilt by FEC, PLC or silence because packets were missing.\n# TYPE podium_concealed_seconds_total counter\npodium_concealed_seconds_total %.3f\n", float64(s.ConcealedSample.Load())/audio.SampleRate)
	fmt.Fprintf(w, "# HELP podium_corrupt_packets_total Packets that did not decode.\n# TYPE podium_corrupt_packets_total counter\npodium_corrupt_packets_total %d\n", s.CorruptPackets.Load())
}

// serverRecording decodes one published stream straight into an MP3: nothing is kept for the
// whole session, so memory stays the same however long the talk.
type serverRecording struct {
	dec   *audio.PacketDecoder
	mp3   *audio.MP3Writer
	stats *RecorderStats
	seen  struct{ concealed, corrupt int64 }
}

func (r *serverRecording) WritePacket(pos int64, payload []byte) error {
	t := time.Now()
	err := r.dec.WriteOpus(pos, payload)
	r.stats.EncodeNanos.Add(int64(time.Since(t)))
	r.stats.ConcealedSample.Add(r.dec.Concealed - r.seen.concealed)
	r.stats.CorruptPackets.Add(r.dec.Corrupt - r.seen.corrupt)
	r.seen.concealed, r.seen.corrupt = r.dec.Concealed, r.dec.Corrupt
	return err
}

// Close finalises the MP3. A session that never delivered a packet leaves no file: an MP3
// with no audio would only clutter the recordings.
func (r *serverRecording) Close() error {
	err := r.dec.Close()
	if r.dec.Decoded == 0 && r.dec.Concealed == 0 && r.dec.Corrupt == 0 {
		if rmErr := os.Remove(r.mp3.Path()); rmErr != nil && err == nil {
			err = fmt.Errorf("remove empty recording: %w", rmErr)
		}
	}
	return err
}
func (r *serverRecording) Name() string { return r.mp3.Path() }

// ServerRecorder records each published stream to an MP3 in dir, named after the stream and
// its start time, tagged with both.
func ServerRecorder(dir string, bitrate int, stats *RecorderStats) rtc.RecorderFunc {
	return func(stream string, start time.Time) (rtc.Recorder, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("recordings folder %q: %w", dir, err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s %s.mp3", stream, start.Format("2006-01-02 15-04-05")))
		for i := 2; fileExists(path); i++ {
			path = filepath.Join(dir, fmt.Sprintf("%s %s (%d).mp3", stream, start.Format("2006-01-02 15-04-05"), i))
		}
		mp3, err := audio.CreateMP3(path, audio.MP3Options{Bitrate: bitrate, Tags: audio.Tags{Title: stream, Date: start}})
		if err != nil {
			return nil, err
		}
		dec, err := audio.NewPacketDecoder(mp3)
		if err != nil {
			mp3.Close()
			return nil, err
		}
		stats.Recordings.Add(1)
		return &serverRecording{dec: dec, mp3: mp3, stats: stats}, nil
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// discardSink is the built-in server's sink when no second copy is wanted: the presenter's
// own MP3 is the recording, the built-in server only proves the live path works.
type discardSink struct{}

func (discardSink) WritePacket(int64, []byte) error { return nil }
func (discardSink) Close() error                    { return nil }

// LocalServer is podium-server running inside the app on loopback, with a random port and
// token, so that Podium works out of the box and the live path is always exercised.
// Listeners join at ListenURL: from this machine only, or from the local network with LAN.
type LocalServer struct {
	URL           string // WHIP endpoint for the default stream
	Token         string
	ListenerToken string // what listeners need (in ListenURL's fragment)
	stream        string
	listenBase    string // http://host:port as listeners reach it
	port          int
	lan           bool
	srv           *rtc.Server
	http          *http.Server
}

// LocalServerConfig: RecordDir empty keeps no second copy.
type LocalServerConfig struct {
	Stream    string
	RecordDir string
	Bitrate   int
	// ListenerToken is what listeners present; empty makes a random one (the app keeps it
	// in its preferences so links stay valid across restarts).
	ListenerToken string
	// LAN binds to every interface and announces LAN host candidates, so phones on the same
	// network can listen; off, only this machine can. Off by default.
	LAN bool
	// Port to listen on; 0 picks a free one.
	Port int
}

// StartLocalServer starts the built-in server on 127.0.0.1.
func StartLocalServer(cfg LocalServerConfig) (*LocalServer, error) {
	if cfg.Stream == "" {
		cfg.Stream = "live"
	}
	token := randomToken()
	if cfg.ListenerToken == "" {
		cfg.ListenerToken = randomToken()
	}
	record := func(string, time.Time) (rtc.Recorder, error) { return discardSink{}, nil }
	stats := &RecorderStats{}
	if cfg.RecordDir != "" {
		record = ServerRecorder(cfg.RecordDir, cfg.Bitrate, stats)
	}
	scfg := rtc.ServerConfig{
		Tokens:         []string{token},
		ListenerTokens: []string{cfg.ListenerToken},
		Record:         record,
		RecordingsDir:  cfg.RecordDir,
		IPFilter:       rtc.LoopbackOnly,
		ExtraMetrics:   stats.WriteMetrics,
		Logf:           func(string, ...any) {},
	}
	bind := "127.0.0.1"
	if cfg.LAN {
		bind = "0.0.0.0"
		scfg.IPFilter = lanAddress
		// Reachable from the network: the recordings need a token too (the listener's
		// is accepted).
		scfg.ViewerTokens = []string{token}
	}
	srv, err := rtc.NewServer(scfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(bind, fmt.Sprint(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("built-in server: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	host := "127.0.0.1"
	if cfg.LAN {
		host = LANAddress()
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return &LocalServer{
		URL:           fmt.Sprintf("http://127.0.0.1:%d/whip/%s", port, cfg.Stream),
		Token:         token,
		ListenerToken: cfg.ListenerToken,
		stream:        cfg.Stream,
		listenBase:    "http://" + net.JoinHostPort(host, fmt.Sprint(port)),
		port:          port,
		lan:           cfg.LAN && host != "127.0.0.1",
		srv:           srv,
		http:          hs,
	}, nil
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lanAddress keeps ICE on addresses a phone on the same network can reach (and loopback,
// for the presenter's own app); link-local IPv6 needs zones and only adds noise.
func lanAddress(ip net.IP) bool {
	return ip.IsLoopback() || (!ip.IsLinkLocalUnicast() && !ip.IsUnspecified() && !ip.IsMulticast())
}

// LANAddress is this machine's address on the local network, as listeners would type it:
// the first private IPv4 address of an interface that is up, else any non-loopback IPv4
// one, else 127.0.0.1.
func LANAddress() string {
	ifaces, _ := net.Interfaces()
	var fallback string
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || ipn.IP.IsLinkLocalUnicast() {
				continue
			}
			if ipn.IP.IsPrivate() {
				return ipn.IP.String()
			}
			if fallback == "" {
				fallback = ipn.IP.String()
			}
		}
	}
	if fallback != "" {
		return fallback
	}
	return "127.0.0.1"
}

// ListenURL is the listener page of the stream, with the listener token in the fragment
// (never sent to the server, nor logged by proxies; the page reads it and sends it as a
// Bearer token). On loopback it works on this machine only; with LAN it is the link to
// share (and to show as a QR code).
func (s *LocalServer) ListenURL() string {
	return s.listenBase + "/listen/" + s.stream + "#token=" + s.ListenerToken
}

// Port is the TCP port the server listens on.
func (s *LocalServer) Port() int { return s.port }

// LAN says whether ListenURL works from other devices on the local network (asked for, and
// this machine has a network address).
func (s *LocalServer) LAN() bool { return s.lan }

// Listeners is how many are listening to the stream now.
func (s *LocalServer) Listeners() int { return s.srv.Listeners(s.stream) }

// Close ends every session (finalising any recordings) and stops listening.
func (s *LocalServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if herr := s.http.Shutdown(ctx); err == nil {
		err = herr
	}
	return err
}

// Stats are the built-in server's counters.
func (s *LocalServer) Stats() rtc.ServerStats { return s.srv.Stats() }
