package ui

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"podium/app"
	"podium/audio/id3"
	"podium/audio/mp3/repair"
	"podium/scripts/testkit/audiotest"
)

// fixedDevices is a microphone list that never changes, so pictures and tests hold still.
func fixedDevices() ([]app.Device, error) {
	return []app.Device{
		{ID: "usb-1", Name: "USB Microphone"},
		{ID: "builtin", Name: "Built-in Audio", Default: true},
	}, nil
}

// newTestWindow opens the window on Fyne's test driver over folder, recording from device
// (app.NullDevice: silence on a clock; "" the default microphone).
func newTestWindow(t *testing.T, folder string, prefs app.Prefs, device string, opts ...func(*Config)) *Window {
	t.Helper()
	a := test.NewTempApp(t)
	st := app.DefaultSettings()
	st.Device = device
	st.Folder = folder
	if prefs == nil {
		prefs = app.MapPrefs{}
	}
	cfg := Config{
		Settings:    st,
		Prefs:       prefs,
		Devices:     fixedDevices,
		DevicePoll:  200 * time.Millisecond,
		HistoryPoll: 200 * time.Millisecond,
		Open:        func(string) error { return nil },
	}
	for _, o := range opts {
		o(&cfg)
	}
	w := New(a, cfg)
	w.locked(func() {
		w.win.Resize(fyne.NewSize(480, 640))
		w.win.Show()
	})
	t.Cleanup(func() {
		if err := w.sess.Close(); err != nil {
			t.Errorf("closing the session: %v", err)
		}
		w.stopBackground()
		w.bg.Wait()
	})
	return w
}

// locked runs f as the UI goroutine would: holding the window's lock, so the test's taps and
// reads never race with redraws from the window's own goroutines.
func (w *Window) locked(f func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	f()
}

// waitFor polls cond (under the lock) until it holds or the timeout passes.
func waitFor(t *testing.T, w *Window, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		w.locked(func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// key presses a key with nothing focused, as on the window's background.
func (w *Window) key(name fyne.KeyName) {
	w.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: name})
}

// walk visits every visible object under o, through widget renderers.
func walk(o fyne.CanvasObject, f func(fyne.CanvasObject)) {
	if o == nil || !o.Visible() {
		return
	}
	f(o)
	switch c := o.(type) {
	case *fyne.Container:
		for _, ch := range c.Objects {
			walk(ch, f)
		}
	case fyne.Widget:
		for _, ch := range test.WidgetRenderer(c).Objects() {
			walk(ch, f)
		}
	}
}

// rows are the history rows the list shows now.
func (w *Window) rows() []*historyRow {
	var out []*historyRow
	walk(w.history.list, func(o fyne.CanvasObject) {
		if r, ok := o.(*historyRow); ok {
			out = append(out, r)
		}
	})
	return out
}

func (w *Window) rowWith(text string) *historyRow {
	for _, r := range w.rows() {
		if strings.Contains(r.text(), text) {
			return r
		}
	}
	return nil
}

// labelsIn gathers the text of every visible label under o.
func labelsIn(o fyne.CanvasObject) string {
	var b strings.Builder
	walk(o, func(o fyne.CanvasObject) {
		if l, ok := o.(*widget.Label); ok {
			b.WriteString(l.Text + "\n")
		}
	})
	return b.String()
}

type fixture struct {
	title     string
	date      time.Time
	length    time.Duration
	recovered bool
}

// makeRecordings records each fixture from a tone WAV into dir, as Podium would: a real MP3
// with its tags and header, whose date and title the test chose.
func makeRecordings(t *testing.T, dir string, fx ...fixture) {
	t.Helper()
	tmp := t.TempDir()
	for _, f := range fx {
		wav := filepath.Join(tmp, f.title+".wav")
		audiotest.WriteWAV(t, wav, audiotest.Tone(f.length, 440, 6000)) // a quiet tone
		tags := id3.Tags{Title: f.title, Date: f.date}
		if f.recovered {
			tags.Comment = repair.RecoveredComment
		}
		rec, err := app.StartRecording(app.RecordingConfig{
			Input: wav, Out: filepath.Join(dir, f.title+".mp3"), Bitrate: 64, Tags: tags,
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-rec.Ended():
		case <-time.After(30 * time.Second):
			t.Fatal("fixture recording did not end")
		}
		if _, err := rec.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}
