package ui

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"podium/app"
	"podium/scripts/testkit/audiotest"
)

// A title typed in the window and two chapters marked with M reach the MP3's tags; the newest
// chapter is named in the window while recording, the first later in the history; the history
// row lists them, and playing chapter 2 from its dialog starts where chapter 2 starts.
//
// The chapters' times are checked against the recording's clock read just before M and just
// after the mark shows: the clock counts 20 ms frames, so a mark lies within 20 ms outside
// that bracket at most, and the tag keeps milliseconds (1 ms more).
func TestTitleAndChaptersReachTagsAndHistory(t *testing.T) {
	audiotest.VirtualMic(t) // the speakers the in-window player plays to
	dir := t.TempDir()
	prefs := app.MapPrefs{}
	w := newTestWindow(t, dir, prefs, app.NullDevice)
	t.Cleanup(func() { w.locked(w.stopPlaying) })
	const title = "Distributed systems, lecture 4"
	w.locked(func() {
		test.Type(w.talk.title, title)
		w.win.Canvas().Unfocus()
		if w.talk.box.Visible() || !w.talk.markBtn.Disabled() {
			t.Error("chapter marks offered before recording")
		}
		w.key(fyne.KeyM) // not recording: marks nothing
		test.Tap(w.transport.startBtn)
	})
	waitFor(t, w, 10*time.Second, "recording", func() bool {
		return w.snap.State == app.StateRecording && w.talk.box.Visible() && !w.talk.markBtn.Disabled()
	})
	if got := w.sess.Settings().Title; got != title {
		t.Errorf("the session's title at Start: %q", got)
	}
	if got := app.LoadSettings(prefs).Title; got != title {
		t.Errorf("the title kept with the settings: %q", got)
	}

	type bracket struct{ before, after time.Duration }
	var marks []bracket
	mark := func(n int, press func()) {
		waitFor(t, w, 10*time.Second, "the clock to move on", func() bool {
			return w.sess.Snapshot().Elapsed >= time.Duration(2*n)*time.Second
		})
		var b bracket
		w.locked(func() {
			b.before = w.sess.Snapshot().Elapsed
			press()
		})
		waitFor(t, w, 5*time.Second, "the mark in the window", func() bool { return len(w.talk.rows) == n })
		b.after = w.sess.Snapshot().Elapsed
		marks = append(marks, b)
	}
	mark(1, func() { w.key(fyne.KeyM) })
	mark(2, func() { test.Tap(w.talk.markBtn) })
	w.locked(func() {
		if got := len(w.talk.marks.Objects); got != 2 {
			t.Fatalf("the window lists %d marks", got)
		}
		if !strings.Contains(labelsIn(w.talk.marks.Objects[0]), clock(marks[1].before)[:7]) {
			t.Errorf("the newest mark is not listed first: %q", labelsIn(w.talk.marks.Objects[0]))
		}
		// named as the talk goes: the newest chapter's field, Enter
		test.Type(w.talk.rows[1].name, "Results")
		w.talk.rows[1].name.OnSubmitted(w.talk.rows[1].name.Text)
	})
	live := w.sess.Chapters()
	time.Sleep(time.Second)
	waitFor(t, w, 5*time.Second, "the name in the session", func() bool {
		chs := w.sess.Chapters()
		return len(chs) == 2 && chs[1].Name == "Results"
	})

	// chapter 2 runs 4 s, for the player below
	waitFor(t, w, 10*time.Second, "8 s recorded", func() bool { return w.sess.Snapshot().Elapsed >= 8*time.Second })
	w.locked(func() {
		test.Tap(w.transport.startBtn)
		test.Tap(w.confirm.yes)
	})
	waitFor(t, w, 15*time.Second, "the recording in the history", func() bool {
		return w.snap.State == app.StateIdle && len(w.rows()) == 1
	})
	files, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("folder holds %v", files)
	}
	e, err := app.ReadEntry(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Title != title {
		t.Errorf("the MP3's title is %q, want %q", e.Title, title)
	}
	if len(e.Chapters) != 2 {
		t.Fatalf("the MP3 has chapters %+v, want 2", e.Chapters)
	}
	for i, c := range e.Chapters {
		b := marks[i]
		t.Logf("chapter %d at %v (the session said %v; the clock read %v before the press, %v once shown)", i+1, c.Start, live[i].Start, b.before, b.after)
		if c.Start < b.before-21*time.Millisecond || c.Start > b.after+21*time.Millisecond {
			t.Errorf("chapter %d starts at %v, outside %v…%v", i+1, c.Start, b.before, b.after)
		}
		if d := c.Start - live[i].Start; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("chapter %d: %v in the tag, %v in the session", i+1, c.Start, live[i].Start)
		}
	}
	if e.Chapters[0].Name != "" || e.Chapters[1].Name != "Results" {
		t.Errorf("chapter names %q, %q; want none and Results", e.Chapters[0].Name, e.Chapters[1].Name)
	}

	// the history lists them; its dialog names the first and plays the second
	waitFor(t, w, 5*time.Second, "the row's chapters", func() bool {
		r := w.rowWith("2 chapters")
		return r != nil && r.chapters.Visible()
	})
	w.locked(func() {
		row := w.rowWith("2 chapters")
		t.Logf("row: %s", row.text())
		if !strings.Contains(row.text(), clock(e.Chapters[1].Start)+" Results") {
			t.Errorf("the row does not list chapter 2: %q", row.text())
		}
		test.Tap(row.chapters)
		if w.chaptersUI == nil {
			t.Fatal("no chapters dialog")
		}
		w.key(fyne.KeySpace) // starts nothing behind the dialog
		cd := w.chaptersUI
		cd.names[0].SetText("Introduction")
		cd.names[0].OnSubmitted(cd.names[0].Text)
		if cd.err.Visible() {
			t.Fatalf("renaming chapter 1: %s", cd.err.Text)
		}
	})
	if st := w.sess.Snapshot().State; st != app.StateIdle {
		t.Fatalf("Space behind the chapters dialog: %v", st)
	}
	if e2, _ := app.ReadEntry(files[0]); len(e2.Chapters) != 2 || e2.Chapters[0].Name != "Introduction" || e2.Chapters[1] != e.Chapters[1] || e2.Duration != e.Duration {
		t.Errorf("after renaming chapter 1 in the history: %+v (before %+v)", e2, e)
	}
	var pl app.Player
	w.locked(func() {
		tapped := time.Now()
		test.Tap(w.chaptersUI.play[1])
		pl = w.player
		if pl == nil {
			t.Fatalf("chapter 2 does not play: %s", w.statusLabel.Text)
		}
		// what the speakers may have taken since the tap is not an error
		if pos, since := pl.Position(), time.Since(tapped); pos < e.Chapters[1].Start || pos-since > e.Chapters[1].Start+50*time.Millisecond {
			t.Errorf("playing chapter 2 (at %v) starts at %v (%v after the tap)", e.Chapters[1].Start, pos, since)
		}
	})
	// The sound server takes a while to ask for the samples; from then on the position moves
	// with the clock.
	position := pl.Position
	// (PulseAudio takes one period at once, then nothing for up to 2 s.)
	waitFor(t, w, 10*time.Second, "the speakers to play", func() bool {
		return pl.Position() > e.Chapters[1].Start+100*time.Millisecond
	})
	p0, t0 := position(), time.Now()
	time.Sleep(time.Second)
	p1, wall := position(), time.Since(t0)
	t.Logf("chapter 2 (at %v) playing: %v, then %v after %v", e.Chapters[1].Start, p0, p1, wall)
	if d := p1 - p0 - wall; d < -100*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("in %v of playing the position moved %v", wall, p1-p0)
	}
	waitFor(t, w, 5*time.Second, "the player's line", func() bool {
		return w.history.bar.box.Visible() && strings.Contains(w.history.bar.label.Text, "from chapter 2")
	})
	w.locked(func() { savePNG(t, "/tmp/podium-chapters-dialog.png", w.win.Canvas().Capture()) })
	w.locked(func() {
		test.Tap(w.history.bar.stop)
		if w.player != nil || w.history.bar.box.Visible() {
			t.Error("Stop did not stop playing")
		}
		test.Tap(w.chaptersUI.done)
		if w.chaptersUI != nil {
			t.Error("Close left the chapters dialog open")
		}
	})
}

// savePNG keeps a picture of the window for people to look at.
func savePNG(t *testing.T, path string, img image.Image) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	t.Logf("picture of the window: %s", path)
}
