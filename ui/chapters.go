package ui

import (
	"fmt"
	"path/filepath"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// chaptersDialog lists a saved recording's chapters: each plays from where it starts, and
// its name can be changed (the MP3's tag is rewritten; the audio is kept).
type chaptersDialog struct {
	d     *dialog.CustomDialog
	path  string
	play  []*widget.Button // by chapter
	names []*widget.Entry
	done  *widget.Button
	err   *widget.Label
	body  *fyne.Container
}

func (p *historyPanel) showChapters(e app.Entry) {
	w := p.w
	cd := &chaptersDialog{path: e.Path, err: widget.NewLabel("")}
	cd.err.Importance = widget.DangerImportance
	cd.err.Wrapping = fyne.TextWrapWord
	cd.err.Hide()
	grid := container.NewVBox()
	for i, c := range e.Chapters {
		at := c.Start
		play := widget.NewButtonWithIcon("", theme.MediaPlayIcon(), func() {
			p.playFrom(e, at, fmt.Sprintf("chapter %d", i+1))
		})
		when := widget.NewLabel(clock(at))
		when.TextStyle = fyne.TextStyle{Monospace: true}
		name := widget.NewEntry()
		name.SetPlaceHolder(fmt.Sprintf("Chapter %d (no name)", i+1))
		name.SetText(c.Name)
		name.OnSubmitted = func(s string) { cd.rename(p, i, s) }
		cd.play = append(cd.play, play)
		cd.names = append(cd.names, name)
		grid.Add(container.NewBorder(nil, nil, container.NewHBox(play, when), nil, name))
	}
	scroll := container.NewVScroll(grid)
	scroll.SetMinSize(fyne.NewSize(0, min(float32(len(e.Chapters)), 6)*44))
	hint := widget.NewLabel("A play button plays the recording here in Podium from where its chapter starts. Type a name and press Enter to keep it.")
	hint.Wrapping = fyne.TextWrapWord
	hint.Importance = widget.LowImportance
	cd.body = container.NewBorder(hint, cd.err, nil, nil, scroll)
	cd.done = widget.NewButton("Close", func() { cd.close(p) })
	cd.d = dialog.NewCustomWithoutButtons("Chapters of “"+e.Title+"”", cd.body, w.win)
	cd.d.SetButtons([]fyne.CanvasObject{cd.done})
	cd.d.SetOnClosed(func() {
		if w.chaptersUI == cd {
			w.chaptersUI = nil
		}
	})
	cd.d.Resize(fyne.NewSize(w.win.Canvas().Size().Width*0.95, 0))
	w.chaptersUI = cd
	cd.d.Show()
}

// rename keeps chapter i's new name in the recording's tag.
func (cd *chaptersDialog) rename(p *historyPanel, i int, name string) bool {
	err := app.History{Dir: filepath.Dir(cd.path)}.RenameChapter(cd.path, i, name)
	if err != nil {
		cd.err.SetText(capitalise(err.Error()))
		cd.err.Show()
		cd.body.Refresh()
		return false
	}
	cd.err.Hide()
	poke(p.w.histKick)
	return true
}

// close keeps every name that was changed without Enter, then closes.
func (cd *chaptersDialog) close(p *historyPanel) {
	var e *app.Entry
	for i := range p.entries {
		if p.entries[i].Path == cd.path {
			e = &p.entries[i]
		}
	}
	for i, n := range cd.names {
		if e != nil && i < len(e.Chapters) && e.Chapters[i].Name == n.Text {
			continue
		}
		if !cd.rename(p, i, n.Text) {
			return
		}
	}
	cd.d.Hide()
}

// playerBar is what plays in the window: a recording from a chapter, with its position and
// a stop button. UI state; the player itself plays on its own.
type playerBar struct {
	label *widget.Label
	stop  *widget.Button
	box   *fyne.Container
}

func newPlayerBar(onStop func()) *playerBar {
	b := &playerBar{label: widget.NewLabel("")}
	b.label.Truncation = fyne.TextTruncateEllipsis
	b.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), onStop)
	b.box = container.NewBorder(nil, nil, nil, b.stop, b.label)
	b.box.Hide()
	return b
}

// playFrom plays e from at in the window (the system's player cannot be told where to start),
// instead of whatever played before.
func (p *historyPanel) playFrom(e app.Entry, at time.Duration, what string) {
	w := p.w
	w.stopPlaying()
	pl, err := w.cfg.Play(e.Path, at)
	if err != nil {
		p.report(err, "play the recording")
		return
	}
	w.player = pl
	title := e.Title
	show := func() {
		setText(p.bar.label, fmt.Sprintf("Playing “%s” from %s · %s", title, what, clock(pl.Position())))
	}
	show()
	p.bar.box.Show()
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-pl.Done():
				w.ui(func() {
					if w.player == pl {
						w.player = nil
						p.bar.box.Hide()
					}
					if err := pl.Err(); err != nil {
						p.report(err, "play the recording to the end")
					}
				})
				_ = pl.Close()
				return
			case <-w.done:
				return
			case <-t.C:
				w.ui(func() {
					if w.player == pl {
						show()
					}
				})
			}
		}
	}()
}

// stopPlaying stops what plays in the window, if anything does.
func (w *Window) stopPlaying() {
	if w.player == nil {
		return
	}
	pl := w.player
	w.player = nil
	w.history.bar.box.Hide()
	go pl.Close() // it waits for the device: not on the UI goroutine
}
