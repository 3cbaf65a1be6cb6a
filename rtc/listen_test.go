package rtc

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"podium/scripts/testkit"
)

// The page's hls.js is the one package.json pins, served compressed to those who take it
// and revalidated by ETag, without a token like the page itself.
func TestServesTheHLSPlayer(t *testing.T) {
	var pkg struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile("web/package.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatal(err)
	}
	want := pkg.Dependencies["hls.js"]
	if !bytes.Contains(hlsJS, []byte(`"`+want+`"`)) {
		t.Errorf("web/hls.light.min.js is not hls.js %s (package.json's): run go generate ./rtc", want)
	}

	env := whepEnv(t, nil)
	url := env.ts.URL + "/listen/hls.js"
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Encoding") != "gzip" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Fatalf("GET /listen/hls.js: %d, %q, %q", resp.StatusCode, resp.Header.Get("Content-Encoding"), resp.Header.Get("Content-Type"))
	}
	z, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(z)
	if err != nil || !bytes.Equal(got, hlsJS) {
		t.Fatalf("GET /listen/hls.js gave %d bytes (%v), want hls.js's %d", len(got), err, len(hlsJS))
	}
	if status, body := testkit.Get(t, url, ""); status != 200 || body != string(hlsJS) {
		t.Errorf("GET /listen/hls.js without gzip: %d, %d bytes", status, len(body))
	}
	req, _ = http.NewRequest("GET", url, nil)
	req.Header.Set("If-None-Match", resp.Header.Get("ETag"))
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != http.StatusNotModified {
		t.Errorf("GET /listen/hls.js with its ETag: %v %v, want 304", r.StatusCode, err)
	}
}

// Listener pages learn from /streams/{stream} where to play: WHEP unless the operator
// prefers HLS or WHEP is full, and HLS only where the server has it.
func TestStreamInfoSendsListenersToHLS(t *testing.T) {
	checkGoroutines(t)
	info := func(env *testEnv) StreamInfo {
		var s StreamInfo
		testkit.GetJSON(t, env.ts.URL+"/streams/talk", "lis", &s)
		return s
	}
	plain := whepEnv(t, func(c *ServerConfig) { c.PreferHLS = true })
	if s := info(plain); s.HLS != "" || s.Via != "" {
		t.Errorf("without HLS mounted: %+v, want neither a link nor a way", s)
	}

	prefer := whepEnv(t, func(c *ServerConfig) { c.PreferHLS = true })
	prefer.srv.HandleHLS(http.NotFoundHandler())
	if s := info(prefer); s.HLS == "" || s.Via != "hls" {
		t.Errorf("PreferHLS: %+v, want the link and via hls", s)
	}

	full := whepEnv(t, func(c *ServerConfig) { c.MaxListeners = 1 })
	full.srv.HandleHLS(http.NotFoundHandler())
	if s := info(full); s.HLS == "" || s.Via != "" {
		t.Errorf("room for a listener: %+v, want the link and no way (WHEP)", s)
	}
	l := mustListener(t, full.ts.URL, "talk", "lis", listenerOpts{})
	defer l.close(true)
	waitConnected(t, l.pc)
	if s := info(full); s.Via != "hls" {
		t.Errorf("WHEP full: %+v, want via hls", s)
	}
}
