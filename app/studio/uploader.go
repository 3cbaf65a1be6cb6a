// Package studio carries the presenter's own MP3 to the server while it is recorded, so that
// soon after Stop the server holds a copy that is byte for byte the presenter's file (the
// "studio copy"), beside the one it rebuilt from the live Opus stream. It is the client side,
// linked by the app and `podium record`: the Uploader, which follows a recording as it grows,
// and the sidecar beside each MP3 that remembers its upload across restarts. The protocol both
// sides speak is package studioproto; the server side (tusd) is package studioserver, which
// only podium-server links.
package studio

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"podium/app/studio/studioproto"
	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
	"podium/rtc/proto"
)

// Config says what to upload where.
type Config struct {
	Server  string // the podium-server's base URL (proto.SplitWHIP); "" is live only
	Token   string // a publisher token for Stream, sent only to Server's origin
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

// NewUploader makes an uploader for cfg.Path, taking up what its sidecar remembers.
func NewUploader(cfg Config) *Uploader {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 2 * time.Minute}
	}
	cfg.Client = proto.SameOriginClient(cfg.Client)
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
// will stay. repaired says whether it was. token is for server (a base URL): a sidecar that
// names another origin is refused (proto.ErrOtherOrigin), so that a file in the folder never
// sends the token to a server of its choosing.
func Resume(path, server, token string) (u *Uploader, repaired bool, err error) {
	side, err := ReadSidecar(path)
	if err != nil {
		return nil, false, fmt.Errorf("%s: no studio upload to finish (%w)", path, err)
	}
	if proto.CheckOrigin(server, side.Server) != nil {
		return nil, false, fmt.Errorf("%s: its studio copy is for %s, not %s: %w", path, side.Server, server, proto.ErrOtherOrigin)
	}
	if broken, err := repair.Needed(path); err == nil && broken {
		_, err := repair.File(path)
		switch {
		case err == nil:
			repaired = true
		case !errors.Is(err, repair.ErrNotRepairable): // else repaired meanwhile by the window's start
			return nil, false, err
		}
	}
	return NewUploader(Config{Server: side.Server, Token: token, Stream: side.Stream, Path: path, Started: side.Started}), repaired, nil
}

// Path is the recording this uploader copies.
func (u *Uploader) Path() string { return u.cfg.Path }

// Server is the server the copy goes to (a base URL).
func (u *Uploader) Server() string { return u.cfg.Server }

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
	if u.cfg.Server == "" { // not a podium-server WHIP URL (.../whip/{stream}): no uploads there
		u.set(func(s *Status) { s.State, s.Err = LiveOnly, ErrLiveOnly })
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
	lay, err := frames.ReadLayout(u.cfg.Path)
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
		loc, err := u.create(0, studioproto.KindBody, "")
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
	headLoc, err := u.create(int64(len(head)), studioproto.KindHead, "", head...)
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
