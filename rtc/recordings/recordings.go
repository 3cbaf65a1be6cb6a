// Package recordings lists the server's recorded MP3 files (its folder, and the archive in
// object storage beside it) and serves each one: GET /recordings and GET /recordings/{name}.
//
// It decides no access: the server (rtc's access, the one place where that is decided) asks
// who may read what, and hands this package the answer (which streams a request may see) and
// the signed link of each file.
package recordings

import (
	"cmp"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"podium/audio/filename"
	"podium/rtc/proto"
)

// archiveWait bounds how long the listing waits for the archive's list: with the bucket
// away, the local recordings are listed without it.
const archiveWait = 3 * time.Second

// Archive is object storage that finished recordings are copied to (rtc.ServerConfig.Archive).
// It lists only complete objects: nothing half-uploaded.
type Archive interface {
	// List describes every recording it holds (Name, Size, Modified).
	List(ctx context.Context) ([]File, error)
	// Open opens one for reading, and says when it was last modified.
	Open(ctx context.Context, name string) (io.ReadSeekCloser, time.Time, error)
}

// File describes one recording in GET /recordings.
type File struct {
	Name string `json:"name"`
	// URL fetches the file without a header: a signed link for this file that expires
	// (Folder.Link), for players and download links.
	URL      string    `json:"url"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
	Live     bool      `json:"live"` // still being recorded
	// Serves says which copy URL fetches: "studio" once the presenter's own file is
	// complete on the server (Studio), the better copy, else "live" (rebuilt from the stream).
	Serves  string      `json:"serves"`
	LiveURL string      `json:"liveUrl,omitempty"` // the live copy, when URL serves the studio one
	Studio  *StudioCopy `json:"studio,omitempty"`
	// Title, Presenter, Duration (seconds) and Chapters are the talk's, from the ID3 tag of
	// the copy URL serves (the studio copy's, where it says them), and empty where it does
	// not say: a recording made with no title has none here.
	Title     string          `json:"title"`
	Presenter string          `json:"presenter"`
	Duration  float64         `json:"duration"`
	Chapters  []proto.Chapter `json:"chapters"`

	talk *talk // read from the file's tag; nil when it could not be read
}

// StudioCopy is the presenter's own MP3 of a talk, uploaded while they spoke.
type StudioCopy struct {
	Name string `json:"name"`
	URL  string `json:"url"`
	Size int64  `json:"size"`
}

// Folder is the recordings folder and the archive beside it, as the server lists and serves
// them.
type Folder struct {
	Dir     string  // the recordings folder; required
	Archive Archive // nil: the folder alone
	// Link is the signed link of the file name that a File's URL carries, valid from now.
	Link func(name string, now time.Time) string
	Log  *slog.Logger // nil: slog.Default()

	cache tagCache
}

func (f *Folder) log() *slog.Logger { return cmp.Or(f.Log, slog.Default()) }

// List answers GET /recordings with the files of the streams may allows, newest first;
// live names the files being recorded now. The caller has decided that r may list.
func (f *Folder) List(w http.ResponseWriter, r *http.Request, may func(stream string) bool, live map[string]bool) {
	entries, err := os.ReadDir(f.Dir)
	if err != nil {
		f.log().Error("recordings: list", "err", err)
		http.Error(w, "cannot list recordings", http.StatusInternalServerError)
		return
	}
	list := []File{}
	now := time.Now()
	local := map[string]bool{}
	root, err := os.OpenRoot(f.Dir) // os.Root refuses to leave the folder even through symlinks
	if err != nil {
		f.log().Error("recordings: list", "err", err)
		http.Error(w, "cannot list recordings", http.StatusInternalServerError)
		return
	}
	defer root.Close()
	for _, e := range entries {
		if !e.Type().IsRegular() || filename.CheckListed(e.Name()) != nil || !may(filename.StreamOf(e.Name())) {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // removed while listing
		}
		local[e.Name()] = true
		file := File{Name: e.Name(), URL: f.Link(e.Name(), now),
			Size: info.Size(), Modified: info.ModTime().UTC(), Live: live[e.Name()]}
		if !file.Live { // its tag is still the one it began with
			f.localTalk(root, &file)
		}
		list = append(list, file)
	}
	if f.Archive != nil {
		// The local file, where it is still here, is the same recording or the one still
		// being uploaded (the archive lists only complete objects).
		ctx, cancel := context.WithTimeout(r.Context(), archiveWait)
		defer cancel()
		archived, err := f.Archive.List(ctx)
		if err != nil {
			f.log().Warn("recordings: list the archive", "err", err) // the local ones are still listed
		}
		for _, a := range archived {
			if local[a.Name] || filename.CheckListed(a.Name) != nil || !may(filename.StreamOf(a.Name)) {
				continue
			}
			file := File{Name: a.Name, URL: f.Link(a.Name, now), Size: a.Size, Modified: a.Modified.UTC()}
			f.archivedTalk(ctx, &file) // within the same wait: a slow bucket delays the list by no more
			list = append(list, file)
		}
	}
	f.cache.keep(list)
	list = withStudioCopies(list)
	sort.Slice(list, func(i, j int) bool { return list[i].Modified.After(list[j].Modified) })
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(list)
}

// withStudioCopies lists each talk once: a studio copy joins its live recording (and URL
// then serves it, and its tag says what the talk is); one with no live recording beside it
// stands on its own.
func withStudioCopies(list []File) []File {
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
			r.setTalk(talkOr(r.talk))
			out = append(out, r)
			continue
		}
		r.Serves = "live"
		t := talkOr(r.talk)
		if i, ok := byName[filename.StudioName(r.Name)]; ok {
			sc := list[i]
			r.Studio = &StudioCopy{Name: sc.Name, URL: sc.URL, Size: sc.Size}
			r.Serves, r.LiveURL, r.URL = "studio", r.URL, sc.URL
			t = merged(t, talkOr(sc.talk))
		}
		r.setTalk(t)
		out = append(out, r)
	}
	return out
}

// Serve answers GET /recordings/{name}: the file from the folder, else from the archive.
// The caller has decided that r may read it.
func (f *Folder) Serve(w http.ResponseWriter, r *http.Request, name string) {
	if filename.CheckListed(name) != nil {
		http.NotFound(w, r)
		return
	}
	// os.Root refuses to leave the directory even through symlinks.
	root, err := os.OpenRoot(f.Dir)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer root.Close()
	var body io.ReadSeeker
	var modified time.Time
	if fl, err := root.Open(name); err == nil {
		defer fl.Close()
		info, err := fl.Stat()
		if err != nil || !info.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		body, modified = fl, info.ModTime()
	} else if f.Archive != nil {
		o, mod, err := f.Archive.Open(r.Context(), name)
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
