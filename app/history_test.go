package app_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/app"
	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// writeMP3 makes a real recording of secs seconds of speech, tagged with title and date.
func writeMP3(t *testing.T, dir, name, title string, date time.Time, secs float64, finish bool) string {
	t.Helper()
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	path := filepath.Join(dir, name)
	w, err := mp3.Create(path, mp3.Options{Tags: id3.Tags{Title: title, Date: date}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(speech[:int(secs*pcm.SampleRate)]); err != nil {
		t.Fatal(err)
	}
	if !finish {
		// As a crash leaves it: copy what is on disk before Close runs.
		raw, _ := os.ReadFile(path)
		w.Close()
		os.WriteFile(path, raw, 0o644)
		return path
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestHistoryListRepairRenameDelete(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 10, 0, 0, 0, time.Local)
	writeMP3(t, dir, "a.mp3", "Monday lecture", day, 2, true)
	writeMP3(t, dir, "b.mp3", "Wednesday sermon", day.AddDate(0, 0, 2), 3, true)
	crashed := writeMP3(t, dir, "c.mp3", "Friday keynote", day.AddDate(0, 0, 4), 4, false)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a recording"), 0o644)
	// Killed before the first frame reached the disk: the tag alone.
	tag, _ := id3.Encode(id3.Tags{Title: "Never started"}, 1024)
	empty := filepath.Join(dir, "empty.mp3")
	os.WriteFile(empty, tag, 0o644)

	h := app.History{Dir: dir}
	fixed, err := h.Repair("")
	if err != nil || len(fixed) != 1 || fixed[0] != crashed {
		t.Fatalf("Repair = %v, %v; want the crashed file only", fixed, err)
	}
	if _, err := os.Stat(empty); err == nil {
		t.Error("a recording with no audio at all was kept")
	}
	if again, _ := h.Repair(""); len(again) != 0 {
		t.Errorf("second Repair touched %v", again)
	}
	list, err := h.List()
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	for _, e := range list {
		titles = append(titles, e.Title)
	}
	if strings.Join(titles, "|") != "Friday keynote|Wednesday sermon|Monday lecture" {
		t.Fatalf("history order %v, want newest first", titles)
	}
	for i, want := range []struct {
		secs      float64
		recovered bool
	}{{4, true}, {3, false}, {2, false}} {
		e := list[i]
		if d := e.Duration.Seconds() - want.secs; d < -0.15 || d > 0.01 || e.Recovered != want.recovered || e.Size < 10000 {
			t.Errorf("%s: duration %v, recovered %v, size %d; want ~%gs, %v", e.Title, e.Duration, e.Recovered, e.Size, want.secs, want.recovered)
		}
	}

	renamed, err := h.Rename(list[1].Path, "Wednesday sermon (final)")
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := app.ReadEntry(renamed); e.Title != "Wednesday sermon (final)" || filepath.Base(renamed) != "Wednesday sermon (final).mp3" {
		t.Errorf("after rename: %+v at %s", e, renamed)
	}
	for _, bad := range []string{"", "  ", "../escape", "a/b"} {
		if _, err := h.Rename(renamed, bad); err == nil {
			t.Errorf("Rename to %q: no error", bad)
		}
	}
	if _, err := h.Rename(renamed, "a"); err == nil {
		t.Error("Rename onto an existing recording: no error")
	}
	// A name taken by something Stat does not see as a file (a dangling symlink) is taken
	// all the same: nothing is overwritten, and both stay as they were.
	link := filepath.Join(dir, "Taken.mp3")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Rename(renamed, "Taken"); err == nil {
		t.Error("Rename onto a dangling symlink: no error")
	}
	if target, err := os.Readlink(link); err != nil || target != filepath.Join(dir, "nowhere") {
		t.Errorf("the symlink at the new name was replaced (%q, %v)", target, err)
	}
	if e, err := app.ReadEntry(renamed); err != nil || e.Title != "Wednesday sermon (final)" {
		t.Errorf("the refused rename changed the recording: %+v, %v", e, err)
	}
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	// A title Windows would refuse as a file name keeps its words in the tag; the file takes
	// the name every platform keeps (a recording made here may be copied to Windows).
	for _, c := range []struct{ title, file string }{
		{"Q&A: part 2?", "Q&A_ part 2_.mp3"},
		{"CON", "CON_.mp3"},
		{"nul.mp3", "nul_.mp3.mp3"},
		{"com1", "com1_.mp3"},
		{"Ends with a dot.", "Ends with a dot.mp3"},
		{"tab\there", "tab_here.mp3"},
		{"<draft> \"v2\" | final*", "_draft_ _v2_ _ final_.mp3"},
	} {
		p, err := h.Rename(renamed, c.title)
		if err != nil {
			t.Fatalf("Rename to %q: %v", c.title, err)
		}
		renamed = p
		if e, err := app.ReadEntry(p); err != nil || e.Title != c.title || filepath.Base(p) != c.file {
			t.Errorf("Rename to %q: %s titled %q (%v); want %s", c.title, filepath.Base(p), e.Title, err, c.file)
		}
	}
	for _, bad := range []string{"...", " . ", "\t"} {
		if _, err := h.Rename(renamed, bad); err == nil {
			t.Errorf("Rename to %q: no error", bad)
		}
	}
	if err := h.Delete(renamed); err != nil {
		t.Fatal(err)
	}
	if err := h.Delete(filepath.Join(dir, "notes.txt")); err == nil {
		t.Error("Delete of a non-recording: no error")
	}
	if err := h.Delete("/etc/passwd.mp3"); err == nil {
		t.Error("Delete outside the folder: no error")
	}
	if list, _ := h.List(); len(list) != 2 {
		t.Errorf("%d recordings after delete, want 2", len(list))
	}
}

// A session repairs its folder at the start with no window to ask it (the headless session
// too), and its first recording waits for that: Recovery says what was repaired.
func TestSessionRepairsItsFolder(t *testing.T) {
	dir := t.TempDir()
	crashed := writeMP3(t, dir, "crashed.mp3", "Cut short", time.Now(), 2, false)
	s := app.NewSession(app.SessionConfig{Settings: app.Settings{Folder: dir}})
	defer s.Close()
	rec := s.Recovery()
	if rec.Err != nil || len(rec.Files) != 1 || rec.Files[0] != crashed {
		t.Fatalf("Recovery = %+v; want %s repaired", rec, crashed)
	}
	if need, err := repair.Needed(crashed); err != nil || need {
		t.Errorf("after the session's start the file still needs repair: %v, %v", need, err)
	}
	if e, err := app.ReadEntry(crashed); err != nil || !e.Recovered {
		t.Errorf("entry %+v, %v: want it marked recovered", e, err)
	}
}

// HistoryWatch reads the folder at the first look and then only when it changed, leaves out
// the recording being made, and does not look while its file is being made.
func TestHistoryWatch(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 11, 20, 10, 0, 0, 0, time.Local)
	a := writeMP3(t, dir, "a.mp3", "First", day, 1, true)
	var w app.HistoryWatch
	idle := app.Snapshot{State: app.StateIdle}
	look := func(snap app.Snapshot, saved bool) ([]app.Entry, bool) {
		t.Helper()
		entries, changed, err := w.Look(dir, snap, saved)
		if err != nil {
			t.Fatal(err)
		}
		return entries, changed
	}
	if entries, changed := look(idle, false); !changed || len(entries) != 1 || entries[0].Path != a {
		t.Fatalf("first look: %v, %v; want a.mp3 listed", entries, changed)
	}
	if _, changed := look(idle, false); changed {
		t.Error("a look at an unchanged folder read it again")
	}
	if _, changed := look(app.Snapshot{State: app.StateStarting}, false); changed {
		t.Error("a look while the file is being made read the folder")
	}
	b := writeMP3(t, dir, "b.mp3", "Second", day.AddDate(0, 0, 1), 1, true)
	growing := app.Snapshot{State: app.StateRecording, File: b}
	if entries, changed := look(growing, false); !changed || len(entries) != 1 || entries[0].Path != a {
		t.Errorf("while b.mp3 records: %v, %v; want a.mp3 alone", entries, changed)
	}
	stopping := app.Snapshot{State: app.StateStopping, File: b}
	if entries, changed := look(stopping, true); !changed || len(entries) != 2 {
		t.Errorf("b.mp3 saved: %v, %v; want both listed", entries, changed)
	}
}
