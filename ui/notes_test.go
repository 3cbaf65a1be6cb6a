package ui

import (
	"testing"

	"fyne.io/fyne/v2/test"

	"podium/app"
)

// Voice processing that is not happening is said while recording, and not once it is over.
func TestNotesSayVoiceProblem(t *testing.T) {
	test.NewTempApp(t)
	p := newNotesPanel()
	const problem = "Voice processing could not start (x): your voice goes on as the microphone hears it."
	p.apply(app.Snapshot{State: app.StateRecording, VoiceProblem: problem})
	if !p.voice.Visible() || p.voice.Text != problem {
		t.Errorf("while recording: shown %v, %q", p.voice.Visible(), p.voice.Text)
	}
	p.apply(app.Snapshot{State: app.StateIdle})
	if p.voice.Visible() {
		t.Errorf("after the talk: still shown %q", p.voice.Text)
	}
}
