package ui_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// The real thing: podium's window on an X display (Xvfb, from scripts/xvfb.sh) recording the
// virtual PulseAudio microphone. xdotool clicks Start, speech is played into the microphone,
// a screenshot is taken while recording, the Stop button is clicked and Enter confirms; the
// MP3 then has to be in ~/Podium and sound like the speech, and Ctrl+Q has to end the process
// cleanly.
func TestRealWindowRecordsSpeech(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no X display: run `source scripts/xvfb.sh start` first (make test does)")
	}
	testkit.Need(t, "xdotool", "import", "ffmpeg")
	audiotest.VirtualMic(t)
	speech := audiotest.Speech(t, false)

	bin := filepath.Join(t.TempDir(), "podium")
	build := exec.Command("go", "build", "-o", bin, "./cmd/podium")
	build.Dir = audiotest.Root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build podium: %v\n%s", err, out)
	}

	home := t.TempDir()
	cmd := exec.Command(bin)
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "XDG_CONFIG_HOME=") || strings.HasPrefix(kv, "XDG_DATA_HOME=") ||
			strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "LANG=") {
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = append(env, "HOME="+home, "LANG=en_US.UTF-8")
	p := testkit.StartCmd(t, cmd)

	pid := cmd.Process.Pid
	win := testkit.WaitWindow(t, pid, "Podium", 20*time.Second)
	x, y, wd, ht := win.Geometry(t)
	t.Logf("window %s at %d,%d size %dx%d", win.ID, x, y, wd, ht)
	time.Sleep(1500 * time.Millisecond) // first frame, microphone list

	// The big button is the third row: 90–150 px from the window's top at any width.
	bx, by := wd/2, 120
	win.Click(t, bx, by)
	testkit.WaitWindow(t, pid, "Recording - Podium", 10*time.Second)
	start, cpu0 := time.Now(), cpuTime(cmd.Process.Pid)

	played := make(chan struct{})
	// Longer than the recording: PulseAudio can take a second or two to start both the
	// playback and the capture, and the speech must cover all 7 s compared below.
	go func() { audiotest.PlayFor(t, speech, 12*time.Second); close(played) }()
	t.Cleanup(func() { <-played }) // never let speech spill into the next test's microphone
	time.Sleep(5 * time.Second)
	win.Screenshot(t, "/tmp/podium-recording.png")
	t.Logf("screenshot while recording: /tmp/podium-recording.png")
	cpu := float64(cpuTime(cmd.Process.Pid)-cpu0) / float64(time.Since(start)) * 100
	rss, _ := testkit.RSS(cmd.Process.Pid)
	t.Logf("while recording: RSS %.1f MB, CPU %.1f%% of one core", float64(rss)/(1<<20), cpu)
	<-played
	time.Sleep(500 * time.Millisecond)

	// Stop asks: nothing stops for a while after the click. The confirmed stop below shows
	// how long a stop takes to reach the title, and must be well within that while.
	const asks = 1500 * time.Millisecond
	win.Click(t, bx, by) // Stop: asks
	time.Sleep(asks)
	if testkit.FindWindow(pid, "Recording - Podium") == "" {
		t.Fatal("clicking Stop stopped without asking")
	}
	confirmed := time.Now()
	win.Key(t, "Return") // confirm
	testkit.WaitGone(t, pid, "Recording - Podium", 15*time.Second)
	if took := time.Since(confirmed); took > asks {
		t.Errorf("a confirmed stop took %v to show in the title: waiting %v after the click proved nothing", took, asks)
	}

	files, _ := filepath.Glob(filepath.Join(home, "Podium", "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("~/Podium holds %v", files)
	}
	got := audiotest.DecodeMP3(t, files[0])
	want := audiotest.ReadWAV(t, speech)[:7*pcm.SampleRate]
	corr, lag, n := audiotest.Correlate(want, got, 6*pcm.SampleRate)
	t.Logf("%s: %.2f s decoded; speech found at %.2f s, correlation %.3f over %.2f s",
		filepath.Base(files[0]), float64(len(got))/pcm.SampleRate, float64(lag)/pcm.SampleRate, corr, float64(n)/pcm.SampleRate)
	if corr < 0.95 {
		t.Errorf("the recording correlates %.3f with the speech played, want ≥ 0.95", corr)
	}
	if n < 6*pcm.SampleRate {
		t.Errorf("only %.2f s of the speech is in the recording", float64(n)/pcm.SampleRate)
	}
	win.Screenshot(t, "/tmp/podium-saved.png")

	win.Key(t, "ctrl+q")
	if code := p.Wait(t, 15*time.Second); code != 0 {
		t.Errorf("podium exited %d after Ctrl+Q", code)
	}
}

// cpuTime is the CPU time the process has used (user + system).
func cpuTime(pid int) time.Duration {
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) <= 12 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // clock ticks are 1/100 s on Linux
}
