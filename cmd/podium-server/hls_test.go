package main_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// fetch GETs url with a Bearer token ("" for none) and returns the status and body.
func fetch(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// TestHLSPlaysThePresenter: while a presenter publishes speech over WHIP, the binary serves
// the stream as HLS to a listener token (and to nobody else): a playlist of segments whose
// Opus decodes to what was said.
func TestHLSPlaysThePresenter(t *testing.T) {
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:10*pcm.SampleRate]
	base := startListenServer(t, "--dir", t.TempDir(), "--token", "op-secret", "--listener-token", "ear-secret")
	startPublisher(t, base+"/whip/talk", "op-secret", speech)

	hls := base + "/hls/talk/"
	var media string
	testkit.WaitFor(t, 10*time.Second, "the stream's HLS playlist", func() bool {
		status, body := fetch(t, hls+"index.m3u8", "ear-secret")
		m := regexp.MustCompile(`(?m)^[^#\s]\S*\.m3u8\S*$`).Find(body)
		if status != http.StatusOK || m == nil {
			return false
		}
		media = string(m)
		return true
	})
	var playlist []byte
	segment := regexp.MustCompile(`(?m)^[^#\s]\S*\.mp4\S*$`)
	testkit.WaitFor(t, 15*time.Second, "three segments in the playlist", func() bool {
		var status int
		status, playlist = fetch(t, hls+media, "ear-secret")
		return status == http.StatusOK && len(segment.FindAll(playlist, -1)) >= 3
	})
	initURI := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`).FindSubmatch(playlist)
	if initURI == nil {
		t.Fatalf("no EXT-X-MAP in:\n%s", playlist)
	}
	var file []byte
	for _, u := range append([][]byte{initURI[1]}, segment.FindAll(playlist, -1)...) {
		status, body := fetch(t, hls+string(u), "ear-secret")
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d", u, status)
		}
		file = append(file, body...)
	}
	path := filepath.Join(t.TempDir(), "talk.mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	got := audiotest.DecodeMP3(t, path)
	corr, lag, overlap := audiotest.Correlate(speech, got, pcm.SampleRate/2)
	t.Logf("HLS: %d samples, correlation %.3f at lag %d over %d", len(got), corr, lag, overlap)
	if corr < 0.9 || overlap < 4*pcm.SampleRate {
		t.Errorf("HLS correlates %.3f with what was said over %d samples, want ≥ 0.9 over 4 s or more", corr, overlap)
	}

	// Only a listener may: no token, the wrong one, and a stream nobody publishes.
	for _, c := range []struct {
		url, token string
		status     int
	}{
		{hls + "index.m3u8", "", http.StatusUnauthorized},
		{hls + media, "wrong", http.StatusUnauthorized},
		{hls + string(initURI[1]), "", http.StatusUnauthorized},
		{base + "/hls/other/index.m3u8", "ear-secret", http.StatusNotFound},
	} {
		if status, _ := fetch(t, c.url, c.token); status != c.status {
			t.Errorf("GET %s with token %q: %d, want %d", c.url, c.token, status, c.status)
		}
	}
}
