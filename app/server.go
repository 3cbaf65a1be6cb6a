package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"podium/app/server"
	"podium/rtc"
	"podium/rtc/proto"
)

// LocalServer is podium-server running inside the app on loopback, with a random port and
// token, so that Podium works out of the box and the live path is always exercised.
// Listeners join at ListenURL: from this machine only, or from the local network with LAN.
type LocalServer struct {
	URL        string // WHIP endpoint for the default stream
	Token      string
	stream     string
	listenBase string // http://host:port as listeners reach it
	port       int
	lan        bool
	srv        *server.Server

	mu            sync.Mutex
	listenerToken string
}

// LocalServerConfig: RecordDir empty keeps no second copy.
type LocalServerConfig struct {
	Stream    string
	RecordDir string
	Bitrate   int
	// ListenerToken is what listeners present; empty makes a random one (the app keeps it
	// in its preferences so links stay valid across restarts).
	ListenerToken string
	// LAN also serves on this machine's address on the local network (LANAddress), and
	// announces only that address (and loopback) as ICE candidates, so phones on the same
	// network can listen; off, only this machine can. Off by default.
	LAN bool
	// Port to listen on; 0 picks a free one.
	Port int
}

// localMaxConns caps the built-in server's connections: a room of phones needs a few each,
// and idle ones make room for new ones.
const localMaxConns = 256

// StartLocalServer starts the built-in server on 127.0.0.1 and, with LAN, on the LAN address:
// never on every interface, so it does not answer on global IPv6, VPN or container
// addresses.
func StartLocalServer(cfg LocalServerConfig) (*LocalServer, error) {
	if cfg.Stream == "" {
		cfg.Stream = "live"
	}
	token := randomToken()
	if cfg.ListenerToken == "" {
		cfg.ListenerToken = randomToken()
	}
	scfg := server.Config{ServerConfig: rtc.ServerConfig{
		Tokens:         []string{token},
		ListenerTokens: []string{cfg.ListenerToken},
		IPFilter:       proto.LoopbackOnly,
		Logger:         slog.New(slog.DiscardHandler),
	}, Dir: cfg.RecordDir, Bitrate: cfg.Bitrate, MaxConns: localMaxConns}
	host := "127.0.0.1"
	if cfg.LAN {
		if addr := LANAddress(); addr != "127.0.0.1" {
			host = addr
			lanIP := net.ParseIP(addr)
			// The presenter's own app publishes over loopback; listeners reach the LAN address.
			scfg.IPFilter = func(ip net.IP) bool { return ip.IsLoopback() || ip.Equal(lanIP) }
			// Reachable from the network: the recordings need a token too (the listener's
			// is accepted).
			scfg.ViewerTokens = []string{token}
		}
	}
	lns, err := listenLocal(host, cfg.Port)
	if err != nil {
		return nil, fmt.Errorf("built-in server: %w", err)
	}
	srv, err := server.New(scfg)
	if err != nil {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	go srv.Serve(lns...)
	port := lns[0].Addr().(*net.TCPAddr).Port
	return &LocalServer{
		URL:           fmt.Sprintf("http://127.0.0.1:%d/whip/%s", port, cfg.Stream),
		Token:         token,
		listenerToken: cfg.ListenerToken,
		stream:        cfg.Stream,
		listenBase:    "http://" + net.JoinHostPort(host, fmt.Sprint(port)),
		port:          port,
		lan:           host != "127.0.0.1",
		srv:           srv,
	}, nil
}

// listenLocal listens on 127.0.0.1:port and, when host is another address, on host:port too
// (the same port, so the presenter's app and the link agree); port 0 picks one free on both.
func listenLocal(host string, port int) ([]net.Listener, error) {
	loopback := func(p int) (net.Listener, error) {
		return net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	if host == "127.0.0.1" {
		lo, err := loopback(port)
		if err != nil {
			return nil, err
		}
		return []net.Listener{lo}, nil
	}
	var err error
	for range 5 {
		var lan, lo net.Listener
		if lan, err = net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(port))); err != nil {
			return nil, err
		}
		if lo, err = loopback(lan.Addr().(*net.TCPAddr).Port); err == nil {
			return []net.Listener{lo, lan}, nil
		}
		lan.Close()
		if port != 0 {
			break // the port asked for is taken on loopback
		}
	}
	return nil, err
}

func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
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
	return s.listenBase + "/listen/" + s.stream + "#token=" + s.ListenerToken()
}

// ListenerToken is what listeners need now (in ListenURL's fragment).
func (s *LocalServer) ListenerToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listenerToken
}

// SetListenerToken replaces the listener token at once, with no restart: requests with the
// old one are refused (401) from now on, listeners already connected stay.
func (s *LocalServer) SetListenerToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.listenerToken = token
	s.srv.SetListenerTokens([]string{token})
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
	return s.srv.Shutdown(ctx)
}

// Stats are the built-in server's counters.
func (s *LocalServer) Stats() rtc.ServerStats { return s.srv.Stats() }
