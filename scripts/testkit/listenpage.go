package testkit

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

//go:embed listenhook.js
var listenHook []byte

// PageReport is what the capture script reports from the listener page.
type PageReport struct {
	State    string    `json:"state"`    // the page's state text at the end
	EverLive bool      `json:"everLive"` // the page showed the presenter live
	Via      string    `json:"via"`      // which way the page said it played, while live
	Delays   []float64 `json:"delays"`   // delay behind live, sampled while live (s)
	Bytes    int       `json:"bytes"`
	Final    *struct {
		Delay           float64 `json:"delay"`
		PacketsLost     int     `json:"packetsLost"`
		PacketsReceived int     `json:"packetsReceived"`
	} `json:"final"`
}

// ListenerCapture is a listener page opened through ListenerPage.
type ListenerCapture struct {
	URL    string          // open this in the browser
	Report chan PageReport // once, when the capture ends
	Audio  chan []byte     // once: what the page played, as WebM/Opus
	// Started is closed when the page has begun recording what it plays.
	Started chan struct{}
}

// ListenerPage serves podium-server's real listener page for stream from base through a
// reverse proxy on loopback that adds a capture script (listenhook.js) to it: the script
// presses Play, records what the page plays, and posts it back with the page's WebRTC
// figures when the presenter has come and gone, or after secs. Everything else the page
// asks for goes to the server unchanged, so the page under test is the one listeners get,
// and podium-server itself carries no test hook.
func ListenerPage(t testing.TB, base, stream, token string, secs int) *ListenerCapture {
	t.Helper()
	c := &ListenerCapture{Report: make(chan PageReport, 1), Audio: make(chan []byte, 1), Started: make(chan struct{})}
	var started sync.Once
	mux, proxyURL := HookedPages(t, base, listenHook, fmt.Sprintf(`data-secs="%d"`, secs))
	mux.HandleFunc("POST /.test/started", func(w http.ResponseWriter, r *http.Request) {
		started.Do(func() { close(c.Started) })
	})
	mux.HandleFunc("POST /.test/stats", func(w http.ResponseWriter, r *http.Request) {
		var rep PageReport
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			t.Errorf("listener page report: %v", err)
		}
		select {
		case c.Report <- rep:
		default:
		}
	})
	mux.HandleFunc("POST /.test/audio", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("listener page audio: %v", err)
		}
		select {
		case c.Audio <- b:
		default:
		}
	})
	c.URL = proxyURL + "/listen/" + url.PathEscape(stream)
	if token != "" {
		c.URL += "#token=" + url.QueryEscape(token)
	}
	return c
}

// HookedPages serves base's pages through a reverse proxy on loopback that adds
// <script src="/.test/hook.js" attrs> (hook) to every listener page (/listen/…), so the page
// under test is the one listeners get and podium-server carries no test hook. The caller adds
// the routes the hook reports to (POST /.test/…) on mux; everything else goes to base unchanged.
// It returns mux and the proxy's base URL.
func HookedPages(t testing.TB, base string, hook []byte, attrs string) (*http.ServeMux, string) {
	t.Helper()
	target, err := url.Parse(base)
	if err != nil {
		t.Fatalf("listener page: %v", err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	tag := fmt.Sprintf(`<head><script src="/.test/hook.js" %s></script>`, attrs)
	proxy.ModifyResponse = func(r *http.Response) error {
		if !strings.HasPrefix(r.Request.URL.Path, "/listen/") || r.StatusCode != http.StatusOK ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") { // not the page: hls.js, say
			return nil
		}
		page, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return err
		}
		if !bytes.Contains(page, []byte("<head>")) {
			return fmt.Errorf("listener page has no <head>")
		}
		page = bytes.Replace(page, []byte("<head>"), []byte(tag), 1)
		r.Body = io.NopCloser(bytes.NewReader(page))
		r.ContentLength = int64(len(page))
		r.Header.Set("Content-Length", strconv.Itoa(len(page)))
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.HandleFunc("GET /.test/hook.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(hook)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return mux, srv.URL
}
