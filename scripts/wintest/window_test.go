package wintest

import (
	"image"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The window of podium.exe under Wine on Xvfb, driven as ui's TestRealWindowRecordsSpeech
// drives the Linux one: Start, speech into the virtual microphone, the level meter moving,
// Stop asks and Enter confirms; the recording is then in the folder (its settings point it at
// the test's own), listed in the window, and sounds like the speech. Wine gives the window
// the _NET_WM_PID of podium.exe's Unix process, the one wine.sh execs into.
func TestWineWindowRecordsSpeech(t *testing.T) {
	testkit.Need(t, "xdotool", "import", "ffmpeg")
	audiotest.VirtualMic(t)
	speech := audiotest.Speech(t, false)
	folder := t.TempDir()
	shared.setPrefs(t, map[string]any{"podium.folder": winPath(folder)})

	p := shared.start(t, "podium")
	pid := p.Cmd.Process.Pid
	win := testkit.WaitWindow(t, pid, "Podium", time.Minute)
	_, _, wd, _ := win.Geometry(t)
	time.Sleep(1500 * time.Millisecond) // first frame, microphone list
	shots := t.TempDir()
	before := win.Screenshot(t, filepath.Join(shots, "before.png"))

	bx, by := wd/2, 120 // the big button, as on Linux
	win.Click(t, bx, by)
	testkit.WaitWindow(t, pid, "Recording - Podium", 20*time.Second)
	played := make(chan struct{})
	go func() { audiotest.PlayFor(t, speech, 10*time.Second); close(played) }()
	t.Cleanup(func() { <-played })
	time.Sleep(2 * time.Second)
	// The meter: its bar's lit width in screenshots half a second apart while speech plays.
	var widths []int
	for i := range 6 {
		img := win.Screenshot(t, filepath.Join(shots, "meter.png"))
		widths = append(widths, meterWidth(img))
		if i == 0 {
			win.Screenshot(t, "/tmp/podium-wine-recording.png")
		}
		time.Sleep(500 * time.Millisecond)
	}
	moved := false
	for _, w := range widths[1:] {
		moved = moved || w != widths[0]
	}
	if !moved || widths[0]+widths[1]+widths[2] == 0 {
		t.Errorf("the level meter did not move while speech played: lit widths %v px", widths)
	}
	<-played
	time.Sleep(500 * time.Millisecond)

	win.Click(t, bx, by) // Stop: asks
	time.Sleep(1500 * time.Millisecond)
	if testkit.FindWindow(pid, "Recording - Podium") == "" {
		t.Fatal("clicking Stop stopped without asking")
	}
	win.Key(t, "Return") // confirm
	testkit.WaitGone(t, pid, "Recording - Podium", 20*time.Second)

	var files []string
	testkit.WaitFor(t, 20*time.Second, "the recording in its folder", func() bool {
		files, _ = filepath.Glob(filepath.Join(folder, "*.mp3"))
		return len(files) == 1
	})
	time.Sleep(time.Second)
	after := win.Screenshot(t, "/tmp/podium-wine-saved.png")
	// Listed: the recordings list (from y 440, where "No recordings yet" was, to its first
	// row) has changed.
	if changed := differs(before, after, image.Rect(0, 440, wd, 600)); changed < 200 {
		t.Errorf("the recordings list looks as before the recording (%d pixels differ)", changed)
	}
	got := audiotest.Decode(t, files[0])
	want := audiotest.ReadWAV(t, speech)[:7*pcm.SampleRate]
	med, n, lag := audiotest.WindowCorrelation(want, got, pcm.SampleRate)
	corr, _, _ := audiotest.Correlate(want, got, 6*pcm.SampleRate)
	if med < 0.9 || n < 5 {
		t.Errorf("median correlation with the speech %.3f over %d 1 s windows, want ≥ 0.9 over ≥ 5 (whole %.3f)", med, n, corr)
	}
	t.Logf("%s: %.2f s; speech at %.2f s, correlation median %.4f over %d windows, whole %.4f; meter widths %v px; screenshots /tmp/podium-wine-*.png",
		filepath.Base(files[0]), float64(len(got))/pcm.SampleRate, float64(lag)/pcm.SampleRate, med, n, corr, widths)

	win.Key(t, "ctrl+q")
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Errorf("podium.exe exited %d after Ctrl+Q", code)
	}
	if _, err := os.Stat(files[0]); err != nil {
		t.Error(err)
	}
}

// meterWidth is how many columns of the level meter's bar (window pixels x 60–390,
// y 262–290 at the window's default layout) hold a coloured pixel: the bar is grey when
// silent.
func meterWidth(img image.Image) int {
	b := img.Bounds()
	n := 0
	for x := b.Min.X + 60; x < b.Min.X+390 && x < b.Max.X; x++ {
		for y := b.Min.Y + 262; y < b.Min.Y+290 && y < b.Max.Y; y++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			hi, lo := max(r, g, bl)>>8, min(r, g, bl)>>8
			if hi-lo > 40 {
				n++
				break
			}
		}
	}
	return n
}

// differs counts the pixels inside r that are not the same in a and b.
func differs(a, b image.Image, r image.Rectangle) int {
	n := 0
	r = r.Intersect(a.Bounds().Sub(a.Bounds().Min)).Intersect(b.Bounds().Sub(b.Bounds().Min))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(a.Bounds().Min.X+x, a.Bounds().Min.Y+y) != b.At(b.Bounds().Min.X+x, b.Bounds().Min.Y+y) {
				n++
			}
		}
	}
	return n
}
