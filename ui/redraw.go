package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"
)

// The window redraws 10 times a second while recording, and on the Fyne driver every
// Refresh costs a walk of the widget and a repaint. So what a snapshot sets goes through
// these: each compares with what the widget shows now (its own fields are the last applied
// value, whoever set them) and refreshes only what changed.

// setLabel shows text with importance imp on l, refreshing it once if either changed.
func setLabel(l *widget.Label, text string, imp widget.Importance) {
	if l.Text == text && l.Importance == imp {
		return
	}
	l.Text, l.Importance = text, imp
	l.Refresh()
}

// setText is setLabel keeping the label's importance.
func setText(l *widget.Label, text string) { setLabel(l, text, l.Importance) }

// setButton shows text, icon and importance on b, refreshing it once if any changed; a nil
// icon keeps the icon and importance b has.
func setButton(b *widget.Button, text string, icon fyne.Resource, imp widget.Importance) {
	if icon == nil {
		icon, imp = b.Icon, b.Importance
	}
	if b.Text == text && b.Icon == icon && b.Importance == imp {
		return
	}
	b.Text, b.Icon, b.Importance = text, icon, imp
	b.Refresh()
}

// setEnabled enables or disables w; the widget does nothing when it is so already.
func setEnabled(w fyne.Disableable, on bool) {
	if on {
		w.Enable()
	} else {
		w.Disable()
	}
}

// setShown shows or hides o; widgets do nothing when they are so already.
func setShown(o fyne.CanvasObject, on bool) {
	if on {
		o.Show()
	} else {
		o.Hide()
	}
}
