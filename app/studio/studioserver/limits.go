package studioserver

// What one upload, one request and one token may take of the server: the allowance of each
// byte, the disk's reserve, the request's time, the count of uploads held, and their expiry.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"podium/app/disk"
	"podium/app/studio/studioproto"

	tusd "github.com/tus/tusd/v2/pkg/handler"
)

// maxPending bounds unfinished uploads per token: a talk needs two at a time.
const maxPending = 8

// maxHeld bounds what one token holds in .uploads, finished parts not yet joined included,
// so that creating an upload (which counts them) stays cheap: a talk needs three.
const maxHeld = 24

// maxParts bounds the parts a final upload joins: the client sends the head and the body.
const maxParts = 2

// requestBound is the README's bound on a whole request, which tusd would otherwise push on
// at every read of the body (rtc.HTTPServer's ReadTimeout).
const requestBound = 20 * time.Second

// reserveEvery is how often, in body bytes, an upload looks again at the disk's free space.
const reserveEvery = 256 << 10

// slack is what an upload may hold beyond MaxKbps × time: the head, a tag, a clock's error.
const slack = 2 << 20

// maxAge bounds how long before now a recording may say it began (a day's talk, resumed).
const maxAge = 48 * time.Hour

// holdDeadline keeps the request's bound on the connection: tusd moves the read deadline
// on at every read of the body, so at the bound it is forced back to now, which ends a read
// that waits. It returns the function to call once the handler is done: it puts the bound
// back for what net/http still reads of a body left unread (up to 256 KiB, to reuse the
// connection), which would otherwise run to tusd's deadline, and it stops the timer before
// the connection serves another request.
func (s *Server) holdDeadline(w http.ResponseWriter, deadline time.Time) (done func()) {
	rc := http.NewResponseController(w)
	var mu sync.Mutex
	handled := false
	t := time.AfterFunc(time.Until(deadline), func() {
		mu.Lock()
		defer mu.Unlock()
		if !handled {
			_ = rc.SetReadDeadline(time.Now())
		}
	})
	return func() {
		t.Stop()
		mu.Lock()
		handled = true
		mu.Unlock()
		_ = rc.SetReadDeadline(deadline)
	}
}

// checkParts admits a final upload's list of parts (Upload-Concat "final;a b"): uploads of
// this server, each once, at most maxParts, so that joining them reads what was uploaded once.
func checkParts(concat string) error {
	parts, ok := strings.CutPrefix(concat, "final;")
	if !ok {
		return nil
	}
	ids := strings.Fields(parts)
	if len(ids) == 0 || len(ids) > maxParts {
		return fmt.Errorf("a final upload joins 1 to %d parts", maxParts)
	}
	seen := map[string]bool{}
	for _, p := range ids {
		id := strings.TrimPrefix(p, studioproto.BasePath)
		if !uploadID.MatchString(id) {
			return errors.New("parts must be uploads of this server")
		}
		if seen[id] {
			return errors.New("a final upload names each part once")
		}
		seen[id] = true
	}
	return nil
}

// uploadBody is a request's body as tusd reads it: it ends the request with an error at the
// first byte beyond what the upload may still take (its allowance less what it holds), when
// the disk comes down to its reserve, or at the request's bound; and it counts what it gives.
type uploadBody struct {
	s        *Server
	rc       io.ReadCloser
	deadline time.Time
	mayTake  func() int64 // what the upload may still take, asked at the first read
	left     int64
	asked    bool  // left is known
	unsized  int64 // bytes since the disk's free space was last looked at
}

func (b *uploadBody) Read(p []byte) (int, error) {
	if !b.asked {
		b.left, b.asked = max(b.mayTake(), 0), true
	}
	if time.Now().After(b.deadline) {
		return 0, b.s.refuse(http.StatusRequestTimeout, "the request took longer than its bound")
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1] // one byte more than allowed tells that there is more
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		b.s.received.Add(b.left)
		return int(b.left), b.s.refuse(http.StatusRequestEntityTooLarge, "more than a recording of this length can hold")
	}
	b.left -= int64(n)
	b.s.received.Add(int64(n))
	if b.unsized += int64(n); b.unsized >= reserveEvery {
		b.unsized = 0
		if !b.s.roomFor(0) {
			return n, b.s.refuse(http.StatusInsufficientStorage, "the server keeps its disk for live recordings now: try later")
		}
	}
	return n, err
}

func (b *uploadBody) Close() error { return b.rc.Close() }

// allowanceOf is what an upload may hold by now: what a recording that began at its
// "started" time can have produced.
func (s *Server) allowanceOf(info tusd.FileInfo, now time.Time) int64 {
	started, _ := time.Parse(time.RFC3339, info.MetaData[studioproto.MetaStarted])
	return s.allowance(started, now)
}

// roomFor says whether n more bytes leave the disk its reserve: live recordings, which
// cannot wait, come first; an upload can (the presenter's file stays on the laptop).
func (s *Server) roomFor(n int64) bool {
	free, err := disk.Free(s.cfg.Dir)
	return err != nil || free >= uint64(n+s.cfg.Reserve)
}

func (s *Server) allowance(started, now time.Time) int64 {
	if started.IsZero() || now.Sub(started) > maxAge {
		started = now.Add(-maxAge)
	}
	d := max(now.Sub(started), 0)
	return int64(s.cfg.MaxKbps)*1000/8*int64(d/time.Second+60) + slack
}

// reserve admits one more upload of who, counting it from now until release (by then it
// is on disk, or was refused): what who holds (held) and what it is creating at this moment
// are counted under one lock, so that many creations at once cannot all pass the count
// before any of them is on disk. A final upload is what frees a token's parts, so what it
// holds never stops one; only as many at once as uploads may be unfinished (each joins,
// reads and writes, its parts again).
func (s *Server) reserve(ctx context.Context, who string, final bool) (release func(), ok bool) {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	n := s.creating[who]
	if final && n >= maxPending {
		return nil, false
	}
	if !final {
		if unfinished, held := s.held(ctx, who); unfinished+n >= maxPending || held+n >= maxHeld {
			return nil, false
		}
	}
	if s.creating == nil {
		s.creating = map[string]int{}
	}
	s.creating[who]++
	return func() {
		s.cmu.Lock()
		defer s.cmu.Unlock()
		if s.creating[who]--; s.creating[who] == 0 {
			delete(s.creating, who)
		}
	}, true
}

// held counts the uploads of who in .uploads, the unfinished ones and all, and removes any
// upload (of anyone) not written for cfg.Expire on the way. An upload's offset is its data
// file's size (the store's GetInfo): its .info keeps the offset of its creation.
func (s *Server) held(ctx context.Context, who string) (unfinished, all int) {
	infos, _ := filepath.Glob(filepath.Join(s.uploads, "*.info"))
	for _, p := range infos {
		id := strings.TrimSuffix(filepath.Base(p), ".info")
		if s.expired(id) {
			continue
		}
		up, err := s.store.GetUpload(ctx, id)
		if err != nil {
			continue
		}
		info, err := up.GetInfo(ctx)
		if err != nil || info.MetaData[metaWho] != who {
			continue
		}
		all++
		if !info.IsFinal && (info.SizeIsDeferred || info.Offset < info.Size) {
			unfinished++
		}
	}
	return unfinished, all
}

// expired removes upload id when neither its data nor its .info was written for cfg.Expire,
// and says whether it did.
func (s *Server) expired(id string) bool {
	last := time.Time{}
	for _, p := range []string{filepath.Join(s.uploads, id), filepath.Join(s.uploads, id+".info")} {
		if st, err := os.Stat(p); err == nil && st.ModTime().After(last) {
			last = st.ModTime()
		}
	}
	if time.Since(last) < s.cfg.Expire {
		return false
	}
	s.remove(tusd.FileInfo{ID: id})
	s.cfg.Logger.Info("studio: upload not written for too long; removed", "upload", id, "idle", time.Since(last).Round(time.Minute))
	return true
}

// sweep removes the uploads that expired and the owners of recordings older than
// ownerLife; the server does it at start, and uploads at every one created (held).
func (s *Server) sweep(ctx context.Context) {
	s.held(ctx, "\x00") // nobody's: only the expiry
	owners, _ := os.ReadDir(s.owners)
	for _, e := range owners {
		if st, err := e.Info(); err == nil && time.Since(st.ModTime()) > ownerLife {
			os.Remove(filepath.Join(s.owners, e.Name()))
		}
	}
}
