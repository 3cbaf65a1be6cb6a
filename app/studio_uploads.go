package app

import (
	"context"
	"log"
	"time"

	"podium/app/studio"
	"podium/rtc/proto"
)

// The studio copies: with a configured server, each recording goes up as it is made
// (app/studio), read from disk on the uploader's own goroutine; Stop hands the rest to it and
// returns at once. Copies that a closed app or a crash left unfinished go on at the next
// start. The built-in server shares the laptop's disk: it needs none.

// startUpload begins the studio copy of the recording at path.
func (s *Session) startUpload(path string, st Settings, started time.Time) {
	base, stream := proto.SplitWHIP(st.ServerURL)
	u := studio.NewUploader(studio.Config{Server: base, Token: st.Token, Stream: stream, Path: path, Started: started})
	s.track(path, u, true)
	u.Start()
}

// track keeps u for the window, redrawing it at each change of its state, until it stops.
func (s *Session) track(path string, u *studio.Uploader, current bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		u.Close()
		return
	}
	if s.uploads == nil {
		s.uploads = map[string]*studio.Uploader{}
	}
	if old := s.uploads[path]; old != nil {
		old.Close()
	}
	s.uploads[path] = u
	if current {
		s.lastFile = path
	}
	s.mu.Unlock()
	s.clocks.Add(1)
	go func() {
		defer s.clocks.Done()
		for {
			select {
			case <-u.Changed():
			case <-u.Done():
				s.bumpStudio()
				return
			case <-s.quit:
				return
			}
			s.bumpStudio()
		}
	}()
}

func (s *Session) bumpStudio() {
	s.mu.Lock()
	s.studioVer++
	s.mu.Unlock()
	s.cfg.OnChange()
}

// finishUpload completes the studio copy of a recording just stopped, in the background.
func (s *Session) finishUpload(path string) {
	s.mu.Lock()
	u := s.uploads[path]
	s.mu.Unlock()
	if u != nil {
		go func() { _ = u.Finish(context.Background()) }()
	}
}

// StudioStatus is where the studio copy of the recording at path stands, if this session
// is uploading it (else the history's mark from its sidecar says what is known).
func (s *Session) StudioStatus(path string) (studio.Status, bool) {
	s.mu.Lock()
	u := s.uploads[path]
	s.mu.Unlock()
	if u == nil {
		return studio.Status{}, false
	}
	return u.Status(), true
}

// RetryUpload finishes the studio copy of a finished recording again (after a failure, or
// one a closed app left), with the settings' token: only if the copy is for the settings'
// server, the one that token is for.
func (s *Session) RetryUpload(path string) error {
	st := s.Settings()
	base, _ := proto.SplitWHIP(st.ServerURL)
	u, _, err := studio.Resume(path, base, st.Token)
	if err != nil {
		return err
	}
	s.track(path, u, false)
	go func() { _ = u.Finish(context.Background()) }()
	return nil
}

// resumeUploads takes up the copies left unfinished in the recordings folder whose server is
// the one configured now (its token is the one the settings hold).
func (s *Session) resumeUploads() {
	st := s.Settings()
	if st.ServerURL == "" || st.Folder == "" {
		return
	}
	base, _ := proto.SplitWHIP(st.ServerURL)
	for _, p := range studio.Pending(st.Folder) {
		side, err := studio.ReadSidecar(p)
		if err != nil || side.Server != base {
			continue
		}
		if err := s.RetryUpload(p); err != nil {
			log.Printf("podium: studio copy of %s: %v", p, err)
		}
	}
}

// closeUploads stops every upload; their sidecars keep them for the next start.
func (s *Session) closeUploads() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.uploads {
		u.Close()
	}
}
