package chapterlog

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"podium/audio/id3"
)

func TestLogRoundTrip(t *testing.T) {
	ms := time.Millisecond
	mp3 := filepath.Join(t.TempDir(), "talk.mp3")
	if err := os.WriteFile(Path(mp3), []byte("chapter 1 \"stale\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := Create(mp3)
	if err != nil {
		t.Fatal(err)
	}
	steps := []func() error{
		func() error { return l.Mark(0, "") },
		func() error { return l.Mark(1500*ms, "Zoë \"quoted\"\n<b>markup</b>\ttab") },
		func() error { return l.Title("Lecture 4") },
		func() error { return l.Rename(0, "Intro") },
		func() error { return l.Rename(7, "no such chapter") },
		func() error { return l.Mark(61234567*time.Microsecond, "講演") },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of a line leaves it torn: it is left out.
	f, _ := os.OpenFile(Path(mp3), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("chapter 99000 \"tor")
	f.Close()
	got, err := Read(mp3)
	if err != nil {
		t.Fatal(err)
	}
	want := Record{Title: "Lecture 4", HasTitle: true, Chapters: []id3.Chapter{
		{Start: 0, Title: "Intro"}, {Start: 1500 * ms, Title: "Zoë \"quoted\"\n<b>markup</b>\ttab"}, {Start: 61235 * ms, Title: "講演"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if err := Remove(mp3); err != nil {
		t.Fatal(err)
	}
	if err := Remove(mp3); err != nil {
		t.Errorf("second Remove: %v", err)
	}
	if _, err := Read(mp3); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Read after Remove: %v", err)
	}
}

func TestLogHostileLines(t *testing.T) {
	mp3 := filepath.Join(t.TempDir(), "x.mp3")
	data := "chapter -5 \"neg\"\nchapter 99999999999999999999 \"big\"\nchapter 5 unquoted\nrename -1 \"x\"\n" +
		"weird 1 \"x\"\ntitle notquoted\nchapter 10 \"ok\"\n" + string(make([]byte, 100<<10)) + "\nchapter 20 \"after a long line\"\n"
	if err := os.WriteFile(Path(mp3), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(mp3)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Chapters) != 1 || got.Chapters[0].Title != "ok" || got.HasTitle {
		t.Errorf("got %+v", got)
	}
}

// Whatever a log holds (a crash, another program), Read gives at most id3.MaxChapters
// chapters, none before the start, and never fails on its content.
func FuzzRead(f *testing.F) {
	f.Add([]byte("chapter 0 \"a\"\nrename 0 \"b\"\ntitle \"t\"\n"))
	f.Add([]byte("chapter 12 \"\\u00e9\\n\"\nchapter 9223372036854775807 \"x\"\nrename 99 \"\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		mp3 := filepath.Join(t.TempDir(), "f.mp3")
		if err := os.WriteFile(Path(mp3), data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Read(mp3)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Chapters) > id3.MaxChapters {
			t.Fatalf("%d chapters", len(r.Chapters))
		}
		for _, c := range r.Chapters {
			if c.Start < 0 {
				t.Fatalf("chapter at %v", c.Start)
			}
		}
	})
}
