package mp3_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// The tag Close writes carries the chapters and the title set while recording, and ffprobe
// reads them: the count, names, and times to the millisecond; the last ends at the end.
func TestWriterChapters(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		chapters   []id3.Chapter
		checkpoint bool // a Checkpoint halfway (the microphone unplugged) before more audio
	}{
		{"three", []id3.Chapter{{Start: 0, Title: "Welcome"}, {Start: 1250 * ms, Title: `Q&A: "<b>why</b>"`}, {Start: 2 * time.Second}}, false},
		{"after a checkpoint", []id3.Chapter{{Start: 500 * ms, Title: "Zoë — 講演"}, {Start: 2500 * ms, Title: "Two"}}, true},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "talk.mp3")
			w, err := mp3.Create(path, mp3.Options{Tags: id3.Tags{Title: "file title"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.WriteSamples(audiotest.Tone(1500*ms, 440, 3000)); err != nil {
				t.Fatal(err)
			}
			w.SetTitle("Distributed systems, lecture 4")
			w.SetChapters(tc.chapters)
			if tc.checkpoint {
				if err := w.Checkpoint(); err != nil {
					t.Fatal(err)
				}
				f, _ := os.Open(path)
				tags, _, err := id3.Read(f)
				f.Close()
				if err != nil || len(tags.Chapters) != len(tc.chapters) {
					t.Errorf("after Checkpoint the tag has %d chapters (%v), want %d", len(tags.Chapters), err, len(tc.chapters))
				}
			}
			if err := w.WriteSamples(audiotest.Tone(1500*ms, 440, 3000)); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			got := audiotest.ProbeChapters(t, path)
			if len(got) != len(tc.chapters) {
				t.Fatalf("ffprobe found %d chapters %+v, want %d", len(got), got, len(tc.chapters))
			}
			for i, c := range tc.chapters {
				title := c.Title
				if title == "" {
					title = fmt.Sprintf("chp%d", i) // ffmpeg names an untitled chapter by its ID
				}
				end := 3 * time.Second
				if i+1 < len(tc.chapters) {
					end = tc.chapters[i+1].Start
				}
				if g := got[i]; g.Title != title || (g.Start-c.Start).Abs() > ms || (g.End-end).Abs() > ms {
					t.Errorf("chapter %d = %+v, want start %v end %v title %q", i, g, c.Start, end, title)
				}
			}
			if tags := audiotest.ProbeTags(t, path); tags["title"] != "Distributed systems, lecture 4" {
				t.Errorf("title %q", tags["title"])
			}
			if d := audiotest.Decode(t, path); int64(len(d)) != pcm.Samples(3*time.Second) {
				t.Errorf("decoded %d samples, want %d: the chapters moved the audio", len(d), pcm.Samples(3*time.Second))
			}
		})
	}
}

func TestChaptersFit(t *testing.T) {
	named := func(n int, name string) []id3.Chapter {
		ch := make([]id3.Chapter, n)
		for i := range ch {
			ch[i] = id3.Chapter{Start: time.Duration(i) * time.Minute, Title: name}
		}
		return ch
	}
	for _, tc := range []struct {
		ch   []id3.Chapter
		want bool
	}{
		{nil, true},
		{named(180, strings.Repeat("n", 30)), true},
		{named(380, ""), true},
		{named(300, strings.Repeat("n", 30)), false},
		{named(id3.MaxChapters, ""), false},
	} {
		if got := mp3.ChaptersFit(tc.ch); got != tc.want {
			t.Errorf("ChaptersFit(%d chapters named %q) = %v, want %v", len(tc.ch), tc.ch[0:min(1, len(tc.ch))], got, tc.want)
		}
	}
}

// SetTitle("") goes back to the title the file was created with.
func TestWriterSetTitleEmpty(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.mp3")
	w, err := mp3.Create(path, mp3.Options{Tags: id3.Tags{Title: "made with"}})
	if err != nil {
		t.Fatal(err)
	}
	w.SetTitle("other")
	w.SetTitle("")
	w.WriteSamples(audiotest.Tone(200*time.Millisecond, 440, 3000))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	if tags, _, _ := id3.Read(f); tags.Title != "made with" {
		t.Errorf("title %q", tags.Title)
	}
}
