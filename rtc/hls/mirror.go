package hls

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"time"
)

// Mirror is object storage that a rendition's files are copied to as they appear, so that a
// CDN pulls from there and no origin carries a listener (objstore.Bucket is one). Names are
// "{stream}/{file}".
type Mirror interface {
	Put(ctx context.Context, name string, body []byte, contentType, cacheControl string) error
	Delete(ctx context.Context, name string) error
}

// mirrorEvery is how often the mirror looks for a new segment: a quarter of one, so a
// segment reaches the bucket within half a second of being complete.
const mirrorEvery = SegmentDuration / 4

var (
	uriLine = regexp.MustCompile(`(?m)^[^#\s]\S*$`)
	mapURI  = regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`)
)

// get is what the muxer serves for file, as a player would have it.
func (r *Rendition) get(file string) ([]byte, bool) {
	w := &memWriter{h: http.Header{}}
	r.m.Handle(w, &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/" + file}, Header: http.Header{}})
	return w.buf.Bytes(), w.buf.Len() > 0 && (w.code == 0 || w.code == http.StatusOK)
}

// mirrorType is the Content-Type of a file in the Mirror.
func mirrorType(file string) string {
	if isPlaylist(file) {
		return "application/vnd.apple.mpegurl"
	}
	return "video/mp4"
}

type memWriter struct {
	h    http.Header
	code int
	buf  bytes.Buffer
}

func (w *memWriter) Header() http.Header         { return w.h }
func (w *memWriter) WriteHeader(code int)        { w.code = code }
func (w *memWriter) Write(p []byte) (int, error) { return w.buf.Write(p) }

// mirror copies the rendition of stream to m until it closes: the init section and the
// multivariant playlist once, each segment as it is complete, then the media playlist that
// lists it (never before: a CDN never sees a playlist name a segment the bucket lacks);
// segments that leave the playlist are deleted, and keep after the end everything is, once
// listeners behind live have had the last segments (but the playlists, if the stream is live
// again by then: a new rendition has taken their names). Failures are reported (the first of a
// run of them) and retried at the next look; they never touch the recording.
func (r *Rendition) mirror(m Mirror, stream string, keep time.Duration, live func() bool, report func(error)) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-r.closed
		cancel()
	}()
	var (
		index, media []byte
		mediaName    string
		initName     string
		sent         = map[string]bool{}
		failing      bool
	)
	fail := func(err error) {
		if !failing && err != nil && ctx.Err() == nil {
			report(err)
		}
		failing = err != nil
	}
	put := func(file string, body []byte) error {
		if err := m.Put(ctx, stream+"/"+file, body, mirrorType(file), cacheFor(file)); err != nil {
			return fmt.Errorf("HLS to the bucket: %s: %w", file, err)
		}
		return nil
	}
	tick := time.NewTicker(mirrorEvery)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
		if index == nil {
			select {
			case <-r.ready:
			default:
				continue // no segment yet: asking the muxer now would wait for one
			}
			b, ok := r.get("index.m3u8")
			if !ok {
				continue
			}
			mediaName = uriLine.FindString(string(b))
			if mediaName == "" {
				continue
			}
			if err := put("index.m3u8", b); err != nil {
				fail(err)
				continue
			}
			index = b
		}
		pl, ok := r.get(mediaName)
		if !ok || bytes.Equal(pl, media) {
			continue
		}
		err := func() error {
			if initName == "" {
				mm := mapURI.FindSubmatch(pl)
				if mm == nil {
					return fmt.Errorf("HLS to the bucket: no EXT-X-MAP in the playlist")
				}
				f, ok := r.get(string(mm[1]))
				if !ok {
					return fmt.Errorf("HLS to the bucket: no init section")
				}
				if err := put(string(mm[1]), f); err != nil {
					return err
				}
				initName = string(mm[1])
			}
			listed := map[string]bool{}
			for _, seg := range uriLine.FindAllString(string(pl), -1) {
				listed[seg] = true
				if sent[seg] {
					continue
				}
				f, ok := r.get(seg)
				if !ok {
					return fmt.Errorf("HLS to the bucket: segment %s is gone", seg)
				}
				if err := put(seg, f); err != nil {
					return err
				}
				sent[seg] = true
			}
			if err := put(mediaName, pl); err != nil {
				return err
			}
			media = pl
			for seg := range sent {
				if !listed[seg] {
					if err := m.Delete(ctx, stream+"/"+seg); err != nil {
						return fmt.Errorf("HLS to the bucket: delete %s: %w", seg, err)
					}
					delete(sent, seg)
				}
			}
			return nil
		}()
		fail(err)
	}
	if index == nil {
		return
	}
	// The end: a listener seconds behind live still fetches the last segments from the CDN,
	// which may ask the bucket; then nothing of the stream stays there.
	time.AfterFunc(keep, func() {
		dctx, dcancel := context.WithTimeout(context.Background(), time.Minute)
		defer dcancel()
		names := []string{initName}
		if !live() {
			names = append(names, "index.m3u8", mediaName)
		}
		for seg := range sent {
			names = append(names, seg)
		}
		for _, n := range names {
			if n == "" {
				continue
			}
			if err := m.Delete(dctx, stream+"/"+n); err != nil {
				report(fmt.Errorf("HLS in the bucket: delete %s: %w", n, err))
				return
			}
		}
	})
}
