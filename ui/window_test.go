package ui

import (
	"image/color"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"

	"podium/app"
	"podium/audio/mp3/repair"
)

// Start records (null device, built-in loopback server); Stop asks, and only the answer stops
// it; the saved file is in the list the moment Stop finishes, with its title and length.
func TestStartStopAddsRecording(t *testing.T) {
	dir := t.TempDir()
	w := newTestWindow(t, dir, nil, app.NullDevice)
	waitFor(t, w, 5*time.Second, "the empty history", func() bool { return w.history.empty.Visible() })

	w.locked(func() { test.Tap(w.transport.startBtn) })
	waitFor(t, w, 10*time.Second, "the window to show it is recording", func() bool {
		return w.snap.State == app.StateRecording && w.transport.banner.Text == "RECORDING" && w.transport.startBtn.Text == "Stop recording"
	})
	waitFor(t, w, 10*time.Second, "the clock to reach 2 s", func() bool { return w.transport.clock.Text >= "00:00:02" })
	waitFor(t, w, 10*time.Second, "the built-in server to be live", func() bool {
		return strings.Contains(w.link.link.Text, "Live")
	})

	// Stop asks first; saying no keeps recording. A stop would show at once, on the UI
	// goroutine ("Saving…", disabled), before the session hears of it: checked right after.
	w.locked(func() {
		test.Tap(w.transport.startBtn)
		if w.confirm == nil {
			t.Fatal("Stop did not ask")
		}
		test.Tap(w.confirm.no)
		if b := w.transport.startBtn; b.Text != "Stop recording" || b.Disabled() || w.confirm != nil {
			t.Fatalf("after Keep recording the button says %q (disabled %v), question open %v", b.Text, b.Disabled(), w.confirm != nil)
		}
	})
	if st := w.sess.Snapshot().State; st != app.StateRecording {
		t.Fatalf("after Keep recording the session is %s", st)
	}

	// Space asks too; a second Space does not answer; Enter does.
	var elapsed time.Duration
	w.locked(func() {
		w.key(fyne.KeySpace)
		if w.confirm == nil {
			t.Fatal("Space did not ask to stop")
		}
		w.key(fyne.KeySpace)
		if w.confirm == nil || w.transport.startBtn.Text != "Stop recording" || w.sess.Snapshot().State != app.StateRecording {
			t.Fatal("a second Space answered the question")
		}
		elapsed = w.sess.Snapshot().Elapsed
		w.key(fyne.KeyReturn)
	})
	waitFor(t, w, 15*time.Second, "the recording in the history", func() bool {
		return w.snap.State == app.StateIdle && len(w.history.entries) == 1 && len(w.rows()) == 1
	})
	files, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("recordings folder holds %v", files)
	}
	title := strings.TrimSuffix(filepath.Base(files[0]), ".mp3")
	var row, status string
	w.locked(func() { row, status = w.rows()[0].text(), w.statusLabel.Text })
	if !strings.Contains(row, title) {
		t.Errorf("history row %q does not name %q", row, title)
	}
	m := regexp.MustCompile(`(\d\d):(\d\d):(\d\d)`).FindStringSubmatch(row)
	if m == nil {
		t.Fatalf("history row %q shows no duration", row)
	}
	shown, _ := time.ParseDuration(m[1] + "h" + m[2] + "m" + m[3] + "s")
	if d := shown - elapsed.Truncate(time.Second); d < -time.Second || d > 2*time.Second {
		t.Errorf("history says %s, the clock said %s when Stop was confirmed", shown, elapsed)
	}
	if !strings.Contains(status, "Saved “"+title+".mp3”") {
		t.Errorf("status after Stop: %q", status)
	}
	t.Logf("row: %s; status: %s", row, status)
}

// The settings dialog says what is wrong and stores nothing until it is right.
func TestSettingsValidation(t *testing.T) {
	dir := t.TempDir()
	prefs := app.MapPrefs{}
	w := newTestWindow(t, dir, prefs, app.NullDevice)
	open := func() *settingsDialog {
		w.locked(func() { test.Tap(w.devices.settingsBtn) })
		if w.settingsUI == nil {
			t.Fatal("no settings dialog")
		}
		return w.settingsUI
	}
	sd := open()
	w.locked(func() {
		sd.server.SetText("ftp://example.org/whip")
		test.Tap(sd.save)
	})
	w.locked(func() {
		if !sd.err.Visible() || !strings.Contains(sd.err.Text, `"ftp://example.org/whip" is not an http:// or https:// URL`) {
			t.Errorf("ftp URL: message %q (visible %v)", sd.err.Text, sd.err.Visible())
		}
		if w.settingsUI != sd {
			t.Error("the dialog closed on invalid input")
		}
	})
	if len(prefs) != 0 {
		t.Errorf("invalid settings were stored: %v", prefs)
	}

	w.locked(func() {
		sd.server.SetText("")
		sd.folder.SetText("/proc/x")
		test.Tap(sd.save)
		if !strings.Contains(sd.err.Text, `“/proc/x”`) || strings.Contains(sd.err.Text, "ftp") {
			t.Errorf("unwritable folder: message %q", sd.err.Text)
		}
	})
	if len(prefs) != 0 || w.sess.Settings().Folder != dir {
		t.Errorf("invalid settings were stored: %v, session folder %q", prefs, w.sess.Settings().Folder)
	}

	other := t.TempDir()
	w.locked(func() {
		sd.server.SetText("https://live.example.org/whip/talk")
		sd.token.SetText("s3cret")
		sd.folder.SetText(other)
		sd.mp3.SetSelectedIndex(4) // 128 kbps
		if !sd.cleanNoise.Checked || !sd.steady.Checked || sd.onRec.Checked {
			t.Errorf("voice switches start at clean %v, steady %v, recording too %v; want on, on, off", sd.cleanNoise.Checked, sd.steady.Checked, sd.onRec.Checked)
		}
		test.Tap(sd.steady)
		test.Tap(sd.onRec)
		test.Tap(sd.save)
		if w.settingsUI != nil {
			t.Errorf("valid settings not accepted: %q", sd.err.Text)
		}
	})
	st := w.sess.Settings()
	if st.Folder != other || st.ServerURL != "https://live.example.org/whip/talk" || st.Token != "s3cret" || st.Bitrate != 128 || st.Device != app.NullDevice ||
		!st.CleanNoise || st.SteadyLevel || !st.ProcessRecording {
		t.Errorf("session settings after Save: %+v", st)
	}
	if got := app.LoadSettings(prefs); got != st {
		t.Errorf("stored %+v, session has %+v", got, st)
	}
}

// Rename renames the file and the row; Delete asks, and "Keep it" keeps it.
func TestRenameAndDelete(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 14, 9, 30, 0, 0, time.Local)
	makeRecordings(t, dir,
		fixture{title: "Morning talk", date: day, length: 2 * time.Second},
		fixture{title: "Evening talk", date: day.Add(9 * time.Hour), length: 3 * time.Second},
	)
	w := newTestWindow(t, dir, nil, app.NullDevice)
	waitFor(t, w, 5*time.Second, "two rows", func() bool { return len(w.rows()) == 2 })
	w.locked(func() {
		rows := w.rows()
		if !strings.Contains(rows[0].text(), "Evening talk") || !strings.Contains(rows[1].text(), "Morning talk") {
			t.Errorf("not newest first: %q, %q", rows[0].text(), rows[1].text())
		}
		if !strings.Contains(rows[1].text(), "Sat 14 Mar 2026, 09:30 · 00:00:02") {
			t.Errorf("row: %q", rows[1].text())
		}
	})

	w.locked(func() {
		test.Tap(w.rowWith("Morning talk").rename)
		if w.renameUI == nil {
			t.Fatal("no rename dialog")
		}
		w.renameUI.entry.SetText("a/b")
		test.Tap(w.renameUI.save)
		if w.renameUI == nil || !strings.Contains(w.renameUI.err.Text, "not a usable name") {
			t.Fatalf("bad name accepted or not explained")
		}
		w.renameUI.entry.SetText("Keynote")
		test.Tap(w.renameUI.save)
	})
	if _, err := os.Stat(filepath.Join(dir, "Keynote.mp3")); err != nil {
		t.Fatalf("renamed file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Morning talk.mp3")); !os.IsNotExist(err) {
		t.Errorf("old file still there: %v", err)
	}
	waitFor(t, w, 5*time.Second, "the renamed row", func() bool { return w.rowWith("Keynote") != nil && w.rowWith("Morning") == nil })

	w.locked(func() {
		test.Tap(w.rowWith("Keynote").del)
		if w.confirm == nil {
			t.Fatal("Delete did not ask")
		}
		test.Tap(w.confirm.no)
	})
	if _, err := os.Stat(filepath.Join(dir, "Keynote.mp3")); err != nil {
		t.Fatalf("Keep it deleted the file: %v", err)
	}
	w.locked(func() {
		test.Tap(w.rowWith("Keynote").del)
		test.Tap(w.confirm.yes)
	})
	if _, err := os.Stat(filepath.Join(dir, "Keynote.mp3")); !os.IsNotExist(err) {
		t.Fatalf("Delete left the file: %v", err)
	}
	waitFor(t, w, 5*time.Second, "one row", func() bool {
		return len(w.rows()) == 1 && w.rowWith("Evening talk") != nil && w.history.title.Text == "Recordings (1)"
	})
}

// A microphone plugged in appears in the list and is announced; the chosen one unplugged
// while idle falls back to the default, and the window says so.
func TestDevicesFollowThePlugs(t *testing.T) {
	a := test.NewTempApp(t)
	st := app.DefaultSettings()
	st.Folder = t.TempDir()
	st.Device = "usb-1"
	plugged := make(chan []app.Device, 4)
	cur := []app.Device{{ID: "usb-1", Name: "USB Microphone"}, {ID: "builtin", Name: "Built-in Audio", Default: true}}
	w := New(a, Config{Settings: st, Prefs: app.MapPrefs{}, DevicePoll: 50 * time.Millisecond,
		Devices: func() ([]app.Device, error) {
			select {
			case cur = <-plugged:
			default:
			}
			return cur, nil
		}})
	t.Cleanup(func() { w.sess.Close(); w.stopBackground(); w.bg.Wait() })
	waitFor(t, w, 5*time.Second, "the microphones", func() bool { return w.devices.sel.Selected == "USB Microphone" })

	plugged <- []app.Device{{ID: "usb-1", Name: "USB Microphone"}, {ID: "builtin", Name: "Built-in Audio", Default: true}, {ID: "headset", Name: "Headset"}}
	waitFor(t, w, 5*time.Second, "the new microphone", func() bool {
		return len(w.devices.sel.Options) == 3 && strings.Contains(w.statusLabel.Text, "New microphone: “Headset”")
	})
	plugged <- []app.Device{{ID: "builtin", Name: "Built-in Audio", Default: true}, {ID: "headset", Name: "Headset"}}
	waitFor(t, w, 5*time.Second, "the fallback", func() bool {
		return w.devices.sel.Selected == "Built-in Audio (default)" && strings.Contains(w.statusLabel.Text, "“USB Microphone” is not connected")
	})
	if d := w.sess.Settings().Device; d != "" {
		t.Errorf("session device %q, want the default", d)
	}
	w.locked(func() { w.devices.sel.SetSelected("Headset") })
	if d := w.sess.Settings().Device; d != "headset" {
		t.Errorf("choosing Headset: session device %q", d)
	}
}

// variant forces the default theme's light or dark colours.
type variant struct {
	fyne.Theme
	v fyne.ThemeVariant
}

func (t variant) Color(n fyne.ThemeColorName, _ fyne.ThemeVariant) color.Color {
	return t.Theme.Color(n, t.v)
}

// The main window, idle, with two recordings (one recovered), in light and dark.
func TestSnapshots(t *testing.T) {
	dir := t.TempDir()
	day := time.Date(2026, 3, 14, 9, 30, 0, 0, time.Local)
	makeRecordings(t, dir,
		fixture{title: "Sunday sermon", date: day.Add(24 * time.Hour), length: 4 * time.Second},
		fixture{title: "Lecture 3: Thermodynamics", date: day, length: 2 * time.Second, recovered: true},
	)
	w := newTestWindow(t, dir, nil, "")
	waitFor(t, w, 5*time.Second, "a settled window", func() bool {
		return len(w.rows()) == 2 && w.devices.sel.Selected == "Built-in Audio (default)" && !w.statusLabel.Visible() &&
			w.link.listen.Text == "Listeners: 0 · this computer only"
	})
	for _, tc := range []struct {
		name string
		v    fyne.ThemeVariant
	}{{"main_light.png", theme.VariantLight}, {"main_dark.png", theme.VariantDark}} {
		test.ApplyTheme(t, variant{theme.DefaultTheme(), tc.v})
		w.locked(func() {
			w.win.Content().Refresh()
			test.AssertImageMatches(t, tc.name, w.win.Canvas().Capture())
		})
	}
	w.locked(func() {
		if !strings.Contains(w.rowWith("Lecture 3").text(), "recovered") || strings.Contains(w.rowWith("Sunday").text(), "recovered") {
			t.Errorf("recovered marks: %q / %q", w.rowWith("Lecture 3").text(), w.rowWith("Sunday").text())
		}
	})
}

// A microphone that cannot be opened: the window says why, in words, and is ready again.
func TestStartFailureIsExplained(t *testing.T) {
	dir := t.TempDir()
	w := newTestWindow(t, dir, nil, "ghost", func(c *Config) {
		c.Devices = func() ([]app.Device, error) { return []app.Device{{ID: "ghost", Name: "Ghost Mic"}}, nil }
	})
	waitFor(t, w, 5*time.Second, "the microphone list", func() bool { return w.devices.sel.Selected == "Ghost Mic" })
	w.locked(func() { test.Tap(w.transport.startBtn) })
	waitFor(t, w, 10*time.Second, "the failure", func() bool { return w.snap.State == app.StateFailed })
	w.locked(func() {
		if !w.statusLabel.Visible() || w.statusLabel.Text == "" || !strings.Contains(w.statusLabel.Text, "ghost") {
			t.Errorf("status line: %q", w.statusLabel.Text)
		}
		if w.transport.startBtn.Disabled() || w.transport.startBtn.Text != "Start recording" {
			t.Errorf("button after a failed start: %q disabled=%v", w.transport.startBtn.Text, w.transport.startBtn.Disabled())
		}
		if top := w.win.Canvas().Overlays().Top(); top == nil || !strings.Contains(labelsIn(top), "ghost") {
			t.Errorf("no dialog explaining the failure")
		}
	})
	if files, _ := filepath.Glob(filepath.Join(dir, "*.mp3")); len(files) != 0 {
		t.Errorf("a failed start left %v", files)
	}
}

// Closing the window while recording asks; confirming saves a complete MP3, then closes.
func TestCloseWhileRecordingSaves(t *testing.T) {
	dir := t.TempDir()
	w := newTestWindow(t, dir, nil, app.NullDevice)
	closed := make(chan struct{})
	w.locked(func() {
		w.win.SetOnClosed(func() { close(closed) })
		test.Tap(w.transport.startBtn)
	})
	waitFor(t, w, 10*time.Second, "recording", func() bool { return w.snap.State == app.StateRecording })
	w.locked(func() {
		test.Tap(w.transport.muteBtn)
	})
	waitFor(t, w, 5*time.Second, "mute shown", func() bool { return w.snap.Muted && strings.HasPrefix(w.transport.muteBtn.Text, "Muted") })
	time.Sleep(time.Second)
	w.locked(func() {
		w.requestClose() // what the window manager's close button calls
		if w.confirm == nil {
			t.Fatal("closing while recording did not ask")
		}
		w.key(fyne.KeyEscape)
		// quitting shows at once, on the UI goroutine, before the session hears of it
		if w.closing || w.confirm != nil || w.transport.startBtn.Text != "Stop recording" {
			t.Fatalf("Escape did not keep recording: closing %v, question open %v, button %q",
				w.closing, w.confirm != nil, w.transport.startBtn.Text)
		}
	})
	if w.sess.Snapshot().State != app.StateRecording {
		t.Fatal("Escape did not keep recording")
	}
	w.locked(func() {
		w.requestClose()
		test.Tap(w.confirm.yes)
	})
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("the window did not close")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("folder holds %v", files)
	}
	e, err := app.ReadEntry(files[0])
	if err != nil || e.Duration < time.Second {
		t.Errorf("saved recording: %+v, %v", e, err)
	}
	if fixed, _ := repair.Dir(dir, ""); len(fixed) != 0 {
		t.Errorf("the recording was not finalised: it needed repair")
	}
}

// The Space that dismisses a message must not also start a recording: while a one-button
// dialog is open, and just after it closes, Space starts nothing.
func TestSpaceOnMessageStartsNothing(t *testing.T) {
	w := newTestWindow(t, t.TempDir(), app.MapPrefs{}, app.NullDevice)
	// A start shows at once, on the UI goroutine, before the session hears of it: the button
	// says "Starting…" and cannot be pressed. So "nothing started" is checked right after the
	// key, and the last Space proves the same check sees a start.
	started := func() bool { return w.transport.startBtn.Text != "Start recording" || w.transport.startBtn.Disabled() }
	w.locked(func() {
		w.showInfo("Recordings recovered", "One recording was recovered.", "OK", nil)
		w.key(fyne.KeySpace)
		if started() {
			t.Fatalf("Space behind an open message started a recording: button %q", w.transport.startBtn.Text)
		}
		w.key(fyne.KeyReturn) // Enter dismisses the message
		if n := w.infoOpen.Load(); n != 0 {
			t.Fatalf("Enter left %d message(s) open", n)
		}
		w.key(fyne.KeySpace)
		if started() {
			t.Fatalf("Space just after a message closed started a recording: button %q", w.transport.startBtn.Text)
		}
	})
	if st := w.sess.Snapshot().State; st != app.StateIdle {
		t.Fatalf("a Space behind a message started the session: %v", st)
	}
	time.Sleep(500 * time.Millisecond)
	w.locked(func() {
		w.key(fyne.KeySpace)
		if !started() {
			t.Fatal("Space once the message is gone did not start")
		}
	})
	waitFor(t, w, 10*time.Second, "Space to start once the message is gone", func() bool {
		return w.sess.Snapshot().State == app.StateRecording
	})
}
