//go:build linux

package faults

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/rtc/recordings"
	"podium/scripts/testkit"
)

// TestWhoReadsWhat attacks a real podium-server the way a stranger, a web page, a listener
// and another presenter would: the recordings, their files and /metrics without a token or
// with a token in the URL; a presenter's token on another presenter's stream; another
// operator token taking over a recording waiting for its presenter to come back. Only the
// tokens that may read or resume get anything.
func TestWhoReadsWhat(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok", "--token", "tok2",
		"--stream-token", "hall:hall-tok", "--listener-token", "lis", "--idle-timeout", "2s", "--grace", "60s")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	base := "http://" + addr

	speech, _ := speechFor(t, 30*time.Second)
	local := filepath.Join(t.TempDir(), "a.mp3")
	pub := start(t, nil, "podium", "record", "--input", speech, "--duration", "3s", "--out", local,
		"--server", base+"/whip/talk", "--token", "tok")
	waitExit(t, pub, 30*time.Second)
	files, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
	if len(files) != 1 {
		t.Fatalf("recordings %v, want one of talk", files)
	}
	name := filepath.Base(files[0])
	want, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	file := "/recordings/" + url.PathEscape(name)

	// Strangers, a page on another origin, and tokens in URLs: 401, and not one byte.
	leaked, tries := 0, 0
	for _, c := range []struct {
		path, token, origin string
	}{
		{"/recordings", "", ""},
		{"/recordings", "", "https://evil.example"},
		{"/recordings?token=lis", "", ""},
		{"/recordings?token=tok", "", ""},
		{file, "", ""},
		{file, "", "https://evil.example"},
		{file + "?token=lis", "", ""},
		{file, "hall-tok", ""}, // another stream's presenter
		{file, "wrong", ""},
		{"/metrics", "", ""},
		{"/metrics?token=tok", "", ""},
		{"/metrics", "lis", ""},
		{"/metrics", "hall-tok", ""},
	} {
		tries++
		code, body := get(t, base+c.path, c.token, c.origin)
		if code != http.StatusUnauthorized {
			t.Errorf("GET %s (Bearer %q, Origin %q): %d with %d bytes, want 401", c.path, c.token, c.origin, code, len(body))
		}
		if code == http.StatusOK {
			leaked += len(body)
		}
	}
	// The other presenter's list holds none of this stream's recordings.
	var hall []recordings.File
	testkit.GetJSON(t, base+"/recordings", "hall-tok", &hall)
	if len(hall) != 0 {
		t.Errorf("hall's presenter lists %+v", hall)
	}

	// Those who may: a listener lists it, and its signed link plays without a header.
	var list []recordings.File
	testkit.GetJSON(t, base+"/recordings", "lis", &list)
	if len(list) != 1 || list[0].Name != name || strings.Contains(list[0].URL, "lis") || list[0].Serves != "studio" {
		t.Fatalf("listener's list %+v, want %q serving its studio copy with links that carry no token", list, name)
	}
	// The link plays the presenter's own file (the studio copy); the live one has its own.
	mine, _ := os.ReadFile(local)
	if code, body := get(t, base+list[0].URL, "", ""); code != http.StatusOK || body != string(mine) {
		t.Errorf("GET the signed link: %d, %d bytes, want the presenter's %d", code, len(body), len(mine))
	}
	if code, body := get(t, base+list[0].LiveURL, "", ""); code != http.StatusOK || body != string(want) {
		t.Errorf("GET the live copy's signed link: %d, %d bytes of %d", code, len(body), len(want))
	}
	if code, _ := get(t, base+strings.Replace(list[0].URL, "sig=", "sig=1", 1), "", ""); code != http.StatusUnauthorized {
		t.Errorf("GET a tampered link: %d, want 401", code)
	}
	if code, _ := get(t, base+"/metrics", "tok", ""); code != http.StatusOK {
		t.Errorf("GET /metrics as the operator: %d", code)
	}

	// A presenter's token on another stream.
	offer := testkit.StaticOffer(111, "opus/48000/2")
	if code := post(t, base+"/whip/talk", "hall-tok", offer); code != http.StatusUnauthorized {
		t.Errorf("hall's token on talk: %d, want 401", code)
	}

	// Another token takes over a recording while its presenter is away (killed, so the
	// server waits out --grace for them).
	pub, _, _ = publishLive(t, speech, base, 15*time.Second)
	time.Sleep(2 * time.Second)
	srv.Skip()
	_ = pub.Cmd.Process.Kill()
	srv.Next(t, regexp.MustCompile(`publisher gone; recording kept open`), 15*time.Second)
	other := post(t, base+"/whip/talk", "tok2", offer)
	if other != http.StatusConflict {
		t.Errorf("another operator token on talk's waiting recording: %d, want 409", other)
	}
	same := post(t, base+"/whip/talk", "tok", offer)
	if same != http.StatusCreated {
		t.Errorf("the presenter's own token coming back: %d, want 201\n%s", same, srv.Log())
	}
	// The listener page carries no hook that would play and send the audio elsewhere.
	_, page := get(t, base+"/listen/talk", "", "")
	for _, hook := range []string{"MediaRecorder", "report", "location.search"} {
		if strings.Contains(page, hook) {
			t.Errorf("the listener page holds %q", hook)
		}
	}
	stopServer(t, srv)
	after, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
	scenario(t, "%d requests without a token that may read (none, URL tokens, another page's origin, another stream's presenter): %d bytes leaked; hall's token on talk refused; another token on talk's waiting recording: %d, its own: %d; recordings of talk: %d",
		tries, leaked, other, same, len(after))
}

// get is a GET with an optional Bearer token and Origin.
func get(t *testing.T, u, token, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post offers sdp on a WHIP URL and returns the status.
func post(t *testing.T, u, token, sdp string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(sdp))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
