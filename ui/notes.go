package ui

import (
	"fmt"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// notesPanel is what the window notes about the recording: where it is saved, audio the
// computer dropped, voice processing that is not happening, and the session's warnings (the
// disk filling up).
type notesPanel struct {
	file, drop, warn *widget.Label
	voice            *widget.Label
	loud             *widget.Label // the last talk's loudness, once saved
}

func newNotesPanel() *notesPanel {
	p := &notesPanel{file: widget.NewLabel(""), drop: widget.NewLabel(""), warn: widget.NewLabel(""), loud: widget.NewLabel(""), voice: widget.NewLabel("")}
	p.loud.SizeName = theme.SizeNameCaptionText
	p.loud.Hide()
	p.file.Truncation = fyne.TextTruncateEllipsis
	p.file.SizeName = theme.SizeNameCaptionText
	p.file.Hide()
	for _, l := range []*widget.Label{p.drop, p.voice, p.warn} {
		l.Importance = widget.WarningImportance
		l.Wrapping = fyne.TextWrapWord
		l.Hide()
	}
	return p
}

func (p *notesPanel) objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{p.file, p.loud, p.drop, p.voice, p.warn}
}

func (p *notesPanel) apply(s app.Snapshot) {
	saving := s.State == app.StateRecording && s.File != ""
	if saving {
		setText(p.file, "Saving to “"+filepath.Base(s.File)+"” in "+tildeDir(filepath.Dir(s.File)))
	}
	setShown(p.file, saving)
	last := s.State != app.StateRecording && s.LastLoudness != nil
	if last {
		setText(p.loud, fmt.Sprintf("Last talk: %s integrated, loudness range %.1f LU (tagged for ReplayGain)",
			lufsWords(s.LastLoudness.Integrated), s.LastLoudness.Range))
	}
	setShown(p.loud, last)
	if s.DroppedSamples > 0 {
		setText(p.drop, fmt.Sprintf("%d samples dropped (%.2f s of audio missing): the computer could not keep up. The MP3 is still valid.",
			s.DroppedSamples, s.Dropped().Seconds()))
	}
	setShown(p.drop, s.DroppedSamples > 0)
	if s.VoiceProblem != "" {
		setText(p.voice, s.VoiceProblem)
	}
	setShown(p.voice, s.VoiceProblem != "")
	if s.Warning != "" {
		setText(p.warn, s.Warning)
	}
	setShown(p.warn, s.Warning != "")
}
