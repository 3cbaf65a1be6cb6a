package ui

import (
	"fmt"
	"path/filepath"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

var opusRates = []int{16000, 24000, 32000, 48000, 64000, 96000, 128000}

func mp3Label(k int) string {
	switch k {
	case 64:
		return "64 kbps (speech, about 29 MB an hour)"
	case 128:
		return "128 kbps (music)"
	}
	return fmt.Sprintf("%d kbps", k)
}

func opusLabel(b int) string {
	if b == 32000 {
		return "32 kbps (speech)"
	}
	return fmt.Sprintf("%d kbps", b/1000)
}

// settingsDialog edits app.Settings. Save validates through app.SaveSettings: what is wrong
// is said in the dialog, in words, and nothing is stored until it is right.
type settingsDialog struct {
	d                             *dialog.CustomDialog
	server, token, stream, folder *widget.Entry
	presenter, template           *widget.Entry
	listenerToken                 *widget.Entry
	mp3, opus, target             *widget.Select
	cleanNoise, steady, onRec     *widget.Check
	mp3Vals, opusVals             []int
	err                           *widget.Label
	save, cancel                  *widget.Button
	body                          *fyne.Container
}

func (w *Window) showSettings() {
	st := w.sess.Settings()
	sd := &settingsDialog{
		server:    widget.NewEntry(),
		token:     widget.NewPasswordEntry(),
		stream:    widget.NewEntry(),
		folder:    widget.NewEntry(),
		presenter: widget.NewEntry(),
		template:  widget.NewEntry(),
		err:       widget.NewLabel(""),

		listenerToken: widget.NewEntry(),
	}
	sd.server.SetPlaceHolder("empty: the built-in server on this computer")
	sd.server.SetText(st.ServerURL)
	sd.token.SetPlaceHolder("from the server's operator")
	sd.token.SetText(st.Token)
	sd.listenerToken.SetPlaceHolder("only for a server: what its listeners need")
	sd.listenerToken.SetText(st.RemoteListenerToken)
	sd.stream.SetText(st.Stream)
	sd.folder.SetText(st.Folder)
	sd.presenter.SetPlaceHolder("your name, for the MP3's tags")
	sd.presenter.SetText(st.Presenter)
	sd.template.SetText(st.NameTemplate)

	sd.mp3Vals = withValue(app.Bitrates(), st.Bitrate)
	var mp3Labels []string
	for _, k := range sd.mp3Vals {
		mp3Labels = append(mp3Labels, mp3Label(k))
	}
	sd.mp3 = widget.NewSelect(mp3Labels, nil)
	sd.mp3.SetSelected(mp3Label(st.Bitrate))
	sd.opusVals = withValue(opusRates, st.OpusBitrate)
	var opusLabels []string
	for _, b := range sd.opusVals {
		opusLabels = append(opusLabels, opusLabel(b))
	}
	sd.opus = widget.NewSelect(opusLabels, nil)
	sd.opus.SetSelected(opusLabel(st.OpusBitrate))

	var targetLabels []string
	for _, v := range app.LoudnessTargets {
		targetLabels = append(targetLabels, targetLabel(v))
	}
	sd.target = widget.NewSelect(targetLabels, nil)
	sd.target.SetSelected(targetLabel(st.LoudnessTarget))

	sd.cleanNoise = widget.NewCheck("Clean up background noise", nil)
	sd.cleanNoise.SetChecked(st.CleanNoise)
	sd.steady = widget.NewCheck("Keep my level steady", nil)
	sd.steady.SetChecked(st.SteadyLevel)
	sd.onRec = widget.NewCheck("Also in the recording", nil)
	sd.onRec.SetChecked(st.ProcessRecording)

	choose := widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() {
		fd := dialog.NewFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				// a URI's path has '/' even on Windows: shown and kept as the platform writes it
				sd.folder.SetText(filepath.FromSlash(u.Path()))
			}
		}, w.win)
		fd.Show()
	})

	sd.err.Importance = widget.DangerImportance
	sd.err.Wrapping = fyne.TextWrapWord
	sd.err.Hide()

	form := widget.NewForm(
		widget.NewFormItem("Server", sd.server),
		widget.NewFormItem("Token", sd.token),
		widget.NewFormItem("Listener token", sd.listenerToken),
		widget.NewFormItem("Stream name", sd.stream),
		widget.NewFormItem("Recordings folder", container.NewBorder(nil, nil, nil, choose, sd.folder)),
		widget.NewFormItem("MP3 quality", sd.mp3),
		widget.NewFormItem("Live quality", sd.opus),
		widget.NewFormItem("Loudness target", sd.target),
		widget.NewFormItem("Voice", container.NewVBox(sd.cleanNoise, sd.steady, sd.onRec)),
		widget.NewFormItem("Presenter", sd.presenter),
		widget.NewFormItem("File name", sd.template),
	)
	form.Items[0].HintText = "a WHIP address, http:// or https://"
	form.Items[2].HintText = "goes in the listener link Share… shows"
	form.Items[7].HintText = "the meter says too quiet, good or too loud against it"
	form.Items[8].HintText = "for listeners; the recording keeps what the microphone heard unless asked"
	form.Items[10].HintText = "{date} and {time} are filled in"

	sd.cancel = widget.NewButton("Cancel", func() { sd.d.Hide(); w.settingsUI = nil })
	sd.save = widget.NewButtonWithIcon("Save", theme.DocumentSaveIcon(), func() { w.saveSettings(sd) })
	sd.save.Importance = widget.HighImportance
	sd.body = container.NewBorder(sd.err, nil, nil, nil, container.NewVScroll(form))
	sd.d = dialog.NewCustomWithoutButtons("Settings", sd.body, w.win)
	sd.d.SetButtons([]fyne.CanvasObject{sd.cancel, sd.save})
	cs := w.win.Canvas().Size()
	sd.d.Resize(fyne.NewSize(cs.Width*0.95, cs.Height*0.9))
	w.settingsUI = sd
	sd.d.Show()
}

// targetLabel names a loudness target for the settings' list.
func targetLabel(v int) string {
	switch v {
	case 0:
		return "None"
	case -16:
		return "Podcast (-16 LUFS)"
	case -23:
		return "Broadcast (-23 LUFS)"
	}
	return fmt.Sprintf("%d LUFS", v)
}

func withValue(list []int, v int) []int {
	for _, x := range list {
		if x == v {
			return list
		}
	}
	return append(append([]int(nil), list...), v)
}

func (w *Window) saveSettings(sd *settingsDialog) {
	st := w.sess.Settings() // keeps the microphone
	st.ServerURL = strings.TrimSpace(sd.server.Text)
	st.Token = strings.TrimSpace(sd.token.Text)
	st.RemoteListenerToken = strings.TrimSpace(sd.listenerToken.Text)
	st.Stream = strings.TrimSpace(sd.stream.Text)
	st.Folder = strings.TrimSpace(sd.folder.Text)
	st.Presenter = strings.TrimSpace(sd.presenter.Text)
	st.NameTemplate = strings.TrimSpace(sd.template.Text)
	if i := sd.mp3.SelectedIndex(); i >= 0 {
		st.Bitrate = sd.mp3Vals[i]
	}
	if i := sd.opus.SelectedIndex(); i >= 0 {
		st.OpusBitrate = sd.opusVals[i]
	}
	if i := sd.target.SelectedIndex(); i >= 0 {
		st.LoudnessTarget = app.LoudnessTargets[i]
	}
	st.CleanNoise, st.SteadyLevel, st.ProcessRecording = sd.cleanNoise.Checked, sd.steady.Checked, sd.onRec.Checked
	if err := app.SaveSettings(w.prefs, st); err != nil {
		lines := strings.Split(err.Error(), "\n")
		for i, l := range lines {
			lines[i] = "• " + capitalise(l)
		}
		sd.err.SetText("Not saved. Please fix:\n" + strings.Join(lines, "\n"))
		sd.err.Show()
		sd.body.Refresh()
		return
	}
	w.sess.SetSettings(st)
	sd.d.Hide()
	w.settingsUI = nil
	msg := "Settings saved."
	if w.snap.State == app.StateRecording {
		msg = "Settings saved: they apply from the next recording."
	}
	w.setStatus(msg, widget.SuccessImportance)
	poke(w.histKick) // the folder may be another one now
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
