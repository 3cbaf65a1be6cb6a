package hls

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// get fetches url and returns its body and Cache-Control, failing the test on any status
// but 200.
func get(t *testing.T, url string) ([]byte, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	return body, resp.Header.Get("Cache-Control")
}

// uris are the non-comment lines of a playlist, and the EXT-X-MAP's URI, and the EXTINF
// durations.
func uris(t *testing.T, playlist []byte) (lines []string, initURI string, durs []float64) {
	t.Helper()
	mapURI := regexp.MustCompile(`^#EXT-X-MAP:URI="([^"]+)"`)
	sc := bufio.NewScanner(strings.NewReader(string(playlist)))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		switch {
		case l == "":
		case strings.HasPrefix(l, "#EXTINF:"):
			d, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimPrefix(l, "#EXTINF:"), ","), 64)
			if err != nil {
				t.Fatalf("bad %q: %v", l, err)
			}
			durs = append(durs, d)
		case mapURI.MatchString(l):
			initURI = mapURI.FindStringSubmatch(l)[1]
		case !strings.HasPrefix(l, "#"):
			lines = append(lines, l)
		}
	}
	return lines, initURI, durs
}

// A stream's packets come out as HLS a player can fetch: a playlist of about 2 s segments of
// the same Opus, which decode to what was said; segments cached for good and playlists for
// a second; a stream not live, or a file it does not have, is 404.
func TestRenditionPlaysWhatWasSaid(t *testing.T) {
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:9*pcm.SampleRate]
	var s Renditions
	start := time.Now()
	r, err := s.Open("talk", start)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := audio.NewOpusEncoder(64000)
	if err != nil {
		t.Fatal(err)
	}
	for pos := 0; pos+pcm.FrameSamples <= len(speech); pos += pcm.FrameSamples {
		pkt, err := enc.Encode(speech[pos : pos+pcm.FrameSamples])
		if err != nil {
			t.Fatal(err)
		}
		if err := r.WritePacket(int64(pos), pkt); err != nil {
			t.Fatal(err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("GET /hls/{stream}/{file}", s.Handler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	base := srv.URL + "/hls/talk/"

	index, _ := get(t, base+"index.m3u8")
	media, _, _ := uris(t, index)
	if len(media) != 1 {
		t.Fatalf("the multivariant playlist lists %d media playlists, want 1:\n%s", len(media), index)
	}
	playlist, cache := get(t, base+media[0])
	if cache != "public, max-age=1" {
		t.Errorf("playlist Cache-Control %q, want a second at most", cache)
	}
	segs, initURI, durs := uris(t, playlist)
	if initURI == "" || len(segs) < 3 {
		t.Fatalf("playlist has init %q and %d segments, want an init and 3 or more of 9 s:\n%s", initURI, len(segs), playlist)
	}
	for i, d := range durs {
		if d < 1.9 || d > 2.1 {
			t.Errorf("segment %d lasts %.3f s, want about %v", i, d, SegmentDuration)
		}
	}
	var file []byte
	for _, u := range append([]string{initURI}, segs...) {
		body, cache := get(t, base+u)
		if cache != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q, want immutable", u, cache)
		}
		file = append(file, body...)
	}
	path := filepath.Join(t.TempDir(), "talk.mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, path)
	if want := len(segs) * 2 * pcm.SampleRate; len(got) < want-pcm.FrameSamples || len(got) > want+pcm.FrameSamples {
		t.Errorf("%d segments decode to %d samples, want %d", len(segs), len(got), want)
	}
	corr, lag, overlap := audiotest.Correlate(speech, got, pcm.SampleRate/10)
	t.Logf("%d segments, %d samples, correlation %.3f at lag %d over %d", len(segs), len(got), corr, lag, overlap)
	if corr < 0.9 || overlap < 5*pcm.SampleRate {
		t.Errorf("HLS correlates %.3f with what was said over %d samples, want ≥ 0.9 over 5 s or more", corr, overlap)
	}

	for _, u := range []string{srv.URL + "/hls/other/index.m3u8", base + "nothing.mp4"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", u, resp.Status)
		}
	}

	// The stream ends: its rendition is gone.
	rec := s.Tee("talk", &countingSink{}, r)
	if err := rec.Close(); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(base + "index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("after the end the playlist answers %s, want 404", resp.Status)
	}
}

// countingSink is the recording beside a rendition: it counts what it was given.
type countingSink struct{ packets, closed int }

func (c *countingSink) WritePacket(int64, []byte) error { c.packets++; return nil }
func (c *countingSink) Close() error                    { c.closed++; return nil }

// A rendition that fails (here a publisher's packets far past any Opus size fill a segment
// past its cap) is closed and reported once, and the recording beside it gets every packet.
func TestFailedRenditionLeavesTheRecording(t *testing.T) {
	var failures []error
	s := Renditions{Failed: func(stream string, err error) {
		if stream != "talk" {
			t.Errorf("failure reported for %q", stream)
		}
		failures = append(failures, err)
	}}
	r, err := s.Open("talk", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rec := &countingSink{}
	tee := s.Tee("talk", rec, r)
	huge := make([]byte, 400<<10)
	huge[0] = 0xf8 // TOC: CELT fullband, 20 ms, one frame
	const n = 12
	for i := range n {
		if err := tee.WritePacket(int64(i*pcm.FrameSamples), huge); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
	}
	if len(failures) != 1 {
		t.Errorf("%d failures reported, want 1: %v", len(failures), failures)
	}
	if s.Rendition("talk") != nil {
		t.Error("the failed rendition is still served")
	}
	if err := tee.Close(); err != nil {
		t.Fatal(err)
	}
	if rec.packets != n || rec.closed != 1 {
		t.Errorf("the recording got %d packets and %d closes, want %d and 1", rec.packets, rec.closed, n)
	}
}

type namedSink struct{ countingSink }

func (namedSink) Name() string { return "talk 2026-12-03 10-00-00.mp3" }

// The tee keeps the recording's file name visible (rtc.NamedSink), so GET /recordings
// still marks the file being written as live; an unnamed recording stays unnamed.
func TestTeeKeepsTheRecordingsName(t *testing.T) {
	var s Renditions
	r, err := s.Open("talk", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	named := s.Tee("talk", &namedSink{}, r)
	if n, ok := named.(interface{ Name() string }); !ok || n.Name() != "talk 2026-12-03 10-00-00.mp3" {
		t.Errorf("the tee of a named recording is %T, not named as it", named)
	}
	if _, ok := s.Tee("talk", &countingSink{}, r).(interface{ Name() string }); ok {
		t.Error("the tee of an unnamed recording has a name")
	}
	_ = named.Close()
}

// A playlist asked for before the rendition has its first segments (its presenter sent one
// packet and went) is never handed to the muxer, whose wait has no deadline: the request
// ends as soon as its client goes, and a client that stays is answered 503 with a
// Retry-After once playlistWait has passed.
func TestPlaylistWaitIsBounded(t *testing.T) {
	var s Renditions
	r, err := s.Open("talk", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.WritePacket(0, []byte{0xf8, 0xff, 0xfe}); err != nil {
		t.Fatal(err)
	}
	served := make(chan time.Duration, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		began := time.Now()
		r.ServeHTTP(w, req)
		served <- time.Since(began)
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/hls/talk/index.m3u8", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %s before the first segment, want the client to give up first", resp.Status)
	}
	select {
	case d := <-served:
		if d > time.Second {
			t.Errorf("the request went on %v after its client gave up at 200ms", d)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the request still waits 3 s after its client went")
	}

	began := time.Now()
	resp, err := http.Get(srv.URL + "/hls/talk/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	took := time.Since(began)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		took < playlistWait || took > playlistWait+time.Second {
		t.Errorf("a client that stays: %s (Retry-After %q) after %v, want 503 with a Retry-After after %v",
			resp.Status, resp.Header.Get("Retry-After"), took, playlistWait)
	}
}
