package main_test

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

var podium string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podium-bin")
	if err != nil {
		panic(err)
	}
	podium = filepath.Join(dir, "podium")
	if err := testkit.Build(podium, "podium/cmd/podium"); err != nil {
		panic(err)
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
		{"loudness target too loud", []string{"record", "--level", "--target", "-5", "--out", out}, "a loudness target of -5 LUFS is outside"},
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

// --level brings speech 20 dB too quiet to the target in the MP3, as ffmpeg measures it (the
// MP3 reads about 0.5 LU under the samples it was made of: README, "Loudness"), peaks held.
func TestRecordLevel(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in, _ := audiotest.FFmpegLoudness(t, speech)
	quiet := audiotest.ReadWAV(t, speech)
	g := math.Pow(10, (-16-20-in)/20)
	for i, v := range quiet {
		quiet[i] = int16(math.Round(float64(v) * g))
	}
	dir := t.TempDir()
	wav, out := filepath.Join(dir, "quiet.wav"), filepath.Join(dir, "level.mp3")
	audiotest.WriteWAV(t, wav, quiet)
	if msg, code := run(t, "record", "--input", wav, "--fast", "--level", "--target", "-16", "--out", out); code != 0 {
		t.Fatalf("exit %d, output:\n%s", code, msg)
	}
	was, _ := audiotest.FFmpegLoudness(t, wav)
	got, _ := audiotest.FFmpegLoudness(t, out)
	var peak float64
	for _, v := range audiotest.Decode(t, out) {
		peak = max(peak, math.Abs(float64(v)))
	}
	peakDB := 20 * math.Log10(peak/32768)
	t.Logf("--level --target -16: %.1f → %.1f LUFS (ffmpeg), decoded sample peak %.2f dBFS", was, got, peakDB)
	if got < -17 || got > -15.5 {
		t.Errorf("came out at %.1f LUFS, want -16 (less the MP3's half LU)", got)
	}
	if peakDB > -0.5 {
		t.Errorf("decoded sample peak %.2f dBFS", peakDB)
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
	var h, m, sent, dropped int
	var s float64
	if i := strings.Index(msg, "recorded "); i < 0 {
		t.Errorf("no summary in the output:\n%s", msg)
	} else if _, err := fmt.Sscanf(msg[i:], "recorded %d:%d:%f, %d frames, %d dropped samples", &h, &m, &s, &sent, &dropped); err != nil {
		t.Errorf("summary unreadable (%v):\n%s", err, msg)
	} else {
		said := time.Duration((float64(h*3600+m*60) + s) * float64(time.Second))
		if d := said - pcm.Duration(int64(len(in))); d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("summary says %v, the input lasts %v", said, pcm.Duration(int64(len(in))))
		}
		if want := (len(in) + pcm.FrameSamples - 1) / pcm.FrameSamples; sent != want || dropped != 0 {
			t.Errorf("summary: %d frames, %d dropped samples; want %d and 0", sent, dropped, want)
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
	info, err := frames.ReadFileInfo(cut)
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

// --duration is counted in samples: a fast WAV input (the whole 26 s file would take a
// fraction of a second) gives exactly that much audio, also where it ends inside a frame,
// and the MP3's header says so.
func TestRecordDuration(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	dir := t.TempDir()
	for _, d := range []time.Duration{10 * time.Second, 3*time.Second + 7*time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			out := filepath.Join(dir, d.String()+".mp3")
			msg, code := run(t, "record", "--input", speech, "--fast", "--duration", d.String(), "--out", out)
			if code != 0 {
				t.Fatalf("exit %d:\n%s", code, msg)
			}
			want := pcm.Samples(d)
			got := audiotest.Decode(t, out)
			if int64(len(got)) != want {
				t.Errorf("decoded %d samples (%v), want %d (%v); the input has %d",
					len(got), pcm.Duration(int64(len(got))), want, d, len(in))
			}
			// The header (Xing frames less LAME's delay and padding) is what players show.
			// (ffprobe 5.1 counts the Xing frames alone: a frame or two more.)
			if info, err := frames.ReadFileInfo(out); err != nil || info.Samples() != want {
				t.Errorf("header says %d samples (%v), want %d", info.Samples(), err, want)
			}
			if corr, lag, _ := audiotest.Correlate(in[:want], got, 100); corr < 0.95 || lag != 0 {
				t.Errorf("correlation %.3f at lag %d", corr, lag)
			}
		})
	}
}
