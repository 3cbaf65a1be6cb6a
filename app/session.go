package app

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"podium/app/studio"
	"podium/audio/id3"
	"podium/audio/loudness"
	"podium/rtc/whip"
)

// State is where a presenter's session is.
type State int

const (
	StateIdle        State = iota // ready to start
	StateStarting                 // opening the microphone, the file and the link
	StateRecording                // capturing; the MP3 grows, the link carries it live
	StateStopping                 // finalising the MP3
	StateFailed                   // the last start or recording ended in an error; ready to start again
	StateInterrupted              // the microphone went away: the file so far is saved; Continue or Stop
)

func (s State) String() string {
	return [...]string{"idle", "starting", "recording", "stopping", "failed", "interrupted"}[s]
}

// NoLoudness is the loudness reported when there is none to measure (too short, or silence).
const NoLoudness = loudness.Silent

// SessionConfig wires a session.
type SessionConfig struct {
	Settings Settings
	// OnChange is called (from any goroutine, never blocking for long, possibly before
	// NewSession has returned) when the state, the link or a cached value changes, so the
	// window can redraw without polling for those.
	OnChange func()
	// OnSaved is called with each recording as soon as it is complete on disk.
	OnSaved func(Summary)
}

// Session is one presenter's window-long session: any number of recordings, one at a time.
// Commands come from the UI goroutine; the recording's own goroutines report back through
// OnChange. Every method is safe to call from any goroutine.
type Session struct {
	cfg SessionConfig

	// srvMu serialises starting and stopping the built-in server (never held with mu
	// while waiting on the network).
	srvMu sync.Mutex
	bg    sync.WaitGroup // server restarts under way

	// The clocks that refresh what Snapshot reads (refresh.go), until Close closes quit.
	quit                 chan struct{}
	clocks               sync.WaitGroup
	diskPoke, remotePoke chan struct{}

	mu        sync.Mutex
	moved     *sync.Cond // on mu: broadcast at every change of state
	closed    bool
	localCfg  LocalServerConfig // what local was started with (Port 0)
	remote    remoteCount       // a configured server's listener count, as last asked
	state     State
	settings  Settings
	rec       *Recording
	live      *whip.Client
	local     *LocalServer
	linkState whip.Status
	file      string
	err       error
	muted     bool
	watchDone chan struct{}
	warning   string // the disk is almost full, as last looked

	// The repair of the recordings folder at the start (historywatch.go): recovery is
	// written once, before recovered is closed.
	recovered chan struct{}
	recovery  Recovery

	// Studio copies going up to a configured server, by recording path (studio.go).
	uploads      map[string]*studio.Uploader
	studioVer    uint64           // counts their changes
	lastFile     string           // the recording whose copy the link line speaks of
	lastLoudness *loudness.Result // the last talk's, once it is saved
}

// NewSession starts a session, and repairs on its own goroutine what a crash left in the
// recordings folder (Recovery says what); Close ends it.
func NewSession(cfg SessionConfig) *Session {
	if cfg.OnChange == nil {
		cfg.OnChange = func() {}
	}
	s := &Session{cfg: cfg, settings: cfg.Settings, recovered: make(chan struct{})}
	s.moved = sync.NewCond(&s.mu)
	s.clocks.Add(1)
	go func() {
		defer s.clocks.Done()
		s.recover(cfg.Settings.Folder)
	}()
	s.startClocks()
	s.clocks.Add(1)
	go func() {
		defer s.clocks.Done()
		s.resumeUploads()
	}()
	return s
}

// to moves the session to st. The caller holds mu.
func (s *Session) to(st State) {
	s.state = st
	s.moved.Broadcast()
}

// Settings returns the settings the next recording will use.
func (s *Session) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// SetSettings takes new settings for the next recording (validated by the caller through
// SaveSettings). A change of server takes effect at the next Start. The built-in server,
// when it runs, is restarted at once for a new stream name, listener token or ShareLAN —
// unless a recording uses it: then when that recording ends.
func (s *Session) SetSettings(st Settings) {
	s.mu.Lock()
	s.settings = st
	newToken := s.applyListenerTokenLocked()
	s.mu.Unlock()
	if newToken {
		s.cfg.OnChange()
	}
	s.pokeClocks()
	s.goSync()
}

// SetDevice chooses the microphone for the next recording ("" for the default).
func (s *Session) SetDevice(id string) {
	s.mu.Lock()
	s.settings.Device = id
	s.mu.Unlock()
	s.cfg.OnChange()
}

// SetMute silences the microphone in the recording and the live stream without stopping:
// the clock goes on, so the file stays aligned with the talk.
func (s *Session) SetMute(m bool) {
	s.mu.Lock()
	s.muted = m
	if s.rec != nil {
		s.rec.SetMute(m)
	}
	s.mu.Unlock()
	s.cfg.OnChange()
}

// Start begins a recording. A microphone or file that cannot be opened is an error and
// leaves the session StateFailed; a server that is down or refuses is not: the recording goes on
// locally and the link says why.
func (s *Session) Start() error {
	// A file made while the folder is being repaired would look like one a crash left.
	<-s.recovered
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errors.New("the session is closed")
	}
	if s.state == StateStarting || s.state == StateRecording || s.state == StateStopping {
		s.mu.Unlock()
		return fmt.Errorf("already %s", s.state)
	}
	s.to(StateStarting)
	s.err = nil
	st := s.settings
	muted := s.muted
	s.mu.Unlock()
	s.cfg.OnChange()

	now := time.Now()
	err := checkWritableDir(st.Folder)
	if err == nil {
		var live *whip.Client
		var listened func() bool
		live, listened, err = s.connect(st)
		if err == nil {
			cfg := RecordingConfig{
				Device:      st.Device,
				Folder:      st.Folder,
				Out:         st.FileName(now),
				Bitrate:     st.Bitrate,
				OpusBitrate: st.OpusBitrate,
				// Without a title, titled by its file name.
				Tags:  id3.Tags{Title: CleanTitle(st.Title), Presenter: st.Presenter, Date: now},
				Voice: st.Voice(),
				// Recording too only if asked: the MP3 keeps what the microphone heard.
				VoiceOnRecording: st.ProcessRecording,
			}
			if live != nil {
				cfg.Live, cfg.Listened = live, listened
			}
			var rec *Recording
			rec, err = StartRecording(cfg)
			if err != nil {
				if live != nil {
					live.Close()
				}
			} else {
				rec.SetMute(muted)
				if st.ServerURL != "" {
					s.startUpload(rec.Path(), st, now)
				}
				waitForAudio(rec)
				s.mu.Lock()
				s.rec, s.live, s.file = rec, live, rec.Path()
				s.to(StateRecording)
				s.watchDone = make(chan struct{})
				go s.watch(rec, s.watchDone)
				s.mu.Unlock()
				s.cfg.OnChange()
				return nil
			}
		}
	}
	s.fail(Explain(err))
	return s.Err()
}

// firstAudioWait bounds how long Start waits for the microphone's first samples.
const firstAudioWait = 3 * time.Second

// waitForAudio returns once the recording has its first frame (or after firstAudioWait):
// PulseAudio can take a second to deliver the first samples, and "recording" on the screen
// must mean the voice is being captured, not that it soon will be.
func waitForAudio(rec *Recording) {
	t := time.NewTimer(firstAudioWait)
	defer t.Stop()
	select {
	case <-rec.pipeline.FirstFrame():
	case <-rec.Ended():
	case <-rec.Broken():
	case <-t.C:
	}
}

// connect starts the live link: the configured server, or the built-in one. Only a
// problem with the link's own settings (a malformed URL) is an error here; a refused token
// is reported by the link's state while the recording goes on. listened is nil for a
// configured server (whose listeners are counted elsewhere) and, for the built-in one, says
// whether anyone listens now.
func (s *Session) connect(st Settings) (c *whip.Client, listened func() bool, err error) {
	endpoint, token := st.ServerURL, st.Token
	if endpoint == "" {
		local, err := s.localServer(st)
		if err != nil {
			return nil, nil, err
		}
		endpoint, token = local.URL, local.Token
		listened = func() bool { return local.Listeners() > 0 }
	}
	c, err = StartLive(context.Background(), endpoint, token, CleanTitle(st.Title), st.Presenter, s.onLink)
	if err != nil {
		// Refused or not found: record locally, say so in the link line.
		s.onLink(whip.Status{State: whip.Failed, Err: err})
		return nil, nil, nil
	}
	return c, listened, nil
}

func (s *Session) onLink(st whip.Status) {
	s.mu.Lock()
	s.linkState = st
	s.mu.Unlock()
	s.cfg.OnChange()
}

// watch reacts when the microphone goes away or the disk fails. An unplugged microphone
// pauses the recording with the file made complete as it stands, for the presenter to
// Continue on another microphone (into the same file) or Stop. A failing disk ends the
// recording, keeping everything that reached it.
func (s *Session) watch(rec *Recording, done chan struct{}) {
	select {
	case <-done:
		return
	case <-rec.Ended():
		s.mu.Lock()
		if s.rec != rec || s.state != StateRecording {
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		err := rec.Checkpoint()
		s.mu.Lock()
		s.to(StateInterrupted)
		s.watchDone = nil
		s.err = disconnected(rec.Device(), rec.Elapsed(), s.file, err)
		s.mu.Unlock()
		s.cfg.OnChange()
	case <-rec.Broken():
		s.mu.Lock()
		if s.rec != rec || s.state != StateRecording {
			s.mu.Unlock()
			return
		}
		s.to(StateStopping)
		s.watchDone = nil
		s.mu.Unlock()
		s.cfg.OnChange()
		sum, err := s.finish()
		s.fail(writeFailed(err, sum.Path))
	}
}

// Continue carries an interrupted recording on from the microphone now chosen (SetDevice),
// into the same file.
func (s *Session) Continue() error {
	s.mu.Lock()
	if s.state != StateInterrupted {
		s.mu.Unlock()
		return fmt.Errorf("nothing to continue (%s)", s.state)
	}
	rec, device := s.rec, s.settings.Device
	s.mu.Unlock()
	if err := rec.SwitchDevice(device); err != nil {
		s.mu.Lock()
		s.err = notContinued(err)
		s.mu.Unlock()
		s.cfg.OnChange()
		return err
	}
	s.mu.Lock()
	s.to(StateRecording)
	s.err = nil
	s.watchDone = make(chan struct{})
	go s.watch(rec, s.watchDone)
	s.mu.Unlock()
	s.cfg.OnChange()
	return nil
}

// Stop finalises the recording; the MP3 is complete when it returns.
func (s *Session) Stop() (Summary, error) {
	s.mu.Lock()
	if s.state != StateRecording && s.state != StateInterrupted {
		s.mu.Unlock()
		return Summary{}, fmt.Errorf("not recording (%s)", s.state)
	}
	s.to(StateStopping)
	s.err = nil
	if s.watchDone != nil {
		close(s.watchDone)
		s.watchDone = nil
	}
	s.mu.Unlock()
	s.cfg.OnChange()
	sum, err := s.finish()
	if err != nil {
		s.fail(Explain(err))
		return sum, s.Err()
	}
	s.mu.Lock()
	s.to(StateIdle)
	s.mu.Unlock()
	s.cfg.OnChange()
	s.goSync() // a change of link asked for while recording
	return sum, nil
}

// finish stops the recording and the link and reports the saved file.
func (s *Session) finish() (Summary, error) {
	s.mu.Lock()
	rec, live := s.rec, s.live
	s.mu.Unlock()
	sum, err := rec.Stop()
	if live != nil {
		live.Close() // after the MP3: the presenter's file never waits on the network
	}
	s.mu.Lock()
	s.rec, s.live = nil, nil
	s.linkState = whip.Status{State: whip.Stopped}
	s.lastLoudness = sum.Loudness
	s.mu.Unlock()
	if s.cfg.OnSaved != nil && sum.Path != "" {
		s.cfg.OnSaved(sum)
	}
	s.finishUpload(sum.Path) // in the background: Stop never waits on the network
	return sum, err
}

func (s *Session) fail(err error) {
	s.mu.Lock()
	s.to(StateFailed)
	s.err = err
	s.mu.Unlock()
	s.cfg.OnChange()
	s.goSync() // a change of link asked for while recording
}

// Err is why the session is StateFailed.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close lets a start or a stop under way finish, then stops any recording (finalising it),
// the session's clocks and the built-in server. Start fails from then on.
func (s *Session) Close() error {
	s.mu.Lock()
	for s.state == StateStarting || s.state == StateStopping {
		s.moved.Wait()
	}
	first := !s.closed
	s.closed = true // no Start from here on
	st := s.state
	s.mu.Unlock()
	var err error
	if st == StateRecording || st == StateInterrupted {
		_, err = s.Stop()
	}
	if first {
		close(s.quit)
		s.closeUploads()
	}
	s.clocks.Wait()
	s.bg.Wait()
	return errors.Join(err, s.closeServer())
}
