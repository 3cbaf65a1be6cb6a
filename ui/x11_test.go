package ui_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The real thing: podium's window on an X display (Xvfb, from scripts/xvfb.sh) recording the
// virtual PulseAudio microphone. xdotool clicks Start, speech is played into the microphone,
// a screenshot is taken while recording, the Stop button is clicked and Enter confirms; the
// MP3 then has to be in ~/Podium and sound like the speech, and Ctrl+Q has to end the process
// cleanly.
func TestRealWindowRecordsSpeech(t *testing.T) {
	speech := audiotest.Speech(t, false)
	home := t.TempDir()
	r := openWindow(t, home, "import", "ffmpeg")
	cmd, p, pid, win := r.cmd, r.p, r.pid, r.win
	t.Logf("window %s size %dx%d", win.ID, r.wd, r.ht)
	bx, by := r.wd/2, bigButtonY
	r.record(t)
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
	got := audiotest.Decode(t, files[0])
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

// podiumIn is the freshly built podium (the window), to run with home as its HOME (its
// settings and recordings in there), in English.
func podiumIn(t *testing.T, home string) *exec.Cmd {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "podium")
	if err := testkit.Build(bin, "podium/cmd/podium"); err != nil {
		t.Fatal(err)
	}
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
	return cmd
}

// The real window's Share dialog: Share… is clicked, then New link, and Enter confirms. The
// link the app had (its listener token, kept in its stored preferences) is then refused by
// its built-in server, the new token saved in the preferences is admitted, and Ctrl+Q ends the
// app cleanly. Screenshots of the dialog stay in /tmp.
func TestRealWindowNewLink(t *testing.T) {
	home := t.TempDir()
	const old = "0123456789abcdef0123456789abcdef"
	prefsPath := writePrefs(t, home, `{"podium.listener_token":"`+old+`"}`)
	r := openWindow(t, home, "import") // its first frame drawn
	p, pid, win, wd, ht := r.p, r.pid, r.win, r.wd, r.ht
	var addrs []string
	testkit.WaitFor(t, 15*time.Second, "the built-in server", func() bool {
		addrs = testkit.ListenAddrs(pid)
		return len(addrs) > 0
	})
	streams := "http://" + addrs[0] + "/streams/live"
	if code, _ := testkit.Get(t, streams, old); code != 200 {
		t.Fatalf("the stored token before New link: %d", code)
	}

	// Share… sits at the right of the listeners' row, 355 px from the top at any size; New
	// link under the link in the dialog, which takes 95 % × 90 % of the window.
	win.Click(t, wd-50, 355)
	time.Sleep(time.Second)
	win.Screenshot(t, "/tmp/podium-share.png")
	win.Click(t, wd/40+70, ht/20+476)
	time.Sleep(500 * time.Millisecond)
	win.Screenshot(t, "/tmp/podium-new-link.png")
	win.Key(t, "Return") // confirm
	var fresh string
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b, _ := os.ReadFile(prefsPath)
		var prefs map[string]any
		_ = json.Unmarshal(b, &prefs)
		fresh, _ = prefs["podium.listener_token"].(string)
		if fresh != old && fresh != "" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("no new listener token in the preferences 5 s after Share…, New link, Enter (see /tmp/podium-share.png, /tmp/podium-new-link.png)")
		}
	}
	win.Screenshot(t, "/tmp/podium-shared-new.png")
	if code, _ := testkit.Get(t, streams, old); code != 401 {
		t.Errorf("the old token after New link: %d, want 401", code)
	}
	if code, _ := testkit.Get(t, streams, fresh); code != 200 {
		t.Errorf("the new token: %d, want 200", code)
	}
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
