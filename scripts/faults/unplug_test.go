//go:build linux

package faults

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// Unplug the microphone (unload the virtual PulseAudio source) while the headless app
// records: it says so, and the MP3 so far is complete and plays. (The window's pause and
// Continue into the same file are proven in app's TestSessionMicrophoneUnplugged.)
func TestUnplugHeadless(t *testing.T) {
	audiotest.VirtualMic(t)
	t.Cleanup(func() { audiotest.VirtualMic(t) })
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	out := filepath.Join(t.TempDir(), "talk.mp3")
	p := start(t, nil, "podium", "record", "--out", out)
	p.WaitLine(t, "recording to", 10*time.Second)
	// The first callback can take a while: speak once audio flows, as a presenter would.
	for l := p.WaitLine(t, "level", 5*time.Second); strings.HasPrefix(l, "00:00:00.000"); {
		l = p.WaitLine(t, "level", 5*time.Second)
	}
	audiotest.PlayFor(t, speech, 4*time.Second)
	unplugged := time.Now()
	if msg, err := exec.Command("pactl", "unload-module", "module-remap-source").CombinedOutput(); err != nil {
		t.Fatalf("unplug: %v %s", err, msg)
	}
	code := p.Wait(t, time.Minute)
	noticed := time.Since(unplugged)
	log := p.Log()
	if code == 0 || !strings.Contains(log, "the microphone was disconnected: the recording so far is saved") {
		t.Fatalf("exit %d after unplugging; output:\n%s", code, log)
	}
	if noticed > 3*time.Second {
		t.Errorf("took %v to notice the microphone was gone", noticed)
	}
	got := audiotest.Decode(t, out)
	info := readMP3Info(t, out)
	if !info.HasXing || info.Samples() != int64(len(got)) {
		t.Errorf("header %+v, decoded %d samples", info, len(got))
	}
	corr, lag, _ := audiotest.Correlate(in[:4*pcm.SampleRate], got, 2*pcm.SampleRate)
	if corr < 0.9 {
		t.Errorf("the speech before the unplug correlates %.3f (lag %d)", corr, lag)
	}
	scenario(t, "unloaded the PulseAudio source after 4 s of speech: noticed in %v, exit %d with the reason, %.2f s kept (correlation %.3f)",
		noticed.Round(10*time.Millisecond), code, float64(len(got))/pcm.SampleRate, corr)
}
