package app

import (
	"context"
	"net"
	"net/url"

	"podium/rtc/proto"
	"podium/rtc/whip"
)

// StartLive connects a WHIP client to endpoint. A refused token or a wrong URL is an error
// now; a server that is down is not: the client keeps trying while the recording goes on.
// When the server is on this machine, ICE is kept to loopback so it needs no network at all.
// The talk's title and presenter go with the offer (whip.Config).
func StartLive(ctx context.Context, endpoint, token, title, presenter string, onState func(whip.Status)) (*whip.Client, error) {
	cfg := whip.Config{URL: endpoint, Token: token, Title: title, Presenter: presenter, OnState: onState, Logf: func(string, ...any) {}}
	if u, err := url.Parse(endpoint); err == nil && isLoopbackHost(u.Hostname()) {
		cfg.IPFilter = proto.LoopbackOnly
	}
	c, err := whip.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
