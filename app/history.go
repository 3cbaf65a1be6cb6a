package app

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"podium/app/studio"
	"podium/audio/filename"
	"podium/audio/id3"
	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
)

// Entry is one recording in the history.
type Entry struct {
	Path      string
	Title     string
	Date      time.Time
	Duration  time.Duration
	Size      int64
	Recovered bool // its header was rebuilt after an interruption
	// Loudness is the talk's integrated loudness in LUFS from its ReplayGain tag;
	// LoudnessKnown is false for a file without one.
	Loudness      float64
	LoudnessKnown bool
	// Chapters are its chapters, from its tag.
	Chapters []Chapter
	// Studio is its studio copy as its sidecar last recorded it: none (never uploaded),
	// pending, or on the server. The session knows more of one uploading now (StudioStatus).
	Studio StudioMark
}

// StudioMark is what a recording's sidecar says of its studio copy.
type StudioMark int

const (
	StudioNone    StudioMark = iota // no server took part
	StudioPending                   // begun, not complete
	StudioDone                      // on the server, checked
)

// History is the recordings folder seen as a list.
type History struct {
	Dir string
}

// List reads the folder, newest first. Files it cannot read are still listed (by name and
// modification time): a recording is never hidden.
func (h History) List() ([]Entry, error) {
	paths, err := filepath.Glob(filepath.Join(h.Dir, "*.mp3"))
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(paths))
	for _, p := range paths {
		if e, err := ReadEntry(p); err == nil {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Date.Equal(out[j].Date) {
			return out[i].Date.After(out[j].Date)
		}
		return out[i].Path > out[j].Path
	})
	return out, nil
}

// ReadEntry describes one recording from its tags and Xing header.
func ReadEntry(path string) (Entry, error) {
	st, err := os.Stat(path)
	if err != nil {
		return Entry{}, err
	}
	e := Entry{Path: path, Size: st.Size(), Date: st.ModTime(), Title: strings.TrimSuffix(filepath.Base(path), ".mp3")}
	if side, err := studio.ReadSidecar(path); err == nil {
		e.Studio = StudioPending
		if side.Done {
			e.Studio = StudioDone
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return e, nil
	}
	defer f.Close()
	if tags, _, err := id3.Read(f); err == nil {
		if tags.Title != "" {
			e.Title = tags.Title
		}
		if !tags.Date.IsZero() {
			e.Date = tags.Date
		}
		e.Recovered = tags.Comment == repair.RecoveredComment
		if g := tags.ReplayGain; g != nil {
			e.Loudness, e.LoudnessKnown = g.Loudness, true
		}
		e.Chapters = fromID3(tags.Chapters)
	}
	if info, err := frames.ReadInfo(f); err == nil {
		e.Duration = info.Duration()
	}
	return e, nil
}

// Rename gives a recording a new title: the tag keeps it as typed, and the file name follows
// as every platform keeps it (filename.Safe: "Q&A: part 2?" is "Q&A_ part 2_.mp3", "CON" is
// "CON_.mp3"). It returns the new path.
func (h History) Rename(path, title string) (string, error) {
	title = strings.TrimSpace(title)
	if strings.ContainsAny(title, `/\`) {
		return "", fmt.Errorf("rename: %q is not a usable name: a title holds no / or \\", title)
	}
	name := filename.Safe(title)
	if name == "" {
		return "", fmt.Errorf("rename: %q is not a usable name", title)
	}
	newPath := filepath.Join(filepath.Dir(path), name+".mp3")
	if newPath != path {
		// The name is taken in one step that fails if anything is there (a file, a
		// symlink, another process's new recording): a Stat before os.Rename would leave a
		// moment in which another file is overwritten.
		err := renameNoReplace(path, newPath)
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("rename: a file named %q exists already", name+".mp3")
		}
		if err != nil {
			return "", fmt.Errorf("rename %q: %w", filepath.Base(path), err)
		}
	}
	if newPath != path {
		// the studio upload's memory goes with the file (it is Podium's own)
		if err := os.Rename(studio.SidecarPath(path), studio.SidecarPath(newPath)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("rename %q: %w", filepath.Base(path), err)
		}
	}
	if err := retitle(newPath, title); err != nil {
		return "", fmt.Errorf("rename %q: %w", filepath.Base(path), err)
	}
	return newPath, nil
}

// retitle rewrites the title in the ID3 tag in place, keeping its size.
func retitle(path, title string) error {
	err := id3.Rewrite(path, func(t *id3.Tags) { t.Title = title })
	if errors.Is(err, id3.ErrNoTag) {
		return nil // no tag of ours to update: the file name carries the title
	}
	return err
}

// RenameChapter names chapter i (from 0) of the recording at path anew (cleaned and cut as
// a chapter's name is), in its tag; the audio is not touched.
func (h History) RenameChapter(path string, i int, name string) error {
	name = cleanName(name)
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("rename chapter: %w", err)
	}
	tags, size, err := id3.Read(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("rename chapter of %q: %w", filepath.Base(path), err)
	}
	if i < 0 || i >= len(tags.Chapters) {
		return fmt.Errorf("rename chapter: %q has no chapter %d", filepath.Base(path), i+1)
	}
	renamed := slices.Clone(tags.Chapters)
	renamed[i].Title = name
	// The tag keeps its size: a name it cannot hold whole, beside the others, is refused
	// rather than cut (or cutting another's).
	tags.Chapters = renamed
	if tag, err := id3.Encode(tags, size); err != nil || !sameChapters(tag, renamed) {
		return fmt.Errorf("rename chapter: %w: the name is too long", ErrNoRoomForChapters)
	}
	err = id3.Rewrite(path, func(t *id3.Tags) {
		if len(t.Chapters) == len(renamed) {
			t.Chapters = renamed
		}
	})
	if err != nil {
		return fmt.Errorf("rename chapter: %w", err)
	}
	return nil
}

// Delete removes a recording for good; callers ask first.
func (h History) Delete(path string) error {
	if filepath.Dir(path) != filepath.Clean(h.Dir) || filepath.Ext(path) != ".mp3" {
		return fmt.Errorf("delete “%s”: not a recording in %s", path, h.Dir)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("delete %q: %w", filepath.Base(path), err)
	}
	if err := os.Remove(studio.SidecarPath(path)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %q: %w", filepath.Base(studio.SidecarPath(path)), err)
	}
	return nil
}

// sameChapters says whether the tag reads back with exactly these chapters' names.
func sameChapters(tag []byte, want []id3.Chapter) bool {
	back, _, err := id3.Read(bytes.NewReader(tag))
	if err != nil || len(back.Chapters) != len(want) {
		return false
	}
	for i := range want {
		if back.Chapters[i].Title != want[i].Title {
			return false
		}
	}
	return true
}
