package mp3_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/mp3"
	"podium/audio/pcm"
)

// A recording whose writer died (the process killed before Close) is found, repaired from
// the frames present, and then decodes to what was written, with a header that agrees.
func TestRepairInterruptedMP3(t *testing.T) {
	in := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:5*pcm.SampleRate]
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.mp3")
	w, err := mp3.Create(path, mp3.Options{Tags: mp3.Tags{Title: "Crash course"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(in); err != nil {
		t.Fatal(err)
	}
	// What a kill -9 leaves: everything LAME has emitted so far is on disk, no Close ran.
	// Copy the file as it stands, then tear its last frame as a crash mid-write would.
	raw, _ := os.ReadFile(path)
	w.Close()
	torn := filepath.Join(dir, "torn.mp3")
	os.WriteFile(torn, raw[:len(raw)-50], 0o644)

	need, err := mp3.NeedsRepair(torn)
	if err != nil || !need {
		t.Fatalf("NeedsRepair(interrupted) = %v, %v", need, err)
	}
	if need, err := mp3.NeedsRepair(path); err != nil || need {
		t.Fatalf("NeedsRepair(finished) = %v, %v", need, err)
	}
	info, err := mp3.Repair(torn)
	if err != nil {
		t.Fatal(err)
	}
	got := audiotest.DecodeMP3(t, torn)
	if info.Samples() != int64(len(got)) {
		t.Errorf("repaired header promises %d samples, decoder gave %d", info.Samples(), len(got))
	}
	// All but the last ~100 ms (LAME's lookahead plus the torn frame) survive.
	if len(got) < len(in)-pcm.SampleRate/5 || len(got) > len(in) {
		t.Errorf("repaired file decodes to %d samples of %d written", len(got), len(in))
	}
	if c, lag, _ := audiotest.Correlate(in, got, 2000); c < 0.95 || lag != 0 {
		t.Errorf("repaired audio correlates %.3f at lag %d", c, lag)
	}
	f, _ := os.Open(torn)
	tags, _, err := mp3.ReadID3(f)
	f.Close()
	if err != nil || tags.Title != "Crash course" || tags.Comment != mp3.RecoveredComment {
		t.Errorf("tags after repair: %+v, %v", tags, err)
	}
	if want := time.Duration(len(got)) * time.Second / pcm.SampleRate; tags.Length < want-30*time.Millisecond || tags.Length > want+30*time.Millisecond {
		t.Errorf("tag length %v, audio %v", tags.Length, want)
	}
	if probe := audiotest.ProbeDuration(t, torn); probe < 4500*time.Millisecond {
		t.Errorf("ffprobe reads %v from the repaired header", probe)
	}
	if need, _ := mp3.NeedsRepair(torn); need {
		t.Error("still needs repair after Repair")
	}
	if _, err := mp3.Repair(path); err == nil {
		t.Error("Repair of a finished file: no error")
	}
}
