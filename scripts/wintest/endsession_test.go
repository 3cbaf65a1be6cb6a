package wintest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/mp3"
	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// Logging off or shutting down Windows, mid-recording, finalises the MP3 as SIGTERM does on
// Linux: Wine's `wineboot --end-session` sends WM_QUERYENDSESSION and WM_ENDSESSION to every
// top-level window in the prefix, as Windows does, then ends the processes that answered.
// podium.exe loads user32, so Windows never gives it the console's logoff or shutdown event:
// without its hidden window (cmd/podium/endsession_windows.go) it hears nothing and records
// on. `taskkill /IM podium.exe` (without /F) sends WM_CLOSE to the same window, and is a
// SIGTERM too. Both run in a Wine prefix of this file's own, so that no other test's Wine
// program is ended with them.
func TestEndSessionFinalisesRecording(t *testing.T) {
	testkit.Need(t, "wine", "wineboot", "ffprobe", "ffmpeg")
	own := endSessionPrefix(t)
	wav := audiotest.Speech(t, false) // 25.9 s: each ending comes long before the talk's
	for _, c := range []struct {
		name string
		end  []string
	}{
		{"end of session", []string{"wineboot", "--end-session"}},
		{"taskkill", []string{"wine", "taskkill", "/IM", "podium.exe"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "end session.mp3")
			p := own.start(t, "podium", "record", "--input", winPath(wav), "--out", winPath(out))
			p.WaitLine(t, "recording to", 5*time.Minute) // the first run builds and prepares the prefix
			// 3 s of audio at 64 kbps is 24 kB after the tag: past that, the recording is ended mid-talk.
			testkit.WaitFor(t, 30*time.Second, "3 s of recording", func() bool {
				st, err := os.Stat(out)
				return err == nil && st.Size() > mp3.TagSize+24000
			})
			ended := time.Now()
			end := exec.Command(c.end[0], c.end[1:]...)
			end.Env = own.env()
			if b, err := end.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", strings.Join(c.end, " "), err, b)
			}
			// Without the hidden window nothing happens: the talk records on to its end, 23 s later.
			if code := p.Wait(t, 15*time.Second); code != 0 {
				t.Fatalf("podium.exe exited %d after %s, want 0", code, strings.Join(c.end, " "))
			}
			took := time.Since(ended).Round(10 * time.Millisecond)
			p.WaitLine(t, "recorded ", time.Second)

			got, decoded := endSessionFinalMP3(t, out)
			if decoded < 3*time.Second || decoded > 20*time.Second {
				t.Errorf("recorded %v: the recording was ended after 3 s of a 26 s talk", decoded)
			}
			// What it holds is the talk's beginning.
			want := audiotest.ReadWAV(t, wav)[:len(got)]
			if corr, lag, _ := audiotest.Correlate(want, got, pcm.SampleRate/10); corr < 0.9 {
				t.Errorf("correlation with the talk %.3f (lag %d samples), want ≥ 0.9", corr, lag)
			} else {
				t.Logf("%s: ended %v after %s; %v recorded, final, correlation %.3f with the talk", c.name, took, strings.Join(c.end, " "), decoded, corr)
			}
		})
	}
}

// endSessionFinalMP3 checks that the MP3 at path is final, and returns what it decodes to:
// the Info header LAME writes last promises exactly the samples that decode, and ffprobe
// reads its frame count (without LAME's delay and padding, as mp3_test.go says).
func endSessionFinalMP3(t *testing.T, path string) ([]int16, time.Duration) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := frames.ReadInfo(f)
	f.Close()
	if err != nil || !info.HasXing || info.Frames == 0 {
		t.Fatalf("%s has no final Xing/Info header (%+v, %v): not finalised", path, info, err)
	}
	got := audiotest.Decode(t, path)
	if info.Samples() != int64(len(got)) {
		t.Errorf("header promises %d samples, %d decoded", info.Samples(), len(got))
	}
	probed := audiotest.ProbeDuration(t, path)
	fromHeader := time.Duration(info.Frames) * 1152 * time.Second / pcm.SampleRate
	if d := probed - fromHeader; d < -time.Millisecond || d > time.Millisecond {
		t.Errorf("ffprobe says %v, the header's %d frames %v", probed, info.Frames, fromHeader)
	}
	return got, pcm.Duration(int64(len(got)))
}

// The window, recording the microphone, is ended with the session the same way: the
// recording is finalised and the process exits 0, without the "Stop recording and quit?"
// question that the close button asks.
func TestEndSessionFinalisesWindowRecording(t *testing.T) {
	testkit.Need(t, "wine", "wineboot", "ffprobe", "ffmpeg", "xdotool")
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no DISPLAY: source scripts/xvfb.sh start")
	}
	audiotest.VirtualMic(t) // sets XDG_RUNTIME_DIR, which Wine's PulseAudio driver reads
	own := endSessionPrefix(t)
	dir := t.TempDir()
	own.setPrefs(t, map[string]any{"podium.folder": winPath(dir)})

	p := own.start(t, "podium")
	w := testkit.WaitWindow(t, p.Cmd.Process.Pid, "Podium", 5*time.Minute)
	played := make(chan struct{})
	go func() {
		defer close(played)
		audiotest.PlayFor(t, audiotest.Speech(t, false), 12*time.Second)
	}()
	defer func() { <-played }()
	_ = exec.Command("xdotool", "windowfocus", "--sync", w.ID).Run()
	testkit.Xdo(t, "key", "space") // XTest, to the focused window: Wine reads no sent events
	if testkit.FindWindowWithin(w.Pid, "Recording - Podium", 30*time.Second) == "" {
		t.Fatal("Space did not start a recording (no window titled \"Recording - Podium\")")
	}
	var out string
	testkit.WaitFor(t, 30*time.Second, "3 s of recording", func() bool {
		m, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
		if len(m) != 1 {
			return false
		}
		st, err := os.Stat(m[0])
		out = m[0]
		return err == nil && st.Size() > mp3.TagSize+24000
	})
	end := exec.Command("wineboot", "--end-session")
	end.Env = own.env()
	if b, err := end.CombinedOutput(); err != nil {
		t.Fatalf("wineboot --end-session: %v\n%s", err, b)
	}
	if code := p.Wait(t, 15*time.Second); code != 0 {
		t.Fatalf("podium.exe exited %d at the end of the session, want 0", code)
	}
	got, decoded := endSessionFinalMP3(t, out)
	if decoded < 3*time.Second {
		t.Errorf("recorded %v, want the 3 s and more before the session ended", decoded)
	}
	if level := audiotest.RMS(got); level < -40 {
		t.Errorf("recording level %.1f dBFS: the speech played into the microphone is not there", level)
	}
	t.Logf("%s: %v, final, %.1f dBFS", filepath.Base(out), decoded, audiotest.RMS(got))
}

// endSessionPrefix is the prefix of this file's tests, kept in Podium's cache beside the
// shared one (wineboot --end-session ends every program of a prefix), made and the test
// build checked before the test's clock runs.
func endSessionPrefix(t *testing.T) prefix {
	t.Helper()
	own, err := cached("wine-endsession")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := own.cmd("podium", "help").CombinedOutput(); err != nil {
		t.Fatalf("scripts/wine.sh podium help in %s: %v\n%s", own, err, out)
	}
	return own
}
