package app

import (
	"time"
)

// The session's own clocks: what Snapshot shows but costs I/O to learn (free space, the
// listener count of a configured server) is refreshed here and cached, because the window
// asks for a snapshot many times a second and a getter must not wait on a disk or network.

const (
	diskEvery       = 2 * time.Second  // statfs is cheap, but not at the window's frame rate
	remotePollEvery = 5 * time.Second  // while the server answers
	remoteRetry     = 30 * time.Second // after it did not (down, or no /streams)
)

// remoteCount is the last listener count a configured server gave.
type remoteCount struct {
	url   string // GET /streams/{stream} it was asked at
	n     int
	known bool
}

// startClocks starts one goroutine per cached value; Close stops them.
func (s *Session) startClocks() {
	s.quit = make(chan struct{})
	s.diskPoke = make(chan struct{}, 1)
	s.remotePoke = make(chan struct{}, 1)
	s.warning = LowDiskWarning(s.settings.Folder, s.settings.Bitrate) // the first snapshot knows
	s.clock(diskEvery, s.diskPoke, s.refreshDisk)
	s.clock(0, s.remotePoke, s.refreshRemote)
}

// pokeClocks has both values refreshed now, for settings just changed.
func (s *Session) pokeClocks() {
	poke(s.diskPoke)
	poke(s.remotePoke)
}

func poke(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default: // one is pending already
	}
}

// clock runs refresh on a goroutine of its own until Close: once first has passed (0: at
// once), then each time the wait it returns has passed (0: none, only pokes), and whenever
// poked.
func (s *Session) clock(first time.Duration, poked <-chan struct{}, refresh func() time.Duration) {
	s.clocks.Add(1)
	go func() {
		defer s.clocks.Done()
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-poked:
			case <-t.C:
			}
			if wait := refresh(); wait > 0 {
				t.Reset(wait)
			} else {
				t.Stop()
			}
		}
	}()
}

// refreshDisk looks at the free space of the recordings folder.
func (s *Session) refreshDisk() time.Duration {
	s.mu.Lock()
	dir, kbps := s.settings.Folder, s.settings.Bitrate
	s.mu.Unlock()
	w := LowDiskWarning(dir, kbps)
	s.mu.Lock()
	changed := w != s.warning
	s.warning = w
	s.mu.Unlock()
	if changed {
		s.cfg.OnChange()
	}
	return diskEvery
}

// refreshRemote asks the configured server how many listen, when it is a podium-server.
func (s *Session) refreshRemote() time.Duration {
	s.mu.Lock()
	st := s.settings
	s.mu.Unlock()
	u := streamsURL(st.ServerURL)
	if u == "" {
		return 0 // nobody to ask until the settings change
	}
	token := st.RemoteListenerToken
	if token == "" {
		token = st.Token // podium-server lets a presenter read /streams too
	}
	n, err := fetchListeners(u, token) // Close waits for it: at most its timeout
	s.mu.Lock()
	now := remoteCount{url: u, n: n, known: err == nil}
	changed := s.remote != now
	s.remote = now
	s.mu.Unlock()
	if changed {
		s.cfg.OnChange()
	}
	if err != nil {
		return remoteRetry
	}
	return remotePollEvery
}
