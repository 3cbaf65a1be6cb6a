package app_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"podium/app"
	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// whepListener is a minimal WHEP listener: a recvonly Pion PeerConnection on loopback whose
// offer is POSTed with the listener token. leave DELETEs the session and closes it.
type whepListener struct {
	pc       *webrtc.PeerConnection
	resource string
	token    string
}

func listen(t *testing.T, whep, token string) *whepListener {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	api := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se))
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	offer := testkit.Offer(t, pc, webrtc.RTPTransceiverDirectionRecvonly)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, whep, strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST %s: %d %s", whep, resp.StatusCode, answer)
	}
	loc, err := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	return &whepListener{pc: pc, resource: loc.String(), token: token}
}

func (l *whepListener) leave(t *testing.T) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, l.resource, nil)
	req.Header.Set("Authorization", "Bearer "+l.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		t.Errorf("WHEP DELETE: %d", resp.StatusCode)
	}
	l.pc.Close()
}

// getPage fetches the listener page (the fragment stays on the client, as a browser does).
func getPage(t *testing.T, link string) {
	t.Helper()
	resp, err := http.Get(strings.Split(link, "#")[0])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(body), "<html") {
		t.Errorf("GET %s: %d %q, %d bytes", link, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

// The built-in server's link: there before the talk (Serve), with the kept listener token;
// it serves the listener page; a WHEP listener is counted while it listens; ShareLAN asked
// for during a recording applies when it ends, on the same port, with the LAN address.
func TestSessionShareLink(t *testing.T) {
	s, _, _ := newSession(t, nil)
	st := s.Settings()
	if snap := s.Snapshot(); snap.ListenURL != "" {
		t.Errorf("a link before the server runs: %q", snap.ListenURL)
	}
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	snap := s.Snapshot()
	u, err := url.Parse(snap.ListenURL)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Path != "/listen/"+st.Stream || u.Fragment != "token="+st.ListenerToken {
		t.Fatalf("ListenURL %q (token %q)", snap.ListenURL, st.ListenerToken)
	}
	if !snap.ListenersKnown || snap.Listeners != 0 || snap.ShareLAN || snap.SharePending {
		t.Errorf("idle snapshot: %+v", snap)
	}
	getPage(t, snap.ListenURL)

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the live link", func() bool { return s.Snapshot().LinkState == whip.Live })
	if got := s.Snapshot().ListenURL; got != snap.ListenURL {
		t.Errorf("the link changed when recording started: %q → %q", snap.ListenURL, got)
	}
	l := listen(t, "http://"+u.Host+"/whep/"+st.Stream, st.ListenerToken)
	testkit.WaitFor(t, 10*time.Second, "one listener", func() bool { return s.Snapshot().Listeners == 1 })
	l.leave(t)
	testkit.WaitFor(t, 10*time.Second, "no listener", func() bool { return s.Snapshot().Listeners == 0 })

	// Share on the network while recording: nothing moves under the recording.
	st.ShareLAN = true
	s.SetSettings(st)
	s.WaitServerSync()
	if snap := s.Snapshot(); !snap.SharePending || snap.ListenURL != u.String() || snap.LinkState != whip.Live {
		t.Errorf("ShareLAN while recording: pending %v, link %q, live %v", snap.SharePending, snap.ListenURL, snap.LinkState)
	}
	if _, err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the server on the network", func() bool {
		snap := s.Snapshot()
		return !snap.SharePending && snap.ListenURL != "" && snap.ListenURL != u.String()
	})
	lan := s.Snapshot()
	lu, _ := url.Parse(lan.ListenURL)
	if lu.Port() != u.Port() || lu.Fragment != u.Fragment {
		t.Errorf("LAN link %q: want port %s and the same token", lan.ListenURL, u.Port())
	}
	if addr := app.LANAddress(); addr == "127.0.0.1" {
		t.Logf("no network address on this machine: LAN host not checked (%s)", lan.ListenURL)
	} else {
		if lu.Hostname() != addr || !lan.ShareLAN {
			t.Errorf("LAN link %q (ShareLAN %v), want host %s", lan.ListenURL, lan.ShareLAN, addr)
		}
		getPage(t, lan.ListenURL)
	}

	// Back to this machine only, while idle: at once.
	st.ShareLAN = false
	s.SetSettings(st)
	testkit.WaitFor(t, 10*time.Second, "the server on loopback", func() bool { return s.Snapshot().ListenURL == u.String() })
	getPage(t, u.String())

	// A configured server replaces the built-in one: its link, and no built-in server.
	st.ServerURL = "https://live.example.org/podium/whip/talk"
	st.RemoteListenerToken = "hall a"
	s.SetSettings(st)
	testkit.WaitFor(t, 10*time.Second, "the remote link", func() bool {
		return s.Snapshot().ListenURL == "https://live.example.org/podium/listen/talk#token=hall+a"
	})
	if resp, err := http.Get(strings.Split(u.String(), "#")[0]); err == nil {
		resp.Body.Close()
		t.Errorf("the built-in server still answers after a server was configured")
	}
}

// The listener token is made once and kept; ShareLAN and the remote listener token persist.
func TestListenerTokenKept(t *testing.T) {
	prefs := app.MapPrefs{}
	first := app.LoadSettings(prefs)
	if len(first.ListenerToken) < 32 || first.ShareLAN {
		t.Fatalf("first load: token %q, ShareLAN %v", first.ListenerToken, first.ShareLAN)
	}
	if again := app.LoadSettings(prefs); again.ListenerToken != first.ListenerToken {
		t.Errorf("token changed between loads: %q → %q", first.ListenerToken, again.ListenerToken)
	}
	if other := app.LoadSettings(app.MapPrefs{}); other.ListenerToken == first.ListenerToken {
		t.Errorf("two presenters got the same token")
	}
	s := first
	s.Folder = t.TempDir()
	s.ShareLAN, s.RemoteListenerToken = true, "room-7"
	if err := app.SaveSettings(prefs, s); err != nil {
		t.Fatal(err)
	}
	if got := app.LoadSettings(prefs); got != s {
		t.Errorf("loaded %+v, saved %+v", got, s)
	}
	s.ShareLAN = false
	app.SaveSettings(prefs, s)
	if got := app.LoadSettings(prefs); got.ShareLAN || got.ListenerToken != first.ListenerToken {
		t.Errorf("after turning sharing off: %+v", got)
	}
	bad := s
	bad.ListenerToken = "has space"
	if err := app.SaveSettings(prefs, bad); err == nil || !strings.Contains(err.Error(), "listener token") {
		t.Errorf("a listener token with a space: %v", err)
	}
}

func TestRemoteListenURL(t *testing.T) {
	for _, tc := range []struct{ whip, token, want string }{
		{"https://live.example.org/whip/talk", "", "https://live.example.org/listen/talk"},
		{"https://live.example.org/whip/talk/", "t0k", "https://live.example.org/listen/talk#token=t0k"},
		{"http://10.0.0.5:8080/podium/whip/room-1", "a&b", "http://10.0.0.5:8080/podium/listen/room-1#token=a%26b"},
		{"https://live.example.org/ingest/talk", "", ""},
		{"https://live.example.org/whip/", "", ""},
		{"https://live.example.org/whip/my talk", "", ""},
		{"ftp://live.example.org/whip/talk", "", ""},
	} {
		if got := app.RemoteListenURL(tc.whip, tc.token); got != tc.want {
			t.Errorf("RemoteListenURL(%q, %q) = %q, want %q", tc.whip, tc.token, got, tc.want)
		}
	}
}

func TestListenViaHLS(t *testing.T) {
	for _, tc := range []struct{ link, want string }{
		{"https://live.example.org/listen/talk#token=t0k", "https://live.example.org/listen/talk#token=t0k&via=hls"},
		{"https://live.example.org/listen/talk", "https://live.example.org/listen/talk#via=hls"},
		{"", ""},
	} {
		if got := app.ListenViaHLS(tc.link); got != tc.want {
			t.Errorf("ListenViaHLS(%q) = %q, want %q", tc.link, got, tc.want)
		}
	}
}

// A configured podium-server is asked how many listen (with the listener token); a server
// without GET /streams/{stream} gives a link without a count.
func TestRemoteListenerCount(t *testing.T) {
	srv, err := app.StartLocalServer(app.LocalServerConfig{Stream: "talk", ListenerToken: "hall"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, _, _ := newSession(t, func(st *app.Settings) {
		st.ServerURL, st.Token, st.RemoteListenerToken = srv.URL, srv.Token, "hall"
	})
	testkit.WaitFor(t, 10*time.Second, "the remote count", func() bool {
		snap := s.Snapshot()
		return snap.ListenersKnown && snap.Listeners == 0 && snap.ShareLAN
	})
	if got, want := s.Snapshot().ListenURL, strings.Replace(srv.URL, "/whip/", "/listen/", 1)+"#token=hall"; got != want {
		t.Errorf("ListenURL %q, want %q", got, want)
	}
	l := listen(t, strings.Replace(srv.URL, "/whip/", "/whep/", 1), "hall")
	defer l.leave(t)
	testkit.WaitFor(t, 10*time.Second, "the remote count to reach 1", func() bool { return s.Snapshot().Listeners == 1 }) // polled every 5 s

	asked := make(chan string, 1)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.NotFound(w, r)
		select {
		case asked <- r.URL.Path + " " + r.Header.Get("Authorization"):
		default:
		}
	}))
	defer other.Close()
	s2, _, _ := newSession(t, func(st *app.Settings) { st.ServerURL, st.Token = other.URL+"/whip/x", "pub" })
	snap := s2.Snapshot()
	if snap.ListenURL != other.URL+"/listen/x" || snap.ListenersKnown {
		t.Errorf("server without /streams: %+v", snap)
	}
	select {
	case q := <-asked:
		if q != "/streams/x Bearer pub" {
			t.Errorf("asked %q", q)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server was never asked for its listeners")
	}
	s2.Close() // waits for the answer in flight
	if s2.Snapshot().ListenersKnown {
		t.Error("a 404 gave a count")
	}
}

// whepStatus is what the built-in server at host answers a WHEP POST carrying token: 401
// refused, 400 let through (to an offer it cannot use).
func whepStatus(t *testing.T, host, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/whep/live", strings.NewReader("v=0\r\n"))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A new listener token (the share dialog's "New link") applies at once, even while recording:
// the old token is refused from then on, the new one admitted, on the same server (same port,
// nothing restarted under the recording), and a listener who joined with the old one stays.
func TestNewLinkRefusesOldToken(t *testing.T) {
	s, _, _ := newSession(t, nil)
	if err := s.Serve(); err != nil {
		t.Fatal(err)
	}
	st := s.Settings()
	old := st.ListenerToken
	u, err := url.Parse(s.Snapshot().ListenURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the live link", func() bool { return s.Snapshot().LinkState == whip.Live })
	l := listen(t, "http://"+u.Host+"/whep/"+st.Stream, old)
	testkit.WaitFor(t, 10*time.Second, "the listener", func() bool { return s.Snapshot().Listeners == 1 })
	if got := whepStatus(t, u.Host, old); got != 400 {
		t.Fatalf("the old token before New link: %d", got)
	}

	st.ListenerToken = app.NewListenerToken()
	s.SetSettings(st)
	snap := s.Snapshot()
	nu, _ := url.Parse(snap.ListenURL)
	if nu == nil || nu.Host != u.Host || nu.Fragment != "token="+st.ListenerToken || snap.SharePending {
		t.Errorf("after New link: link %q (pending %v), want %s with the new token at once", snap.ListenURL, snap.SharePending, u.Host)
	}
	for tok, want := range map[string]int{old: 401, st.ListenerToken: 400} {
		if got := whepStatus(t, u.Host, tok); got != want {
			t.Errorf("WHEP with the %s token after New link: %d, want %d", map[bool]string{true: "old", false: "new"}[tok == old], got, want)
		}
	}
	if code, _ := testkit.Get(t, "http://"+u.Host+"/streams/"+st.Stream, old); code != 401 {
		t.Errorf("GET /streams with the old token after New link: %d", code)
	}
	if code, _ := testkit.Get(t, "http://"+u.Host+"/streams/"+st.Stream, st.ListenerToken); code != 200 {
		t.Errorf("GET /streams with the new token: %d", code)
	}
	n := listen(t, "http://"+u.Host+"/whep/"+st.Stream, st.ListenerToken)
	testkit.WaitFor(t, 10*time.Second, "the old and the new listener", func() bool { return s.Snapshot().Listeners == 2 })
	if got := s.Snapshot(); got.State != app.StateRecording || got.LinkState != whip.Live {
		t.Errorf("the recording after New link: %v, link %v", got.State, got.LinkState)
	}
	n.leave(t)
	l.pc.Close()
	if _, err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	// After the recording nothing restarts: the new token still works, the old one does not.
	s.WaitServerSync()
	if got := whepStatus(t, u.Host, st.ListenerToken); got != 400 {
		t.Errorf("the new token after the recording: %d", got)
	}
	if got := whepStatus(t, u.Host, old); got != 401 {
		t.Errorf("the old token after the recording: %d", got)
	}
}
