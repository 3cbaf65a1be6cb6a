package app_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/app"
	"podium/app/studio"
	"podium/app/studio/studiotest"
	"podium/audio/id3"
	"podium/audio/mp3/chapterlog"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// Chapters marked in a session at known positions, one renamed, the title changed while
// recording: the saved MP3 has them where they were marked (ffprobe, within 20 ms), the
// history lists them and renames one without touching the audio, and the log is gone.
func TestSessionChapters(t *testing.T) {
	s, _, _ := newSession(t, func(st *app.Settings) { st.Title = "Lecture 4, draft"; st.Presenter = "Dr. Kim" })
	if _, err := s.MarkChapter("too early"); err == nil {
		t.Error("MarkChapter while idle: no error")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	type mark struct {
		at   time.Duration // wait for this much audio, then mark
		name string
	}
	marks := []mark{{300 * time.Millisecond, "Intro"}, {1200 * time.Millisecond, ""}, {2 * time.Second, "Zoë — 講演 \r\n<b>\"Q&A\"</b>"}}
	var got []app.Chapter
	for _, m := range marks {
		testkit.WaitFor(t, 10*time.Second, "audio", func() bool { return s.Snapshot().Elapsed >= m.at })
		before := s.Snapshot().Elapsed
		c, err := s.MarkChapter(m.name)
		if err != nil {
			t.Fatal(err)
		}
		// The position is the audio written so far: what was there just before, to a frame
		// or two later (the null device delivers 20 ms at a time).
		if c.Start < before || c.Start > before+100*time.Millisecond {
			t.Errorf("chapter %q at %v; %v were recorded just before", m.name, c.Start, before)
		}
		got = append(got, c)
	}
	if err := s.RenameChapter(1, "Middle"); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameChapter(7, "none"); err == nil {
		t.Error("renaming a chapter that is not there: no error")
	}
	s.SetTitle("Distributed systems, lecture 4\n")
	want := []app.Chapter{{Start: got[0].Start, Name: "Intro"}, {Start: got[1].Start, Name: "Middle"}, {Start: got[2].Start, Name: "Zoë — 講演 <b>\"Q&A\"</b>"}}
	if cs := s.Chapters(); len(cs) != 3 || cs[1] != want[1] || cs[2] != want[2] {
		t.Errorf("Chapters() = %+v, want %+v", cs, want)
	}
	testkit.WaitFor(t, 10*time.Second, "audio", func() bool { return s.Snapshot().Elapsed >= 2500*time.Millisecond })
	sum, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if s.Chapters() != nil {
		t.Error("Chapters() after Stop: not empty")
	}
	if _, err := s.MarkChapter("after"); err == nil {
		t.Error("MarkChapter after Stop: no error")
	}
	checkProbedChapters(t, sum.Path, want)
	if tags := audiotest.ProbeTags(t, sum.Path); tags["title"] != "Distributed systems, lecture 4" || tags["artist"] != "Dr. Kim" {
		t.Errorf("tags %v", tags)
	}
	if s.Settings().Title != "Distributed systems, lecture 4" {
		t.Errorf("settings title %q", s.Settings().Title)
	}
	if _, err := os.Stat(chapterlog.Path(sum.Path)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("chapter log left beside the finished file: %v", err)
	}

	// The history.
	e, err := app.ReadEntry(sum.Path)
	if err != nil || len(e.Chapters) != 3 || e.Chapters[2] != want[2] || e.Title != "Distributed systems, lecture 4" {
		t.Fatalf("history entry %+v, %v", e, err)
	}
	audioBefore := afterTag(t, sum.Path)
	h := app.History{Dir: s.Settings().Folder}
	if err := h.RenameChapter(sum.Path, 0, "Welcome"); err != nil {
		t.Fatal(err)
	}
	if err := h.RenameChapter(sum.Path, 3, "x"); err == nil {
		t.Error("history: renaming chapter 4 of 3: no error")
	}
	if err := h.RenameChapter(sum.Path, 0, strings.Repeat("long ", 10000)); err != nil {
		t.Errorf("a 50 KB name (cut to %d runes) refused: %v", app.MaxChapterName, err)
	}
	if err := h.RenameChapter(sum.Path, 0, "Welcome"); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(afterTag(t, sum.Path), audioBefore) {
		t.Error("renaming a chapter changed the audio")
	}
	want[0].Name = "Welcome"
	checkProbedChapters(t, sum.Path, want)
}

// checkProbedChapters checks what ffprobe reads against the chapters marked.
func checkProbedChapters(t *testing.T, path string, want []app.Chapter) {
	t.Helper()
	probed := audiotest.ProbeChapters(t, path)
	if len(probed) != len(want) {
		t.Fatalf("ffprobe: %d chapters %+v, want %d", len(probed), probed, len(want))
	}
	for i, w := range want {
		off := (probed[i].Start - w.Start).Abs()
		if probed[i].Title != w.Name || off > 20*time.Millisecond {
			t.Errorf("chapter %d: ffprobe %+v, marked %q at %v", i, probed[i], w.Name, w.Start)
		}
		t.Logf("chapter %d %q: marked at %v, ffprobe %v (%v off)", i, w.Name, w.Start, probed[i].Start, off)
	}
}

// afterTag is the file past its ID3 tag: the audio.
func afterTag(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, n, err := id3.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return data[n:]
}

// The title is kept with the settings.
func TestSettingsTitle(t *testing.T) {
	p := app.MapPrefs{}
	st := app.DefaultSettings()
	st.Folder = t.TempDir()
	st.Title = "Zoë's <talk>"
	if err := app.SaveSettings(p, st); err != nil {
		t.Fatal(err)
	}
	if got := app.LoadSettings(p).Title; got != st.Title {
		t.Errorf("title %q after a save and load, want %q", got, st.Title)
	}
}

// The studio copy is the presenter's file after the tag is rewritten at Stop: it has the
// chapters at the marks and the title set while recording.
func TestStudioCopyChapters(t *testing.T) {
	srv := studiotest.Start(t)
	s, _, _ := newSession(t, func(st *app.Settings) {
		st.ServerURL, st.Token = srv.WHIP("talk"), studiotest.Token
		st.Title = "Lecture 4"
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	var want []app.Chapter
	for i, at := range []time.Duration{400 * time.Millisecond, 1500 * time.Millisecond} {
		testkit.WaitFor(t, 10*time.Second, "audio", func() bool { return s.Snapshot().Elapsed >= at })
		c, err := s.MarkChapter(fmt.Sprintf("Part %d", i+1))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, c)
	}
	s.SetTitle("Lecture 4: chapters")
	testkit.WaitFor(t, 10*time.Second, "audio", func() bool { return s.Snapshot().Elapsed >= 2500*time.Millisecond })
	sum, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 40*time.Second, "the studio copy on the server", func() bool {
		return s.Snapshot().Studio.State == studio.Done
	})
	local, err := os.ReadFile(sum.Path)
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "studio copy.mp3")
	if err := os.WriteFile(copyPath, srv.StudioCopy(t), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(copyPath); !bytes.Equal(got, local) {
		t.Errorf("studio copy: %d bytes, differs from the presenter's %d", len(got), len(local))
	}
	checkProbedChapters(t, copyPath, want)
	if tags := audiotest.ProbeTags(t, copyPath); tags["title"] != "Lecture 4: chapters" {
		t.Errorf("studio copy's title %q", tags["title"])
	}
}
