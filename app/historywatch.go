package app

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"podium/app/studio"
	"podium/audio/mp3/repair"
)

// Repair finishes the recordings in the folder that a crash left unfinished (all but skip, one
// being recorded): their headers are rebuilt and they are marked recovered; one holding a tag
// alone is removed. Only Podium's own files are touched. It returns the paths it repaired.
func (h History) Repair(skip string) ([]string, error) {
	return repair.Dir(h.Dir, skip)
}

// Recovery is what the session's start found a crash had left in the recordings folder.
type Recovery struct {
	Files []string // repaired, and marked recovered
	Err   error    // the files that could not be repaired, left as they were
}

// recover repairs the recordings folder once, at the session's start, whether or not a
// window shows the session; Recovery waits for it.
func (s *Session) recover(dir string) {
	defer close(s.recovered)
	if dir == "" {
		return
	}
	s.recovery.Files, s.recovery.Err = History{Dir: dir}.Repair("")
}

// Recovery waits for the repair of the recordings folder that NewSession began, and says what
// it did.
func (s *Session) Recovery() Recovery {
	<-s.recovered
	return s.recovery
}

// HistoryWatch keeps a list of the recordings folder in step with it: each Look reads the
// folder again only when something in it changed (names, sizes, times: one directory read),
// and leaves out the recording being made until it is complete. One goroutine looks.
type HistoryWatch struct {
	listed bool   // a Look has read the folder
	key    string // the folder as it was then: its path, the file left out, and folderKey
}

// listing is what a look at the folder does about the session's own recording.
type listing int

const (
	listAll     listing = iota // no recording under way: every file is listed
	listWithout                // one grows: it is listed the moment it is complete
	listLater                  // its file is being made: look again when it is
)

// listingOf says how to list the folder while the session is at snap; saved says snap.File
// is complete on disk already (the session said so through OnSaved).
func listingOf(snap Snapshot, saved bool) listing {
	switch {
	case snap.State == StateStarting:
		return listLater
	case snap.State == StateRecording, snap.State == StateStopping && !saved:
		return listWithout
	}
	return listAll
}

// Look reads dir's recordings when they changed since the last Look that read them (or at
// the first), and says whether it did; err is why the folder could not be read (a missing one
// is an empty list). snap is the session as it stands and saved as for listingOf.
func (h *HistoryWatch) Look(dir string, snap Snapshot, saved bool) (entries []Entry, changed bool, err error) {
	skip := ""
	switch listingOf(snap, saved) {
	case listLater:
		return nil, false, nil
	case listWithout:
		skip = snap.File
	}
	key := dir + "\x00" + skip + "\x00" + folderKey(dir, skip)
	if h.listed && key == h.key {
		return nil, false, nil
	}
	h.listed, h.key = true, key
	entries, err = listHistory(dir, skip)
	return entries, true, err
}

// listHistory is History.List without skip, a missing folder being an empty one.
func listHistory(dir, skip string) ([]Entry, error) {
	all, err := History{Dir: dir}.List()
	if os.IsNotExist(err) {
		err = nil
	}
	out := all[:0]
	for _, e := range all {
		if e.Path != skip {
			out = append(out, e)
		}
	}
	return out, err
}

// folderKey is a cheap fingerprint of the folder's recordings.
func folderKey(dir, skip string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "error: " + err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		mp3Name, _ := studio.CutSidecar(e.Name()) // a studio copy's sidecar counts with its file
		if !strings.HasSuffix(mp3Name, ".mp3") || filepath.Join(dir, mp3Name) == skip {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "%s\x00%d\x00%d\x01", e.Name(), info.Size(), info.ModTime().UnixNano())
	}
	return b.String()
}
