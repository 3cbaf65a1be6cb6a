package ui

import (
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// typingPause is how long typing must pause before a title or a chapter's name is passed on:
// each may travel to the server, so not one request a keystroke.
const typingPause = 600 * time.Millisecond

// talkPanel is the talk's title (for the next recording, kept with the settings, editable
// until Stop) and, while recording, the chapter marks: a button (and the M key) marks one
// at the current position; each mark is listed, newest first, with its time and a field for
// its name.
type talkPanel struct {
	w        *Window
	title    *widget.Entry
	titleDue debounce
	markBtn  *widget.Button
	marks    *fyne.Container // chapter rows, newest first
	box      *fyne.Container // the button and the marks: shown while a recording is under way
	rows     []*chapterRow   // by chapter index
}

// chapterRow is one chapter marked in this recording.
type chapterRow struct {
	at   *widget.Label
	name *widget.Entry
	due  debounce // the name, once typing pauses
}

func newTalkPanel(w *Window) *talkPanel {
	p := &talkPanel{w: w}
	p.title = widget.NewEntry()
	p.title.SetPlaceHolder("Title of the next talk (for its tags and listeners)")
	p.title.SetText(w.cfg.Settings.Title)
	p.title.OnChanged = func(string) { p.titleChanged() }
	p.title.OnSubmitted = func(string) { p.titleDue.flush(); w.win.Canvas().Unfocus() }
	p.markBtn = widget.NewButtonWithIcon("Mark chapter (M)", theme.ContentAddIcon(), p.mark)
	p.markBtn.Disable()
	p.marks = container.NewVBox()
	scroll := container.NewVScroll(p.marks)
	// the newest mark, whose name is typed now; the older ones scroll (the window keeps its
	// size: the recordings below give up one row)
	scroll.SetMinSize(fyne.NewSize(0, 40))
	p.box = container.NewBorder(nil, nil, container.NewVBox(p.markBtn), nil, scroll)
	p.box.Hide()
	return p
}

// objects are the panel's rows: the title, then the marks while recording.
func (p *talkPanel) objects() []fyne.CanvasObject {
	label := widget.NewLabelWithStyle("Title", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	return []fyne.CanvasObject{container.NewBorder(nil, nil, label, nil, p.title), p.box}
}

// applyState: chapters can be marked while recording; the marks stay in view until the
// recording is saved (then the history has them).
func (p *talkPanel) applyState(state app.State) {
	setEnabled(p.markBtn, state == app.StateRecording)
	setShown(p.box, state == app.StateStarting || state == app.StateRecording ||
		state == app.StateInterrupted || state == app.StateStopping)
}

// titleChanged keeps the title with the settings (for the next talk) and, while recording,
// gives it to the session (for this one), once typing pauses.
func (p *talkPanel) titleChanged() {
	w, title := p.w, p.title.Text
	recording := w.snap.State == app.StateRecording || w.snap.State == app.StateInterrupted
	p.titleDue.set(typingPause, func() {
		if recording {
			w.sess.SetTitle(title)
		}
		w.ui(func() { p.keepTitle(title) })
	})
}

// keepTitle stores title with the settings.
func (p *talkPanel) keepTitle(title string) {
	st := p.w.sess.Settings()
	if st.Title == title {
		return
	}
	st.Title = title
	p.w.sess.SetSettings(st)
	_ = app.SaveSettings(p.w.prefs, st) // an invalid folder is for the settings dialog to say
}

// starting is the big button starting a recording: the title goes with it and the marks of
// the last recording go.
func (p *talkPanel) starting() {
	p.titleDue.cancel()
	p.keepTitle(p.title.Text)
	p.rows = nil
	p.marks.Objects = nil
	p.marks.Refresh()
}

// stopping is what the field and the names say at Stop: for the session before it saves.
// It returns a function to run off the UI goroutine, just before Session.Stop.
func (p *talkPanel) stopping() func() {
	p.titleDue.cancel()
	title := p.title.Text
	p.keepTitle(title)
	type rename struct {
		i    int
		name string
	}
	var names []rename
	for i, r := range p.rows {
		if r.due.cancel() {
			names = append(names, rename{i, r.name.Text})
		}
	}
	w := p.w
	return func() {
		w.sess.SetTitle(title)
		for _, n := range names {
			_ = w.sess.RenameChapter(n.i, n.name)
		}
	}
}

// mark is the button and the M key: a chapter at the current position. The session stamps
// it when it is asked, so the position is the moment of the press.
func (p *talkPanel) mark() {
	w := p.w
	if w.closing || w.snap.State != app.StateRecording {
		return
	}
	go func() {
		_, err := w.sess.MarkChapter("")
		chs := w.sess.Chapters()
		w.ui(func() {
			if err != nil {
				w.setStatus("Could not mark a chapter: "+err.Error(), widget.DangerImportance)
				return
			}
			p.show(chs)
		})
	}()
}

// show lists chs, adding the rows that are new; a name being typed is left alone.
func (p *talkPanel) show(chs []app.Chapter) {
	for i := len(p.rows); i < len(chs); i++ {
		r := p.newRow(i, chs[i])
		p.rows = append(p.rows, r)
		p.marks.Objects = append([]fyne.CanvasObject{
			container.NewBorder(nil, nil, r.at, nil, r.name),
		}, p.marks.Objects...)
	}
	p.marks.Refresh()
}

func (p *talkPanel) newRow(i int, c app.Chapter) *chapterRow {
	w := p.w
	r := &chapterRow{at: widget.NewLabel(clock(c.Start)), name: widget.NewEntry()}
	r.at.TextStyle = fyne.TextStyle{Monospace: true}
	r.name.SetPlaceHolder(fmt.Sprintf("Chapter %d: a name, if you like (Enter)", i+1))
	r.name.SetText(c.Name)
	send := func(name string) {
		if w.snap.State != app.StateRecording && w.snap.State != app.StateInterrupted {
			return // saved already: Stop passed it on, and the history renames from now on
		}
		r.due.set(typingPause, func() { _ = w.sess.RenameChapter(i, name) })
	}
	r.name.OnChanged = send
	r.name.OnSubmitted = func(name string) {
		send(name)
		r.due.flush()
		w.win.Canvas().Unfocus() // so M marks again
	}
	return r
}

// debounce runs the newest function it was given once no newer one came for a while, on a
// timer's goroutine: the function must not touch widgets.
type debounce struct {
	mu sync.Mutex
	t  *time.Timer
	f  func()
}

func (d *debounce) set(after time.Duration, f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.t != nil {
		d.t.Stop()
	}
	d.f = f
	d.t = time.AfterFunc(after, d.fire)
}

func (d *debounce) fire() {
	d.mu.Lock()
	f := d.f
	d.f = nil
	d.mu.Unlock()
	if f != nil {
		f()
	}
}

// flush runs a waiting function now, in the background.
func (d *debounce) flush() {
	d.mu.Lock()
	if d.t != nil {
		d.t.Stop()
	}
	d.mu.Unlock()
	go d.fire()
}

// cancel drops a waiting function and says whether there was one: the caller passes the
// value on itself.
func (d *debounce) cancel() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.t != nil {
		d.t.Stop()
	}
	waiting := d.f != nil
	d.f = nil
	return waiting
}
