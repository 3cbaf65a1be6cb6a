package mp3_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// A recording that keeps a larger tag (the server's, whose chapters come as it goes) holds a
// thousand chapters told as it records, plays from after its tag, and is still repaired after
// a crash.
func TestTagSizeHoldsChapters(t *testing.T) {
	const size = 128 << 10
	path := filepath.Join(t.TempDir(), "talk.mp3")
	w, err := mp3.Create(path, mp3.Options{TagSize: size, Tags: id3.Tags{Title: "talk"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(audiotest.Tone(2*time.Second, 440, 8000)); err != nil {
		t.Fatal(err)
	}
	w.SetTitle("Lecture 4")
	w.SetPresenter("Dr. Kim")
	var ch []id3.Chapter
	for i := range 1000 {
		ch = append(ch, id3.Chapter{Start: time.Duration(i) * time.Millisecond, Title: fmt.Sprintf("chapter %d of the talk", i)})
	}
	w.SetChapters(ch)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tags, n, err := id3.Read(f)
	if err != nil || n != size || tags.Title != "Lecture 4" || tags.Presenter != "Dr. Kim" || len(tags.Chapters) != 1000 ||
		tags.Chapters[999].Title != "chapter 999 of the talk" {
		t.Fatalf("tag of %d bytes (%v): %q %q, %d chapters", n, err, tags.Title, tags.Presenter, len(tags.Chapters))
	}
	if start, _, _, err := frames.First(f); err != nil || start != size {
		t.Errorf("audio begins at %d (%v), want %d", start, err, size)
	}
	if d := audiotest.ProbeDuration(t, path); d < 1900*time.Millisecond || d > 2100*time.Millisecond {
		t.Errorf("ffprobe: %v", d)
	}
	if got := audiotest.ProbeChapters(t, path); len(got) != 1000 {
		t.Errorf("ffprobe: %d chapters", len(got))
	}

	// A crash: the writer never closed. Repair finishes it, tag size and all.
	crashed := filepath.Join(t.TempDir(), "crashed.mp3")
	w, err = mp3.Create(crashed, mp3.Options{TagSize: size, SyncInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(audiotest.Tone(time.Second, 440, 8000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(make([]int16, pcm.SampleRate/2)); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(crashed)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if err := os.WriteFile(crashed, b, 0o644); err != nil { // as it was before Close
		t.Fatal(err)
	}
	if _, err := repair.File(crashed); err != nil {
		t.Errorf("repair of a %d-byte tag: %v", size, err)
	}
}
