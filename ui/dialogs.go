package ui

import (
	"sync/atomic"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// openDialogs are the dialogs open over the window, which Enter, Escape and Space must know
// about. UI state, but for the two atomics Space reads.
type openDialogs struct {
	confirm    *confirmDialog
	infoOpen   atomic.Int32         // one-button dialogs open (see showInfo)
	infoDlg    *dialog.CustomDialog // the newest of them, for Enter and Esc to dismiss
	quietUntil atomic.Int64         // Space starts nothing until then (unix ns)
	settingsUI *settingsDialog
	renameUI   *renameDialog
	shareUI    *shareDialog
	chaptersUI *chaptersDialog
}

// answerOpen is Enter (yes) or Escape (no): it answers the open question, or dismisses the
// newest message.
func (w *Window) answerOpen(yes bool) {
	if w.confirm != nil {
		w.confirm.answer(yes)
	} else if w.infoDlg != nil {
		w.infoDlg.Hide()
	}
}

// confirmDialog is a yes/no question whose buttons the window keeps, so Enter and Escape can
// answer it and tests can tap them. The safe answer is always on the left and is what
// Escape picks.
type confirmDialog struct {
	d              *dialog.CustomDialog
	no, yes        *widget.Button
	onYes          func()
	aboutRecording bool // moot once the recording ends by itself
	answered       bool
	w              *Window
}

func (c *confirmDialog) answer(yes bool) {
	if c.answered {
		return
	}
	c.answered = true
	if c.w.confirm == c {
		c.w.confirm = nil
	}
	c.d.Hide()
	if yes && c.onYes != nil {
		c.onYes()
	}
}

// ask shows a question; onYes runs on the UI goroutine if the presenter confirms.
func (w *Window) ask(title, msg, no, yes string, onYes func()) {
	if w.confirm != nil {
		w.confirm.d.Hide()
	}
	text := widget.NewLabel(msg)
	text.Wrapping = fyne.TextWrapWord
	c := &confirmDialog{onYes: onYes, w: w, aboutRecording: w.snap.State == app.StateRecording}
	c.no = widget.NewButton(no+" (Esc)", func() { c.answer(false) })
	c.yes = widget.NewButtonWithIcon(yes+" (Enter)", theme.ConfirmIcon(), func() { c.answer(true) })
	c.yes.Importance = widget.DangerImportance
	c.d = dialog.NewCustomWithoutButtons(title, container.NewPadded(text), w.win)
	c.d.SetButtons([]fyne.CanvasObject{c.no, c.yes})
	c.d.SetOnClosed(func() {
		if w.confirm == c {
			w.confirm = nil
		}
	})
	w.confirm = c
	c.d.Resize(fyne.NewSize(w.win.Canvas().Size().Width*0.9, 0))
	c.d.Show()
}

// showInfo shows a message with one button. While it is open, and for a moment after it
// closes, Space starts nothing: the Space that presses its OK button would otherwise reach
// the window too and start a recording the presenter did not ask for.
func (w *Window) showInfo(title, msg, ok string, onClosed func()) {
	d := dialogInfo(w.win, title, msg, ok)
	w.infoOpen.Add(1)
	w.infoDlg = d
	d.SetOnClosed(func() {
		w.infoOpen.Add(-1)
		if w.infoDlg == d {
			w.infoDlg = nil
		}
		w.quietUntil.Store(time.Now().Add(400 * time.Millisecond).UnixNano())
		if onClosed != nil {
			onClosed()
		}
	})
	d.Show()
}

// spaceAllowed: Space may start or stop only with no dialog open or just closed.
func (w *Window) spaceAllowed() bool {
	return w.confirm == nil && w.settingsUI == nil && w.renameUI == nil && w.shareUI == nil && w.chaptersUI == nil &&
		w.infoOpen.Load() == 0 && time.Now().UnixNano() > w.quietUntil.Load()
}

// dialogInfo is a message with one button.
func dialogInfo(win fyne.Window, title, msg, ok string) *dialog.CustomDialog {
	text := widget.NewLabel(msg)
	text.Wrapping = fyne.TextWrapWord
	d := dialog.NewCustom(title, ok, container.NewPadded(text), win)
	d.Resize(fyne.NewSize(win.Canvas().Size().Width*0.9, 0))
	return d
}
