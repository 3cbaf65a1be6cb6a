package wintest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// WHIP from podium.exe under Wine (Pion's UDP through Wine's sockets, with wine.sh's
// SIO_UDP_NETRESET overlay) to the Linux podium-server: as on Linux (cmd/podium's
// TestLiveRecordToServer), every frame goes out and the server's live MP3 carries the
// speech (correlation ≥ 0.9) at the local copy's length; then the studio copy, uploaded as
// the MP3 grew, is byte for byte the local recording.
func TestWineLiveToLinuxServer(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)[:10*pcm.SampleRate]
	dir := t.TempDir()
	srvDir := filepath.Join(dir, "server")
	bin := filepath.Join(dir, "podium-server")
	if err := testkit.Build(bin, "podium/cmd/podium-server"); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	srv := testkit.Start(t, nil, bin, "--listen", addr, "--dir", srvDir, "--token", "s3cret")
	srv.WaitLine(t, "WHIP on", 20*time.Second)

	local := filepath.Join(dir, "local.mp3")
	msg, code := shared.run(t, 2*time.Minute, "podium", "record", "--input", winPath(speech), "--duration", "10s",
		"--out", winPath(local), "--server", "http://"+addr+"/whip/talk", "--token", "s3cret")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, msg)
	}
	// --duration is counted in samples: exactly 500 frames, every one sent.
	if !strings.Contains(msg, "recorded 00:00:10.000, 500 frames, 0 dropped samples") ||
		!strings.Contains(msg, "live: 500 packets sent, 0 dropped, 0 reconnects") {
		t.Errorf("summary does not report all 500 frames recorded and sent:\n%s", msg)
	}
	if code := srv.Stop(t, 30*time.Second); code != 0 {
		t.Errorf("podium-server exit %d", code)
	}

	mine, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	copies, _ := filepath.Glob(filepath.Join(srvDir, "*"+filename.StudioSuffix))
	if len(copies) != 1 {
		all, _ := filepath.Glob(filepath.Join(srvDir, "*"))
		t.Fatalf("studio copies on the server: %v (all: %v), want one", copies, all)
	}
	theirs, _ := os.ReadFile(copies[0])
	if !bytes.Equal(mine, theirs) {
		t.Errorf("the studio copy (%d bytes) is not the local recording (%d bytes)", len(theirs), len(mine))
	}

	lives, _ := filepath.Glob(filepath.Join(srvDir, "*.mp3"))
	lives = slices.DeleteFunc(lives, func(p string) bool { return strings.HasSuffix(p, filename.StudioSuffix) })
	if len(lives) != 1 {
		t.Fatalf("live recordings on the server: %v, want one", lives)
	}
	localPCM := audiotest.Decode(t, local)
	livePCM := audiotest.Decode(t, lives[0])
	if c, lag, _ := audiotest.Correlate(in, localPCM, pcm.SampleRate); c < 0.95 {
		t.Errorf("local copy correlates %.3f (lag %d)", c, lag)
	}
	c, lag, _ := audiotest.Correlate(in, livePCM, pcm.SampleRate)
	if c < 0.9 {
		t.Errorf("the server's live recording correlates %.3f (lag %d), want ≥ 0.9", c, lag)
	}
	if d := float64(len(livePCM)-len(localPCM)) / float64(len(localPCM)); d > 0.01 || d < -0.01 {
		t.Errorf("server's live recording %d samples, local %d: %.2f%% apart", len(livePCM), len(localPCM), 100*d)
	}
	packets := regexp.MustCompile(`live: \d+ packets sent.*`).FindString(msg)
	t.Logf("%s; local %d samples (%d bytes), studio copy %d bytes, identical %v; server's live recording %d samples, correlation %.4f at lag %d",
		packets, len(localPCM), len(mine), len(theirs), bytes.Equal(mine, theirs), len(livePCM), c, lag)
}
