package rtc

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/rtc/proto"
	"podium/rtc/recordings"
	"podium/scripts/testkit"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

func TestHandlerErrors(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) {
		c.Tokens = []string{"s3cret"}
		c.MaxOfferBytes = 8 << 10
	})
	env.srv.RegisterMetrics(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_mp3_encode_seconds_total", Help: "A collector registered from outside."},
		func() float64 { return 1.5 }))
	offer := pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)
	huge := offer + strings.Repeat("a=x-padding:"+strings.Repeat("x", 100)+"\r\n", 100)

	cases := []struct {
		name, method, path, ctype, token, body string
		want                                   int
		wantBody                               string
		wantHeader                             map[string]string
	}{
		{name: "no token", method: "POST", path: "/whip/talk", ctype: proto.MimeSDP, body: offer, want: 401,
			wantHeader: map[string]string{"WWW-Authenticate": `Bearer realm="podium"`}},
		{name: "wrong token", method: "POST", path: "/whip/talk", ctype: proto.MimeSDP, token: "s3cre", body: offer, want: 401},
		{name: "token with suffix", method: "POST", path: "/whip/talk", ctype: proto.MimeSDP, token: "s3cretX", body: offer, want: 401},
		{name: "wrong content type", method: "POST", path: "/whip/talk", ctype: "text/plain", token: "s3cret", body: offer, want: 415},
		{name: "oversize offer", method: "POST", path: "/whip/talk", ctype: proto.MimeSDP, token: "s3cret", body: huge, want: 413},
		{name: "malformed sdp", method: "POST", path: "/whip/talk", ctype: proto.MimeSDP, token: "s3cret", body: "hello, world", want: 400, wantBody: "malformed SDP"},
		{name: "no opus", method: "POST", path: "/whip/talk", ctype: proto.MimeSDP, token: "s3cret", body: pcmuOffer, want: 400, wantBody: "no Opus"},
		{name: "bad stream name", method: "POST", path: "/whip/a.b", ctype: proto.MimeSDP, token: "s3cret", body: offer, want: 400, wantBody: "stream name"},
		{name: "long stream name", method: "POST", path: "/whip/" + strings.Repeat("a", 65), ctype: proto.MimeSDP, token: "s3cret", body: offer, want: 400},
		{name: "PATCH unknown session", method: "PATCH", path: "/whip/talk/0123", ctype: proto.MimeSDPFrag, token: "s3cret", body: "a=end-of-candidates\r\n", want: 404},
		{name: "DELETE unknown session", method: "DELETE", path: "/whip/talk/0123", token: "s3cret", want: 404},
		{name: "DELETE without token", method: "DELETE", path: "/whip/talk/0123", want: 401},
		{name: "GET on WHIP endpoint", method: "GET", path: "/whip/talk", want: 405},
		{name: "unknown path", method: "POST", path: "/whop/talk", ctype: proto.MimeSDP, token: "s3cret", body: offer, want: 404},
		{name: "preflight", method: "OPTIONS", path: "/whip/talk", want: 204, wantHeader: map[string]string{
			"Access-Control-Allow-Origin":   "*",
			"Access-Control-Allow-Headers":  "Authorization, Content-Type, If-Match",
			"Access-Control-Expose-Headers": "Location, Link, ETag, Accept-Patch, Accept-Post",
			"Accept-Post":                   proto.MimeSDP,
		}},
		{name: "healthz", method: "GET", path: "/healthz", want: 200, wantBody: "ok"},
		{name: "metrics", method: "GET", path: "/metrics", token: "s3cret", want: 200, wantBody: "podium_mp3_encode_seconds_total 1.5"},
		{name: "metrics without token", method: "GET", path: "/metrics", want: 401},
		{name: "recordings disabled", method: "GET", path: "/recordings", want: 404},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := authRequest(t, tc.method, env.ts.URL+tc.path, tc.token, tc.body)
			if tc.ctype != "" {
				req.Header.Set("Content-Type", tc.ctype)
			}
			resp, err := env.ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want {
				t.Fatalf("%s %s: %s %q, want %d", tc.method, tc.path, resp.Status, body, tc.want)
			}
			if !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("body %q does not contain %q", body, tc.wantBody)
			}
			for k, v := range tc.wantHeader {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
				t.Errorf("no CORS on %s %s", tc.method, tc.path)
			}
		})
	}
	if n := len(env.rec.all()); n != 0 {
		t.Errorf("%d recordings opened by refused requests", n)
	}
	if st := env.srv.Stats(); st.SessionsTotal != 0 {
		t.Errorf("sessions created by refused requests: %+v", st)
	}
}

// A raw WHIP exchange: 201, Location, ETag, Link, then trickle, a stale ETag and DELETE.
func TestWHIPResource(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) {
		c.ICEServers = proto.ParseLinkHeaders([]string{`<turn:turn.example.net:3478?transport=udp>; rel="ice-server"; username="u"; credential="p"`})
	})
	hc := env.ts.Client()
	resp, err := hc.Post(env.ts.URL+"/whip/talk", proto.MimeSDP+"; charset=utf-8", strings.NewReader(pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)))
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Header.Get("Content-Type") != proto.MimeSDP || !strings.HasPrefix(string(answer), "v=0") {
		t.Fatalf("POST: %s %s %q", resp.Status, resp.Header.Get("Content-Type"), answer)
	}
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/whip/talk/") {
		t.Fatalf("Location %q", loc)
	}
	if links := proto.ParseLinkHeaders(resp.Header.Values("Link")); len(links) != 1 || links[0].Username != "u" {
		t.Errorf("Link %q", resp.Header.Values("Link"))
	}
	do := func(method, ctype, ifMatch, body string) int {
		req, _ := http.NewRequest(method, env.ts.URL+loc, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	trickle := "a=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 9 typ host\r\na=end-of-candidates\r\n"
	for _, tc := range []struct {
		method, ctype, ifMatch, body string
		want                         int
	}{
		{"PATCH", proto.MimeSDPFrag, "", trickle, 204},
		{"PATCH", proto.MimeSDPFrag, `"*"`, trickle, 204},
		{"PATCH", proto.MimeSDPFrag, `"stale"`, trickle, 412},
		{"PATCH", "application/sdp", "", trickle, 415},
		{"PATCH", proto.MimeSDPFrag, "", "not a fragment", 400},
		{"DELETE", "", "", "", 200},
		{"DELETE", "", "", "", 404},
		{"PATCH", proto.MimeSDPFrag, "", trickle, 404},
	} {
		if got := do(tc.method, tc.ctype, tc.ifMatch, tc.body); got != tc.want {
			t.Errorf("%s %s If-Match %s: %d, want %d", tc.method, tc.ctype, tc.ifMatch, got, tc.want)
		}
	}
	// The session never sent media: no recording was ever opened, and DELETE left no
	// stream behind.
	if sinks := env.rec.all(); len(sinks) != 0 {
		t.Errorf("%d recordings opened by a session that sent no media", len(sinks))
	}
	if st := env.srv.Stats(); st.Sessions != 0 || st.Recordings != 0 || len(env.srv.Streams()) != 0 {
		t.Errorf("after DELETE: %+v, streams %+v", st, env.srv.Streams())
	}
}

func TestMaxSessions(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) { c.MaxSessions = 1 })
	post := func(stream string) int {
		resp, err := env.ts.Client().Post(env.ts.URL+"/whip/"+stream, proto.MimeSDP, strings.NewReader(pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("a"); got != 201 {
		t.Fatalf("first POST: %d", got)
	}
	if got := post("b"); got != 503 {
		t.Errorf("POST over MaxSessions: %d, want 503", got)
	}
}

func TestRecordingsEndpoints(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(t.TempDir(), "secret.mp3")
	for name, data := range map[string]string{
		"old.mp3":     "ID3 old recording",
		"talk.mp3":    "ID3 the live one",
		"notes.txt":   "not audio",
		".hidden.mp3": "hidden",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(secret, []byte("outside"), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = os.Symlink(secret, filepath.Join(dir, "link.mp3"))
	old := time.Now().Add(-time.Hour)
	_ = os.Chtimes(filepath.Join(dir, "old.mp3"), old, old)

	env := newTestEnv(t, func(c *ServerConfig) { c.RecordingsDir = dir; c.Tokens = []string{"s3cret"} })
	env.rec.named = true
	// A live recording of stream "talk" whose sink names its file, fed one packet so its
	// writer opens the sink.
	rec := newRecording(env.srv, "talk", "", nil)
	env.srv.mu.Lock()
	env.srv.streams["talk"] = rec
	env.srv.mu.Unlock()
	rec.feed(nil, &sampleClock{}, rtpIn{payload: []byte("x"), at: time.Now()}) // owner nil: a nil session feeds it
	testkit.WaitFor(t, 5*time.Second, "the sink to open", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		return rec.name != ""
	})

	if code, _ := testkit.Get(t, env.ts.URL+"/recordings", ""); code != 401 {
		t.Errorf("GET /recordings without a token: %d, want 401", code)
	}
	resp, err := env.ts.Client().Do(authRequest(t, "GET", env.ts.URL+"/recordings", "s3cret", ""))
	if err != nil {
		t.Fatal(err)
	}
	var list []recordings.File
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := map[string]recordings.File{}
	for _, r := range list {
		got[r.Name] = r
	}
	if len(list) != 2 || !got["talk.mp3"].Live || got["old.mp3"].Live || got["old.mp3"].Size != 17 || list[0].Name != "talk.mp3" {
		t.Errorf("list %+v", list)
	}
	// Each entry's link plays without a header; a token in the query opens nothing.
	if code, body := testkit.Get(t, env.ts.URL+got["old.mp3"].URL, ""); code != 200 || body != "ID3 old recording" {
		t.Errorf("GET the signed link %s: %d %q", got["old.mp3"].URL, code, body)
	}
	for _, bad := range []string{
		strings.Replace(got["old.mp3"].URL, "old.mp3", "talk.mp3", 1), // another file's name
		strings.Replace(got["old.mp3"].URL, "sig=", "sig=0", 1),
		"/recordings/old.mp3?token=s3cret",
	} {
		if code, _ := testkit.Get(t, env.ts.URL+bad, ""); code != 401 {
			t.Errorf("GET %s: %d, want 401", bad, code)
		}
	}

	cases := []struct {
		path, rng string
		want      int
		body      string
	}{
		{"/recordings/old.mp3", "", 200, "ID3 old recording"},
		{"/recordings/old.mp3", "bytes=4-6", 206, "old"},
		// More than one range: the whole file, in one read (from the bucket, each range was a GET).
		{"/recordings/old.mp3", "bytes=0-0,4-6", 200, "ID3 old recording"},
		{"/recordings/notes.txt", "", 404, ""},
		{"/recordings/.hidden.mp3", "", 404, ""},
		{"/recordings/..%2f..%2fsecret.mp3", "", 404, ""},
		{"/recordings/%2e%2e%2fsecret.mp3", "", 404, ""},
		{"/recordings/link.mp3", "", 404, ""}, // symlink out of the directory
		{"/recordings/missing.mp3", "", 404, ""},
	}
	for _, tc := range cases {
		req := authRequest(t, "GET", env.ts.URL+tc.path, "s3cret", "")
		if tc.rng != "" {
			req.Header.Set("Range", tc.rng)
		}
		resp, err := env.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.want || (tc.body != "" && string(body) != tc.body) {
			t.Errorf("GET %s (Range %q): %s %q, want %d %q", tc.path, tc.rng, resp.Status, body, tc.want, tc.body)
		}
		if tc.want == 200 && resp.Header.Get("Content-Type") != "audio/mpeg" {
			t.Errorf("GET %s: Content-Type %q", tc.path, resp.Header.Get("Content-Type"))
		}
	}
}

func TestViewerTokens(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.RecordingsDir = t.TempDir(); c.ViewerTokens = []string{"look"} })
	for token, want := range map[string]int{"": 401, "nope": 401, "look": 200} {
		resp, err := env.ts.Client().Do(authRequest(t, "GET", env.ts.URL+"/recordings", token, ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("token %q: %d, want %d", token, resp.StatusCode, want)
		}
	}
}

func TestNewServerNeedsRecord(t *testing.T) {
	if _, err := NewServer(ServerConfig{}); err == nil {
		t.Error("NewServer without Record succeeded")
	}
}
