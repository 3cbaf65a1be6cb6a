package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// devicePanel is the microphone row: the selector, Refresh and the settings button. It keeps
// the list it shows; every field but w is UI state.
type devicePanel struct {
	w           *Window
	sel         *widget.Select
	refreshBtn  *widget.Button
	settingsBtn *widget.Button

	labels  []string
	ids     []string
	names   map[string]string // every microphone seen, by ID, to name one that went away
	loaded  bool
	setting bool // the selector is being set by code, not by the presenter
}

func newDevicePanel(w *Window) *devicePanel {
	p := &devicePanel{w: w, names: map[string]string{}}
	p.sel = widget.NewSelect(nil, p.onSelected)
	p.sel.PlaceHolder = "Looking for microphones…"
	p.refreshBtn = widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), func() {
		setLabel(w.statusLabel, "Looking for microphones…", widget.LowImportance)
		poke(w.devKick)
	})
	p.settingsBtn = widget.NewButtonWithIcon("", theme.SettingsIcon(), w.showSettings)
	return p
}

func (p *devicePanel) objects() []fyne.CanvasObject {
	return []fyne.CanvasObject{container.NewBorder(nil, nil,
		widget.NewLabelWithStyle("Microphone", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewHBox(p.refreshBtn, p.settingsBtn), p.sel)}
}

// allow lets the presenter change the microphone (when idle and there is one to choose).
func (p *devicePanel) allow(idle bool) {
	setEnabled(p.sel, idle && p.loaded && len(p.ids) > 0)
}

// poll lists microphones every DevicePoll, and at once when Refresh is pressed; the window
// hears about it only when the list changed (or Refresh asked). It runs on its own goroutine.
func (p *devicePanel) poll() {
	w := p.w
	t := time.NewTicker(w.cfg.DevicePoll)
	defer t.Stop()
	last, asked, first := "", false, true
	for {
		devs, err := w.cfg.Devices()
		key := deviceKey(devs, err)
		if first || asked || key != last {
			a := asked
			w.ui(func() { p.apply(devs, err, a) })
		}
		last, first = key, false
		select {
		case <-w.done:
			return
		case <-t.C:
			asked = false
		case <-w.devKick:
			asked = true
		}
	}
}

func deviceKey(devs []app.Device, err error) string {
	var b strings.Builder
	for _, d := range devs {
		fmt.Fprintf(&b, "%s\x00%s\x00%v\x01", d.ID, d.Name, d.Default)
	}
	if err != nil {
		b.WriteString(err.Error())
	}
	return b.String()
}

// apply refills the selector. A microphone that appears is announced; the chosen one
// disappearing while idle falls back to the system default, and says so.
func (p *devicePanel) apply(devs []app.Device, err error, asked bool) {
	w := p.w
	if w.closing {
		return
	}
	old := map[string]bool{}
	for _, id := range p.ids {
		old[id] = true
	}
	hadList := p.loaded
	p.loaded = true
	chosen := w.sess.Settings().Device

	var labels, ids []string
	seen := map[string]int{}
	var defaultLabel string
	for _, d := range devs {
		p.names[d.ID] = d.Name
		label := d.Name
		if d.Default {
			label += " (default)"
		}
		seen[label]++
		if n := seen[label]; n > 1 {
			label = fmt.Sprintf("%s #%d", label, n)
		}
		labels = append(labels, label)
		ids = append(ids, d.ID)
		if d.Default && defaultLabel == "" {
			defaultLabel = label
		}
	}
	if defaultLabel == "" && len(labels) > 0 {
		defaultLabel = labels[0]
	}
	idle := w.snap.State != app.StateRecording && w.snap.State != app.StateStarting && w.snap.State != app.StateStopping

	var news []string
	if hadList {
		for _, d := range devs {
			if !old[d.ID] {
				news = append(news, "“"+d.Name+"”")
			}
		}
	}
	if chosen == app.NullDevice {
		labels = append(labels, "Silence (null device, for tests)")
		ids = append(ids, app.NullDevice)
	}
	present := chosen == "" || chosen == app.NullDevice
	for _, id := range ids {
		present = present || id == chosen
	}
	var msg string
	imp := widget.MediumImportance
	switch {
	case !present && idle:
		name := p.names[chosen]
		if name == "" {
			name = chosen
		}
		w.sess.SetDevice("")
		chosen = ""
		msg = fmt.Sprintf("The microphone “%s” is not connected: Podium will use the default microphone. Plug it back in and choose it again if you want it.", name)
		imp = widget.WarningImportance
	case !present:
		labels = append(labels, p.names[chosen]+" (disconnected)")
		ids = append(ids, chosen)
	}
	if err != nil {
		msg = "Cannot list microphones: " + err.Error()
		imp = widget.DangerImportance
	} else if len(devs) == 0 && chosen != app.NullDevice {
		msg = app.NoMicrophone
		imp = widget.DangerImportance
	} else if len(news) > 0 && msg == "" {
		msg = "New microphone: " + strings.Join(news, ", ") + ". Choose it above to record with it."
	} else if asked && msg == "" {
		msg = "Microphones: " + plural(len(devs), "found", "found")
	}

	p.labels, p.ids = labels, ids
	p.setting = true
	p.sel.Options = labels
	switch {
	case len(labels) == 0:
		p.sel.PlaceHolder = "No microphone found"
		p.sel.ClearSelected()
	case chosen == "":
		p.sel.SetSelected(defaultLabel)
	default:
		for i, id := range ids {
			if id == chosen {
				p.sel.SetSelected(labels[i])
			}
		}
	}
	p.sel.Refresh()
	p.setting = false
	setEnabled(p.sel, idle && len(labels) > 0)
	if msg != "" {
		w.setStatus(msg, imp)
	} else if w.statusLabel.Text == "Looking for microphones…" {
		w.setStatus("", widget.MediumImportance)
	}
}

// onSelected is the presenter choosing a microphone: it is used from the next Start and
// remembered.
func (p *devicePanel) onSelected(label string) {
	if p.setting {
		return
	}
	w := p.w
	for i, l := range p.labels {
		if l != label {
			continue
		}
		w.sess.SetDevice(p.ids[i])
		_ = app.SaveSettings(w.prefs, w.sess.Settings()) // an invalid folder is for the settings dialog to say
		w.setStatus("", widget.MediumImportance)
	}
	// give Space back to the start button
	w.win.Canvas().Unfocus()
}
