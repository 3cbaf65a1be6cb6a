// Package ui is Podium's window: the presenter picks a microphone, starts and stops, watches
// the level and the connection, and finds the saved recordings. It talks only to package app.
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
	"image/color"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

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
	// redraw while recording (default 80 ms, 12.5 Hz).
	DevicePoll, HistoryPoll, MeterRate time.Duration
	// Open plays a recording with the system's default player; ShowInFolder opens the folder
	// that holds it. Defaults: fyne.App.OpenURL with a file:// URL, falling back to xdg-open.
	Open, ShowInFolder func(path string) error
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

	// UI: widgets
	deviceSel   *widget.Select
	refreshBtn  *widget.Button
	settingsBtn *widget.Button
	banner      *widget.Label
	infoOpen    atomic.Int32         // one-button dialogs open (see showInfo)
	infoDlg     *dialog.CustomDialog // the newest of them, for Enter and Esc to dismiss
	quietUntil  atomic.Int64         // Space starts nothing until then (unix ns)
	startBtn    *widget.Button
	stopBtn     *widget.Button // shown only while paused by an unplugged microphone
	hint        *widget.Label
	clockLabel  *widget.Label
	muteBtn     *widget.Button
	meter       *levelMeter
	clipLabel   *widget.Label
	linkLabel   *widget.Label
	listenLabel *widget.Label
	shareBtn    *widget.Button
	fileLabel   *widget.Label
	dropLabel   *widget.Label
	warnLabel   *widget.Label
	statusLabel *widget.Label
	histTitle   *widget.Label
	histEmpty   *widget.Label
	histList    *widget.List

	// UI: state
	snap         app.Snapshot
	haveSnap     bool
	shownErr     error
	wasRecording bool // since the last idle: a failure now stopped a recording
	clipUntil    time.Time
	devices      []app.Device
	devLabels    []string
	devIDs       []string
	devNames     map[string]string // every microphone seen, by ID, to name one that went away
	devLoaded    bool
	settingDev   bool // the selector is being set by code, not by the presenter
	entries      []app.Entry
	confirm      *confirmDialog
	settingsUI   *settingsDialog
	renameUI     *renameDialog
	shareUI      *shareDialog
	closing      bool
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
		cfg.MeterRate = 80 * time.Millisecond
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
		devNames: map[string]string{},
	}
	if w.cfg.Open == nil {
		w.cfg.Open = w.openURL
	}
	if w.cfg.ShowInFolder == nil {
		w.cfg.ShowInFolder = func(p string) error { return w.openURL(filepath.Dir(p)) }
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
	go func() { defer w.bg.Done(); w.pollDevices() }()
	go func() { defer w.bg.Done(); w.pollHistory() }()
	return w
}

// Session is the session the window drives.
func (w *Window) Session() *app.Session { return w.sess }

// Window is the Fyne window.
func (w *Window) Window() fyne.Window { return w.win }

// ShowAndRun shows the window and runs the app until the window closes.
func (w *Window) ShowAndRun() { w.win.ShowAndRun() }

// Quit finalises any recording and closes the window, without asking: for SIGTERM and the
// like. Safe from any goroutine.
func (w *Window) Quit() { w.ui(w.shutdown) }

// ui runs f on Fyne's goroutine holding w.mu. Only background goroutines call it; event
// handlers are on Fyne's goroutine already and change widgets directly.
func (w *Window) ui(f func()) {
	fyne.Do(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		f()
	})
}

func poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (w *Window) stopBackground() { w.stopBg.Do(func() { close(w.done) }) }

// build lays the window out: microphone, the big button, clock and mute, level, connection,
// messages; the recordings fill the rest.
func (w *Window) build() {
	w.deviceSel = widget.NewSelect(nil, w.onDeviceSelected)
	w.deviceSel.PlaceHolder = "Looking for microphones…"
	w.refreshBtn = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), func() {
		w.statusLabel.SetText("Looking for microphones…")
		w.statusLabel.Importance = widget.LowImportance
		w.statusLabel.Refresh()
		poke(w.devKick)
	})
	w.settingsBtn = widget.NewButtonWithIcon("", theme.SettingsIcon(), w.showSettings)
	micRow := container.NewBorder(nil, nil,
		widget.NewLabelWithStyle("Microphone", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewHBox(w.refreshBtn, w.settingsBtn), w.deviceSel)

	w.banner = widget.NewLabel("")
	w.banner.SizeName = theme.SizeNameSubHeadingText
	w.banner.TextStyle = fyne.TextStyle{Bold: true}
	w.banner.Alignment = fyne.TextAlignCenter

	w.startBtn = widget.NewButtonWithIcon("Start recording", theme.MediaRecordIcon(), w.toggle)
	w.startBtn.Importance = widget.HighImportance
	tall := canvas.NewRectangle(color.Transparent)
	tall.SetMinSize(fyne.NewSize(0, 64))
	w.stopBtn = widget.NewButtonWithIcon("Stop and save", theme.MediaStopIcon(), w.askStop)
	w.stopBtn.Importance = widget.DangerImportance
	w.stopBtn.Hide()
	bigButton := container.NewStack(tall, container.NewBorder(nil, nil, nil, w.stopBtn, w.startBtn))
	w.hint = widget.NewLabel("Space or Ctrl+R starts and stops · Stop asks first")
	w.hint.Importance = widget.LowImportance
	w.hint.Alignment = fyne.TextAlignCenter
	w.hint.SizeName = theme.SizeNameCaptionText

	w.clockLabel = widget.NewLabel("00:00:00")
	w.clockLabel.SizeName = theme.SizeNameHeadingText
	w.clockLabel.TextStyle = fyne.TextStyle{Monospace: true}
	w.muteBtn = widget.NewButtonWithIcon("Mute", theme.VolumeMuteIcon(), w.toggleMute)
	clockRow := container.NewBorder(nil, nil, container.NewThemeOverride(w.clockLabel, bigText{}), container.NewCenter(w.muteBtn))

	w.meter = newLevelMeter()
	w.clipLabel = widget.NewLabel("")
	w.clipLabel.Importance = widget.DangerImportance
	w.clipLabel.TextStyle = fyne.TextStyle{Bold: true}
	w.clipLabel.Hide()
	meterRow := container.NewBorder(nil, nil, widget.NewLabel("Level"), nil, w.meter)

	w.linkLabel = widget.NewLabel("")
	w.linkLabel.Wrapping = fyne.TextWrapWord
	w.listenLabel = widget.NewLabel("")
	w.listenLabel.Truncation = fyne.TextTruncateEllipsis
	w.shareBtn = widget.NewButtonWithIcon("Share…", theme.MailForwardIcon(), w.showShare)
	listenRow := container.NewBorder(nil, nil, nil, w.shareBtn, w.listenLabel)
	w.fileLabel = widget.NewLabel("")
	w.fileLabel.Truncation = fyne.TextTruncateEllipsis
	w.fileLabel.SizeName = theme.SizeNameCaptionText
	w.fileLabel.Hide()
	w.dropLabel = widget.NewLabel("")
	w.dropLabel.Importance = widget.WarningImportance
	w.dropLabel.Wrapping = fyne.TextWrapWord
	w.dropLabel.Hide()
	w.warnLabel = widget.NewLabel("")
	w.warnLabel.Importance = widget.WarningImportance
	w.warnLabel.Wrapping = fyne.TextWrapWord
	w.warnLabel.Hide()
	w.statusLabel = widget.NewLabel("")
	w.statusLabel.Wrapping = fyne.TextWrapWord
	w.statusLabel.Hide()

	top := container.NewVBox(
		micRow,
		w.banner,
		bigButton,
		w.hint,
		clockRow,
		meterRow,
		w.clipLabel,
		w.linkLabel,
		listenRow,
		w.fileLabel,
		w.dropLabel,
		w.warnLabel,
		w.statusLabel,
		widget.NewSeparator(),
	)
	w.histTitle = widget.NewLabelWithStyle("Recordings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	w.histEmpty = widget.NewLabel("No recordings yet: they appear here as soon as you press Stop.")
	w.histEmpty.Wrapping = fyne.TextWrapWord
	w.histEmpty.Importance = widget.LowImportance
	w.histEmpty.Hide()
	w.histList = w.newHistoryList()
	history := container.NewBorder(container.NewVBox(w.histTitle, w.histEmpty), nil, nil, nil, w.histList)
	w.win.SetContent(container.NewBorder(top, nil, nil, nil, history))
}

// keys: Space or Ctrl+R start and stop (stop still asks); Enter confirms and Escape cancels an
// open question; Ctrl+Q closes the window as the close button does.
func (w *Window) keys() {
	c := w.win.Canvas()
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		switch ev.Name {
		case fyne.KeySpace:
			// a second Space never answers the question; nothing starts behind a dialog
			if w.spaceAllowed() {
				w.toggle()
			}
		case fyne.KeyReturn, fyne.KeyEnter:
			if w.confirm != nil {
				w.confirm.answer(true)
			} else if w.infoDlg != nil {
				w.infoDlg.Hide()
			}
		case fyne.KeyEscape:
			if w.confirm != nil {
				w.confirm.answer(false)
			} else if w.infoDlg != nil {
				w.infoDlg.Hide()
			}
		}
	})
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyR, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) {
		if w.spaceAllowed() {
			w.toggle()
		}
	})
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyQ, Modifier: fyne.KeyModifierShortcutDefault}, func(fyne.Shortcut) {
		w.requestClose()
	})
}

// toggle is the big button: start when ready, ask before stopping when recording.
func (w *Window) toggle() {
	if w.closing {
		return
	}
	switch w.sess.Snapshot().State {
	case app.StateIdle, app.StateFailed:
		w.start()
	case app.StateRecording:
		w.askStop()
	case app.StateInterrupted:
		w.resume()
	}
}

// resume continues a recording paused by an unplugged microphone, on the one now selected,
// into the same file.
func (w *Window) resume() {
	w.startBtn.Disable()
	w.startBtn.SetText("Continuing…")
	go func() {
		// A failure stays Interrupted with the reason in the snapshot.
		_ = w.sess.Continue()
		w.ui(func() { w.applyState(w.sess.Snapshot()) })
	}()
}

func (w *Window) start() {
	w.wasRecording = false
	w.startBtn.Disable()
	w.startBtn.SetText("Starting…")
	w.deviceSel.Disable()
	w.setStatus("", widget.MediumImportance)
	go func() {
		// A failure shows up through the snapshot (StateFailed with the reason) as a dialog.
		_ = w.sess.Start()
	}()
}

func (w *Window) askStop() {
	snap := w.sess.Snapshot()
	msg := fmt.Sprintf("You have been recording for %s.\nThe recording is saved as\n“%s”.",
		clock(snap.Elapsed), filepath.Base(snap.File))
	w.ask("Stop the recording?", msg, "Keep recording", "Stop and save", func() {
		if st := w.sess.Snapshot().State; st != app.StateRecording && st != app.StateInterrupted {
			return
		}
		w.startBtn.Disable()
		w.startBtn.SetText("Saving…")
		go func() {
			sum, err := w.sess.Stop()
			if err != nil {
				return // the snapshot carries the failure and its words
			}
			w.ui(func() {
				w.setStatus(fmt.Sprintf("Saved “%s” (%s, %s). It is at the top of the list below.",
					filepath.Base(sum.Path), clock(sum.Duration), size(sum.Bytes)), widget.SuccessImportance)
			})
		}()
	})
}

func (w *Window) toggleMute() {
	w.sess.SetMute(!w.sess.Snapshot().Muted)
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
	if st := w.sess.Snapshot().State; st != app.StateIdle && st != app.StateFailed {
		w.startBtn.Disable()
		w.startBtn.SetText("Saving…")
		w.banner.SetText("Saving the recording, then closing…")
	}
	go func() {
		// Let a start or a stop that is under way finish, so Close finds a settled session.
		for i := 0; i < 600; i++ {
			st := w.sess.Snapshot().State
			if st != app.StateStarting && st != app.StateStopping {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
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
	w.statusLabel.Importance = imp
	w.statusLabel.SetText(msg)
	if msg == "" {
		w.statusLabel.Hide()
	} else {
		w.statusLabel.Show()
	}
}

// pump redraws from session snapshots: on every change, and at MeterRate while a recording
// is under way. Between recordings it looks every IdlePoll for what changes without telling
// (the listener count, the disk), and redraws only if that did. Redraws are coalesced: at most
// one waits in fyne.Do at a time.
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
	for {
		quiet := false
		select {
		case <-w.done:
			return
		case <-w.changed:
		case <-tc:
		case <-idle.C:
			quiet = true
		}
		snap := w.sess.Snapshot()
		active := snap.State == app.StateStarting || snap.State == app.StateRecording || snap.State == app.StateStopping
		if quiet && (active || (snap.Listeners == last.Listeners && snap.ListenersKnown == last.ListenersKnown &&
			snap.ListenURL == last.ListenURL && snap.Warning == last.Warning)) {
			continue
		}
		last = snap
		switch {
		case active && tick == nil:
			tick = time.NewTicker(w.cfg.MeterRate)
			tc = tick.C
		case !active && tick != nil:
			tick.Stop()
			tick, tc = nil, nil
		}
		if !active && !quiet {
			poke(w.histKick) // a recording ended or failed: its file is worth listing now
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

// applySnapshot shows the session's state.
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
		w.applyState(s)
	}
	w.clockLabel.SetText(clock(s.Elapsed))

	if s.State == app.StateRecording {
		if s.Clipped {
			w.clipUntil = time.Now().Add(2 * time.Second)
		}
		clip := time.Now().Before(w.clipUntil)
		w.meter.set(level(s.Peak), level(s.RMS), clip)
		if clip {
			w.clipLabel.SetText("CLIPPING: too loud. Move the microphone away or lower its gain.")
			w.clipLabel.Show()
		} else {
			w.clipLabel.Hide()
		}
	} else {
		w.meter.set(0, 0, false)
		w.clipLabel.Hide()
	}

	if s.Muted {
		w.muteBtn.SetText("Muted: tap to unmute")
		w.muteBtn.SetIcon(theme.VolumeUpIcon())
		w.muteBtn.Importance = widget.WarningImportance
	} else {
		w.muteBtn.SetText("Mute")
		w.muteBtn.SetIcon(theme.VolumeMuteIcon())
		w.muteBtn.Importance = widget.MediumImportance
	}
	w.muteBtn.Refresh()

	link := "Live stream: " + s.Link
	if s.State != app.StateRecording && s.State != app.StateStarting {
		link = "Live stream: starts with the recording"
	}
	w.linkLabel.SetText(link)
	switch {
	case s.State != app.StateRecording:
		w.linkLabel.Importance = widget.LowImportance
	case s.Link == "Live":
		w.linkLabel.Importance = widget.SuccessImportance
	default:
		w.linkLabel.Importance = widget.WarningImportance
	}
	w.linkLabel.Refresh()
	st := w.sess.Settings()
	if t := listenersText(s, st); t != w.listenLabel.Text {
		w.listenLabel.SetText(t)
	}
	if noLink := s.ListenURL == "" && st.ServerURL != ""; noLink != w.shareBtn.Disabled() {
		if noLink {
			w.shareBtn.Disable()
		} else {
			w.shareBtn.Enable()
		}
	}
	if w.shareUI != nil {
		w.shareUI.update(s, st)
	}
	if s.State == app.StateRecording && s.File != "" {
		w.fileLabel.SetText("Saving to “" + filepath.Base(s.File) + "” in " + tildeDir(filepath.Dir(s.File)))
		w.fileLabel.Show()
	} else {
		w.fileLabel.Hide()
	}

	if s.DroppedSamples > 0 {
		w.dropLabel.SetText(fmt.Sprintf("%d samples dropped (%.2f s of audio missing): the computer could not keep up. The MP3 is still valid.",
			s.DroppedSamples, float64(s.DroppedSamples)/48000))
		w.dropLabel.Show()
	} else {
		w.dropLabel.Hide()
	}

	if s.Warning != "" {
		w.warnLabel.SetText(s.Warning)
		w.warnLabel.Show()
	} else {
		w.warnLabel.Hide()
	}

	if s.State == app.StateInterrupted && s.Err != nil && !errors.Is(s.Err, w.shownErr) {
		w.shownErr = s.Err
		w.setStatus(s.Err.Error(), widget.WarningImportance)
		w.showInfo("Microphone disconnected", plainError(s.Err), "OK", nil)
	}
	if s.State == app.StateFailed && s.Err != nil && !errors.Is(s.Err, w.shownErr) {
		w.shownErr = s.Err
		w.setStatus(s.Err.Error(), widget.DangerImportance)
		title := "Could not start recording"
		if w.wasRecording {
			title = "Recording stopped"
		}
		w.showInfo(title, plainError(s.Err), "OK", nil)
	}
}

// applyState sets what changes only with the state: the banner, the button, the selector.
func (w *Window) applyState(s app.Snapshot) {
	idle := s.State == app.StateIdle || s.State == app.StateFailed || s.State == app.StateInterrupted
	switch s.State {
	case app.StateInterrupted:
		w.banner.SetText("PAUSED: the microphone was disconnected")
		w.banner.Importance = widget.WarningImportance
	case app.StateIdle:
		w.banner.SetText("Ready to record")
		w.banner.Importance = widget.MediumImportance
	case app.StateStarting:
		w.banner.SetText("Starting…")
		w.banner.Importance = widget.MediumImportance
	case app.StateRecording:
		w.banner.SetText("RECORDING")
		w.banner.Importance = widget.DangerImportance
	case app.StateStopping:
		w.banner.SetText("Saving the recording…")
		w.banner.Importance = widget.MediumImportance
	case app.StateFailed:
		w.banner.SetText("Not recording: see the message below")
		w.banner.Importance = widget.WarningImportance
	}
	w.banner.Refresh()
	switch s.State {
	case app.StateIdle, app.StateFailed:
		w.startBtn.SetText("Start recording")
		w.startBtn.SetIcon(theme.MediaRecordIcon())
		w.startBtn.Importance = widget.HighImportance
		w.startBtn.Enable()
	case app.StateStarting:
		w.startBtn.SetText("Starting…")
		w.startBtn.Disable()
	case app.StateRecording:
		w.startBtn.SetText("Stop recording")
		w.startBtn.SetIcon(theme.MediaStopIcon())
		w.startBtn.Importance = widget.DangerImportance
		w.startBtn.Enable()
	case app.StateStopping:
		w.startBtn.SetText("Saving…")
		w.startBtn.Disable()
	case app.StateInterrupted:
		w.startBtn.SetText("Continue recording")
		w.startBtn.SetIcon(theme.MediaRecordIcon())
		w.startBtn.Importance = widget.HighImportance
		w.startBtn.Enable()
	}
	w.startBtn.Refresh()
	if s.State == app.StateInterrupted {
		w.stopBtn.Show()
	} else {
		w.stopBtn.Hide()
	}
	if idle && w.devLoaded && len(w.devIDs) > 0 {
		w.deviceSel.Enable()
	} else {
		w.deviceSel.Disable()
	}
	if s.State == app.StateRecording {
		w.win.SetTitle("Recording - Podium")
	} else {
		w.win.SetTitle("Podium")
	}
	if s.State != app.StateRecording && w.confirm != nil && w.confirm.aboutRecording {
		// the recording ended by itself (microphone unplugged): the question is moot
		w.confirm.d.Hide()
		w.confirm = nil
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
	return fmt.Errorf("no application to open %q: %v", path, err)
}

// plainError says an error in full sentences: the session's words already carry the fix.
func plainError(err error) string {
	return err.Error()
}

// idlePoll is how often the window looks at what changes without the session telling it,
// between recordings.
const idlePoll = 2 * time.Second

// bigText makes the clock readable from a lectern: the heading size doubled, everything else
// as the app's theme says (so light and dark both work).
type bigText struct{}

func (bigText) Color(n fyne.ThemeColorName, v fyne.ThemeVariant) color.Color {
	return fyne.CurrentApp().Settings().Theme().Color(n, v)
}
func (bigText) Font(s fyne.TextStyle) fyne.Resource {
	return fyne.CurrentApp().Settings().Theme().Font(s)
}
func (bigText) Icon(n fyne.ThemeIconName) fyne.Resource {
	return fyne.CurrentApp().Settings().Theme().Icon(n)
}
func (bigText) Size(n fyne.ThemeSizeName) float32 {
	sz := fyne.CurrentApp().Settings().Theme().Size(n)
	if n == theme.SizeNameHeadingText {
		return sz * 1.7
	}
	return sz
}

// tildeDir writes a folder under the home folder as ~/…, as people say it.
func tildeDir(dir string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		if rel, err := filepath.Rel(home, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join("~", rel)
		}
	}
	return dir
}
