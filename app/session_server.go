package app

import "errors"

// The session's built-in server: started for the first recording (or by Serve), kept to
// what the settings ask for while no recording uses it, closed by Close.

// Serve starts the built-in server now, when the settings use it and no recording is under
// way, so the listener link exists before the talk starts (otherwise it starts with the
// first recording).
func (s *Session) Serve() error { return s.syncServer(true) }

func (s *Session) goSync() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		_ = s.syncServer(false)
	}()
}

// syncServer makes the built-in server what the settings ask for while no recording uses
// it: restarted when its configuration changed, closed when a configured server replaces
// it, started only when start is set.
func (s *Session) syncServer(start bool) error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	s.mu.Lock()
	st, state, local, closed := s.settings, s.state, s.local, s.closed
	s.mu.Unlock()
	if closed || (state != StateIdle && state != StateFailed) {
		return nil
	}
	if st.ServerURL != "" {
		if local != nil {
			s.mu.Lock()
			s.local = nil
			s.mu.Unlock()
			err := local.Close()
			s.cfg.OnChange()
			return err
		}
		return nil
	}
	if local == nil && !start {
		return nil
	}
	_, err := s.localServerLocked(st)
	return err
}

func (s *Session) localServer(st Settings) (*LocalServer, error) {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	return s.localServerLocked(st)
}

// wantLocal is the built-in server st asks for.
func wantLocal(st Settings) LocalServerConfig {
	return LocalServerConfig{Stream: st.Stream, ListenerToken: st.ListenerToken, LAN: st.ShareLAN}
}

// localServerLocked returns the built-in server as st asks for it, (re)starting it if it
// differs; on the same port when it can, so a link already handed out stays right when only
// its host changes. The caller holds srvMu, and no recording uses the server.
func (s *Session) localServerLocked(st Settings) (*LocalServer, error) {
	want := wantLocal(st)
	s.mu.Lock()
	old, oldCfg, closed := s.local, s.localCfg, s.closed
	s.mu.Unlock()
	if closed {
		return nil, errors.New("the session is closed")
	}
	if old != nil && oldCfg == want {
		return old, nil
	}
	cfg := want
	if old != nil {
		cfg.Port = old.Port()
		s.mu.Lock()
		s.local = nil
		s.mu.Unlock()
		old.Close()
	}
	l, err := StartLocalServer(cfg)
	if err != nil && cfg.Port != 0 {
		cfg.Port = 0
		l, err = StartLocalServer(cfg)
	}
	if err != nil {
		s.cfg.OnChange()
		return nil, err
	}
	s.mu.Lock()
	s.local, s.localCfg = l, want
	s.applyListenerTokenLocked() // a new link asked for while this one started
	s.mu.Unlock()
	s.cfg.OnChange()
	return l, nil
}

// applyListenerTokenLocked gives the running built-in server the settings' listener token at
// once, even while a recording uses the server (nothing restarts): from then on the old
// link is refused, while listeners already connected stay. It says whether the token
// changed. The caller holds mu.
func (s *Session) applyListenerTokenLocked() bool {
	tok := s.settings.ListenerToken
	if s.local == nil || tok == "" || s.localCfg.ListenerToken == tok {
		return false
	}
	s.local.SetListenerToken(tok)
	s.localCfg.ListenerToken = tok
	return true
}

// closeServer stops the built-in server for good (Close, once no recording runs).
func (s *Session) closeServer() error {
	s.srvMu.Lock()
	defer s.srvMu.Unlock()
	s.mu.Lock()
	local := s.local
	s.local = nil
	s.mu.Unlock()
	if local == nil {
		return nil
	}
	return local.Close()
}
