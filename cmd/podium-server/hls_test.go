package main_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

var mediaPlaylistLine = regexp.MustCompile(`(?m)^[^#\s]\S*\.m3u8\S*$`)

// waitForMediaPlaylist fetches the multivariant playlist at index (with token, "" for none)
// until it answers, for up to d (the first segment takes 2 s), and returns the media
// playlist it lists, relative to it.
func waitForMediaPlaylist(t testing.TB, d time.Duration, index, token string) string {
	t.Helper()
	var media string
	testkit.WaitFor(t, d, "the HLS playlist at "+index, func() bool {
		status, body := testkit.Get(t, index, token)
		media = mediaPlaylistLine.FindString(body)
		return status == http.StatusOK && media != ""
	})
	return media
}

// TestHLSPlaysThePresenter: while a presenter publishes speech over WHIP, the binary serves
// the stream as HLS to a listener token (and to nobody else): a playlist of segments whose
// Opus decodes to what was said.
func TestHLSPlaysThePresenter(t *testing.T) {
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:10*pcm.SampleRate]
	base := startListenServer(t, "--dir", t.TempDir(), "--token", "op-secret", "--listener-token", "ear-secret")
	startPublisher(t, base+"/whip/talk", "op-secret", speech)

	hls := base + "/hls/talk/"
	media := waitForMediaPlaylist(t, 10*time.Second, hls+"index.m3u8", "ear-secret")
	var playlist string
	segment := regexp.MustCompile(`(?m)^[^#\s]\S*\.mp4\S*$`)
	testkit.WaitFor(t, 15*time.Second, "three segments in the playlist", func() bool {
		var status int
		status, playlist = testkit.Get(t, hls+media, "ear-secret")
		return status == http.StatusOK && len(segment.FindAllString(playlist, -1)) >= 3
	})
	initURI := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`).FindStringSubmatch(playlist)
	if initURI == nil {
		t.Fatalf("no EXT-X-MAP in:\n%s", playlist)
	}
	var file []byte
	for _, u := range append([]string{initURI[1]}, segment.FindAllString(playlist, -1)...) {
		status, body := testkit.Get(t, hls+u, "ear-secret")
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d", u, status)
		}
		file = append(file, body...)
	}
	path := filepath.Join(t.TempDir(), "talk.mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, path)
	corr, lag, overlap := audiotest.Correlate(speech, got, pcm.SampleRate/2)
	t.Logf("HLS: %d samples, correlation %.3f at lag %d over %d", len(got), corr, lag, overlap)
	if corr < 0.9 || overlap < 4*pcm.SampleRate {
		t.Errorf("HLS correlates %.3f with what was said over %d samples, want ≥ 0.9 over 4 s or more", corr, overlap)
	}

	// A listener's stream info carries a signed link, which works without the token (as a
	// player's requests have none), for this stream only.
	info := streamInfo(t, base, "ear-secret", "talk")
	if !strings.HasPrefix(info.HLS, "/hls/talk/index.m3u8?") {
		t.Fatalf("stream info's HLS link %q", info.HLS)
	}
	query := info.HLS[strings.Index(info.HLS, "?"):]
	for _, u := range []string{info.HLS, "/hls/talk/" + media, "/hls/talk/" + initURI[1]} {
		if !strings.Contains(u, "?") {
			u += query
		}
		if status, _ := testkit.Get(t, base+u, ""); status != http.StatusOK {
			t.Errorf("GET %s with the signed link: %d, want 200", u, status)
		}
	}

	// Only a listener may: no token, the wrong one, another stream's link, and a stream
	// nobody publishes.
	for _, c := range []struct {
		url, token string
		status     int
	}{
		{hls + "index.m3u8", "", http.StatusUnauthorized},
		{hls + media, "wrong", http.StatusUnauthorized},
		{hls + initURI[1], "", http.StatusUnauthorized},
		{base + "/hls/other/index.m3u8" + query, "", http.StatusUnauthorized},
		{base + "/hls/other/index.m3u8", "ear-secret", http.StatusNotFound},
	} {
		if status, _ := testkit.Get(t, c.url, c.token); status != c.status {
			t.Errorf("GET %s with token %q: %d, want %d", c.url, c.token, status, c.status)
		}
	}
}

// nginxConf is a caching reverse proxy in front of origin, as an operator would run one (or a
// CDN would behave): it keeps what the origin says it may (segments for good, playlists for
// a second), and proxy_cache_lock lets one request per object through to the origin while
// the others wait for it.
const nginxConf = `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 8192;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  proxy_cache_path {dir}/cache levels=1:2 keys_zone=hls:10m max_size=200m inactive=10m use_temp_path=off;
  upstream origin { server {origin}; keepalive 16; }
  server {
    listen 127.0.0.1:{port};
    location ~ ^/hls/(?<stream>[^/]+)/ {
      {check}
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache hls;
      proxy_cache_key $uri;
      proxy_cache_lock on;
      proxy_cache_lock_age 5s;
      proxy_cache_lock_timeout 5s;
      proxy_cache_use_stale updating;
    }
  }
}
`

// secureLinkCheck has nginx check the origin's signed HLS links itself (--hls-secret), since
// it answers from its cache without asking: 403 without a valid signature, 410 once expired.
const secureLinkCheck = `secure_link $arg_md5,$arg_expires;
      secure_link_md5 "$secure_link_expires/hls/$stream/ {secret}";
      if ($secure_link = "") { return 403; }
      if ($secure_link = "0") { return 410; }`

// startNginx runs nginx in front of origin (host:port), with check (a secureLinkCheck, or ""
// for public streams) before the proxying, and returns its base URL.
func startNginx(t testing.TB, origin, check string) string {
	t.Helper()
	testkit.Need(t, "nginx")
	dir := t.TempDir()
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;" // the workers must write the cache in this test's folder
	}
	for attempt := 0; ; attempt++ {
		port := testkit.FreePort(t)
		conf := strings.NewReplacer("{check}", check, "{dir}", dir, "{user}", user, "{origin}", origin, "{port}", strconv.Itoa(port)).Replace(nginxConf)
		path := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		p := testkit.Start(t, nil, "nginx", "-p", dir, "-c", path)
		base := fmt.Sprintf("http://127.0.0.1:%d", port)
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
				c.Close()
				t.Cleanup(func() { p.Stop(t, 5*time.Second) })
				return base
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.Stop(t, 5*time.Second)
		if attempt == 2 { // the port was taken between our look and nginx's bind, three times
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %s", log)
		}
	}
}

// hlsListener is one load-generating listener: it reloads the media playlist every target
// duration, as hls.js does on a live stream, and fetches each new segment once.
type hlsListener struct {
	got     map[int]bool // media sequence numbers fetched
	failed  []string
	fetches int
}

var segNumber = regexp.MustCompile(`seg(\d+)\.mp4`)

func (l *hlsListener) run(ctx context.Context, c *http.Client, base, media string) {
	l.got = map[int]bool{}
	get := func(u string) ([]byte, bool) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+u, nil)
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				l.failed = append(l.failed, fmt.Sprintf("%s: %v", u, err))
			}
			return nil, false
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			if ctx.Err() == nil {
				l.failed = append(l.failed, fmt.Sprintf("%s: %d %v", u, resp.StatusCode, err))
			}
			return nil, false
		}
		l.fetches++
		return body, true
	}
	// start anywhere within the first reload, as listeners arrive at their own moments
	tick := time.NewTimer(time.Duration(rand.Int64N(int64(hlsReload))))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		tick.Reset(hlsReload)
		pl, ok := get(media)
		if !ok {
			continue
		}
		for _, line := range strings.Split(string(pl), "\n") {
			m := segNumber.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(line, "#") {
				continue
			}
			n, _ := strconv.Atoi(m[1])
			if l.got[n] {
				continue
			}
			if body, ok := get(strings.TrimSpace(line)); ok && len(body) > 0 {
				l.got[n] = true
			}
		}
	}
}

// hlsReload is how often a listener reloads the playlist: the segments' target duration.
const hlsReload = 2 * time.Second

// hlsLoad is n live-edge listeners through nginx, caching in front of the real binary with
// one presenter on a public stream, for d: what each got, and what the origin did meanwhile.
type hlsLoad struct {
	listeners     []hlsListener
	before, after map[string]float64 // the origin's metrics
	cpu           float64            // the origin process's CPU, % of a core
}

func runHLSLoad(t testing.TB, n int, d time.Duration) hlsLoad {
	t.Helper()
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	talk := speech
	for len(talk) < int(d/time.Second+20)*pcm.SampleRate {
		talk = append(talk, speech...)
	}
	proc := testkit.Start(t, nil, serverBin, "--listen", "127.0.0.1:0", "--dir", t.TempDir(), "--token", "op-secret", "--public-listen")
	t.Cleanup(func() { proc.Stop(t, 10*time.Second) })
	origin := testkit.ServerBase(t, proc)
	startPublisher(t, origin+"/whip/lecture", "op-secret", talk)
	media := waitForMediaPlaylist(t, 15*time.Second, origin+"/hls/lecture/index.m3u8", "")
	proxy := startNginx(t, strings.TrimPrefix(origin, "http://"), "")

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n}}
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	load := hlsLoad{listeners: make([]hlsListener, n), before: testkit.Metrics(t, origin+"/metrics", "op-secret")}
	t0, w0 := cpuTicks(t, proc.Cmd.Process.Pid), time.Now()
	var wg sync.WaitGroup
	for i := range load.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			load.listeners[i].run(ctx, c, proxy+"/hls/lecture/", media)
		}()
	}
	wg.Wait()
	t1, w1 := cpuTicks(t, proc.Cmd.Process.Pid), time.Now()
	load.after = testkit.Metrics(t, origin+"/metrics", "op-secret")
	load.cpu = float64(t1-t0) * 10 / float64(w1.Sub(w0).Milliseconds()) * 100
	return load
}

// cpuTicks is the CPU time (user and system, in clock ticks of 10 ms) process pid has used.
func cpuTicks(t testing.TB, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// segments is the most segments any listener got; missed, those listeners lacked between
// the first and the last they got; segmentReqs and playlistReqs, what the origin served.
func (l hlsLoad) segments() (segments, missed int) {
	for _, ls := range l.listeners {
		segments = max(segments, len(ls.got))
		first, last := -1, -1
		for n := range ls.got {
			if first < 0 || n < first {
				first = n
			}
			last = max(last, n)
		}
		missed += (last - first + 1) - len(ls.got)
	}
	return segments, missed
}

func (l hlsLoad) served(kind string) float64 {
	k := `podium_hls_requests_total{kind="` + kind + `"}`
	return l.after[k] - l.before[k]
}

// TestHLSThroughCachingProxy: a thousand listeners on the live edge for a minute, through
// nginx as a caching proxy: every listener gets every segment from the one it joined at, and
// the origin serves each segment a few times at most, whatever the number of listeners.
func TestHLSThroughCachingProxy(t *testing.T) {
	const listeners = 1000
	load := runHLSLoad(t, listeners, time.Minute)
	segments, missed := load.segments()
	fetches, failed := 0, 0
	for _, l := range load.listeners {
		fetches += l.fetches
		if len(l.failed) > 0 {
			failed++
			if failed <= 3 {
				t.Errorf("a listener's requests failed: %v", l.failed[:min(3, len(l.failed))])
			}
		}
	}
	segReqs, plReqs := load.served("segment"), load.served("playlist")
	t.Logf("%d listeners through nginx for a minute: %d requests, %d failed listeners, %d missed segments; "+
		"the origin served %.0f segment and %.0f playlist requests for %d segments: %.2f per segment",
		listeners, fetches, failed, missed, segReqs, plReqs, segments, segReqs/float64(segments))
	if missed > 0 {
		t.Errorf("listeners missed %d segments between their first and their last", missed)
	}
	for i, l := range load.listeners {
		if len(l.got) < segments-2 { // one may have joined a segment later, and reloaded before the newest
			t.Errorf("listener %d got %d segments, the most any got is %d", i, len(l.got), segments)
			break
		}
	}
	if segments < 25 {
		t.Errorf("listeners got %d segments in a minute, want about 30", segments)
	}
	if segReqs > 3*float64(segments) {
		t.Errorf("the origin served %.0f segment requests for %d segments, want at most 3 each", segReqs, segments)
	}
	if plReqs > 3*60 {
		t.Errorf("the origin served %.0f playlist requests in a minute, want at most about one a second", plReqs)
	}
}

// TestHLSSignedLinksThroughProxy: a listener-only stream behind nginx, which checks the
// origin's signed links itself (it would otherwise hand its cache to anyone): the link a
// listener gets from /streams plays through it; no link, a forged one and an expired one are
// refused by nginx, and none of them reaches the origin.
func TestHLSSignedLinksThroughProxy(t *testing.T) {
	const secret = "shared-by-the-origins-and-the-proxy"
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	origin := startListenServer(t, "--dir", t.TempDir(), "--token", "op-secret", "--listener-token", "ear-secret", "--hls-secret", secret)
	startPublisher(t, origin+"/whip/talk", "op-secret", speech)
	proxy := startNginx(t, strings.TrimPrefix(origin, "http://"), strings.ReplaceAll(secureLinkCheck, "{secret}", secret))
	link := streamInfo(t, origin, "ear-secret", "talk").HLS
	query := link[strings.Index(link, "?"):]

	media := waitForMediaPlaylist(t, 15*time.Second, proxy+link, "")
	var playlist string
	testkit.WaitFor(t, 15*time.Second, "a segment in the playlist", func() bool {
		var status int
		status, playlist = testkit.Get(t, proxy+"/hls/talk/"+media, "")
		return status == http.StatusOK && strings.Contains(playlist, "_seg")
	})
	seg := regexp.MustCompile(`(?m)^[^#\s]\S*_seg\d+\.mp4\S*$`).FindString(playlist)
	if !strings.Contains(seg, "md5=") {
		t.Fatalf("segment %q does not carry the link's signature", seg)
	}
	if status, body := testkit.Get(t, proxy+"/hls/talk/"+seg, ""); status != http.StatusOK || len(body) == 0 {
		t.Fatalf("segment through the proxy: %d, %d bytes", status, len(body))
	}

	before := testkit.Metrics(t, origin+"/metrics", "op-secret")
	exp := strconv.FormatInt(time.Now().Add(-time.Minute).Unix(), 10)
	sum := md5.Sum([]byte(exp + "/hls/talk/ " + secret))
	expired := "/hls/talk/index.m3u8?expires=" + exp + "&md5=" + base64.RawURLEncoding.EncodeToString(sum[:])
	for _, c := range []struct {
		what, url string
		status    int
	}{
		{"no link", "/hls/talk/index.m3u8", http.StatusForbidden},
		{"the Bearer way", "/hls/talk/index.m3u8", http.StatusForbidden}, // the proxy only knows links
		{"another stream's path", "/hls/other/index.m3u8" + query, http.StatusForbidden},
		{"a forged signature", strings.Replace(link, "md5=", "md5=A", 1), http.StatusForbidden},
		{"an expired link", expired, http.StatusGone},
		{"a segment without the link", "/hls/talk/" + seg[:strings.Index(seg, "?")], http.StatusForbidden},
	} {
		token := ""
		if c.what == "the Bearer way" {
			token = "ear-secret"
		}
		if status, _ := testkit.Get(t, proxy+c.url, token); status != c.status {
			t.Errorf("%s (%s): %d through the proxy, want %d", c.what, c.url, status, c.status)
		}
	}
	after := testkit.Metrics(t, origin+"/metrics", "op-secret")
	for _, k := range []string{`podium_hls_requests_total{kind="playlist"}`, `podium_hls_requests_total{kind="segment"}`} {
		if after[k] != before[k] {
			t.Errorf("refused requests reached the origin: %s went from %v to %v", k, before[k], after[k])
		}
	}
}
