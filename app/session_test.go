package app_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/app"
	"podium/audio"
	"podium/audio/capture"
	"podium/audio/mp3"
	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/rtc/whip"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// states records every state the session passes through, as the window would see them.
type states struct {
	mu   sync.Mutex
	seen []app.State
	s    atomic.Pointer[app.Session] // OnChange can come before NewSession returns
}

func (r *states) onChange() {
	s := r.s.Load()
	if s == nil {
		return // the first state is Idle, which no change announces
	}
	st := s.Snapshot().State
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.seen) == 0 || r.seen[len(r.seen)-1] != st {
		r.seen = append(r.seen, st)
	}
}

func (r *states) list() []app.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]app.State(nil), r.seen...)
}

func newSession(t *testing.T, mod func(*app.Settings)) (*app.Session, *states, *[]app.Summary) {
	t.Helper()
	st := app.DefaultSettings()
	st.Folder = t.TempDir()
	st.Device = capture.NullDevice
	if mod != nil {
		mod(&st)
	}
	rec := &states{}
	var saved []app.Summary
	var mu sync.Mutex
	s := app.NewSession(app.SessionConfig{Settings: st, OnChange: func() { rec.onChange() }, OnSaved: func(sum app.Summary) {
		mu.Lock()
		saved = append(saved, sum)
		mu.Unlock()
	}})
	rec.s.Store(s)
	t.Cleanup(func() { s.Close() })
	return s, rec, &saved
}

// Start, record on the built-in server, Stop: the states in order, the link live, the file
// complete and announced, and a second recording in the same session.
func TestSessionStartStop(t *testing.T) {
	s, rec, saved := newSession(t, nil)
	for round := range 2 {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(); err == nil {
			t.Error("a second Start while recording: no error")
		}
		testkit.WaitFor(t, 10*time.Second, "the built-in server to go live", func() bool { return s.Snapshot().Link == "Live" })
		testkit.WaitFor(t, 10*time.Second, "a second of audio", func() bool { return s.Snapshot().Elapsed >= time.Second })
		snap := s.Snapshot()
		if snap.State != app.StateRecording || snap.File == "" || snap.RMS != audio.Silence {
			t.Errorf("while recording: %+v", snap)
		}
		sum, err := s.Stop()
		if err != nil {
			t.Fatal(err)
		}
		if len(*saved) != round+1 || (*saved)[round].Path != sum.Path {
			t.Errorf("OnSaved got %v, Stop returned %s", *saved, sum.Path)
		}
		info := readInfo(t, sum.Path)
		if !info.HasXing || info.Samples() < pcm.SampleRate {
			t.Errorf("saved file header %+v", info)
		}
		if s.Snapshot().State != app.StateIdle {
			t.Errorf("after Stop: %v", s.Snapshot().State)
		}
	}
	want := []app.State{app.StateStarting, app.StateRecording, app.StateStopping, app.StateIdle}
	got := rec.list()
	if len(got) < 8 || !slices.Equal(got[:4], want) || !slices.Equal(got[4:8], want) {
		t.Errorf("states %v, want %v twice", got, want)
	}
	if (*saved)[0].Path == (*saved)[1].Path {
		t.Error("two recordings in one second share a file")
	}
	if _, err := s.Stop(); err == nil {
		t.Error("Stop while idle: no error")
	}
}

func readInfo(t *testing.T, path string) frames.Info {
	t.Helper()
	info, err := frames.ReadFileInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// A microphone that cannot be opened fails the start, plainly, and leaves no file behind;
// a refused token does not stop the recording: it goes on locally and the link says why.
func TestSessionDeviceErrorAndRefusedToken(t *testing.T) {
	s, _, _ := newSession(t, func(st *app.Settings) { st.Device = "no-such-microphone" })
	audiotest.VirtualMic(t)
	err := s.Start()
	if err == nil || s.Snapshot().State != app.StateFailed || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("Start with a missing microphone = %v, state %v", err, s.Snapshot().State)
	}
	if m, _ := filepath.Glob(filepath.Join(s.Settings().Folder, "*")); len(m) != 0 {
		t.Errorf("a failed start left %v", m)
	}

	local, err := app.StartLocalServer(app.LocalServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer local.Close()
	s2, _, _ := newSession(t, func(st *app.Settings) { st.ServerURL, st.Token = local.URL, "wrong" })
	if err := s2.Start(); err != nil {
		t.Fatal(err)
	}
	snap := s2.Snapshot()
	if snap.State != app.StateRecording || !strings.HasPrefix(snap.Link, "Token refused — recording locally") || snap.LinkState != whip.Failed {
		t.Errorf("refused token: %+v", snap)
	}
	testkit.WaitFor(t, 10*time.Second, "audio", func() bool { return s2.Snapshot().Elapsed > 200*time.Millisecond })
	if _, err := s2.Stop(); err != nil {
		t.Fatal(err)
	}
}

// The network going away mid-recording: the link reports it, the recording does not notice.
func TestSessionServerGoesAway(t *testing.T) {
	local, err := app.StartLocalServer(app.LocalServerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := newSession(t, func(st *app.Settings) { st.ServerURL, st.Token = local.URL, local.Token })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "live", func() bool { return s.Snapshot().Link == "Live" })
	local.Close()
	testkit.WaitFor(t, 10*time.Second, "the link to notice", func() bool { return strings.Contains(s.Snapshot().Link, "recording locally") })
	before := s.Snapshot().Elapsed
	testkit.WaitFor(t, 10*time.Second, "recording to go on", func() bool { return s.Snapshot().Elapsed > before+time.Second })
	sum, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if got := audiotest.Decode(t, sum.Path); len(got) != int(sum.Duration*pcm.SampleRate/time.Second) {
		t.Errorf("decoded %d samples, recorded %v", len(got), sum.Duration)
	}
}

// Mute keeps the clock running with silence in the file.
func TestSessionMute(t *testing.T) {
	audiotest.VirtualMic(t)
	s, _, _ := newSession(t, func(st *app.Settings) { st.Device = "" })
	s.SetMute(true)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { audiotest.PlayFor(t, audiotest.Speech(t, false), 8*time.Second); close(done) }()
	testkit.WaitFor(t, 10*time.Second, "1.5 s recorded", func() bool { return s.Snapshot().Elapsed >= 1500*time.Millisecond })
	snap := s.Snapshot()
	if !snap.Muted || snap.RMS != audio.Silence {
		t.Errorf("muted while speech plays: %+v", snap)
	}
	s.SetMute(false)
	unmuted := s.Snapshot().Elapsed
	testkit.WaitFor(t, 10*time.Second, "speech on the meter", func() bool { return s.Snapshot().RMS > -50 })
	testkit.WaitFor(t, 10*time.Second, "1.5 s more", func() bool { return s.Snapshot().Elapsed >= unmuted+1500*time.Millisecond })
	sum, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, sum.Path)
	if lvl := audiotest.RMS(got[:pcm.SampleRate]); lvl > -90 {
		t.Errorf("muted first second has level %.1f dBFS", lvl)
	}
	if lvl := audiotest.RMS(got[len(got)-pcm.SampleRate:]); lvl < -50 {
		t.Errorf("unmuted last second has level %.1f dBFS", lvl)
	}
	<-done
}

func TestSettingsValidateAndPersist(t *testing.T) {
	good := app.DefaultSettings()
	good.Folder = t.TempDir()
	for _, tc := range []struct {
		name string
		mod  func(*app.Settings)
		want string
	}{
		{"ftp url", func(s *app.Settings) { s.ServerURL = "ftp://host/whip" }, "not an http:// or https:// URL"},
		{"no host", func(s *app.Settings) { s.ServerURL = "http://" }, "not an http"},
		{"bad stream", func(s *app.Settings) { s.Stream = "my talk" }, "stream name"},
		{"bitrate", func(s *app.Settings) { s.Bitrate = 50 }, "mp3 bitrate 50"},
		{"opus", func(s *app.Settings) { s.OpusBitrate = 1 }, "opus bitrate 1"},
		{"unwritable folder", func(s *app.Settings) { s.Folder = "/proc/podium" }, "recordings folder"},
		{"name with slash", func(s *app.Settings) { s.NameTemplate = "a/b" }, "without /"},
		{"name of dots", func(s *app.Settings) { s.NameTemplate = " . . " }, "must be a name"},
		{"reserved stream", func(s *app.Settings) { s.Stream = "CON" }, "Windows device"},
		{"loudness target", func(s *app.Settings) { s.LoudnessTarget = -14 }, "loudness target -14"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefs := app.MapPrefs{}
			s := good
			tc.mod(&s)
			err := app.SaveSettings(prefs, s)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("SaveSettings = %v, want an error saying %q", err, tc.want)
			}
			if len(prefs) != 0 {
				t.Errorf("invalid settings were stored: %v", prefs)
			}
		})
	}
	prefs := app.MapPrefs{}
	s := good
	s.ServerURL, s.Token, s.Presenter, s.Bitrate = "https://live.example/whip/x", "tok", "Ada", 96
	s.LoudnessTarget = -23
	s.CleanNoise, s.SteadyLevel, s.ProcessRecording = false, true, true
	if err := app.SaveSettings(prefs, s); err != nil {
		t.Fatal(err)
	}
	if got := app.LoadSettings(prefs); got != s {
		t.Errorf("loaded %+v, saved %+v", got, s)
	}
	s.ServerURL, s.LoudnessTarget = "", 0
	app.SaveSettings(prefs, s)
	if got := app.LoadSettings(prefs); got.ServerURL != "" || got.LoudnessTarget != 0 {
		t.Errorf("built-in server or no loudness target lost: %q, %d", got.ServerURL, got.LoudnessTarget)
	}
	// Voice processing: on for the live stream only until the presenter says otherwise.
	if d := app.LoadSettings(app.MapPrefs{}); !d.CleanNoise || !d.SteadyLevel || d.ProcessRecording {
		t.Errorf("voice defaults: clean %v, steady %v, recording too %v", d.CleanNoise, d.SteadyLevel, d.ProcessRecording)
	}
	// The template is a title: what Windows refuses in a name is made safe, on every platform.
	at := time.Date(2026, 11, 25, 9, 5, 7, 0, time.UTC)
	for _, c := range []struct{ template, want string }{
		{app.DefaultSettings().NameTemplate, "Podium 2026-11-25 09-05-07.mp3"},
		{"Q&A: {date}?", "Q&A_ 2026-11-25_.mp3"},
		{"AUX", "AUX_.mp3"},
		{"talk {time}.", "talk 09-05-07.mp3"},
	} {
		s := app.DefaultSettings()
		s.NameTemplate = c.template
		if n := s.FileName(at); n != c.want {
			t.Errorf("template %q: file name %q, want %q", c.template, n, c.want)
		}
	}
}

// Unplug the microphone mid-talk (unload the virtual PulseAudio source): the session says
// so, the file so far is complete and plays, and Continue on the microphone plugged back in
// carries on into the same file.
func TestSessionMicrophoneUnplugged(t *testing.T) {
	audiotest.VirtualMic(t)
	t.Cleanup(func() { audiotest.VirtualMic(t) })
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	s, _, _ := newSession(t, func(st *app.Settings) { st.Device = "" })
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "audio", func() bool { return s.Snapshot().Elapsed > 200*time.Millisecond })
	audiotest.PlayFor(t, speech, 3*time.Second)
	if out, err := exec.Command("pactl", "unload-module", "module-remap-source").CombinedOutput(); err != nil {
		t.Fatalf("unplug: %v %s", err, out)
	}
	testkit.WaitFor(t, 10*time.Second, "the session to notice", func() bool { return s.Snapshot().State == app.StateInterrupted })
	snap := s.Snapshot()
	if snap.Err == nil || !strings.Contains(snap.Err.Error(), "was disconnected. Everything up to") {
		t.Errorf("interrupted: %+v", snap)
	}
	// The file is complete as it stands: header and audio agree, the speech is there.
	part := audiotest.Decode(t, snap.File)
	if info := readInfo(t, snap.File); !info.HasXing || info.Samples() != int64(len(part)) {
		t.Errorf("checkpointed header %+v, decoded %d samples", info, len(part))
	}
	if c, lag, _ := audiotest.Correlate(in[:3*pcm.SampleRate], part, 2*pcm.SampleRate); c < 0.9 {
		t.Errorf("saved part correlates %.3f (lag %d)", c, lag)
	}

	audiotest.VirtualMic(t) // plugged back in
	s.SetDevice("")
	if err := s.Continue(); err != nil {
		t.Fatal(err)
	}
	if st := s.Snapshot().State; st != app.StateRecording {
		t.Fatalf("after Continue: %v", st)
	}
	before := s.Snapshot().Elapsed
	testkit.WaitFor(t, 10*time.Second, "audio again", func() bool { return s.Snapshot().Elapsed > before+200*time.Millisecond })
	audiotest.PlayFor(t, speech, 3*time.Second)
	sum, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Path != snap.File {
		t.Errorf("continued into %s, not %s", sum.Path, snap.File)
	}
	all := audiotest.Decode(t, sum.Path)
	if info := readInfo(t, sum.Path); info.Samples() != int64(len(all)) || len(all) < len(part)+2*pcm.SampleRate {
		t.Errorf("final file: header %d samples, decoded %d, first part %d", info.Samples(), len(all), len(part))
	}
	second := all[len(part):]
	if c, lag, _ := audiotest.Correlate(in[:3*pcm.SampleRate], second, 2*pcm.SampleRate); c < 0.9 {
		t.Errorf("continued part correlates %.3f (lag %d)", c, lag)
	}
}

// The low-disk warning comes from the session's own clock, and follows the settings: at a
// bitrate no disk could hold ten minutes of, it warns; back at speech bitrate, it stops.
func TestSessionLowDiskWarning(t *testing.T) {
	s, _, _ := newSession(t, func(st *app.Settings) { st.Bitrate = 1 << 40 })
	if w := s.Snapshot().Warning; !strings.HasPrefix(w, "Disk almost full") {
		t.Errorf("first snapshot: warning %q", w)
	}
	st := s.Settings()
	st.Bitrate = mp3.DefaultBitrate
	s.SetSettings(st)
	testkit.WaitFor(t, 10*time.Second, "the warning to clear", func() bool { return s.Snapshot().Warning == "" })
	st.Bitrate = 1 << 40
	s.SetSettings(st)
	testkit.WaitFor(t, 10*time.Second, "the warning again", func() bool { return strings.HasPrefix(s.Snapshot().Warning, "Disk almost full") })
}

// Close during a start lets it finish, then stops and saves the recording: nothing is left
// running, and Start is refused from then on.
func TestSessionCloseWhileStarting(t *testing.T) {
	// A server that takes its time to refuse keeps the session in StateStarting.
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(500 * time.Millisecond)
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	defer slow.Close()
	st := app.DefaultSettings()
	st.Folder, st.Device, st.ServerURL = t.TempDir(), capture.NullDevice, slow.URL+"/whip/live"
	starting := make(chan struct{})
	var once sync.Once
	var sess atomic.Pointer[app.Session] // OnChange can come before NewSession returns
	var mu sync.Mutex
	var saved []app.Summary
	s := app.NewSession(app.SessionConfig{Settings: st,
		OnChange: func() {
			if s := sess.Load(); s != nil && s.Snapshot().State == app.StateStarting {
				once.Do(func() { close(starting) })
			}
		},
		OnSaved: func(sum app.Summary) { mu.Lock(); saved = append(saved, sum); mu.Unlock() },
	})
	sess.Store(s)
	started := make(chan error, 1)
	go func() { started <- s.Start() }()
	select {
	case <-starting:
	case <-time.After(10 * time.Second):
		t.Fatalf("the session never reached Starting (%v)", s.Snapshot().State)
	}
	if st := s.Snapshot().State; st != app.StateStarting {
		t.Fatalf("the start did not wait for the server (%v): nothing to test", st)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-started; err != nil {
		t.Fatalf("Start: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if st := s.Snapshot().State; st != app.StateIdle || len(saved) != 1 {
		t.Errorf("after Close: %v, saved %v", st, saved)
	}
	if err := s.Start(); err == nil {
		t.Error("Start after Close: no error")
	}
}

// A folder is shown as the platform writes it, not escaped: %q would show a Windows path as
// C:\\Users\\…; a backslash in a Linux name shows the same.
func TestSettingsFolderShownAsWritten(t *testing.T) {
	dir := filepath.Join(t.TempDir(), `Ada\Music`)
	if err := os.WriteFile(dir, nil, 0o600); err != nil { // a file where the folder should be
		t.Fatal(err)
	}
	s := app.DefaultSettings()
	s.Folder = dir
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "“"+dir+"”") {
		t.Errorf("Validate = %v, want the folder “%s” as written", err, dir)
	}
}
