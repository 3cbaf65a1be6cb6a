package ui_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// Logging out or shutting down mid-talk sends the window SIGTERM. Fyne answers it by ending
// its loop at once, beside Podium's own handler, and from then on runs fyne.Do inline on the
// caller's goroutine with GLFW shut: a redraw of the session stopping then panicked in
// SetTitle and killed the process before the MP3 was finalised. The real window records
// speech, gets SIGTERM, and has to exit 0 without a panic, leaving a finished MP3 (its Xing
// header counting every frame) of what was said.
func TestRealWindowSIGTERMFinalises(t *testing.T) {
	speech := audiotest.Speech(t, false)
	for round := 1; round <= 5; round++ { // the race goes either way (1 round in 4 panicked): each must pass
		home := t.TempDir()
		r := openWindow(t, home, "ffmpeg")
		r.record(t)
		cmd, p := r.cmd, r.p

		played := make(chan struct{})
		go func() { audiotest.PlayFor(t, speech, 6*time.Second); close(played) }()
		time.Sleep(4 * time.Second)
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		code := p.Wait(t, 20*time.Second)
		<-played
		if code != 0 || strings.Contains(p.Log(), "panic:") {
			t.Fatalf("round %d: podium exited %d after SIGTERM:\n%s", round, code, p.Log())
		}

		files, _ := filepath.Glob(filepath.Join(home, "Podium", "*.mp3"))
		if len(files) != 1 {
			t.Fatalf("round %d: ~/Podium holds %v", round, files)
		}
		info, err := frames.ReadFileInfo(files[0])
		if err != nil {
			t.Fatal(err)
		}
		got := audiotest.Decode(t, files[0])
		decoded := time.Duration(len(got)) * time.Second / pcm.SampleRate
		t.Logf("round %d: %s: Xing says %v, %v decoded", round, filepath.Base(files[0]), info.Duration().Round(time.Millisecond), decoded.Round(time.Millisecond))
		if !info.HasXing || info.Frames == 0 {
			t.Fatalf("round %d: the MP3 was not finalised: %+v", round, info)
		}
		if d := info.Duration() - decoded; d > 50*time.Millisecond || d < -50*time.Millisecond {
			t.Errorf("round %d: the Xing header says %v, the audio is %v: not finalised at the end", round, info.Duration(), decoded)
		}
		if decoded < 3*time.Second {
			t.Errorf("round %d: %v recorded in about 4 s of recording", round, decoded)
		}
		want := audiotest.ReadWAV(t, speech)[:2*pcm.SampleRate]
		if corr, _, _ := audiotest.Correlate(want, got, 2*pcm.SampleRate); corr < 0.9 {
			t.Errorf("round %d: the recording correlates %.3f with the speech played, want ≥ 0.9", round, corr)
		}
	}
}
