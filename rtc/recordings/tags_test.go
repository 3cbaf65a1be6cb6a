package recordings

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/audio/id3"
)

// writeTagged writes a file that is an ID3 tag and a little data, as the listing reads it.
func writeTagged(t *testing.T, path string, tags id3.Tags) {
	t.Helper()
	tag, err := id3.Encode(tags, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(tag, make([]byte, 100)...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// GET /recordings gives each talk's title, presenter, duration and chapters from its tag,
// the studio copy's where there is one; the title Podium writes when a talk had none (the
// stream's name, a file's name) is none.
func TestListTalks(t *testing.T) {
	dir := t.TempDir()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	name := func(stream string, studio bool) string {
		r, _ := filename.NewRecording(stream, at)
		if studio {
			r = r.StudioCopy()
		}
		return r.File()
	}
	chapters := []id3.Chapter{{Start: 0, Title: "Start"}, {Start: 1500 * time.Millisecond, Title: "<b>Two</b>"}}
	writeTagged(t, filepath.Join(dir, name("paired", false)), id3.Tags{Title: "paired", Presenter: "Server Side", Length: 10 * time.Second,
		Chapters: []id3.Chapter{{Start: 100 * time.Millisecond, Title: "live"}}})
	writeTagged(t, filepath.Join(dir, name("paired", true)), id3.Tags{Title: "Lecture 4", Length: 9 * time.Second, Chapters: chapters})
	writeTagged(t, filepath.Join(dir, name("plain", false)), id3.Tags{Title: "plain", Length: 3 * time.Second})
	writeTagged(t, filepath.Join(dir, name("lone", true)), id3.Tags{Title: "lone 2026-12-02 10-00-00", Presenter: "Dr. Kim"})
	if err := os.WriteFile(filepath.Join(dir, name("broken", false)), []byte("no tag"), 0o644); err != nil {
		t.Fatal(err)
	}

	f := &Folder{Dir: dir, Link: func(n string, _ time.Time) string { return "/r/" + n }}
	for round := range 2 { // the second from the cache
		w := httptest.NewRecorder()
		f.List(w, httptest.NewRequest("GET", "/recordings", nil), func(string) bool { return true }, nil)
		var list []File
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
			t.Fatal(err)
		}
		by := map[string]File{}
		for _, r := range list {
			by[filename.StreamOf(r.Name)] = r
		}
		if r := by["paired"]; r.Title != "Lecture 4" || r.Presenter != "Server Side" || r.Duration != 9 || len(r.Chapters) != 2 ||
			r.Chapters[1].Name != "<b>Two</b>" || r.Chapters[1].Start != 1.5 {
			t.Errorf("round %d: paired: %+v", round, r)
		}
		if r := by["plain"]; r.Title != "" || r.Duration != 3 || r.Chapters == nil || len(r.Chapters) != 0 {
			t.Errorf("round %d: plain: %+v", round, r)
		}
		if r := by["lone"]; r.Title != "" || r.Presenter != "Dr. Kim" {
			t.Errorf("round %d: lone studio copy: %+v", round, r)
		}
		if r := by["broken"]; r.Name == "" || r.Title != "" || r.Chapters == nil {
			t.Errorf("round %d: broken: %+v", round, r)
		}
	}
}
