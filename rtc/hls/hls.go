// Package hls gives each live stream an HTTP Live Streaming rendition, for listeners beyond
// what WHEP on one machine carries: behind a CDN or a caching proxy, any number of them cost
// the origin one fetch per segment.
//
// The rendition is the presenter's own Opus packets, unchanged, in fragmented MP4
// (github.com/bluenviron/gohlslib/v2, the muxer MediaMTX uses): nothing is decoded or encoded
// per stream whatever the listener count, HLS listeners hear exactly what WHEP listeners do,
// and hls.js plays Opus in fMP4 in every browser with Media Source Extensions, as Safari 17
// and later does natively. AAC would need an encoder per stream and MP3 packed audio is
// not a muxer gohlslib has.
package hls

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/prometheus/client_golang/prometheus"

	"podium/audio/pcm"
	"podium/rtc"
)

// SegmentDuration is about how long each segment is: a player buffers about three, so this
// sets HLS's delay behind live (WHEP's is a fraction of a second).
const SegmentDuration = 2 * time.Second

// playlistWait bounds how long a playlist request waits for the rendition's first segments
// (gohlslib's playlists wait for two, about 2×SegmentDuration after the first packet): a
// player that asks as the talk begins gets its playlist when there is one, and a request for
// a rendition that never gets there (its presenter dropped in the first seconds, and it
// stays until the recording's grace ends) is answered 503 with a Retry-After instead of
// holding its connection that long.
const playlistWait = 3 * SegmentDuration

// segmentCount is how many segments the playlist keeps: enough for a player that joins
// to start three segments behind the edge, and for a CDN that is a segment late.
const segmentCount = 7

// segmentMaxSize caps the Opus a segment holds. A segment is SegmentDuration and at most
// one 120 ms frame more; at Opus's highest rate (510 kb/s) that is 135 kB, so more than this
// is a hostile publisher, and its rendition stops (the stream goes on recorded) rather than
// hold it. A rendition holds segmentCount segments and the one being filled, so this bounds
// what one presenter can make the server hold in HLS to 8 × 160 KiB = 1.25 MiB, and
// --max-sessions of them (200) to 250 MiB. It was 1 MiB: 8 MiB a presenter, 1.6 GiB in all.
const segmentMaxSize = 160 << 10

// Rendition is one live stream's HLS: the playlist and its segments, in memory, written
// as the packets come and served by ServeHTTP. Its WritePacket and Close are the shape of
// rtc.Sink, called from the recording's writer goroutine (through Tee).
type Rendition struct {
	m     *gohlslib.Muxer
	track *gohlslib.Track
	start time.Time
	// ready is closed once the muxer answers playlists at once: it has its first segments,
	// or it is closed. Until then gohlslib's playlist handler waits on a condition variable,
	// with no deadline and blind to its client, so no request is handed to it before.
	ready  chan struct{}
	closed chan struct{}
	once   sync.Once
}

// NewRendition starts the rendition of a stream whose first packet arrived at start.
func NewRendition(start time.Time) (*Rendition, error) {
	// Two channels: a decoder upmixes a mono packet, and a browser's stereo one plays as sent.
	track := &gohlslib.Track{Codec: &codecs.Opus{ChannelCount: 2}, ClockRate: pcm.SampleRate}
	m := &gohlslib.Muxer{
		Tracks:             []*gohlslib.Track{track},
		Variant:            gohlslib.MuxerVariantFMP4,
		SegmentCount:       segmentCount,
		SegmentMinDuration: SegmentDuration,
		SegmentMaxSize:     segmentMaxSize,
	}
	if err := m.Start(); err != nil {
		return nil, fmt.Errorf("start HLS muxer: %w", err)
	}
	r := &Rendition{m: m, track: track, start: start, ready: make(chan struct{}), closed: make(chan struct{})}
	go func() {
		// The one wait on the muxer: it returns with the first segments or at Close.
		r.get("index.m3u8")
		close(r.ready)
	}()
	return r, nil
}

// WritePacket adds one Opus packet whose first sample is pos samples into the stream. A
// jump in pos is audio that is missing there: the segment's timeline jumps with it, and a
// player skips the gap.
func (r *Rendition) WritePacket(pos int64, payload []byte) error {
	at := r.start.Add(time.Duration(pos) * time.Second / pcm.SampleRate)
	// The muxer keeps the packet until its segment is complete; the caller's buffer is
	// only lent for the call.
	pkt := append([]byte(nil), payload...)
	if err := r.m.WriteOpus(r.track, at, pos, [][]byte{pkt}); err != nil {
		return fmt.Errorf("HLS segment: %w", err)
	}
	return nil
}

// Close ends the rendition: its playlist and segments are gone.
func (r *Rendition) Close() error {
	r.once.Do(func() {
		r.m.Close()
		close(r.closed)
	})
	return nil
}

// ServeHTTP serves the playlists and segments by the last element of the path, with the
// caching a CDN honours: segments and the init section never change once listed, so they
// are cached for good; playlists change every segment, so for a second at most.
// A playlist asked for before the first segments waits for them at most playlistWait, and
// not at all once its client has gone.
func (r *Rendition) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if isPlaylist(req.URL.Path) && !r.waitReady(req.Context()) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Retry-After", strconv.Itoa(int(SegmentDuration/time.Second)))
		http.Error(w, "no segment yet: try again", http.StatusServiceUnavailable)
		return
	}
	cw := &cacheWriter{ResponseWriter: w, cache: cacheFor(req.URL.Path)}
	r.m.Handle(cw, req)
	if !cw.wrote { // the muxer has no such file, and says nothing
		http.NotFound(w, req)
	}
}

// waitReady waits until the muxer answers playlists at once, for playlistWait at most; false
// if it did not, or ctx ended first.
func (r *Rendition) waitReady(ctx context.Context) bool {
	select {
	case <-r.ready:
		return true
	default:
	}
	t := time.NewTimer(playlistWait)
	defer t.Stop()
	select {
	case <-r.ready:
		return true
	case <-ctx.Done():
	case <-t.C:
	}
	return false
}

// isPlaylist says whether path names a playlist; anything else is a segment or the init
// section.
func isPlaylist(path string) bool { return strings.HasSuffix(path, ".m3u8") }

// cacheFor is the Cache-Control of the file at path, served or copied to a Mirror.
func cacheFor(path string) string {
	if isPlaylist(path) {
		return "public, max-age=1" // changes every segment
	}
	return "public, max-age=31536000, immutable" // never changes once listed
}

// cacheWriter puts its Cache-Control on the response in place of the muxer's own (an hour
// for segments, which could not be shared for longer, and two seconds for playlists, a whole
// segment late).
type cacheWriter struct {
	http.ResponseWriter
	cache string
	wrote bool
}

func (c *cacheWriter) WriteHeader(status int) {
	if !c.wrote {
		c.wrote = true
		if status == http.StatusOK {
			c.Header().Set("Cache-Control", c.cache)
			// A page on another origin (the CDN's) may play it: the signed link is what
			// lets it, not the page's origin.
			c.Header().Set("Access-Control-Allow-Origin", "*")
		} else {
			c.Header().Set("Cache-Control", "no-store")
		}
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *cacheWriter) Write(p []byte) (int, error) {
	if !c.wrote {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

// Renditions are the live streams' renditions, by stream name.
type Renditions struct {
	playlists, segments atomic.Int64 // requests served, for podium_hls_requests_total

	// Failed, if set, hears of each rendition that failed (and was closed; the stream goes
	// on recorded, without HLS), and of each failure to copy one to Mirror.
	Failed func(stream string, err error)
	// Mirror, if set, gets a copy of every live rendition (the bucket a CDN pulls from),
	// kept there MirrorKeep after the stream ends (default a minute).
	Mirror     Mirror
	MirrorKeep time.Duration

	mu   sync.Mutex
	live map[string]*Rendition
}

// Open starts stream's rendition, replacing any it had (a new recording of the stream).
func (s *Renditions) Open(stream string, start time.Time) (*Rendition, error) {
	r, err := NewRendition(start)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.live == nil {
		s.live = map[string]*Rendition{}
	}
	old := s.live[stream]
	s.live[stream] = r
	s.mu.Unlock()
	if old != nil {
		_ = old.Close()
	}
	if s.Mirror != nil {
		keep := s.MirrorKeep
		if keep <= 0 {
			keep = time.Minute
		}
		go r.mirror(s.Mirror, stream, keep, func() bool { return s.Rendition(stream) != nil }, func(err error) {
			if s.Failed != nil {
				s.Failed(stream, err)
			}
		})
	}
	return r, nil
}

// ended forgets r, the rendition of stream, unless a newer one has taken its place.
func (s *Renditions) ended(stream string, r *Rendition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[stream] == r {
		delete(s.live, stream)
	}
}

// Rendition is stream's live rendition, or nil.
func (s *Renditions) Rendition(stream string) *Rendition {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.live[stream]
}

// Handler serves a route with a {stream} path value (rtc.Server.HandleHLS mounts it, behind
// its access check) from that stream's live rendition; a stream not live is 404.
func (s *Renditions) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r := s.Rendition(req.PathValue("stream"))
		if r == nil {
			http.NotFound(w, req)
			return
		}
		if isPlaylist(req.URL.Path) {
			s.playlists.Add(1)
		} else {
			s.segments.Add(1)
		}
		r.ServeHTTP(w, req)
	})
}

// Collectors are the HLS requests served (what a CDN in front saves the origin shows here)
// and the live renditions.
func (s *Renditions) Collectors() []prometheus.Collector {
	requests := func(kind string, n *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name:        "podium_hls_requests_total",
			Help:        "HLS requests served, playlists and segments (the init section counts as a segment).",
			ConstLabels: prometheus.Labels{"kind": kind},
		}, func() float64 { return float64(n.Load()) })
	}
	return []prometheus.Collector{
		requests("playlist", &s.playlists),
		requests("segment", &s.segments),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "podium_hls_streams", Help: "Streams with a live HLS rendition."}, func() float64 {
			s.mu.Lock()
			defer s.mu.Unlock()
			return float64(len(s.live))
		}),
	}
}

// Tee records into rec and into stream's rendition. The recording comes first and its
// errors are the only ones returned: a rendition that fails is closed and the stream goes
// on recorded, without HLS. A rec that names its file (rtc.NamedSink: how GET
// /recordings knows which file is live) is still named through the tee.
func (s *Renditions) Tee(stream string, rec rtc.Sink, r *Rendition) rtc.Sink {
	t := &tee{s: s, stream: stream, rec: rec, r: r}
	if n, ok := rec.(rtc.NamedSink); ok {
		return namedTee{t, n}
	}
	return t
}

type namedTee struct {
	*tee
	n rtc.NamedSink
}

func (t namedTee) Name() string { return t.n.Name() }

type tee struct {
	s      *Renditions
	stream string
	rec    rtc.Sink
	r      *Rendition // nil once it failed or closed
}

func (t *tee) WritePacket(pos int64, payload []byte) error {
	if err := t.rec.WritePacket(pos, payload); err != nil {
		return err
	}
	if t.r != nil {
		if err := t.r.WritePacket(pos, payload); err != nil {
			t.closeRendition()
			if t.s.Failed != nil {
				t.s.Failed(t.stream, err)
			}
		}
	}
	return nil
}

func (t *tee) closeRendition() {
	if t.r != nil {
		t.s.ended(t.stream, t.r)
		_ = t.r.Close()
		t.r = nil
	}
}

// SetTalk passes the talk on to the recording (rtc.TalkSink), when it keeps one.
func (t *tee) SetTalk(talk rtc.Talk) {
	if ts, ok := t.rec.(rtc.TalkSink); ok {
		ts.SetTalk(talk)
	}
}

// Close closes the recording and ends the rendition.
func (t *tee) Close() error {
	t.closeRendition()
	return t.rec.Close()
}
