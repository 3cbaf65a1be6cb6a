package rtc

import (
	"crypto/md5"
	"encoding/base64"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio/filename"
)

// TestAccess pins who may do what, as one table: the next rules go into access and here.
func TestAccess(t *testing.T) {
	locked := newAccess(&ServerConfig{Tokens: []string{"pub"}, ListenerTokens: []string{"lis"},
		ViewerTokens: []string{"view"}, MetricsTokens: []string{"prom"},
		StreamTokens: map[string][]string{"talk": {"talk-tok"}, "hall": {"hall-tok", "both"}, "aula": {"both"}}})
	open := newAccess(&ServerConfig{ListenerTokens: []string{"lis"}})
	public := newAccess(&ServerConfig{Tokens: []string{"pub"}, PublicListen: true, PublicRecordings: true, PublicMetrics: true})
	for _, c := range []struct {
		name   string
		a      access
		token  string // Bearer header
		act    action
		stream string
		want   bool
		only   string // the grant covers only these streams (comma-separated)
	}{
		{"publisher token publishes", locked, "pub", actPublish, "talk", true, ""},
		{"wrong token does not publish", locked, "pubx", actPublish, "talk", false, ""},
		{"no token does not publish", locked, "", actPublish, "talk", false, ""},
		{"listener token does not publish", locked, "lis", actPublish, "talk", false, ""},
		{"viewer token does not publish", locked, "view", actPublish, "talk", false, ""},
		{"stream token publishes its stream", locked, "talk-tok", actPublish, "talk", true, "talk"},
		{"stream token: not another stream", locked, "talk-tok", actPublish, "hall", false, ""},
		{"token for two streams", locked, "both", actPublish, "aula", true, "aula,hall"},
		{"open publishing: anyone", open, "", actPublish, "talk", true, ""},
		{"open publishing: not a listener", open, "lis", actPublish, "talk", false, ""},
		{"listener token listens", locked, "lis", actListen, "talk", true, ""},
		{"publisher token does not listen", locked, "pub", actListen, "talk", false, ""},
		{"no listener tokens, not public: nobody listens", newAccess(&ServerConfig{}), "", actListen, "talk", false, ""},
		{"public listening", public, "", actListen, "talk", true, ""},
		{"streams: listener", locked, "lis", actSeeStreams, "", true, ""},
		{"streams: publisher", locked, "pub", actSeeStreams, "", true, ""},
		{"streams: stream publisher", locked, "talk-tok", actSeeStreams, "", true, ""},
		{"streams: viewer", locked, "view", actSeeStreams, "", true, ""},
		{"streams: nobody", locked, "", actSeeStreams, "", false, ""},
		{"recordings: not open without a token", open, "", actReadRecordings, "", false, ""},
		{"recordings: public when the operator says so", public, "", actReadRecordings, "", true, ""},
		{"recordings: viewer token", locked, "view", actReadRecordings, "", true, ""},
		{"recordings: listener token", locked, "lis", actReadRecordings, "", true, ""},
		{"recordings: operator token", locked, "pub", actReadRecordings, "", true, ""},
		{"recordings: stream token, its own only", locked, "talk-tok", actReadRecordings, "", true, "talk"},
		{"recordings: metrics token is no viewer", locked, "prom", actReadRecordings, "", false, ""},
		{"recordings: none", locked, "", actReadRecordings, "", false, ""},
		{"metrics: nobody without a token", locked, "", actMetrics, "", false, ""},
		{"metrics: metrics token", locked, "prom", actMetrics, "", true, ""},
		{"metrics: operator token", locked, "pub", actMetrics, "", true, ""},
		{"metrics: not a listener", locked, "lis", actMetrics, "", false, ""},
		{"metrics: not a stream publisher", locked, "talk-tok", actMetrics, "", false, ""},
		{"metrics: public when the operator says so", public, "", actMetrics, "", true, ""},
		{"metrics: open publishing is no open metrics", open, "", actMetrics, "", false, ""},
	} {
		r := authRequest(t, "GET", "/x?token="+c.token, c.token, "") // a query token counts for nothing
		g := c.a.check(r, c.act, c.stream)
		if g.ok != c.want {
			t.Errorf("%s: ok = %v, want %v", c.name, g.ok, c.want)
		}
		if got := strings.Join(g.streams, ","); got != c.only {
			t.Errorf("%s: covers %q, want %q", c.name, got, c.only)
		}
		if c.want && c.token != "" && (g.who == "" || strings.Contains(g.who, c.token)) && c.act == actPublish {
			t.Errorf("%s: who = %q: want a name for the token that is not the token", c.name, g.who)
		}
		q := httptest.NewRequest("GET", "/x?token="+c.token, nil)
		if c.token != "" && c.a.check(q, c.act, c.stream).ok && !c.a.check(httptest.NewRequest("GET", "/x", nil), c.act, c.stream).ok {
			t.Errorf("%s: a token in the query was accepted", c.name)
		}
	}
}

// A signed recording link opens its own file until it expires, and nothing else.
func TestSignedLink(t *testing.T) {
	a := newAccess(&ServerConfig{Tokens: []string{"pub"}})
	other := newAccess(&ServerConfig{Tokens: []string{"pub"}}) // another start of the server
	now := time.Now()
	link := a.signedLink("talk 2026-12-02 10-00-00.mp3", now)
	if strings.Contains(link, "pub") {
		t.Fatalf("link %q carries the token", link)
	}
	r := httptest.NewRequest("GET", link, nil)
	name := "talk 2026-12-02 10-00-00.mp3"
	for _, c := range []struct {
		what string
		a    *access
		name string
		at   time.Time
		want bool
	}{
		{"its file, now", &a, name, now, true},
		{"its file, just before it expires", &a, name, now.Add(recordingLinkLife - time.Second), true},
		{"expired", &a, name, now.Add(recordingLinkLife + time.Second), false},
		{"another file", &a, "talk 2026-12-02 11-00-00.mp3", now, false},
		{"after a restart", &other, name, now, false},
	} {
		if got := c.a.signed(r, c.name, c.at); got != c.want {
			t.Errorf("%s: signed = %v, want %v", c.what, got, c.want)
		}
	}
	tampered := httptest.NewRequest("GET", strings.Replace(link, "exp=", "exp=9", 1), nil)
	if a.signed(tampered, name, now) {
		t.Error("a link with a changed expiry was accepted")
	}
}

// An HLS link works for its stream until it expires, on every origin that shares the secret,
// and is exactly what nginx's secure_link_md5 "$secure_link_expires/hls/$stream/ SECRET"
// computes, so a proxy in front can check it.
func TestHLSLink(t *testing.T) {
	a := newAccess(&ServerConfig{ListenerTokens: []string{"lis"}, HLSSecret: "s3cret"})
	twin := newAccess(&ServerConfig{HLSSecret: "s3cret"}) // another origin behind the same proxy
	other := newAccess(&ServerConfig{})                   // no secret: its own, random
	now := time.Unix(1_800_000_000, 0)
	link := a.hlsLink("talk", now)
	exp := strconv.FormatInt(now.Add(hlsLinkLife).Unix(), 10)
	sum := md5.Sum([]byte(exp + "/hls/talk/ s3cret")) // nginx's secure_link_md5, by hand
	if want := "/hls/talk/index.m3u8?expires=" + exp + "&md5=" + base64.RawURLEncoding.EncodeToString(sum[:]); link != want {
		t.Fatalf("link %q, want %q", link, want)
	}
	seg := httptest.NewRequest("GET", strings.Replace(link, "index.m3u8", "x_audio1_seg7.mp4", 1), nil)
	for _, c := range []struct {
		what   string
		a      *access
		req    string
		stream string
		at     time.Time
		want   bool
	}{
		{"its playlist, now", &a, link, "talk", now, true},
		{"just before it expires", &a, link, "talk", now.Add(hlsLinkLife - time.Second), true},
		{"expired", &a, link, "talk", now.Add(hlsLinkLife + time.Second), false},
		{"another stream", &a, link, "other", now, false},
		{"another origin with the secret", &twin, link, "talk", now, true},
		{"an origin without it", &other, link, "talk", now, false},
		{"a changed expiry", &a, strings.Replace(link, "expires=", "expires=9", 1), "talk", now, false},
		{"no signature", &a, "/hls/talk/index.m3u8?expires=" + exp, "talk", now, false},
		{"nothing", &a, "/hls/talk/index.m3u8", "talk", now, false},
	} {
		if got := c.a.hlsSigned(httptest.NewRequest("GET", c.req, nil), c.stream, c.at); got != c.want {
			t.Errorf("%s: hlsSigned = %v, want %v", c.what, got, c.want)
		}
	}
	if !a.hlsSigned(seg, "talk", now) {
		t.Error("the link's signature did not carry to a segment")
	}
}

// Whatever query a player (or an attacker) sends, an HLS link passes only with the signature
// of its own expiry and stream, unexpired.
func FuzzHLSSigned(f *testing.F) {
	a := newAccess(&ServerConfig{HLSSecret: "s3cret"})
	now := time.Unix(1_800_000_000, 0)
	link := a.hlsLink("talk", now)
	f.Add("talk", link[strings.Index(link, "?")+1:])
	f.Add("talk", "expires=99999999999&md5=AAAA")
	f.Add("other", "expires=+1800021600&md5=x&md5=y")
	f.Fuzz(func(t *testing.T, stream, query string) {
		r := httptest.NewRequest("GET", "/hls/talk/index.m3u8", nil)
		r.URL.RawQuery = query
		if !a.hlsSigned(r, stream, now) {
			return
		}
		q := r.URL.Query()
		exp, err := strconv.ParseInt(q.Get("expires"), 10, 64)
		if err != nil || exp < now.Unix() || q.Get("md5") != a.hlsSig(stream, q.Get("expires")) || filename.CheckStream(stream) != nil {
			t.Fatalf("accepted %q for stream %q", query, stream)
		}
	})
}
