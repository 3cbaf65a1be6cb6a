package objstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"podium/audio/filename"
)

// PendingDir, inside the recordings folder, holds one empty file per recording the server
// wrote that has yet to reach the bucket: its claim, which outlives a crash or a restart.
// Only claimed files are ever uploaded, and removed: never a file someone else put there.
const PendingDir = ".s3-pending"

// Uploader takes each finished recording to the bucket, one at a time, retrying (1 s,
// doubling to 5 min) while the bucket is away, and removes the local copy once the bucket
// holds it, where told to.
type Uploader struct {
	b           *Bucket
	dir         string
	pending     string
	removeLocal bool
	log         *slog.Logger

	mu    sync.Mutex
	ready map[string]time.Time // finished, claimed files: when to try next
	// renamed maps a live recording's base name to the one it has in the bucket, where that
	// was taken: its studio copy follows it there.
	renamed map[string]string
	wake    chan struct{}

	uploaded atomic.Int64
	bytes    atomic.Int64
	failures atomic.Int64
}

// NewUploader uploads what the server finishes in dir to b, and removes the local copy
// afterwards when removeLocal is set. Every claim a previous run left is ready at once:
// what it was writing was repaired at start, what it was uploading is uploaded again. It
// logs each upload, and each failure, to log (with the file as an attribute).
func NewUploader(b *Bucket, dir string, removeLocal bool, log *slog.Logger) (*Uploader, error) {
	u := &Uploader{b: b, dir: dir, pending: filepath.Join(dir, PendingDir), removeLocal: removeLocal,
		log: log, ready: map[string]time.Time{}, renamed: map[string]string{}, wake: make(chan struct{}, 1)}
	if err := os.MkdirAll(u.pending, 0o755); err != nil {
		return nil, fmt.Errorf("S3 uploads: %w", err)
	}
	entries, err := os.ReadDir(u.pending)
	if err != nil {
		return nil, fmt.Errorf("S3 uploads: %w", err)
	}
	for _, e := range entries {
		u.ready[e.Name()] = time.Time{}
	}
	return u, nil
}

// Claim marks name, a file the server is about to write in dir, as one to upload once
// Finished says so (or at the next start, after a crash).
func (u *Uploader) Claim(name string) error {
	f, err := os.OpenFile(filepath.Join(u.pending, filepath.Base(name)), os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("claim %q for S3: %w", name, err)
	}
	return f.Close()
}

// Finished says the claimed file name is complete: it goes to the bucket now.
func (u *Uploader) Finished(name string) {
	u.mu.Lock()
	u.ready[filepath.Base(name)] = time.Time{}
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// Add claims name, a file already complete in dir, and uploads it now.
func (u *Uploader) Add(name string) error {
	if err := u.Claim(name); err != nil {
		return err
	}
	u.Finished(name)
	return nil
}

// Names lists the recordings the bucket holds (the studio copies' live recordings may be
// there alone), as far as it can say.
func (u *Uploader) Names(ctx context.Context) []string {
	list, err := u.b.List(ctx)
	if err != nil {
		u.log.Warn("s3: list the bucket", "err", err)
	}
	names := make([]string, len(list))
	for i, r := range list {
		names[i] = r.Name
	}
	return names
}

// Pending is the number of finished recordings not yet in the bucket.
func (u *Uploader) Pending() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.ready)
}

// Run uploads until ctx ends.
func (u *Uploader) Run(ctx context.Context) {
	backoff := map[string]time.Duration{}
	for {
		name, wait := u.next()
		if name == "" {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-u.wake:
			case <-t.C:
			}
			t.Stop()
			continue
		}
		err := u.upload(ctx, name)
		if ctx.Err() != nil {
			return // the claim stays: the next start uploads it
		}
		u.mu.Lock()
		if err != nil {
			d := min(max(2*backoff[name], time.Second), 5*time.Minute)
			backoff[name] = d
			u.ready[name] = time.Now().Add(d)
			u.failures.Add(1)
			u.log.Warn("s3: upload failed; trying again", "file", name, "in", d, "err", err)
		} else {
			delete(u.ready, name)
			delete(backoff, name)
		}
		u.mu.Unlock()
	}
}

// next is the file to upload now, or how long until one is due.
func (u *Uploader) next() (string, time.Duration) {
	u.mu.Lock()
	defer u.mu.Unlock()
	names := make([]string, 0, len(u.ready))
	for n := range u.ready {
		names = append(names, n)
	}
	// Oldest first: names begin with the stream, then the time. A studio copy after its live
	// recording (" (studio).mp3" sorts before ".mp3"), whose name in the bucket it follows.
	order := func(n string) string {
		if live, ok := filename.CutStudio(n); ok {
			return live + "\x00studio"
		}
		return n
	}
	sort.Slice(names, func(i, j int) bool { return order(names[i]) < order(names[j]) })
	now, wait := time.Now(), time.Hour
	for _, n := range names {
		if at := u.ready[n]; !at.After(now) {
			return n, 0
		} else {
			wait = min(wait, at.Sub(now))
		}
	}
	return "", wait
}

// upload takes one claimed file to the bucket, then drops its claim (and the file, where
// told to). A claimed file that is gone (a recording of nothing is removed) drops its claim.
func (u *Uploader) upload(ctx context.Context, name string) error {
	path := filepath.Join(u.dir, name)
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return u.unclaim(name)
	}
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return u.unclaim(name) // not the file the server wrote
	}
	t0 := time.Now()
	as, err := u.uploadAs(ctx, path, name)
	if err != nil {
		return err
	}
	u.uploaded.Add(1)
	u.bytes.Add(info.Size())
	if as != name {
		u.log.Info("s3: in the bucket under another name, its own there being another's", "file", name, "as", as, "bytes", info.Size(), "took", time.Since(t0).Round(time.Millisecond))
	} else {
		u.log.Info("s3: in the bucket", "file", name, "bytes", info.Size(), "took", time.Since(t0).Round(time.Millisecond))
	}
	// Kept here, the file takes its name in the bucket: one name for one talk, whichever
	// copy lists and serves it (a local file hides the bucket's object of its name).
	if as != name && !u.removeLocal {
		if err := os.Link(path, filepath.Join(u.dir, as)); err != nil {
			u.log.Warn("s3: name the local copy as in the bucket", "file", name, "as", as, "err", err)
		} else if err := os.Remove(path); err != nil {
			u.log.Warn("s3: remove the local copy", "file", name, "err", err)
		}
	}
	if err := u.unclaim(name); err != nil {
		return err
	}
	if u.removeLocal {
		if err := os.Remove(path); err != nil {
			u.log.Warn("s3: remove the local copy", "file", name, "err", err)
		}
	}
	return nil
}

// maxNames bounds the names tried for one file: "talk … .mp3", then "talk … (2).mp3" up to
// this, as many origins as might begin one stream in one second.
const maxNames = 20

// uploadAs uploads the file at path as name or, where the bucket holds another file under
// that name (another origin's talk that began in the same second), as the first free
// "base (n).mp3" (a studio copy: "base (n) (studio).mp3", following its live recording where
// that was renamed), not taken in dir either. It returns the name in the bucket.
func (u *Uploader) uploadAs(ctx context.Context, path, name string) (string, error) {
	live, studio := filename.CutStudio(name)
	base := strings.TrimSuffix(live, filename.Ext)
	fileOf := func(base string) string { // a studio copy follows its live recording's base
		if studio {
			return filename.StudioName(base + filename.Ext)
		}
		return base + filename.Ext
	}
	u.mu.Lock()
	first, renamed := u.renamed[base]
	u.mu.Unlock()
	if !renamed {
		first = base
	}
	as := fileOf(first)
	for n := 1; ; {
		err := u.b.Upload(ctx, path, as, filepath.Join(u.pending, name))
		if err == nil {
			if !studio && as != name {
				u.mu.Lock()
				u.renamed[base] = strings.TrimSuffix(as, filename.Ext)
				u.mu.Unlock()
			}
			return as, nil
		}
		if !errors.Is(err, ErrTaken) {
			return "", err
		}
		u.log.Info("s3: name taken in the bucket; numbering", "file", name, "err", err)
		for n++; n <= maxNames; n++ {
			as = fileOf(filename.Numbered(base, n))
			if _, err := os.Lstat(filepath.Join(u.dir, as)); errors.Is(err, fs.ErrNotExist) {
				break // a name this server has not used either
			}
		}
		if n > maxNames {
			return "", fmt.Errorf("%s: names up to (%d) are all taken in the bucket", name, maxNames)
		}
	}
}

func (u *Uploader) unclaim(name string) error {
	if err := os.Remove(filepath.Join(u.pending, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("drop the S3 claim of %q: %w", name, err)
	}
	return nil
}

// Collectors are the upload metrics (none for a nil Uploader: no bucket, no figures).
func (u *Uploader) Collectors() []prometheus.Collector {
	if u == nil {
		return nil
	}
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_s3_uploads_total", Help: "Recordings uploaded to the bucket and checked."},
			func() float64 { return float64(u.uploaded.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_s3_bytes_uploaded_total", Help: "Bytes of recordings uploaded to the bucket."},
			func() float64 { return float64(u.bytes.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_s3_upload_failures_total", Help: "Uploads that failed and will be tried again."},
			func() float64 { return float64(u.failures.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "podium_s3_pending", Help: "Finished recordings not yet in the bucket."},
			func() float64 { return float64(u.Pending()) }),
	}
}
