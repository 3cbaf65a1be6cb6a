package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"time"

	"podium/app/recorder"
	"podium/rtc"
)

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
	stats := &recorder.Stats{}
	if cfg.RecordDir != "" {
		record = recorder.New(cfg.RecordDir, cfg.Bitrate, stats)
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
