package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// linkPanel is the live stream's connection in words and the listeners' line with Share….
type linkPanel struct {
	link     *widget.Label
	listen   *widget.Label
	shareBtn *widget.Button
}

func newLinkPanel(w *Window) *linkPanel {
	p := &linkPanel{link: widget.NewLabel(""), listen: widget.NewLabel("")}
	p.link.Wrapping = fyne.TextWrapWord
	p.listen.Truncation = fyne.TextTruncateEllipsis
	p.shareBtn = widget.NewButtonWithIcon("Share…", theme.MailForwardIcon(), w.showShare)
	return p
}

func (p *linkPanel) objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{p.link, container.NewBorder(nil, nil, nil, p.shareBtn, p.listen)}
}

// apply shows the link and the listeners of s, with settings st.
func (p *linkPanel) apply(s app.Snapshot, st app.Settings) {
	text, imp := "Live stream: "+s.Link, widget.WarningImportance
	switch {
	case s.State != app.StateRecording && s.State != app.StateStarting:
		text, imp = "Live stream: starts with the recording", widget.LowImportance
	case s.State != app.StateRecording:
		imp = widget.LowImportance
	case s.Link == "Live":
		imp = widget.SuccessImportance
	}
	if s.StudioKnown && s.State != app.StateIdle || s.StudioKnown && !app.StudioOnServer(s.Studio) {
		text += " · " + app.StudioWords(s.Studio)
	}
	setLabel(p.link, text, imp)
	p.applyListeners(s, st)
}

// applyListeners shows the listeners' line alone (the share dialog changes it at once).
func (p *linkPanel) applyListeners(s app.Snapshot, st app.Settings) {
	setText(p.listen, listenersText(s, st))
	setEnabled(p.shareBtn, s.ListenURL != "" || st.ServerURL == "")
}
