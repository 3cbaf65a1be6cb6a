package faults

import (
	"crypto/md5"
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/rtc"
	"podium/scripts/testkit"
)

// TestWhoListensToHLS attacks a real podium-server's HLS the way a stranger and a forger
// would: a live stream's playlists and segments without a token, with a wrong one, with the
// listener token in the URL, with a link signed for another stream, an expired link (signed
// with the real secret), and links whose expiry or signature were changed. Only a listener
// token and the unexpired link the server hands a listener get anything.
func TestWhoListensToHLS(t *testing.T) {
	const secret = "fault-secret"
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", t.TempDir(), "--token", "tok",
		"--listener-token", "lis", "--hls-secret", secret)
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	base := "http://" + addr
	speech, _ := speechFor(t, 30*time.Second)
	pub, _, _ := publishLive(t, speech, base, 15*time.Second)
	defer func() { _ = pub.Cmd.Process.Kill() }()

	hls := base + "/hls/talk/"
	var index, media, playlist string
	seg := regexp.MustCompile(`(?m)^[^#\s]\S*\.mp4$`)
	testkit.WaitFor(t, 20*time.Second, "a segment in the playlist", func() bool {
		_, index = get(t, hls+"index.m3u8", "lis", "")
		media = regexp.MustCompile(`(?m)^[^#\s]\S*\.m3u8`).FindString(index)
		if media == "" {
			return false
		}
		_, playlist = get(t, hls+media, "lis", "")
		return seg.FindString(playlist) != ""
	})
	segment := seg.FindString(playlist)
	sign := func(stream string, exp int64) string {
		e := strconv.FormatInt(exp, 10)
		sum := md5.Sum([]byte(e + "/hls/" + stream + "/ " + secret))
		return "?expires=" + e + "&md5=" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	future, past := time.Now().Add(time.Hour).Unix(), time.Now().Add(-time.Minute).Unix()
	good := sign("talk", future)
	leaked, tries := 0, 0
	for _, file := range []string{"index.m3u8", media, segment} {
		for _, c := range []struct{ query, token, origin string }{
			{"", "", ""},
			{"", "", "https://evil.example"},
			{"", "wrong", ""},
			{"?token=lis", "", ""},
			{sign("other", future), "", ""}, // another stream's link
			{sign("talk", past), "", ""},    // expired, truly signed
			{strings.Replace(good, "expires=", "expires=1", 1), "", ""},     // expiry pushed out
			{strings.Replace(good, "md5=", "md5=A", 1), "", ""},             // signature changed
			{"?expires=" + strconv.FormatInt(future, 10) + "&md5=", "", ""}, // no signature
		} {
			tries++
			code, body := get(t, hls+file+c.query, c.token, c.origin)
			if code != http.StatusUnauthorized {
				t.Errorf("GET %s%s (Bearer %q): %d with %d bytes, want 401", file, c.query, c.token, code, len(body))
			}
			if code == http.StatusOK {
				leaked += len(body)
			}
		}
	}
	// Those who may: the listener token, and the link the server hands a listener.
	var info rtc.StreamInfo
	testkit.GetJSON(t, base+"/streams/talk", "lis", &info)
	q := info.HLS[strings.Index(info.HLS, "?"):]
	ok := 0
	for _, file := range []string{"index.m3u8", media, segment} {
		if code, _ := get(t, hls+file, "lis", ""); code == http.StatusOK {
			ok++
		}
		if code, _ := get(t, hls+file+q, "", ""); code == http.StatusOK {
			ok++
		}
	}
	if ok != 6 {
		t.Errorf("%d of 6 fetches by the listener token and the server's link worked", ok)
	}
	scenario(t, "%d HLS requests that may not listen (no token, URL token, another page's origin, another stream's link, expired, forged): %d bytes leaked; %d of 6 allowed fetches worked",
		tries, leaked, ok)
}
