package ui

import (
	"fmt"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
	"podium/app/studio"
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
	if s.StudioKnown && s.State != app.StateIdle || s.StudioKnown && s.Studio.State != studio.Done {
		text += " · " + studioWords(s.Studio)
	}
	setLabel(p.link, text, imp)
	p.applyListeners(s, st)
}

// studioWords says where a studio copy stands, for the link line and the history.
func studioWords(st studio.Status) string {
	switch st.State {
	case studio.Uploading:
		if st.Size > 0 {
			return fmt.Sprintf("studio copy uploading (%s of %s)", size(st.Sent), size(st.Size))
		}
		return "studio copy uploading"
	case studio.Waiting:
		return "studio copy waiting for the network"
	case studio.Done:
		return "studio copy on the server"
	case studio.LiveOnly:
		return "live only (the server takes no studio copy)"
	}
	return "studio copy not uploaded"
}

// studioShort is studioWords for a history row, where room is short.
func studioShort(st studio.Status) string {
	switch st.State {
	case studio.Uploading:
		if st.Size > 0 {
			return fmt.Sprintf("uploading %d %%", 100*st.Sent/st.Size)
		}
		return "uploading"
	case studio.Waiting:
		return "upload waiting"
	case studio.Done:
		return "on the server"
	case studio.LiveOnly:
		return "live only"
	}
	return "not uploaded"
}

// applyListeners shows the listeners' line alone (the share dialog changes it at once).
func (p *linkPanel) applyListeners(s app.Snapshot, st app.Settings) {
	setText(p.listen, listenersText(s, st))
	setEnabled(p.shareBtn, s.ListenURL != "" || st.ServerURL == "")
}
