package rtc

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"podium/audio/filename"
	"podium/rtc/proto"
)

// listenPage is the listener page: one file, its CSS and JS inline, nothing fetched from
// anywhere else, so it loads at once on a phone on the venue's Wi-Fi. Only a listener who
// plays HLS through hls.js also loads hlsJS, from this server too.
//
//go:embed web/listen.html
var listenPage []byte

// hlsJS is hls.js (light build) from npm, at the version rtc/web/package-lock.json pins;
// scripts/hlsjs.sh copies it here.
//
//go:generate bash ../scripts/hlsjs.sh
//go:embed web/hls.light.min.js
var hlsJS []byte

// hlsJSGzip is hlsJS compressed once (390 kB become about 120 kB), and its ETag.
var hlsJSGzip = sync.OnceValues(func() ([]byte, string) {
	var b bytes.Buffer
	z, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = z.Write(hlsJS)
	_ = z.Close()
	sum := sha256.Sum256(hlsJS)
	return b.Bytes(), `"` + hex.EncodeToString(sum[:8]) + `"`
})

// handleHLSJS serves hls.js to the listener page; like the page it needs no token.
func handleHLSJS(w http.ResponseWriter, r *http.Request) {
	gz, etag := hlsJSGzip()
	h := w.Header()
	h.Set("Content-Type", "text/javascript; charset=utf-8")
	h.Set("Cache-Control", "public, max-age=86400")
	h.Set("ETag", etag)
	h.Set("Vary", "Accept-Encoding")
	h.Set("X-Content-Type-Options", "nosniff")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := hlsJS
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = gz
	}
	_, _ = w.Write(body)
}

// StreamInfo is one stream in GET /streams.
type StreamInfo struct {
	Stream    string     `json:"stream"`
	Live      bool       `json:"live"`      // a presenter is connected
	Listeners int        `json:"listeners"` // WHEP sessions now
	Started   *time.Time `json:"started"`   // start of the recording, while there is one
	// HLS is the stream's signed HLS playlist path, for a listener, where the server has HLS.
	HLS string `json:"hls,omitempty"`
	// Via is "hls" where the server would rather the listener played HLS: it is told to
	// (PreferHLS), or its WHEP listeners are at MaxListeners.
	Via string `json:"via,omitempty"`
	// Title and Presenter are the talk's, as its publisher sent them (empty: none); Chapters
	// are those marked so far. TalkRev changes whenever any of them does: asked with
	// ?rev=TalkRev, the answer leaves Chapters out (null) when they have not changed since.
	Title     string          `json:"title"`
	Presenter string          `json:"presenter"`
	Chapters  []proto.Chapter `json:"chapters,omitzero"`
	TalkRev   int64           `json:"talkRev"`
}

func sortStreams(s []StreamInfo) {
	sort.Slice(s, func(i, j int) bool { return s[i].Stream < s[j].Stream })
}

// handleStreams answers GET /streams (every stream) and GET /streams/{stream} (one, which
// need not exist: an unknown stream is simply not live). Listeners and publishers may ask.
func (s *Server) handleStreams(w http.ResponseWriter, r *http.Request) {
	if !s.access.check(r, actSeeStreams, "").ok {
		unauthorized(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	name := r.PathValue("stream")
	if name == "" {
		_ = json.NewEncoder(w).Encode(s.Streams())
		return
	}
	if filename.CheckStream(name) != nil {
		http.Error(w, "invalid stream name", http.StatusBadRequest)
		return
	}
	known, err := strconv.ParseInt(r.URL.Query().Get("rev"), 10, 64)
	if err != nil {
		known = -1
	}
	info := s.streamInfo(name, known)
	if s.hls.Load() && s.access.check(r, actListen, name).ok {
		info.HLS = strings.TrimSuffix(s.cfg.HLSBase, "/") + s.access.hlsLink(name, time.Now())
		if s.cfg.PreferHLS || s.aud.listeners.len() >= s.cfg.MaxListeners {
			info.Via = "hls" // the page plays HLS rather than ask for a WHEP session
		}
	}
	_ = json.NewEncoder(w).Encode(info)
}

// StreamInfo describes one stream (which need not exist: then it is simply not live). Every
// listener page polls this, so it costs O(1), not a walk over every listener.
func (s *Server) StreamInfo(name string) StreamInfo { return s.streamInfo(name, -1) }

// streamInfo is StreamInfo, without the chapters if they are those of talk revision known.
func (s *Server) streamInfo(name string, known int64) StreamInfo {
	info := StreamInfo{Stream: name, Listeners: s.Listeners(name), Chapters: []proto.Chapter{}}
	s.mu.Lock()
	rec := s.streams[name]
	s.mu.Unlock()
	if rec != nil {
		rec.describe(&info, known)
	}
	return info
}

// handleListenPage serves the page; it needs no token (the page carries none of the
// stream's data): the token travels in the link's fragment and the page sends it.
func (s *Server) handleListenPage(w http.ResponseWriter, r *http.Request) {
	if filename.CheckStream(r.PathValue("stream")) != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(listenPage)
}

// Listeners is the number of listeners of stream now. It takes no lock, so the app's live
// branch can ask for every frame.
func (s *Server) Listeners(stream string) int {
	v, ok := s.aud.fanouts.Load(stream)
	if !ok {
		return 0
	}
	return int(v.(*fanout).n.Load())
}

// Streams lists the streams that have a presenter, a recording waiting for one, or listeners.
func (s *Server) Streams() []StreamInfo {
	counts := s.aud.listenerCounts()
	byName := map[string]*StreamInfo{}
	for _, rec := range s.recordings() { // not under s.mu: nothing waits on another lock there
		info := &StreamInfo{Stream: rec.stream}
		info.Chapters = []proto.Chapter{}
		rec.describe(info, -1)
		byName[rec.stream] = info
	}
	for name, n := range counts {
		if byName[name] == nil {
			byName[name] = &StreamInfo{Stream: name, Chapters: []proto.Chapter{}}
		}
		byName[name].Listeners = n
	}
	out := make([]StreamInfo, 0, len(byName))
	for _, info := range byName {
		out = append(out, *info)
	}
	sortStreams(out)
	return out
}
