package ui

import (
	"fmt"
	"image/color"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// transportPanel is the banner, the big start/stop button (with "Stop and save" beside it
// while paused), the keyboard hint, and the clock with the mute button.
type transportPanel struct {
	w        *Window
	banner   *widget.Label
	startBtn *widget.Button
	stopBtn  *widget.Button // shown only while paused by an unplugged microphone
	hint     *widget.Label
	clock    *clockText
	muteBtn  *widget.Button
}

func newTransportPanel(w *Window) *transportPanel {
	p := &transportPanel{w: w}
	p.banner = widget.NewLabel("")
	p.banner.SizeName = theme.SizeNameSubHeadingText
	p.banner.TextStyle = fyne.TextStyle{Bold: true}
	p.banner.Alignment = fyne.TextAlignCenter

	p.startBtn = widget.NewButtonWithIcon("Start recording", theme.MediaRecordIcon(), p.toggle)
	p.startBtn.Importance = widget.HighImportance
	p.stopBtn = widget.NewButtonWithIcon("Stop and save", theme.MediaStopIcon(), p.askStop)
	p.stopBtn.Importance = widget.DangerImportance
	p.stopBtn.Hide()
	p.hint = widget.NewLabel("Space or Ctrl+R starts and stops · Stop asks first")
	p.hint.Importance = widget.LowImportance
	p.hint.Alignment = fyne.TextAlignCenter
	p.hint.SizeName = theme.SizeNameCaptionText

	p.clock = newClockText("00:00:00")
	p.muteBtn = widget.NewButtonWithIcon("Mute", theme.VolumeMuteIcon(), p.toggleMute)
	return p
}

// objects are the panel's rows, top to bottom.
func (p *transportPanel) objects() []fyne.CanvasObject {
	tall := canvas.NewRectangle(color.Transparent)
	tall.SetMinSize(fyne.NewSize(0, 64))
	bigButton := container.NewStack(tall, container.NewBorder(nil, nil, nil, p.stopBtn, p.startBtn))
	clockRow := container.NewBorder(nil, nil, p.clock, container.NewCenter(p.muteBtn))
	return []fyne.CanvasObject{p.banner, bigButton, p.hint, clockRow}
}

// applyState shows what the state alone decides.
func (p *transportPanel) applyState(v stateView) {
	setLabel(p.banner, v.banner, v.bannerImp)
	setButton(p.startBtn, v.button, v.buttonIcon(), v.buttonImp)
	setEnabled(p.startBtn, v.enabled)
	setShown(p.stopBtn, v.stopShown)
}

// apply shows the clock and the mute state of s.
func (p *transportPanel) apply(s app.Snapshot) {
	p.clock.set(clock(s.Elapsed))
	if s.Muted {
		setButton(p.muteBtn, "Muted: tap to unmute", theme.VolumeUpIcon(), widget.WarningImportance)
	} else {
		setButton(p.muteBtn, "Mute", theme.VolumeMuteIcon(), widget.MediumImportance)
	}
}

// busy shows the big button as working on something (it cannot be pressed meanwhile).
func (p *transportPanel) busy(text string) {
	p.startBtn.Disable()
	setButton(p.startBtn, text, nil, 0)
}

// saving is the window closing over a recording: it is being saved.
func (p *transportPanel) saving(banner string) {
	p.busy("Saving…")
	setText(p.banner, banner)
}

// toggle is the big button: start when ready, ask before stopping when recording.
func (p *transportPanel) toggle() {
	if p.w.closing {
		return
	}
	switch p.w.sess.Snapshot().State {
	case app.StateIdle, app.StateFailed:
		p.start()
	case app.StateRecording:
		p.askStop()
	case app.StateInterrupted:
		p.resume()
	}
}

// resume continues a recording paused by an unplugged microphone, on the one now selected,
// into the same file.
func (p *transportPanel) resume() {
	w := p.w
	p.busy("Continuing…")
	go func() {
		// A failure stays Interrupted with the reason in the snapshot.
		_ = w.sess.Continue()
		w.ui(func() { w.applyState(w.sess.Snapshot().State) })
	}()
}

func (p *transportPanel) start() {
	w := p.w
	w.wasRecording = false
	p.busy("Starting…")
	w.devices.allow(false)
	w.setStatus("", widget.MediumImportance)
	w.talk.starting()
	go func() {
		// A failure shows up through the snapshot (StateFailed with the reason) as a dialog.
		_ = w.sess.Start()
	}()
}

func (p *transportPanel) askStop() {
	w := p.w
	snap := w.sess.Snapshot()
	msg := fmt.Sprintf("You have been recording for %s.\nThe recording is saved as\n“%s”.",
		clock(snap.Elapsed), filepath.Base(snap.File))
	w.ask("Stop the recording?", msg, "Keep recording", "Stop and save", func() {
		if st := w.sess.Snapshot().State; st != app.StateRecording && st != app.StateInterrupted {
			return
		}
		p.busy("Saving…")
		pass := w.talk.stopping()
		go func() {
			pass() // the title and names as typed, into this recording's tags
			sum, err := w.sess.Stop()
			if err != nil {
				return // the snapshot carries the failure and its words
			}
			w.ui(func() {
				w.setStatus(fmt.Sprintf("Saved “%s” (%s, %s). It is at the top of the list below.",
					filepath.Base(sum.Path), clock(sum.Duration), app.Size(sum.Bytes)), widget.SuccessImportance)
			})
		}()
	})
}

func (p *transportPanel) toggleMute() {
	p.w.sess.SetMute(!p.w.sess.Snapshot().Muted)
}
