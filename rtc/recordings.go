package rtc

import (
	"net/http"
	"path/filepath"
	"time"

	"podium/audio/filename"
	"podium/rtc/recordings"
)

// GET /recordings and GET /recordings/{name}: access is decided here, by the server's access
// (auth.go); package recordings lists and serves the files.

func (s *Server) routeRecordings(mux *http.ServeMux) {
	if s.cfg.RecordingsDir != "" {
		s.files = &recordings.Folder{Dir: s.cfg.RecordingsDir, Archive: s.cfg.Archive,
			Link: s.access.signedLink, Log: s.log}
	}
	mux.HandleFunc("GET /recordings", s.handleRecordings)
	mux.HandleFunc("GET /recordings/{name}", s.handleRecording)
}

// liveNames lists the base names of files being recorded now.
func (s *Server) liveNames() map[string]bool {
	live := map[string]bool{}
	for _, rec := range s.recordings() {
		rec.mu.Lock()
		if rec.name != "" {
			live[filepath.Base(rec.name)] = true
		}
		rec.mu.Unlock()
	}
	return live
}

// handleRecordings lists the recordings of the streams the request's token may read.
func (s *Server) handleRecordings(w http.ResponseWriter, r *http.Request) {
	if s.files == nil {
		http.NotFound(w, r)
		return
	}
	g := s.access.check(r, actReadRecordings, "")
	if !g.ok {
		unauthorized(w)
		return
	}
	s.files.List(w, r, g.covers, s.liveNames())
}

// handleRecording serves one file to a token that may read it, or to its signed link.
func (s *Server) handleRecording(w http.ResponseWriter, r *http.Request) {
	if s.files == nil {
		http.NotFound(w, r)
		return
	}
	name := r.PathValue("name")
	if !s.access.check(r, actReadRecordings, "").covers(filename.StreamOf(name)) && !s.access.signed(r, name, time.Now()) {
		unauthorized(w)
		return
	}
	s.files.Serve(w, r, name)
}
