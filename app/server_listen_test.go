package app_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

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
	if len(local.ListenerToken) < 16 || !strings.HasSuffix(local.ListenURL(), "/listen/live#token="+local.ListenerToken) {
		t.Errorf("generated listener token %q, link %q", local.ListenerToken, local.ListenURL())
	}
}
