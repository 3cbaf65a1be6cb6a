package main_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

var podium string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podium-bin")
	if err != nil {
		panic(err)
	}
	podium = filepath.Join(dir, "podium")
	if out, err := exec.Command("go", "build", "-o", podium, ".").CombinedOutput(); err != nil {
		panic("build podium: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, args ...string) (stderr string, code int) {
	t.Helper()
	var buf bytes.Buffer
	cmd := exec.Command(podium, args...)
	cmd.Stderr = &buf
	cmd.Stdout = &buf
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return buf.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return buf.String(), 0
}

// Bad input: a clear message, a non-zero exit, and no file left behind.
func TestRecordBadInput(t *testing.T) {
	audiotest.VirtualMic(t)
	speech := audiotest.Speech(t, false)
	dir := t.TempDir()
	notWAV := filepath.Join(dir, "text.wav")
	os.WriteFile(notWAV, []byte("hello, I am not audio"), 0o644)
	out := filepath.Join(dir, "out.mp3")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"record", "--loud"}, "flag provided but not defined: -loud"},
		{"stray argument", []string{"record", "--out", out, "now"}, `unexpected argument "now"`},
		{"low bitrate", []string{"record", "--input", speech, "--out", out, "--bitrate", "32"}, "bitrate 32 kbps"},
		{"not mp3", []string{"record", "--input", speech, "--out", filepath.Join(dir, "x.wav")}, "must end in .mp3"},
		{"unwritable path", []string{"record", "--input", speech, "--out", "/proc/podium/x.mp3"}, `create recording "/proc/podium/x.mp3"`},
		{"missing device", []string{"record", "--device", "Studio Mic 9000", "--out", out}, `microphone "Studio Mic 9000" not found`},
		{"not a wav", []string{"record", "--input", notWAV, "--out", out}, "text.wav"},
		{"missing wav", []string{"record", "--input", filepath.Join(dir, "nope.wav"), "--out", out}, "nope.wav"},
		{"negative duration", []string{"record", "--duration", "-1s", "--out", out}, "--duration must be positive"},
		{"unknown command", []string{"broadcast"}, `unknown command "broadcast"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, code := run(t, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0, want failure; output:\n%s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("output %q does not say %q", msg, tc.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a failed start left %s behind", out)
				os.Remove(out)
			}
		})
	}
}

func TestDevicesListsDefault(t *testing.T) {
	audiotest.VirtualMic(t)
	msg, code := run(t, "devices")
	if code != 0 || !strings.Contains(msg, "* Remapped Monitor of Null Output") {
		t.Errorf("podium devices (exit %d):\n%s", code, msg)
	}
}

// A fast WAV recording is the whole file; SIGTERM in the middle of a paced one still leaves a
// complete MP3 whose header agrees with its audio.
func TestRecordWAVAndSIGTERM(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	dir := t.TempDir()

	full := filepath.Join(dir, "full.mp3")
	msg, code := run(t, "record", "--input", speech, "--fast", "--out", full, "--title", "Full")
	if code != 0 {
		t.Errorf("exit %d, output:\n%s", code, msg)
	}
	// The summary describes the input, whatever speech the installed espeak-ng made of it.
	var h, m, frames, dropped int
	var s float64
	if i := strings.Index(msg, "recorded "); i < 0 {
		t.Errorf("no summary in the output:\n%s", msg)
	} else if _, err := fmt.Sscanf(msg[i:], "recorded %d:%d:%f, %d frames, %d dropped samples", &h, &m, &s, &frames, &dropped); err != nil {
		t.Errorf("summary unreadable (%v):\n%s", err, msg)
	} else {
		said := time.Duration((float64(h*3600+m*60) + s) * float64(time.Second))
		if d := said - pcm.Duration(int64(len(in))); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("summary says %v, the input lasts %v", said, pcm.Duration(int64(len(in))))
		}
		if want := (len(in) + pcm.FrameSamples - 1) / pcm.FrameSamples; frames != want || dropped != 0 {
			t.Errorf("summary: %d frames, %d dropped samples; want %d and 0", frames, dropped, want)
		}
	}
	got := audiotest.Decode(t, full)
	if len(got) != len(in) {
		t.Errorf("decoded %d samples, input %d", len(got), len(in))
	}
	if corr, lag, _ := audiotest.Correlate(in, got, 100); corr < 0.95 || lag != 0 {
		t.Errorf("full recording: correlation %.3f at lag %d", corr, lag)
	}
	if d := audiotest.RMS(got) - audiotest.RMS(in); d < -1 || d > 1 {
		t.Errorf("full recording is %.1f dB off the input's level", d)
	}

	cut := filepath.Join(dir, "cut.mp3")
	p := testkit.Start(t, nil, podium, "record", "--input", speech, "--out", cut)
	time.Sleep(3 * time.Second)
	if code := p.Stop(t, 30*time.Second); code != 0 {
		t.Fatalf("SIGTERM: exit %d\n%s", code, p.Log())
	}
	got = audiotest.Decode(t, cut)
	info, err := mp3.ReadFileInfo(cut)
	if err != nil || !info.HasXing || info.Samples() != int64(len(got)) {
		t.Errorf("after SIGTERM: header %+v (%v), decoded %d samples", info, err, len(got))
	}
	if secs := float64(len(got)) / pcm.SampleRate; secs < 2 || secs > 4 {
		t.Errorf("3 s of paced input recorded as %.2f s", secs)
	}
	corr, lag, _ := audiotest.Correlate(in[:len(got)], got, 100)
	if corr < 0.95 || lag != 0 {
		t.Errorf("correlation %.3f at lag %d", corr, lag)
	}
}
