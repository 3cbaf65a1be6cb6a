// Package ui is Podium's window: the presenter picks a microphone, starts and stops, watches
// the level and the connection, and finds the saved recordings. It talks only to package app.
//
// Each panel is its own small type that builds its widgets and shows a snapshot of the
// session (devices.go, talk.go, transport.go, meter.go, link.go, notes.go, history.go; the dialogs in
// dialogs.go, settings.go, share.go); what changes with the session's state alone is a table
// (states.go). Window only wires them to the session and to each other.
//
// Threading: widgets are changed on Fyne's goroutine only. Event handlers run there already;
// everything that comes from elsewhere (the session's callbacks, the device and folder
// checks, the meter clock) goes through Window.ui, which uses fyne.Do and holds Window.mu, so
// every widget change is serialised even under the test driver, where fyne.Do runs inline.
// Background goroutines never touch widgets or the fields marked "UI" below directly.
package ui

import (
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/widget"
	"github.com/go-gl/glfw/v3.3/glfw"

	"podium/app"
)

// Config sets up a Window. Only Settings is needed; the rest have working defaults and exist
// so tests can hold the world still.
type Config struct {
	Settings app.Settings // what the session starts with (app.LoadSettings)
	// Prefs is where the settings dialog saves; default: the fyne.App's Preferences.
	Prefs app.Prefs
	// Devices lists microphones; default app.Devices.
	Devices func() ([]app.Device, error)
	// DevicePoll is how often the microphone list is checked (default 2 s); HistoryPoll how
	// often the recordings folder is (default 3 s); MeterRate how often the level and clock
	// redraw while recording (default 100 ms: 10 Hz is smooth for a meter, and every redraw
	// repaints the whole window).
	DevicePoll, HistoryPoll, MeterRate time.Duration
	// Open plays a recording with the system's default player (default: fyne.App.OpenURL
	// with a file:// URL, falling back to xdg-open); ShowInFolder shows it in the file
	// manager (default: selected in Explorer or the Finder; its folder opened on Linux).
	Open, ShowInFolder func(path string) error
	// Play plays a recording from a position in the window (a chapter in the history);
	// default app.PlayFrom.
	Play func(path string, at time.Duration) (app.Player, error)
	// Size is the window's starting size; default 520×700.
	Size fyne.Size
}

// Window is the presenter's window around one app.Session.
type Window struct {
	a     fyne.App
	win   fyne.Window
	sess  *app.Session
	cfg   Config
	prefs app.Prefs

	// signals from other goroutines: each holds at most one pending poke
	changed  chan struct{}
	devKick  chan struct{}
	histKick chan struct{}
	done     chan struct{}
	stopBg   sync.Once
	bg       sync.WaitGroup // the pump and the two checks

	latest  atomic.Pointer[app.Snapshot] // the newest snapshot, for the coalesced redraw
	pending atomic.Bool                  // a redraw is queued with fyne.Do

	savedMu sync.Mutex
	saved   map[string]bool // recordings reported complete by OnSaved

	// mu serialises widget changes (see the package comment). Tests hold it to tap and read.
	mu sync.Mutex

	// UI: the panels, top to bottom, and the dialogs open over them
	devices     *devicePanel
	talk        *talkPanel // the title and the chapter marks
	transport   *transportPanel
	meter       *meterPanel
	link        *linkPanel
	notes       *notesPanel
	statusLabel *widget.Label // the window's one message line (setStatus)
	history     *historyPanel
	openDialogs

	// UI: state
	player       app.Player // what plays in the window (a chapter from the history), or nil
	snap         app.Snapshot
	haveSnap     bool
	shownErr     error
	wasRecording bool // since the last idle: a failure now stopped a recording
	closing      bool
	gone         bool // Fyne's loop has ended: nothing may touch the window (ShowAndRun)
}

// New builds the window and its session. Call ShowAndRun (or Show) next.
func New(a fyne.App, cfg Config) *Window {
	if cfg.Prefs == nil {
		cfg.Prefs = a.Preferences()
	}
	if cfg.Devices == nil {
		cfg.Devices = app.Devices
	}
	if cfg.DevicePoll <= 0 {
		cfg.DevicePoll = 2 * time.Second
	}
	if cfg.HistoryPoll <= 0 {
		cfg.HistoryPoll = 3 * time.Second
	}
	if cfg.MeterRate <= 0 {
		cfg.MeterRate = 100 * time.Millisecond
	}
	if cfg.Play == nil {
		cfg.Play = app.PlayFrom
	}
	if cfg.Size.IsZero() {
		cfg.Size = fyne.NewSize(520, 700)
	}
	w := &Window{
		a: a, cfg: cfg, prefs: cfg.Prefs,
		changed:  make(chan struct{}, 1),
		devKick:  make(chan struct{}, 1),
		histKick: make(chan struct{}, 1),
		done:     make(chan struct{}),
		saved:    map[string]bool{},
	}
	if w.cfg.Open == nil {
		w.cfg.Open = w.openURL
	}
	if w.cfg.ShowInFolder == nil {
		w.cfg.ShowInFolder = w.reveal
	}
	w.sess = app.NewSession(app.SessionConfig{
		Settings: cfg.Settings,
		OnChange: func() { poke(w.changed) },
		OnSaved:  w.onSaved,
	})
	w.win = a.NewWindow("Podium")
	w.build()
	w.win.Resize(cfg.Size)
	w.win.SetCloseIntercept(w.requestClose)
	w.keys()
	w.applySnapshot(w.sess.Snapshot())

	w.bg.Add(4)
	go func() { defer w.bg.Done(); w.pump() }()
	// The built-in server starts with the window, so the listener link is there before the
	// talk (the session says so through OnChange).
	go func() { defer w.bg.Done(); _ = w.sess.Serve() }()
	go func() { defer w.bg.Done(); w.devices.poll() }()
	go func() { defer w.bg.Done(); w.history.poll() }()
	return w
}

// Session is the session the window drives.
func (w *Window) Session() *app.Session { return w.sess }

// Window is the Fyne window.
func (w *Window) Window() fyne.Window { return w.win }

// ShowAndRun shows the window and runs the app until the window closes. Fyne can also end
// its loop by itself: it quits at once on SIGTERM and SIGINT, beside cmd/podium's handler, and
// from then on runs fyne.Do inline with GLFW shut, where a redraw of the session stopping
// panicked (in SetTitle) before the recording was finalised. So once the loop has gone,
// nothing touches the window, and the background stops before this returns; the caller
// closes the session.
func (w *Window) ShowAndRun() {
	w.win.ShowAndRun()
	w.mu.Lock()
	w.gone = true
	w.mu.Unlock()
	w.stopBackground()
	w.bg.Wait()
}

// Quit finalises any recording and closes the window, without asking: for SIGTERM and the
// like. Safe from any goroutine.
func (w *Window) Quit() { w.ui(w.shutdown) }

// ui runs f on Fyne's goroutine holding w.mu. Only background goroutines call it; event
// handlers are on Fyne's goroutine already and change widgets directly.
func (w *Window) ui(f func()) {
	fyne.Do(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.gone {
			return
		}
		defer w.loopGone()
		f()
	})
}

// loopGone, deferred around UI work, ends it quietly if GLFW was shut under it: Fyne's loop
// can end (SIGTERM, see ShowAndRun) and run this work inline before ShowAndRun has returned
// to say so, and GLFW then panics "NotInitialized" in the first call that reaches it (a
// window's Close, SetTitle). That is the window gone, not a fault: it is marked so. Any
// other panic goes on.
func (w *Window) loopGone() {
	r := recover()
	if r == nil {
		return
	}
	if e, ok := r.(*glfw.Error); ok && e.Code.String() == "NotInitialized" {
		w.gone = true
		return
	}
	panic(r)
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (w *Window) stopBackground() { w.stopBg.Do(func() { close(w.done) }) }

// build lays the window out: microphone, the big button, clock and mute, level, connection,
// the talk's title and chapters, messages; the recordings fill the rest.
func (w *Window) build() {
	w.devices = newDevicePanel(w)
	w.talk = newTalkPanel(w)
	w.transport = newTransportPanel(w)
	w.meter = newMeterPanel()
	w.link = newLinkPanel(w)
	w.notes = newNotesPanel()
	w.statusLabel = widget.NewLabel("")
	w.statusLabel.Wrapping = fyne.TextWrapWord
	w.statusLabel.Hide()
	w.history = newHistoryPanel(w)

	var top []fyne.CanvasObject
	for _, objs := range [][]fyne.CanvasObject{
		// the talk's rows come below the ones that were there before them, so what people and
		// scripts know where to find stays where it was
		w.devices.objects(), w.transport.objects(), w.meter.objects(), w.link.objects(), w.talk.objects(), w.notes.objects(),
		{w.statusLabel, widget.NewSeparator()},
	} {
		top = append(top, objs...)
	}
	w.win.SetContent(container.NewBorder(container.NewVBox(top...), nil, nil, nil, w.history.object()))
}

// keys: Space or Ctrl+R start and stop (stop still asks); M marks a chapter while recording
// (a text field with the focus takes its letters: Enter there gives them back); Enter confirms
// and Escape cancels an open question; Ctrl+Q closes the window as the close button does.
func (w *Window) keys() {
	c := w.win.Canvas()
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		switch ev.Name {
		case fyne.KeySpace:
			// a second Space never answers the question; nothing starts behind a dialog
			if w.spaceAllowed() {
				w.transport.toggle()
			}
		case fyne.KeyM:
			if w.spaceAllowed() {
				w.talk.mark()
			}
		case fyne.KeyReturn, fyne.KeyEnter:
			w.answerOpen(true)
		case fyne.KeyEscape:
			w.answerOpen(false)
		}
	})
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) {
		if w.spaceAllowed() {
			w.transport.toggle()
		}
	})
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) {
		w.requestClose()
	})
}

// requestClose is the window's close button and Ctrl+Q: asks first while recording.
func (w *Window) requestClose() {
	if w.closing {
		return
	}
	snap := w.sess.Snapshot()
	if snap.State == app.StateRecording || snap.State == app.StateInterrupted {
		w.ask("Stop recording and quit?",
			fmt.Sprintf("Podium is recording (%s).\nIf you quit, the recording stops and is saved as\n“%s”.",
				clock(snap.Elapsed), filepath.Base(snap.File)),
			"Keep recording", "Stop, save and quit", w.shutdown)
		return
	}
	w.shutdown()
}

// shutdown finishes any recording in the background, then closes the window.
func (w *Window) shutdown() {
	if w.closing {
		return
	}
	w.closing = true
	if w.confirm != nil {
		w.confirm.d.Hide()
		w.confirm = nil
	}
	pass := func() {}
	if st := w.sess.Snapshot().State; st != app.StateIdle && st != app.StateFailed {
		w.transport.saving("Saving the recording, then closing…")
		pass = w.talk.stopping()
	}
	w.stopPlaying()
	go func() {
		pass()
		// Close waits for a start or a stop under way by itself (refactor-app's Session.Close).
		err := w.sess.Close()
		w.stopBackground()
		w.ui(func() {
			if err == nil {
				w.win.Close()
				return
			}
			w.showInfo("The recording could not be finished",
				"Podium could not finish the recording:\n"+err.Error()+
					"\nWhat was recorded is on disk; Podium repairs it the next time it starts.", "Close Podium", w.win.Close)
		})
	}()
}

// setStatus shows a message under the level; "" hides it.
func (w *Window) setStatus(msg string, imp widget.Importance) {
	setLabel(w.statusLabel, msg, imp)
	setShown(w.statusLabel, msg != "")
}

// pump redraws from session snapshots: on every change, and at MeterRate while a recording
// is under way. Between recordings it looks every IdlePoll for what changes without telling
// (the listener count, the disk), and redraws only if that did. Redraws are coalesced: at most
// one waits in fyne.Do at a time, and it shows the newest snapshot.
func (w *Window) pump() {
	var tick *time.Ticker
	var tc <-chan time.Time
	idle := time.NewTicker(idlePoll)
	defer func() {
		idle.Stop()
		if tick != nil {
			tick.Stop()
		}
	}()
	var last app.Snapshot
	started := false // the start's garbage is returned
	for {
		quiet := false
		select {
		case <-w.done:
			return
		case <-w.changed:
		case <-tc:
		case <-idle.C:
			quiet = true
			if !started {
				// the first look, 2 s in: the window has drawn itself and listed the
				// microphones and recordings, and the built-in server is up
				started = true
				go releaseMemory()
			}
		}
		snap := w.sess.Snapshot()
		active := snap.State == app.StateStarting || snap.State == app.StateRecording || snap.State == app.StateStopping
		if quiet && (active || (snap.Listeners == last.Listeners && snap.ListenersKnown == last.ListenersKnown &&
			snap.ListenURL == last.ListenURL && snap.Warning == last.Warning)) {
			continue
		}
		studioMoved := snap.StudioChanges != last.StudioChanges
		wasActive := tick != nil
		last = snap
		switch {
		case active && tick == nil:
			tick = time.NewTicker(w.cfg.MeterRate)
			tc = tick.C
		case !active && tick != nil:
			tick.Stop()
			tick, tc = nil, nil
		}
		if !active && !quiet || studioMoved {
			poke(w.histKick) // a recording ended or failed, or a studio copy moved on
		}
		if wasActive && !active {
			go releaseMemory() // the recording's buffers are free now
		}
		w.latest.Store(&snap)
		if w.pending.CompareAndSwap(false, true) {
			w.ui(func() {
				w.pending.Store(false)
				w.applySnapshot(*w.latest.Load())
			})
		}
	}
}

// applySnapshot shows the session's state: each panel redraws what of it changed.
func (w *Window) applySnapshot(s app.Snapshot) {
	prev := w.snap
	first := !w.haveSnap
	w.snap, w.haveSnap = s, true
	if w.closing {
		return
	}
	switch s.State {
	case app.StateRecording:
		w.wasRecording = true
	case app.StateIdle:
		w.wasRecording = false
	}
	if first || prev.State != s.State {
		w.applyState(s.State)
	}
	st := w.sess.Settings()
	w.transport.apply(s)
	w.meter.apply(s)
	w.link.apply(s, st)
	if w.shareUI != nil {
		w.shareUI.update(s, st)
	}
	w.notes.apply(s)
	w.explain(s)
}

// applyState shows what changes only with the state (stateViews).
func (w *Window) applyState(state app.State) {
	v := viewOf(state)
	w.transport.applyState(v)
	w.talk.applyState(state)
	w.devices.allow(v.idle)
	w.win.SetTitle(v.title)
	if state != app.StateRecording && w.confirm != nil && w.confirm.aboutRecording {
		// the recording ended by itself (microphone unplugged): the question is moot
		w.confirm.d.Hide()
		w.confirm = nil
	}
}

// explain says, once per failure, why the session stopped or could not start.
func (w *Window) explain(s app.Snapshot) {
	if s.Err == nil || errors.Is(s.Err, w.shownErr) {
		return
	}
	switch s.State {
	case app.StateInterrupted:
		w.shownErr = s.Err
		w.setStatus(s.Err.Error(), widget.WarningImportance)
		w.showInfo("Microphone disconnected", plainError(s.Err), "OK", nil)
	case app.StateFailed:
		w.shownErr = s.Err
		w.setStatus(s.Err.Error(), widget.DangerImportance)
		title := "Could not start recording"
		if w.wasRecording {
			title = "Recording stopped"
		}
		w.showInfo(title, plainError(s.Err), "OK", nil)
	}
}

// onSaved runs on the session's goroutine when a recording is complete on disk.
func (w *Window) onSaved(sum app.Summary) {
	w.savedMu.Lock()
	w.saved[sum.Path] = true
	w.savedMu.Unlock()
	poke(w.histKick)
}

func (w *Window) wasSaved(path string) bool {
	w.savedMu.Lock()
	defer w.savedMu.Unlock()
	return w.saved[path]
}

// openURL opens a file or folder with the desktop's default application.
func (w *Window) openURL(path string) error {
	u, err := url.Parse(storage.NewFileURI(path).String())
	if err == nil {
		if err = w.a.OpenURL(u); err == nil {
			return nil
		}
	}
	if xdg, lerr := exec.LookPath("xdg-open"); lerr == nil {
		cmd := exec.Command(xdg, path)
		if err = cmd.Start(); err == nil {
			go cmd.Wait()
			return nil
		}
	}
	return fmt.Errorf("no application to open “%s”: %v", path, err)
}

// plainError says an error in full sentences: the session's words already carry the fix.
func plainError(err error) string {
	return err.Error()
}

// releaseMemory gives the heap's free pages back to the system. Building and drawing the
// window (fonts, layout, text) and starting the built-in server leave megabytes of garbage,
// and a recording its buffers, which the collector would otherwise keep for reuse while the
// window idles, often for many minutes before a talk (about 4 MB after the start: make
// bench's idle memory).
func releaseMemory() { debug.FreeOSMemory() }

// idlePoll is how often the window looks at what changes without the session telling it,
// between recordings.
const idlePoll = 2 * time.Second
