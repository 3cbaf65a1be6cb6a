package testkit

import (
	"os/exec"
	"regexp"
	"testing"
	"time"
)

// Chromium opens page in a headless Chromium with the flags this machine needs (no
// sandbox, no background networking) and the ones a loopback WebRTC peer needs: loopback
// candidates allowed and host addresses not hidden behind mDNS names a loopback server
// cannot resolve. Its sound goes to no device (--disable-audio-output, so Chromium plays into a
// fake output stream paced by a timer): through PulseAudio the output took a second or more to
// start pulling, the jitter buffer filled meanwhile and then played sped up for seconds, and
// what a page recorded of its own playback was shorter than the talk. flags are added (a fake microphone from a file, autoplay). It runs in its
// own process group, all of which ends with the test.
func Chromium(t testing.TB, page string, flags ...string) *Proc {
	t.Helper()
	Need(t, "chromium")
	args := append([]string{"--headless=new", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + t.TempDir(),
		"--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
		"--disable-audio-output"},
		flags...)
	cmd := exec.Command("chromium", append(args, page)...)
	ownGroup(cmd)
	return StartCmd(t, cmd)
}

// FakeMicrophone is the Chromium flags that give getUserMedia the audio of wav.
func FakeMicrophone(wav string) []string {
	return []string{"--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
		"--use-file-for-fake-audio-capture=" + wav}
}

var whipOn = regexp.MustCompile(`WHIP on (http://\S+)/whip/`)

// ServerBase waits for podium-server's "WHIP on URL" line and returns the server's base URL
// (http://HOST:PORT): started with --listen 127.0.0.1:0, this is the port it really got, so no
// other process can take it between choosing and binding.
func ServerBase(t testing.TB, p *Proc) string {
	t.Helper()
	return p.Next(t, whipOn, 15*time.Second)[1]
}
