package app_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/app"
	"podium/audio/id3"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The whole path from a real microphone: speech played into the PulseAudio virtual source,
// captured by miniaudio, through ring, frames and the MP3 writer, decoded by ffmpeg.
func TestRecordVirtualMicrophone(t *testing.T) {
	audiotest.VirtualMic(t)
	wav := audiotest.Speech(t, false)
	speech := audiotest.ReadWAV(t, wav)
	out := filepath.Join(t.TempDir(), "mic.mp3")

	rec, err := app.StartRecording(app.RecordingConfig{Out: out, Tags: id3.Tags{Title: "mic test"}})
	if err != nil {
		t.Fatal(err)
	}
	// Let capture get going before the speech starts, so none of it is cut off. The first
	// callback can take up to ~1.5 s; the clock comparison starts once audio flows.
	testkit.WaitFor(t, 10*time.Second, "capture to get going", func() bool { return rec.Elapsed() >= 200*time.Millisecond })
	started, atStart := time.Now(), rec.Elapsed()
	audiotest.Play(t, wav)
	time.Sleep(300 * time.Millisecond)
	wall := time.Since(started)
	sum, err := rec.Stop()
	if err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, out)
	if int64(len(got)) != int64(sum.Duration*pcm.SampleRate/time.Second) {
		t.Errorf("decoded %d samples, the summary says %v", len(got), sum.Duration)
	}
	if sum.DroppedSamples != 0 {
		t.Errorf("ring dropped %d samples", sum.DroppedSamples)
	}
	// Captured length against the wall clock since audio started flowing: the sound card's
	// clock and ours agree to 0.1 %; the rest of the margin is a 10 ms period and a 20 ms
	// frame, with room to spare.
	recorded := time.Duration(len(got)) * time.Second / pcm.SampleRate
	margin := wall/1000 + 60*time.Millisecond
	if d := recorded - atStart - wall; d > margin || d < -margin {
		t.Errorf("recorded %v in %v of wall time since %v was captured: %v off, margin %v", recorded, wall, atStart, d, margin)
	}
	if recorded < time.Duration(len(speech))*time.Second/pcm.SampleRate {
		t.Errorf("recorded %v, shorter than the %d samples of speech played", recorded, len(speech))
	}
	t.Logf("recorded %v, level %.1f dBFS", recorded, audiotest.RMS(got))
	lag := audiotest.MatchCaptured(t, speech, got, 0.95)
	if lvl := audiotest.RMS(got[max(lag, 0):min(max(lag, 0)+len(speech), len(got))]); math.Abs(lvl-audiotest.RMS(speech)) > 1.5 {
		t.Errorf("captured level %.1f dBFS, played %.1f", lvl, audiotest.RMS(speech))
	}
	checkLoudnessTags(t, out, sum)
}

// checkLoudnessTags: the talk's loudness, measured while it was recorded, agrees with
// ffmpeg's ebur128 filter run over the finished MP3, and is in the file as ReplayGain 2 tags
// that ffprobe and Podium's own reader both read back.
func checkLoudnessTags(t *testing.T, path string, sum app.Summary) {
	t.Helper()
	if sum.Loudness == nil {
		t.Fatal("no loudness in the summary of a recording of speech")
	}
	ffI, ffLRA := audiotest.FFmpegLoudness(t, path)
	l := sum.Loudness
	t.Logf("loudness %.2f LUFS (ffmpeg on the MP3: %.1f), range %.1f LU (ffmpeg %.1f), peak %.3f", l.Integrated, ffI, l.Range, ffLRA, l.Peak)
	if d := math.Abs(l.Integrated - ffI); d > 0.5 {
		t.Errorf("integrated loudness %.2f LUFS, ffmpeg reads %.1f from the MP3: %.2f LU apart, want ≤ 0.5", l.Integrated, ffI, d)
	}
	tags := audiotest.ProbeTags(t, path)
	want := map[string]string{
		"REPLAYGAIN_TRACK_GAIN": fmt.Sprintf("%.2f dB", id3.ReplayGainReference-l.Integrated),
		"REPLAYGAIN_TRACK_PEAK": fmt.Sprintf("%.6f", l.Peak),
		"PODIUM_LOUDNESS":       fmt.Sprintf("%.2f LUFS", l.Integrated),
	}
	for k, v := range want {
		if tags[k] != v {
			t.Errorf("ffprobe %s = %q, want %q", k, tags[k], v)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	read, _, err := id3.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	if g := read.ReplayGain; g == nil || math.Abs(g.Loudness-l.Integrated) > 0.005 {
		t.Errorf("read back: %+v, want loudness %.2f", g, l.Integrated)
	}
}
