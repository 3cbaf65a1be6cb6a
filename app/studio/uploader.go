package studio

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"podium/audio/mp3"
)

// Config says what to upload where.
type Config struct {
	Server  string // the podium-server's base URL (http://host:port)
	Token   string // a publisher token for Stream
	Stream  string
	Path    string    // the MP3 being recorded
	Started time.Time // when the recording began
	Client  *http.Client
}

// State is where a studio copy stands.
type State int

const (
	Uploading State = iota // following the recording
	Waiting                // the server cannot be reached; trying again
	Done                   // the server has the whole file, checked
	LiveOnly               // the server takes no uploads
	Failed                 // refused for good (see Err)
)

func (s State) String() string {
	return [...]string{"uploading", "waiting for the network", "on the server", "live only", "not uploaded"}[s]
}

// Status is an upload's progress.
type Status struct {
	State State
	Sent  int64 // bytes of the file the server has
	Size  int64 // the file's size as last seen
	Name  string
	Err   error
}

// ErrLiveOnly: the server offers no uploads (any WHIP server but podium-server).
var ErrLiveOnly = errors.New("the server takes no uploads (live only)")

// ErrNoRoom: the server keeps its disk for live recordings now; the copy stays pending (its
// sidecar) for a later podium upload or the app's retry.
var ErrNoRoom = errors.New("the server has no room for the studio copy now; it stays on this computer for a later upload")

// Uploader follows one recording as it grows and, at Finish, completes its studio copy.
type Uploader struct {
	cfg  Config
	side Sidecar

	mu      sync.Mutex
	status  Status
	changed chan struct{}

	stop     chan struct{}
	finished chan struct{} // Finish was asked
	done     chan struct{} // the follower has ended
	startMu  sync.Once
}

// sidecarSuffix names the file beside an MP3 that remembers its upload across restarts.
const sidecarSuffix = ".studio"

// Sidecar is what the app keeps beside an MP3 about its studio copy (as JSON).
type Sidecar struct {
	Server  string    `json:"server"`
	Stream  string    `json:"stream"`
	Started time.Time `json:"started"`
	Body    string    `json:"body,omitempty"` // the body's upload URL
	Done    bool      `json:"done,omitempty"`
	Name    string    `json:"name,omitempty"` // the studio copy's name on the server
}

// SidecarPath is the sidecar of the recording at path.
func SidecarPath(path string) string { return path + sidecarSuffix }

// ReadSidecar reads the sidecar of the recording at path.
func ReadSidecar(path string) (Sidecar, error) {
	var s Sidecar
	b, err := os.ReadFile(SidecarPath(path))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Pending lists the recordings in dir whose studio copy is not complete, oldest first.
func Pending(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		mp3Name, ok := strings.CutSuffix(e.Name(), sidecarSuffix)
		if !ok {
			continue
		}
		p := dir + string(os.PathSeparator) + mp3Name
		if s, err := ReadSidecar(p); err == nil && !s.Done {
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// NewUploader makes an uploader for cfg.Path, taking up what its sidecar remembers.
func NewUploader(cfg Config) *Uploader {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	u := &Uploader{cfg: cfg, changed: make(chan struct{}, 1), stop: make(chan struct{}),
		finished: make(chan struct{}), done: make(chan struct{})}
	if s, err := ReadSidecar(cfg.Path); err == nil && s.Server == cfg.Server && s.Stream == cfg.Stream {
		u.side = s
		u.cfg.Started = s.Started
	} else {
		u.side = Sidecar{Server: cfg.Server, Stream: cfg.Stream, Started: cfg.Started.UTC().Truncate(time.Second)}
	}
	if u.side.Done {
		u.status = Status{State: Done, Name: u.side.Name}
	}
	return u
}

// Start follows the recording on its own goroutine: it reads the file from disk, never
// touching the writer, so a slow or failed upload changes nothing about the recording.
func (u *Uploader) Start() {
	u.startMu.Do(func() { go u.run() })
}

// Finish completes the studio copy once the recording is closed (or repaired) for good:
// the rest of the body, the head, the join. It returns when the server has the checked
// file, or with ctx's error (the sidecar keeps the upload for later).
func (u *Uploader) Finish(ctx context.Context) error {
	u.Start()
	select {
	case <-u.finished:
	default:
		close(u.finished)
	}
	select {
	case <-u.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	st := u.Status()
	if st.State == Done {
		return nil
	}
	return st.Err
}

// Close stops uploading; what was sent stays on the server for a later resume.
func (u *Uploader) Close() {
	select {
	case <-u.stop:
	default:
		close(u.stop)
	}
}

// Status says where the copy stands.
func (u *Uploader) Status() Status {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.status
}

// Done is closed when the uploader has stopped: the copy complete, failed for good, or Close.
func (u *Uploader) Done() <-chan struct{} { return u.done }

// Resume takes up the upload that the sidecar of the recording at path remembers, repairing
// the file first if its writer never finished it (a crash): the copy is of the file as it
// will stay. repaired says whether it was.
func Resume(path, token string) (u *Uploader, repaired bool, err error) {
	side, err := ReadSidecar(path)
	if err != nil {
		return nil, false, fmt.Errorf("%s: no studio upload to finish (%w)", path, err)
	}
	if broken, err := mp3.NeedsRepair(path); err == nil && broken {
		_, err := mp3.Repair(path)
		switch {
		case err == nil:
			repaired = true
		case !errors.Is(err, mp3.ErrNotRepairable): // else repaired meanwhile by the window's start
			return nil, false, err
		}
	}
	return NewUploader(Config{Server: side.Server, Token: token, Stream: side.Stream, Path: path, Started: side.Started}), repaired, nil
}

// Changed is signalled when Status changes.
func (u *Uploader) Changed() <-chan struct{} { return u.changed }

func (u *Uploader) set(f func(*Status)) {
	u.mu.Lock()
	f(&u.status)
	u.mu.Unlock()
	select {
	case u.changed <- struct{}{}:
	default:
	}
}

// followEvery is how often the body follows the file while recording: the copy trails the
// recording by about this much, which is what Stop has left to send.
const followEvery = time.Second

func (u *Uploader) run() {
	defer close(u.done)
	if u.side.Done {
		return
	}
	backoff := time.Second
	for {
		final := false
		select {
		case <-u.finished:
			final = true
		default:
		}
		err := u.step(final)
		switch {
		case err == nil && final:
			return
		case err == nil:
			backoff = time.Second
			u.set(func(s *Status) { s.State, s.Err = Uploading, nil })
		case errors.Is(err, ErrLiveOnly) || isPermanent(err):
			u.set(func(s *Status) {
				s.State, s.Err = Failed, err
				if errors.Is(err, ErrLiveOnly) {
					s.State = LiveOnly
				}
			})
			return
		default:
			u.set(func(s *Status) { s.State, s.Err = Waiting, err })
		}
		wait := followEvery
		if err != nil {
			wait, backoff = backoff, min(2*backoff, 30*time.Second)
		}
		select {
		case <-u.stop:
			return
		case <-time.After(wait):
		case <-u.finishedOnce(final):
		}
	}
}

// finishedOnce wakes the follower when Finish is asked (once; afterwards it keeps its pace).
func (u *Uploader) finishedOnce(already bool) <-chan struct{} {
	if already {
		return nil
	}
	return u.finished
}

// step sends what the file has gained; with final, completes the copy.
func (u *Uploader) step(final bool) error {
	lay, err := mp3.ReadLayout(u.cfg.Path)
	if err != nil {
		if final {
			return permanent{fmt.Errorf("studio copy of %q: %w", u.cfg.Path, err)}
		}
		return nil // no frame yet
	}
	st, err := os.Stat(u.cfg.Path)
	if err != nil {
		return permanent{err}
	}
	size := st.Size()
	end := lay.WholeFrames(size)
	if final {
		end = size
	}
	if u.side.Body == "" {
		loc, err := u.create(0, "body", "")
		if err != nil {
			return err
		}
		u.side.Body = loc
		if err := u.saveSidecar(); err != nil {
			return permanent{err}
		}
	}
	off, declared, err := u.offset(u.side.Body)
	if err != nil {
		return err
	}
	for !declared {
		u.set(func(s *Status) { s.Sent, s.Size = lay.Head+off, size })
		n := min(end-lay.Head, off+maxChunk)
		last := final && n == end-lay.Head
		if err := u.patch(u.side.Body, lay.Head, off, n, last, end-lay.Head); err != nil {
			return err
		}
		off = n
		if n == end-lay.Head {
			break
		}
	}
	u.set(func(s *Status) { s.Sent, s.Size = end, size })
	if !final {
		return nil
	}
	head := make([]byte, lay.Head)
	f, err := os.Open(u.cfg.Path)
	if err != nil {
		return permanent{err}
	}
	_, err = f.ReadAt(head, 0)
	sum := sha256.New()
	if err == nil {
		_, err = io.Copy(sum, f)
	}
	f.Close()
	if err != nil {
		return permanent{err}
	}
	headLoc, err := u.create(int64(len(head)), "head", "", head...)
	if err != nil {
		return err
	}
	name, err := u.join(headLoc, u.side.Body, hex.EncodeToString(sum.Sum(nil)))
	if errors.Is(err, errMismatch) {
		u.side.Body = "" // the server's parts are not this file: send it whole again
		_ = u.saveSidecar()
		return err
	}
	if err != nil {
		return err
	}
	u.side.Done, u.side.Name = true, name
	if err := u.saveSidecar(); err != nil {
		return permanent{err}
	}
	u.set(func(s *Status) { s.State, s.Sent, s.Size, s.Name, s.Err = Done, size, size, name, nil })
	return nil
}

func (u *Uploader) saveSidecar() error {
	b, _ := json.Marshal(u.side)
	tmp := SidecarPath(u.cfg.Path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("studio sidecar: %w", err)
	}
	return os.Rename(tmp, SidecarPath(u.cfg.Path))
}

// permanent marks an error no retry will cure.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

func isPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

var errMismatch = errors.New("the server's copy does not match the file")

func (u *Uploader) request(method, loc string, body io.Reader, n int64) (*http.Request, error) {
	if n == 0 {
		body = http.NoBody
	}
	req, err := http.NewRequest(method, loc, body)
	if err != nil {
		return nil, permanent{err}
	}
	req.ContentLength = n
	req.Header.Set("Tus-Resumable", "1.0.0")
	if u.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+u.cfg.Token)
	}
	return req, nil
}

func (u *Uploader) metadata(kind, sum string) string {
	kv := map[string]string{metaStream: u.cfg.Stream, metaName: baseName(u.cfg.Path), metaKind: kind,
		metaStarted: u.side.Started.UTC().Format(time.RFC3339)}
	if sum != "" {
		kv[metaSHA] = sum
	}
	var parts []string
	for k, v := range kv {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func baseName(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// create makes a partial upload: of deferred length (the body), or of size with data sent
// in the same request (the head).
func (u *Uploader) create(size int64, kind, sum string, data ...byte) (string, error) {
	endpoint := strings.TrimSuffix(u.cfg.Server, "/") + BasePath
	req, err := u.request(http.MethodPost, endpoint, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Upload-Concat", "partial")
	req.Header.Set("Upload-Metadata", u.metadata(kind, sum))
	if kind == "body" {
		req.Header.Set("Upload-Defer-Length", "1")
	} else {
		req.Header.Set("Upload-Length", strconv.FormatInt(size, 10))
		req.Header.Set("Content-Type", "application/offset+octet-stream")
	}
	resp, err := u.cfg.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("studio upload to %s: %w", u.cfg.Server, err)
	}
	defer drain(resp)
	if err := statusErr(resp, http.StatusCreated); err != nil {
		return "", err
	}
	return u.resolve(endpoint, resp.Header.Get("Location"))
}

func (u *Uploader) resolve(base, loc string) (string, error) {
	b, err := url.Parse(base)
	if err != nil {
		return "", permanent{err}
	}
	l, err := b.Parse(loc)
	if err != nil || loc == "" {
		return "", fmt.Errorf("studio upload: bad Location %q", loc)
	}
	return l.String(), nil
}

// offset asks the server how much of an upload it has (tus HEAD), and whether its length is
// declared (the body is complete).
func (u *Uploader) offset(loc string) (int64, bool, error) {
	req, err := u.request(http.MethodHead, loc, nil, 0)
	if err != nil {
		return 0, false, err
	}
	resp, err := u.cfg.Client.Do(req)
	if err != nil {
		return 0, false, fmt.Errorf("studio upload to %s: %w", u.cfg.Server, err)
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		u.side.Body = "" // the server lost it: start again
		_ = u.saveSidecar()
		return 0, false, errors.New("studio upload: the server lost the upload; starting again")
	}
	if err := statusErr(resp, http.StatusOK); err != nil {
		return 0, false, err
	}
	off, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	return off, resp.Header.Get("Upload-Length") != "", err
}

// maxChunk bounds one PATCH, so that it ends well within the server's 20 s for a request
// on a slow uplink (1 MiB: 8 s at 1 Mb/s); a cut one resumes where the server got to.
const maxChunk = 1 << 20

// patch sends the body from off to n (file offsets head+off .. head+n), declaring the body's
// length when final.
func (u *Uploader) patch(loc string, head, off, n int64, final bool, length int64) error {
	if off > n {
		return permanent{fmt.Errorf("studio upload: the server has %d bytes of a body of %d: the file shrank", off, n)}
	}
	if off == n && !final {
		return nil
	}
	f, err := os.Open(u.cfg.Path)
	if err != nil {
		return permanent{err}
	}
	defer f.Close()
	var body io.Reader = io.NewSectionReader(f, head+off, n-off)
	if n == off {
		body = http.NoBody // a length of 0, not an unknown one
	}
	req, err := u.request(http.MethodPatch, loc, body, n-off)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	req.Header.Set("Upload-Offset", strconv.FormatInt(off, 10))
	if final {
		req.Header.Set("Upload-Length", strconv.FormatInt(length, 10))
	}
	resp, err := u.cfg.Client.Do(req)
	if err != nil {
		return fmt.Errorf("studio upload to %s: %w", u.cfg.Server, err)
	}
	defer drain(resp)
	return statusErr(resp, http.StatusNoContent)
}

// join makes the final upload of head and body; the server checks sum and names the copy.
func (u *Uploader) join(head, body, sum string) (string, error) {
	endpoint := strings.TrimSuffix(u.cfg.Server, "/") + BasePath
	req, err := u.request(http.MethodPost, endpoint, nil, 0)
	if err != nil {
		return "", err
	}
	hp, _ := url.Parse(head)
	bp, _ := url.Parse(body)
	req.Header.Set("Upload-Concat", "final;"+hp.Path+" "+bp.Path)
	req.Header.Set("Upload-Metadata", u.metadata("file", sum))
	resp, err := u.cfg.Client.Do(req)
	if err != nil {
		return "", fmt.Errorf("studio upload to %s: %w", u.cfg.Server, err)
	}
	defer drain(resp)
	if resp.StatusCode == http.StatusConflict {
		return "", errMismatch
	}
	if err := statusErr(resp, http.StatusCreated); err != nil {
		return "", err
	}
	return resp.Header.Get("Podium-Studio-Copy"), nil
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// statusErr turns an unexpected status into an error: a server with no tus endpoint means
// live only; a refused token or size is for good; the rest is worth another try.
func statusErr(resp *http.Response, want int) error {
	if resp.StatusCode == want {
		return nil
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	err := fmt.Errorf("studio upload: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	switch {
	case resp.StatusCode == http.StatusInsufficientStorage:
		return permanent{ErrNoRoom}
	case resp.StatusCode == http.StatusNotFound && resp.Request.Method == http.MethodPost,
		resp.StatusCode == http.StatusMethodNotAllowed:
		return ErrLiveOnly
	case resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode == http.StatusRequestEntityTooLarge, resp.StatusCode == http.StatusBadRequest:
		return permanent{err}
	}
	return err
}

// ServerBase is the base URL of the server behind a WHIP endpoint URL
// (http://host:port/whip/stream → http://host:port).
func ServerBase(whip string) string {
	u, err := url.Parse(whip)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// StreamOf is the stream name in a WHIP endpoint URL: the segment after /whip/, or the last
// one.
func StreamOf(whip string) string {
	u, err := url.Parse(whip)
	if err != nil {
		return ""
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	for i, s := range segs {
		if s == "whip" && i+1 < len(segs) {
			return segs[i+1]
		}
	}
	return segs[len(segs)-1]
}
