// Package studio carries the presenter's own MP3 to the server while it is recorded, so that
// soon after Stop the server holds a copy that is byte for byte the presenter's file (the
// "studio copy"), beside the one it rebuilt from the live Opus stream.
//
// The protocol is tus 1.0 (tus.io) with its creation, creation-defer-length and
// concatenation extensions, served by tusd: the body of the MP3 (whole frames, which only
// grow) goes up as a partial upload of deferred length while the talk goes on; at the end
// the head (ID3 tag and Xing/LAME frame, rewritten at Stop or by a repair) goes up as a
// second partial, and a final upload joins the two. The server checks the whole file's
// SHA-256 against the one the client sends with the final upload before it places the copy
// beside the recordings, so it never serves a copy that is half old head, half new.
package studio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/exp/slog"

	"podium/rtc"

	"podium/audio/mp3"

	"github.com/tus/tusd/v2/pkg/filestore"
	tusd "github.com/tus/tusd/v2/pkg/handler"
	"github.com/tus/tusd/v2/pkg/memorylocker"
)

// BasePath is where a podium-server takes uploads.
const BasePath = "/studio/"

// Metadata keys a client sends (Upload-Metadata). "who" is set by the server.
const (
	metaStream  = "stream"
	metaName    = "filename"
	metaKind    = "kind" // "body", "head" or "file"
	metaSHA     = "sha256"
	metaStarted = "started" // RFC 3339: when the recording began
	metaWho     = "who"
)

// Suffix ends a studio copy's file name: "talk 2026-12-02 10-00-00 (studio).mp3".
const Suffix = rtc.StudioSuffix

// ServerConfig configures the upload endpoint.
type ServerConfig struct {
	// Dir holds the recordings; uploads in progress live in Dir/.uploads.
	Dir string
	// Publisher says whether r carries a token that may publish stream, and names the token.
	Publisher func(r *http.Request, stream string) (who string, ok bool)
	// MaxKbps bounds an upload: MaxKbps × the time since its recording began, plus slack.
	MaxKbps int
	// Reserve is the free space uploads leave on the disk for live recordings (0: 8 MiB,
	// ten minutes of a 96 kb/s talk).
	Reserve int64
	// Logf reports copies placed and uploads refused.
	Logf func(format string, args ...any)
	// Elsewhere, where set, names the recordings kept outside Dir (in object storage, the
	// local copy removed), so that a studio copy still finds its live recording there.
	Elsewhere func() []string
	// Placed, where set, is told the name of each studio copy placed in Dir.
	Placed func(name string)
}

// Server takes uploads under BasePath.
type Server struct {
	cfg     ServerConfig
	uploads string
	store   filestore.FileStore
	tus     *tusd.Handler
	mu      sync.Mutex // placing copies

	received atomic.Int64 // upload body bytes taken
	copies   atomic.Int64 // studio copies placed
	refused  atomic.Int64 // requests refused (token, size, checksum)
}

// WriteMetrics appends the upload counters in Prometheus text format.
func (s *Server) WriteMetrics(w io.Writer) {
	fmt.Fprintf(w, "# HELP podium_studio_bytes_received_total Bytes of presenters' MP3s uploaded.\n# TYPE podium_studio_bytes_received_total counter\npodium_studio_bytes_received_total %d\n", s.received.Load())
	fmt.Fprintf(w, "# HELP podium_studio_copies_total Studio copies complete and checked.\n# TYPE podium_studio_copies_total counter\npodium_studio_copies_total %d\n", s.copies.Load())
	fmt.Fprintf(w, "# HELP podium_studio_refused_total Upload requests refused.\n# TYPE podium_studio_refused_total counter\npodium_studio_refused_total %d\n", s.refused.Load())
}

// countingBody counts what an upload request's body delivers.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// maxPending bounds unfinished uploads per token: a talk needs two at a time.
const maxPending = 8

// slack is what an upload may hold beyond MaxKbps × time: the head, a tag, a clock's error.
const slack = 2 << 20

// maxAge bounds how long before now a recording may say it began (a day's talk, resumed).
const maxAge = 48 * time.Hour

// NewServer makes the upload endpoint, its folder included.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.MaxKbps == 0 {
		cfg.MaxKbps = 320
	}
	if cfg.Reserve == 0 {
		cfg.Reserve = 8 << 20
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	s := &Server{cfg: cfg, uploads: filepath.Join(cfg.Dir, ".uploads")}
	if err := os.MkdirAll(s.uploads, 0o700); err != nil {
		return nil, fmt.Errorf("studio uploads folder: %w", err)
	}
	s.store = filestore.New(s.uploads)
	composer := tusd.NewStoreComposer()
	s.store.UseIn(composer)
	memorylocker.New().UseIn(composer)
	h, err := tusd.NewHandler(tusd.Config{
		BasePath:                  BasePath,
		StoreComposer:             composer,
		DisableDownload:           true,
		Logger:                    slog.New(slog.NewTextHandler(io.Discard, nil)),
		NetworkTimeout:            30 * time.Second,
		PreUploadCreateCallback:   s.beforeCreate,
		PreFinishResponseCallback: s.beforeFinish,
	})
	if err != nil {
		return nil, fmt.Errorf("studio uploads: %w", err)
	}
	s.tus = h
	return s, nil
}

// Handler serves BasePath; mount it on the server's mux.
func (s *Server) Handler() http.Handler {
	inner := http.StripPrefix(BasePath, s.tus)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			inner.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost {
			// Before tusd reads anything (it looks up a final upload's parts before any
			// callback): a publisher of the stream, and parts named as tusd names uploads.
			meta := tusd.ParseMetadataHeader(r.Header.Get("Upload-Metadata"))
			if _, ok := s.cfg.Publisher(r, meta[metaStream]); !ok || meta[metaStream] == "" {
				s.refused.Add(1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
				http.Error(w, "a publisher token for the stream is needed", http.StatusUnauthorized)
				return
			}
			if parts, ok := strings.CutPrefix(r.Header.Get("Upload-Concat"), "final;"); ok {
				for _, p := range strings.Fields(parts) {
					if !uploadID.MatchString(strings.TrimPrefix(p, BasePath)) {
						s.refused.Add(1)
						http.Error(w, "parts must be uploads of this server", http.StatusBadRequest)
						return
					}
				}
			}
		}
		if id := strings.TrimPrefix(r.URL.Path, BasePath); id != "" {
			// HEAD, PATCH, DELETE of an upload: only the token that made it.
			info, err := s.info(r, id)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			if who, ok := s.cfg.Publisher(r, info.MetaData[metaStream]); !ok || who != info.MetaData[metaWho] {
				s.refused.Add(1)
				w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
				http.Error(w, "this upload is not yours", http.StatusUnauthorized)
				return
			}
			if r.Method == http.MethodPatch {
				left := s.allowanceOf(info, time.Now()) - info.Offset
				switch {
				case r.ContentLength > left:
					s.refused.Add(1)
					http.Error(w, "more than a recording of this length can hold", http.StatusRequestEntityTooLarge)
					return
				case !s.roomFor(max(r.ContentLength, 0)):
					s.refused.Add(1)
					w.Header().Set("Retry-After", "30")
					http.Error(w, "the server keeps its disk for live recordings now: try later", http.StatusInsufficientStorage)
					return
				case r.ContentLength < 0: // chunked: held to what is left
					r.Body = http.MaxBytesReader(w, r.Body, left)
				}
			}
		}
		if r.Body != nil {
			r.Body = countingBody{r.Body, &s.received}
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

// allowanceOf is what an upload may hold by now: what a recording that began at its
// "started" time can have produced.
func (s *Server) allowanceOf(info tusd.FileInfo, now time.Time) int64 {
	started, _ := time.Parse(time.RFC3339, info.MetaData[metaStarted])
	return s.allowance(started, now)
}

// roomFor says whether n more bytes leave the disk its reserve: live recordings, which
// cannot wait, come first; an upload can (the presenter's file stays on the laptop).
func (s *Server) roomFor(n int64) bool {
	free, err := mp3.FreeSpace(s.cfg.Dir)
	return err != nil || free >= uint64(n+s.cfg.Reserve)
}

func (s *Server) allowance(started, now time.Time) int64 {
	if started.IsZero() || now.Sub(started) > maxAge {
		started = now.Add(-maxAge)
	}
	d := max(now.Sub(started), 0)
	return int64(s.cfg.MaxKbps)*1000/8*int64(d/time.Second+60) + slack
}

func (s *Server) refuse(status int, msg string) error {
	s.refused.Add(1)
	return tusd.NewError("ERR_PODIUM", msg, status)
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// beforeCreate admits a new upload: a publisher of its stream, a plain MP3 name, a size
// within the allowance, not too many unfinished ones. The server sets who made it.
func (s *Server) beforeCreate(hook tusd.HookEvent) (tusd.HTTPResponse, tusd.FileInfoChanges, error) {
	meta := hook.Upload.MetaData
	r := &http.Request{Header: hook.HTTPRequest.Header}
	stream := meta[metaStream]
	who, ok := s.cfg.Publisher(r, stream)
	if !ok || stream == "" {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusUnauthorized, "a publisher token for the stream is needed")
	}
	name := meta[metaName]
	if !strings.HasSuffix(name, ".mp3") || strings.ContainsAny(name, "/\\\x00") || len(name) > 200 {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusBadRequest, "filename must be a plain .mp3 name")
	}
	started, err := time.Parse(time.RFC3339, meta[metaStarted])
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
		if !sha256Hex.MatchString(meta[metaSHA]) {
			return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusBadRequest, "a final upload needs the file's sha256")
		}
		for _, id := range hook.Upload.PartialUploads {
			info, err := s.info(r.WithContext(hook.Context), id)
			if err != nil || info.MetaData[metaWho] != who || info.MetaData[metaStream] != stream {
				return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusUnauthorized, "those parts are not yours")
			}
		}
	} else if n := s.pending(who); n >= maxPending {
		return tusd.HTTPResponse{}, tusd.FileInfoChanges{}, s.refuse(http.StatusTooManyRequests, "too many unfinished uploads")
	}
	keep := tusd.MetaData{metaStream: stream, metaName: name, metaStarted: started.UTC().Format(time.RFC3339),
		metaKind: meta[metaKind], metaSHA: meta[metaSHA], metaWho: who}
	return tusd.HTTPResponse{}, tusd.FileInfoChanges{MetaData: keep}, nil
}

// pending counts the unfinished uploads of who.
func (s *Server) pending(who string) int {
	infos, _ := filepath.Glob(filepath.Join(s.uploads, "*.info"))
	n := 0
	for _, p := range infos {
		var info tusd.FileInfo
		if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &info) == nil &&
			info.MetaData[metaWho] == who && !info.IsFinal && (info.SizeIsDeferred || info.Offset < info.Size) {
			n++
		}
	}
	return n
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
	if sum != info.MetaData[metaSHA] {
		s.cfg.Logf("studio: %s: upload of %q does not match its sha256; dropped", info.MetaData[metaStream], info.MetaData[metaName])
		s.remove(info)
		return tusd.HTTPResponse{}, s.refuse(http.StatusConflict, "the joined file's sha256 is not the one given: send the parts again")
	}
	started, _ := time.Parse(time.RFC3339, info.MetaData[metaStarted])
	name, err := s.place(path, info.MetaData[metaStream], started)
	if err != nil {
		return tusd.HTTPResponse{}, s.refuse(http.StatusInternalServerError, "cannot place the studio copy")
	}
	s.copies.Add(1)
	if s.cfg.Placed != nil {
		s.cfg.Placed(name)
	}
	s.cfg.Logf("studio: %s: studio copy of %q complete (%d bytes): %s", info.MetaData[metaStream], info.MetaData[metaName], info.Size, name)
	s.remove(info)
	return tusd.HTTPResponse{Header: tusd.HTTPHeader{"Podium-Studio-Copy": name}}, nil
}

// place links the checked upload into Dir under a name next to the live recording it copies
// (the one of stream that began nearest to started), never over an existing file.
func (s *Server) place(path, stream string, started time.Time) (string, error) {
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
	base := LiveName(names, stream, started)
	if base == "" {
		base = stream + " " + started.Local().Format("2006-01-02 15-04-05")
	}
	for i := 1; ; i++ {
		name := base + Suffix
		if i > 1 {
			name = fmt.Sprintf("%s (%d)%s", base, i, Suffix)
		}
		if slices.Contains(names, name) {
			continue // a copy placed before, now only in object storage
		}
		err := os.Link(path, filepath.Join(s.cfg.Dir, name))
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 99 {
			return "", err
		}
	}
}

// remove deletes an upload's files and those of its parts: the server's own, in .uploads.
func (s *Server) remove(info tusd.FileInfo) {
	for _, id := range append([]string{info.ID}, info.PartialUploads...) {
		os.Remove(filepath.Join(s.uploads, id))
		os.Remove(filepath.Join(s.uploads, id+".info"))
	}
}

// LiveName is the base name (no ".mp3") of the live recording of stream among the file
// names that began within two minutes of started, the nearest; "" when there is none.
func LiveName(names []string, stream string, started time.Time) string {
	best, bestD := "", 2*time.Minute
	for _, file := range names {
		name, ok := strings.CutSuffix(file, ".mp3")
		if !ok || strings.HasSuffix(file, Suffix) || !strings.HasPrefix(name, stream+" ") {
			continue
		}
		stamp := strings.TrimPrefix(name, stream+" ")
		if i := strings.Index(stamp, " ("); i >= 0 {
			stamp = stamp[:i]
		}
		t, err := time.ParseInLocation("2006-01-02 15-04-05", stamp, time.Local)
		if err != nil {
			continue
		}
		if d := t.Sub(started).Abs(); d <= bestD {
			best, bestD = name, d
		}
	}
	return best
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
