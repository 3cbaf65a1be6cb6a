package app_test

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/app"
)

// The built-in server's listener side: the link carries the listener token in its fragment,
// the page is served, and WHEP takes the listener token but not the publisher's.
func TestLocalServerListen(t *testing.T) {
	for _, lan := range []bool{false, true} {
		local, err := app.StartLocalServer(app.LocalServerConfig{Stream: "talk", ListenerToken: "room-42", LAN: lan})
		if err != nil {
			t.Fatal(err)
		}
		link := local.ListenURL()
		u, err := url.Parse(link)
		if err != nil || u.Path != "/listen/talk" || u.Fragment != "token=room-42" {
			t.Errorf("LAN=%v: ListenURL %q", lan, link)
		}
		if want := app.LANAddress(); lan && u.Hostname() != want {
			t.Errorf("LAN: link host %q, want %q", u.Hostname(), want)
		}
		if !lan && u.Hostname() != "127.0.0.1" {
			t.Errorf("loopback: link host %q", u.Hostname())
		}
		resp, err := http.Get(strings.Split(link, "#")[0])
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("LAN=%v: GET %s: %d", lan, link, resp.StatusCode)
		}
		whep := "http://" + u.Host + "/whep/talk"
		for tok, want := range map[string]int{"room-42": 400, local.Token: 401, "": 401} {
			req, _ := http.NewRequest("POST", whep, strings.NewReader("v=0\r\n"))
			req.Header.Set("Content-Type", "application/sdp")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != want { // 400: the token passed, the offer did not
				t.Errorf("LAN=%v: WHEP with token %q: %d, want %d", lan, tok, resp.StatusCode, want)
			}
		}
		if n := local.Listeners(); n != 0 {
			t.Errorf("Listeners() = %d", n)
		}
		if err := local.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// Without a token given, one is made up.
	local, err := app.StartLocalServer(app.LocalServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	if len(local.ListenerToken()) < 16 || !strings.HasSuffix(local.ListenURL(), "/listen/live#token="+local.ListenerToken()) {
		t.Errorf("generated listener token %q, link %q", local.ListenerToken(), local.ListenURL())
	}
}

// Sharing on the network binds the LAN address and loopback only (never the wildcard, so not
// global IPv6, VPN or container addresses), and a listener's answer offers ICE candidates on
// those two only.
func TestLocalServerLANBind(t *testing.T) {
	lan := app.LANAddress()
	if lan == "127.0.0.1" {
		t.Skip("no network address on this machine")
	}
	local, err := app.StartLocalServer(app.LocalServerConfig{ListenerToken: "room", LAN: true})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	port := strconv.Itoa(local.Port())
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range append(addrs, &net.IPNet{IP: net.IPv6loopback}) {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		tried++
		hp := net.JoinHostPort(ipn.IP.String(), port)
		c, err := net.DialTimeout("tcp", hp, 2*time.Second)
		if c != nil {
			c.Close()
		}
		want := ipn.IP.String() == lan || ipn.IP.String() == "127.0.0.1"
		if (err == nil) != want {
			t.Errorf("%s: connected %v, want %v", hp, err == nil, want)
		}
	}
	t.Logf("%d addresses tried", tried)
	l := listen(t, "http://"+net.JoinHostPort(lan, port)+"/whep/live", "room")
	defer l.leave(t)
	for _, line := range strings.Split(l.pc.RemoteDescription().SDP, "\n") {
		if f := strings.Fields(line); len(f) > 5 && strings.HasPrefix(f[0], "a=candidate:") && f[4] != lan && f[4] != "127.0.0.1" {
			t.Errorf("ICE candidate on %s: %s", f[4], line)
		}
	}
}
