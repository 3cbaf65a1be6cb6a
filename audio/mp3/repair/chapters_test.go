package repair_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/mp3/chapterlog"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// interrupted leaves in dir/name what a kill -9 leaves of a recording of d of speech whose
// chapters were marked as it went: the MP3 without Close, and its chapter log.
func interrupted(t *testing.T, dir, name string, d time.Duration, marks []id3.Chapter, title string) string {
	t.Helper()
	in := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:pcm.Samples(d)]
	path := filepath.Join(dir, name)
	w, err := mp3.Create(path, mp3.Options{Tags: id3.Tags{Title: "file name"}})
	if err != nil {
		t.Fatal(err)
	}
	log, err := chapterlog.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range marks {
		if err := log.Mark(m.Start, m.Title); err != nil {
			t.Fatal(err)
		}
	}
	if title != "" {
		log.Title(title)
	}
	log.Close()
	if err := w.WriteSamples(in); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	w.Close()
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The repair at the start puts the chapters marked before a crash into the repaired file's
// tag, where ffprobe reads them at the times they were marked, and removes their log.
func TestRepairChapters(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name  string
		marks []id3.Chapter
		title string
		via   func(dir, path string) error
	}{
		{"Dir", []id3.Chapter{{Start: 0, Title: "Intro"}, {Start: 1800 * ms, Title: "Zoë <b>&</b> \"講演\""}, {Start: 3100 * ms}}, "Lecture 4",
			func(dir, _ string) error { _, err := repair.Dir(dir, ""); return err }},
		{"File", []id3.Chapter{{Start: 2 * time.Second, Title: "Only one"}}, "",
			func(_, path string) error { _, err := repair.File(path); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := interrupted(t, dir, "crash.mp3", 4*time.Second, tc.marks, tc.title)
			if err := tc.via(dir, path); err != nil {
				t.Fatal(err)
			}
			got := audiotest.ProbeChapters(t, path)
			if len(got) != len(tc.marks) {
				t.Fatalf("ffprobe: %d chapters %+v, want %d", len(got), got, len(tc.marks))
			}
			for i, m := range tc.marks {
				want := m.Title
				if want == "" {
					want = "chp" + string(rune('0'+i))
				}
				if off := (got[i].Start - m.Start).Abs(); got[i].Title != want || off > 20*ms {
					t.Errorf("chapter %d: %+v, want %q at %v (off by %v)", i, got[i], want, m.Start, off)
				}
			}
			tags := audiotest.ProbeTags(t, path)
			wantTitle := tc.title
			if wantTitle == "" {
				wantTitle = "file name"
			}
			if tags["title"] != wantTitle || tags["comment"] != repair.RecoveredComment {
				t.Errorf("tags %v", tags)
			}
			if _, err := os.Stat(chapterlog.Path(path)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the chapter log is still there: %v", err)
			}
		})
	}
}

// Logs no repair took: one whose recording was finished before the log went gives a tag
// without chapters its chapters (and leaves one with chapters as it is); one whose recording
// is gone is removed; the one of the recording being made is left alone.
func TestRepairLeftoverLogs(t *testing.T) {
	dir := t.TempDir()
	mk := func(name string, tagged []id3.Chapter, logged []id3.Chapter) string {
		path := filepath.Join(dir, name)
		w, err := mp3.Create(path, mp3.Options{Tags: id3.Tags{Title: name}})
		if err != nil {
			t.Fatal(err)
		}
		w.SetChapters(tagged)
		w.WriteSamples(make([]int16, pcm.SampleRate))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		log, _ := chapterlog.Create(path)
		for _, c := range logged {
			log.Mark(c.Start, c.Title)
		}
		log.Close()
		return path
	}
	untagged := mk("untagged.mp3", nil, []id3.Chapter{{Start: 500 * time.Millisecond, Title: "from the log"}})
	tagged := mk("tagged.mp3", []id3.Chapter{{Title: "from the tag"}}, []id3.Chapter{{Title: "from the log"}})
	recording := mk("recording.mp3", nil, []id3.Chapter{{Title: "being marked"}})
	gone := filepath.Join(dir, "gone.mp3")
	os.WriteFile(chapterlog.Path(gone), []byte("chapter 0 \"x\"\n"), 0o644)

	if _, err := repair.Dir(dir, recording); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{untagged: "from the log", tagged: "from the tag", recording: ""} {
		f, _ := os.Open(path)
		tags, _, err := id3.Read(f)
		f.Close()
		got := ""
		if len(tags.Chapters) > 0 {
			got = tags.Chapters[0].Title
		}
		if err != nil || got != want {
			t.Errorf("%s: first chapter %q (%v), want %q", filepath.Base(path), got, err, want)
		}
	}
	for path, kept := range map[string]bool{untagged: false, tagged: false, gone: false, recording: true} {
		_, err := os.Stat(chapterlog.Path(path))
		if kept != (err == nil) {
			t.Errorf("%s: log kept %v, want %v", filepath.Base(path), err == nil, kept)
		}
	}
}
