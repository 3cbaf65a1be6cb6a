// Package studioserver is podium-server's side of the studio copy: it takes the presenters'
// tus uploads (package studioproto) with tusd, holds each token to what its recordings can
// have produced and the disk to its reserve for live recordings, checks the joined file's
// SHA-256, and places it beside the live recording it copies, under that recording's name
// with the studio suffix (package filename). Only the binaries that serve link it (and so
// tusd): the app's built-in server takes no uploads.
package studioserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"podium/app/studio/studioproto"
	"podium/audio/filename"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
	xslog "golang.org/x/exp/slog" // tusd's logger
)

// metaWho is the metadata key the server sets on each upload: the token that made it.
const metaWho = "who"

// Config configures the upload endpoint.
type Config struct {
	// Dir holds the recordings; uploads in progress live in Dir/.uploads, and who began
	// each recording (Began) in Dir/.owners.
	Dir string
	// Publisher says whether r carries a token that may publish stream, and names the token.
	Publisher func(r *http.Request, stream string) (who string, ok bool)
	// MaxKbps bounds an upload: MaxKbps × the time since its recording began, plus slack.
	MaxKbps int
	// Reserve is the free space uploads leave on the disk for live recordings (0: 8 MiB,
	// ten minutes of a 96 kb/s talk).
	Reserve int64
	// Logger reports copies placed and uploads refused, with the stream as an attribute;
	// default: nothing.
	Logger *slog.Logger
	// Elsewhere, where set, names the recordings kept outside Dir (in object storage, the
	// local copy removed), so that a studio copy still finds its live recording there.
	Elsewhere func() []string
	// Placed, where set, is told the name of each studio copy placed in Dir.
	Placed func(name string)
	// Expire removes uploads not written for this long, finished or not (0: 24 h): a
	// presenter's laptop that went away for good leaves nothing behind for longer.
	Expire time.Duration
}

// Server takes uploads under studioproto.BasePath.
type Server struct {
	cfg     Config
	uploads string
	store   filestore.FileStore
	tus     *tusd.Handler
	mu      sync.Mutex // placing copies

	owners string // Dir/.owners: who began each recording (Began)

	cmu      sync.Mutex     // counting and admitting new uploads (reserve)
	creating map[string]int // uploads being created now, by token

	received atomic.Int64 // upload body bytes taken
	copies   atomic.Int64 // studio copies placed
	refused  atomic.Int64 // requests refused (token, size, checksum)
}

// Collectors are the upload metrics.
func (s *Server) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_studio_bytes_received_total", Help: "Bytes of presenters' MP3s uploaded."},
			func() float64 { return float64(s.received.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_studio_copies_total", Help: "Studio copies complete and checked."},
			func() float64 { return float64(s.copies.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_studio_refused_total", Help: "Upload requests refused."},
			func() float64 { return float64(s.refused.Load()) }),
	}
}

// New makes the upload endpoint, its folder included.
func New(cfg Config) (*Server, error) {
	if cfg.MaxKbps == 0 {
		cfg.MaxKbps = 320
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = 8 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Expire == 0 {
		cfg.Expire = 24 * time.Hour
	}
	s := &Server{cfg: cfg, uploads: filepath.Join(cfg.Dir, ".uploads")}
	s.owners = filepath.Join(cfg.Dir, ".owners")
	for _, d := range []string{s.uploads, s.owners} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("studio uploads folder: %w", err)
		}
	}
	s.store = filestore.New(s.uploads)
	s.sweep(context.Background())
	composer := tusd.NewStoreComposer()
	s.store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	now := time.Now()
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:      studioproto.BasePath,
		StoreComposer: composer,
		// No upload may exceed what the longest recording admitted can hold; each request
		// is held to its own upload's allowance (uploadBody).
		MaxSize:                   s.allowance(now.Add(-maxAge), now),
		DisableDownload:           true,
		Logger:                    xslog.New(xslog.NewTextHandler(io.Discard, nil)),
		NetworkTimeout:            requestBound,
		PreUploadCreateCallback:   s.beforeCreate,
		PreFinishResponseCallback: s.beforeFinish,
	})
	if err != nil {
		return nil, fmt.Errorf("studio uploads: %w", err)
	}
	s.tus = h
	return s, nil
}

// Handler serves studioproto.BasePath; mount it on the server's mux.
func (s *Server) Handler() http.Handler {
	inner := http.StripPrefix(studioproto.BasePath, s.tus)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(requestBound)
		defer s.holdDeadline(w, deadline)()
		// tusd would take a POST as the method this header names, past every check below
		// made for that method; the studio client never sends it.
		if _, ok := r.Header[http.CanonicalHeaderKey("X-HTTP-Method-Override")]; ok {
			s.refused.Add(1)
			http.Error(w, "method overrides are not taken", http.StatusBadRequest)
			return
		}
		// Every byte tusd takes goes through uploadBody, whatever the method: none where no
		// upload may grow (a HEAD, a DELETE, a preflight, a final upload).
		body := &uploadBody{s: s, deadline: deadline, mayTake: func() int64 { return 0 }}
		switch id := strings.TrimPrefix(r.URL.Path, studioproto.BasePath); {
		case r.Method == http.MethodOptions:
		case id == "" && r.Method == http.MethodPost:
			// Before tusd reads anything (it looks up a final upload's parts before any
			// callback): a publisher of a well-named stream, and parts named as tusd names
			// uploads, each once.
			meta := tusd.ParseMetadataHeader(r.Header.Get("Upload-Metadata"))
			if err := filename.CheckStream(meta[studioproto.MetaStream]); err != nil {
				s.refused.Add(1)
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			who, ok := s.cfg.Publisher(r, meta[studioproto.MetaStream])
			if !ok {
				s.refused.Add(1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
				http.Error(w, "a publisher token for the stream is needed", http.StatusUnauthorized)
				return
			}
			if err := checkParts(r.Header.Get("Upload-Concat")); err != nil {
				s.refused.Add(1)
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			final := strings.HasPrefix(r.Header.Get("Upload-Concat"), "final")
			release, ok := s.reserve(r.Context(), who, final)
			if !ok {
				s.refused.Add(1)
				http.Error(w, "too many uploads not yet joined into a copy", http.StatusTooManyRequests)
				return
			}
			defer release()
			if !final {
				// creation-with-upload: the body is the new upload's first bytes
				started, _ := time.Parse(time.RFC3339, meta[studioproto.MetaStarted])
				body.mayTake = func() int64 { return s.allowance(started, time.Now()) }
			}
		case id != "":
			// HEAD, PATCH, DELETE of an upload: only the token that made it.
			info, err := s.info(r, id)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			if who, ok := s.cfg.Publisher(r, info.MetaData[studioproto.MetaStream]); !ok || who != info.MetaData[metaWho] {
				s.refused.Add(1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
				http.Error(w, "this upload is not yours", http.StatusUnauthorized)
				return
			}
			if r.Method == http.MethodPatch {
				if r.ContentLength > s.allowanceOf(info, time.Now())-info.Offset {
					s.refused.Add(1)
					http.Error(w, "more than a recording of this length can hold", http.StatusRequestEntityTooLarge)
					return
				}
				// Asked again at the first read: tusd holds the upload's lock by then, so
				// the offset is the one this request writes at, whatever ran before it.
				body.mayTake = func() int64 {
					info, err := s.info(r, id)
					if err != nil {
						return 0
					}
					return s.allowanceOf(info, time.Now()) - info.Offset
				}
			}
		}
		if r.ContentLength > 0 && !s.roomFor(r.ContentLength) {
			s.refused.Add(1)
			w.Header().Set("Retry-After", "30")
			http.Error(w, "the server keeps its disk for live recordings now: try later", http.StatusInsufficientStorage)
			return
		}
		if r.Body != nil {
			body.rc = r.Body
			r.Body = body
		}
		inner.ServeHTTP(w, r)
	})
}

// uploadID is how tusd names uploads (16 random bytes in hex).
var uploadID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Server) info(r *http.Request, id string) (tusd.FileInfo, error) {
	if !uploadID.MatchString(id) {
		return tusd.FileInfo{}, errors.New("bad upload id")
	}
	up, err := s.store.GetUpload(r.Context(), id)
	if err != nil {
		return tusd.FileInfo{}, err
	}
	return up.GetInfo(r.Context())
}

func (s *Server) refuse(status int, msg string) error {
	s.refused.Add(1)
	return tusd.NewError("ERR_PODIUM", msg, status)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// beforeCreate admits a new upload: a publisher of its stream, a plain MP3 name, a size
// within the allowance (the Handler has counted what its token holds: reserve). The server
// sets who made it.
func (s *Server) beforeCreate(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	meta := hook.Upload.MetaData
	r := &http.Request{Header: hook.HTTPRequest.Header}
	stream := meta[studioproto.MetaStream]
	if err := filename.CheckStream(stream); err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusBadRequest, err.Error())
	}
	who, ok := s.cfg.Publisher(r, stream)
	if !ok {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusUnauthorized, "a publisher token for the stream is needed")
	}
	name := meta[studioproto.MetaName]
	if !strings.HasSuffix(name, ".mp3") || strings.ContainsAny(name, "/\\\x00") || len(name) > 200 {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusBadRequest, "filename must be a plain .mp3 name")
	}
	started, err := time.Parse(time.RFC3339, meta[studioproto.MetaStarted])
	if err != nil {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusBadRequest, "started must be an RFC 3339 time")
	}
	now := time.Now()
	if !hook.Upload.SizeIsDeferred && hook.Upload.Size > s.allowance(started, now) {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusRequestEntityTooLarge, "more than a recording of this length can hold")
	}
	if !s.roomFor(max(hook.Upload.Size, 0)) {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusInsufficientStorage, "the server keeps its disk for live recordings now: try later")
	}
	if hook.Upload.IsFinal {
		if !sha256Hex.MatchString(meta[studioproto.MetaSHA]) {
			return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusBadRequest, "a final upload needs the file's sha256")
		}
		for _, id := range hook.Upload.PartialUploads {
			info, err := s.info(r.WithContext(hook.Context), id)
			if err != nil || info.MetaData[metaWho] != who || info.MetaData[studioproto.MetaStream] != stream {
				return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusUnauthorized, "those parts are not yours")
			}
		}
	}
	keep := tusd.MetaData{studioproto.MetaStream: stream, studioproto.MetaName: name,
		studioproto.MetaStarted: started.UTC().Format(time.RFC3339), studioproto.MetaKind: meta[studioproto.MetaKind],
		studioproto.MetaSHA: meta[studioproto.MetaSHA], metaWho: who}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{MetaData: keep}, nil
}

// beforeFinish places a final upload: its SHA-256 must be the one the client gave, then it
// becomes "<live recording's name> (studio).mp3" beside the recordings and its parts go.
func (s *Server) beforeFinish(hook tusd.HookEvent) (tusd.HTTPResponse, error) {
	info := hook.Upload
	if !info.IsFinal {
		return tusd.HTTPResponse{}, nil
	}
	path := filepath.Join(s.uploads, info.ID)
	sum, err := fileSHA256(path)
	if err != nil {
		return tusd.HTTPResponse{}, s.refuse(http.StatusInternalServerError, "cannot read the upload")
	}
	if sum != info.MetaData[studioproto.MetaSHA] {
		s.cfg.Logger.Warn("studio: upload does not match its sha256; dropped", "stream", info.MetaData[studioproto.MetaStream], "name", info.MetaData[studioproto.MetaName])
		s.remove(info)
		return tusd.HTTPResponse{}, s.refuse(http.StatusConflict, "the joined file's sha256 is not the one given: send the parts again")
	}
	started, _ := time.Parse(time.RFC3339, info.MetaData[studioproto.MetaStarted])
	name, err := s.place(path, info.MetaData[studioproto.MetaStream], info.MetaData[metaWho], started)
	if err != nil {
		s.cfg.Logger.Error("studio: cannot place the studio copy", "stream", info.MetaData[studioproto.MetaStream], "err", err)
		return tusd.HTTPResponse{}, s.refuse(http.StatusInternalServerError, "cannot place the studio copy")
	}
	s.copies.Add(1)
	if s.cfg.Placed != nil {
		s.cfg.Placed(name)
	}
	s.cfg.Logger.Info("studio: studio copy complete", "stream", info.MetaData[studioproto.MetaStream], "name", info.MetaData[studioproto.MetaName], "bytes", info.Size, "file", name)
	s.remove(info)
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{studioproto.HeaderCopy: name}}, nil
}

// place links the checked upload into Dir under a name next to the live recording it copies
// (the one of stream that who began nearest to started), never over an existing file, and
// never under the name of a copy of a recording someone else began.
func (s *Server) place(path, stream, who string, started time.Time) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	entries, _ := os.ReadDir(s.cfg.Dir)
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if s.cfg.Elsewhere != nil {
		names = append(names, s.cfg.Elsewhere()...)
	}
	live, found := liveRecording(names, stream, started, s.beganBy(who))
	if !found {
		var err error
		if live, err = filename.NewRecording(stream, started); err != nil {
			return "", err
		}
	}
	for i := 1; i <= 99; i++ {
		b := live.Numbered(i)
		// Taken: a copy placed before (perhaps now only in object storage), or the name
		// that /recordings would list as the copy of another recording.
		name := b.StudioCopy().File()
		if slices.Contains(names, name) || !(found && i == 1) && slices.Contains(names, b.File()) {
			continue
		}
		err := os.Link(path, filepath.Join(s.cfg.Dir, name))
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free name beside %q", live.File())
}

// remove deletes an upload's files and those of its parts: the server's own, in .uploads.
func (s *Server) remove(info tusd.FileInfo) {
	for _, id := range append([]string{info.ID}, info.PartialUploads...) {
		os.Remove(filepath.Join(s.uploads, id))
		os.Remove(filepath.Join(s.uploads, id+".info"))
	}
}

// liveRecording is the live recording of stream among the file names that began within two
// minutes of started and that mine admits, the nearest; false when there is none.
func liveRecording(names []string, stream string, started time.Time, mine func(file string) bool) (filename.Recording, bool) {
	var best filename.Recording
	found, bestD := false, 2*time.Minute
	for _, file := range names {
		r, ok := filename.ParseRecording(file)
		if !ok || r.Studio || r.Stream != stream {
			continue
		}
		if d := r.Start.Sub(started).Abs(); d <= bestD && mine(file) {
			best, found, bestD = r, true, d
		}
	}
	return best, found
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
