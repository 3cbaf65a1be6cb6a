package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"podium/app/recorder"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/rtc"
	"podium/rtc/proto"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// startServer runs podium-server's handler (the same rtc.Server and MP3 recorder the command
// wires) on loopback. udpPort is the UDP port of all its media (0: a free one), so a test can
// cut exactly this server off.
func startServer(t *testing.T, dir string, udpPort int) (base string, srv *rtc.Server) {
	t.Helper()
	stats := &recorder.Stats{}
	srv, err := rtc.NewServer(rtc.ServerConfig{
		Tokens:        []string{"s3cret"},
		Record:        recorder.New(dir, mp3.DefaultBitrate, stats),
		RecordingsDir: dir,
		IPFilter:      proto.LoopbackOnly,
		UDPPort:       udpPort,
		Logger:        testkit.Logger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.RegisterMetrics(stats.Collectors()...)
	return testkit.Serve(t, srv), srv
}

func onlyMP3(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
	if len(m) != 1 {
		t.Fatalf("server recordings: %v, want exactly one", m)
	}
	return m[0]
}

// The presenter's voice, live: podium record publishes a WAV paced in real time while it
// records; both its MP3 and the server's MP3 carry the speech, at the same length.
func TestLiveRecordToServer(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)[:10*pcm.SampleRate]
	dir := t.TempDir()
	base, srv := startServer(t, filepath.Join(dir, "server"), 0)
	local := filepath.Join(dir, "local.mp3")

	msg, code := run(t, "record", "--input", speech, "--duration", "10s", "--out", local,
		"--server", base+"/whip/talk", "--token", "s3cret")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	// --duration is counted in samples, so exactly 500 frames: every one must go out.
	var frames int
	if m := regexp.MustCompile(`, (\d+) frames,`).FindStringSubmatch(msg); m != nil {
		frames, _ = strconv.Atoi(m[1])
	}
	if frames != 500 || !strings.Contains(msg, fmt.Sprintf("live: %d packets sent, 0 dropped, 0 reconnects", frames)) {
		t.Errorf("summary does not report all %d frames sent:\n%s", frames, msg)
	}
	ctx := t.Context()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.PacketsReceived != uint64(frames) || st.PacketsLost != 0 {
		t.Errorf("server received %d packets, lost %d; want %d and 0", st.PacketsReceived, st.PacketsLost, frames)
	}
	mine := audiotest.Decode(t, local)
	theirs := audiotest.Decode(t, onlyMP3(t, filepath.Join(dir, "server")))
	if c, lag, _ := audiotest.Correlate(in, mine, pcm.SampleRate); c < 0.95 {
		t.Errorf("local copy correlates %.3f (lag %d)", c, lag)
	}
	c, lag, _ := audiotest.Correlate(in, theirs, pcm.SampleRate)
	if c < 0.9 {
		t.Errorf("server copy correlates %.3f (lag %d)", c, lag)
	}
	if d := float64(len(theirs)-len(mine)) / float64(len(mine)); d > 0.01 || d < -0.01 {
		t.Errorf("server copy %d samples, local %d: %.2f%% apart", len(theirs), len(mine), 100*d)
	}
	t.Logf("local %d samples, server %d, server correlation %.3f at lag %d", len(mine), len(theirs), c, lag)
}

// A refused token: a clear error naming the token, a non-zero exit, nothing recorded on
// either side.
func TestLiveBadTokenAndPath(t *testing.T) {
	speech := audiotest.Speech(t, false)
	dir := t.TempDir()
	base, srv := startServer(t, filepath.Join(dir, "server"), 0)
	for _, tc := range []struct{ url, token, want string }{
		{base + "/whip/talk", "guess", "token refused"},
		{base + "/whip/talk", "", "token refused"},
		{base + "/wrong/talk", "s3cret", "404"},
		{"ftp://example/whip", "s3cret", "ftp"},
	} {
		out := filepath.Join(dir, "local.mp3")
		msg, code := run(t, "record", "--input", speech, "--duration", "1s", "--out", out, "--server", tc.url, "--token", tc.token)
		if code == 0 || !strings.Contains(msg, tc.want) {
			t.Errorf("%s with token %q: exit %d, output %q; want failure saying %q", tc.url, tc.token, code, msg, tc.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s: a refused publish left a local file", tc.url)
		}
	}
	if st := srv.Stats(); st.SessionsTotal != 0 {
		t.Errorf("refused publishers created %d sessions", st.SessionsTotal)
	}
}
