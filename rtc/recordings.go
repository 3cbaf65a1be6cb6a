package rtc

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"podium/audio/filename"
)

// NamedRecorder is an optional extension of Recorder: a Recorder that writes a file in
// ServerConfig.RecordingsDir names it, so GET /recordings can mark that file live.
type NamedRecorder interface {
	Recorder
	Name() string // the file's name or path; only its base name is used
}

// archiveWait bounds how long GET /recordings waits for the archive's list: with the bucket
// away, the local recordings are listed without it.
const archiveWait = 3 * time.Second

// Archive is object storage that finished recordings are copied to (ServerConfig.Archive).
// It lists only complete objects: nothing half-uploaded.
type Archive interface {
	// List describes every recording it holds (Name, Size, Modified).
	List(ctx context.Context) ([]Recording, error)
	// Open opens one for reading, and says when it was last modified.
	Open(ctx context.Context, name string) (io.ReadSeekCloser, time.Time, error)
}

// Recording describes one file in GET /recordings.
type Recording struct {
	Name string `json:"name"`
	// URL fetches the file without a header: a signed link for this file that expires
	// (see access.signedLink), for players and download links.
	URL      string    `json:"url"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Live     bool      `json:"live"` // still being recorded
	// Serves says which copy URL fetches: "studio" once the presenter's own file is
	// complete on the server (Studio), the better copy, else "live" (rebuilt from the stream).
	Serves  string      `json:"serves"`
	LiveURL string      `json:"liveUrl,omitempty"` // the live copy, when URL serves the studio one
	Studio  *StudioCopy `json:"studio,omitempty"`
}

// StudioCopy is the presenter's own MP3 of a talk, uploaded while they spoke.
type StudioCopy struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Size int64  `json:"size"`
}

// withStudioCopies lists each talk once: a studio copy joins its live recording (and URL
// then serves it); one with no live recording beside it stands on its own.
func withStudioCopies(list []Recording) []Recording {
	byName := map[string]int{}
	for i, r := range list {
		byName[r.Name] = i
	}
	out := list[:0:0]
	for _, r := range list {
		live, isStudio := filename.CutStudio(r.Name)
		if isStudio {
			if _, ok := byName[live]; ok {
				continue // listed with its live recording
			}
			r.Serves = "studio"
			r.Studio = &StudioCopy{Name: r.Name, URL: r.URL, Size: r.Size}
			out = append(out, r)
			continue
		}
		r.Serves = "live"
		if i, ok := byName[filename.StudioName(r.Name)]; ok {
			sc := list[i]
			r.Studio = &StudioCopy{Name: sc.Name, URL: sc.URL, Size: sc.Size}
			r.Serves, r.LiveURL, r.URL = "studio", r.URL, sc.URL
		}
		out = append(out, r)
	}
	return out
}

// liveNames lists the base names of files being recorded now.
func (s *Server) liveNames() map[string]bool {
	live := map[string]bool{}
	for _, rec := range s.recordings() {
		rec.mu.Lock()
		if rec.name != "" {
			live[filepath.Base(rec.name)] = true
		}
		rec.mu.Unlock()
	}
	return live
}

func (s *Server) handleRecordings(w http.ResponseWriter, r *http.Request) {
	if s.cfg.RecordingsDir == "" {
		http.NotFound(w, r)
		return
	}
	g := s.access.check(r, actReadRecordings, "")
	if !g.ok {
		unauthorized(w)
		return
	}
	entries, err := os.ReadDir(s.cfg.RecordingsDir)
	if err != nil {
		s.log.Error("recordings: list", "err", err)
		http.Error(w, "cannot list recordings", http.StatusInternalServerError)
		return
	}
	live := s.liveNames()
	list := []Recording{}
	now := time.Now()
	local := map[string]bool{}
	for _, e := range entries {
		if !e.Type().IsRegular() || filename.CheckListed(e.Name()) != nil || !g.covers(filename.StreamOf(e.Name())) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		local[e.Name()] = true
		list = append(list, Recording{Name: e.Name(), URL: s.access.signedLink(e.Name(), now),
			Size: info.Size(), Modified: info.ModTime().UTC(), Live: live[e.Name()]})
	}
	if s.cfg.Archive != nil {
		// The local file, where it is still here, is the same recording or the one still
		// being uploaded (the archive lists only complete objects).
		ctx, cancel := context.WithTimeout(r.Context(), archiveWait)
		archived, err := s.cfg.Archive.List(ctx)
		cancel()
		if err != nil {
			s.log.Warn("recordings: list the archive", "err", err) // the local ones are still listed
		}
		for _, a := range archived {
			if local[a.Name] || filename.CheckListed(a.Name) != nil || !g.covers(filename.StreamOf(a.Name)) {
				continue
			}
			list = append(list, Recording{Name: a.Name, URL: s.access.signedLink(a.Name, now),
				Size: a.Size, Modified: a.Modified.UTC()})
		}
	}
	list = withStudioCopies(list)
	sort.Slice(list, func(i, j int) bool { return list[i].Modified.After(list[j].Modified) })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(list)
}

// handleRecording serves one file to a token that may read it, or to its signed link.
func (s *Server) handleRecording(w http.ResponseWriter, r *http.Request) {
	if s.cfg.RecordingsDir == "" {
		http.NotFound(w, r)
		return
	}
	name := r.PathValue("name")
	if !s.access.check(r, actReadRecordings, "").covers(filename.StreamOf(name)) && !s.access.signed(r, name, time.Now()) {
		unauthorized(w)
		return
	}
	if filename.CheckListed(name) != nil {
		http.NotFound(w, r)
		return
	}
	// os.Root refuses to leave the directory even through symlinks.
	root, err := os.OpenRoot(s.cfg.RecordingsDir)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	var body io.ReadSeeker
	var modified time.Time
	if f, err := root.Open(name); err == nil {
		defer f.Close()
		info, err := f.Stat()
		if err != nil || !info.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		body, modified = f, info.ModTime()
	} else if s.cfg.Archive != nil {
		o, mod, err := s.cfg.Archive.Open(r.Context(), name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer o.Close()
		body, modified = o, mod
	} else {
		http.NotFound(w, r)
		return
	}
	if strings.Contains(r.Header.Get("Range"), ",") {
		// One range per request, from disk and from the bucket alike: browsers and players
		// ask for one. ServeContent answers each range of a multi-range request with a seek,
		// and each seek in a bucket's object is a new GET of the rest of it, so one request
		// of thousands of ranges was thousands of reads. RFC 9110 (14.2) lets a server ignore
		// a Range; the whole file is one read, as nginx's max_ranges does.
		r = r.Clone(r.Context())
		r.Header.Del("Range")
	}
	h := w.Header()
	h.Set("Content-Type", "audio/mpeg")
	h.Set("Cache-Control", "private, no-store")
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, name, modified, body)
}
