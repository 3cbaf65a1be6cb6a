package ui

import (
	"fmt"
	"strings"
	"time"

	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// pollDevices lists microphones every DevicePoll, and at once when Refresh is pressed; the
// window hears about it only when the list changed (or Refresh asked).
func (w *Window) pollDevices() {
	t := time.NewTicker(w.cfg.DevicePoll)
	defer t.Stop()
	last, asked, first := "", false, true
	for {
		devs, err := w.cfg.Devices()
		key := deviceKey(devs, err)
		if first || asked || key != last {
			w.ui(func() { w.applyDevices(devs, err, asked) })
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

// applyDevices refills the selector. A microphone that appears is announced; the chosen one
// disappearing while idle falls back to the system default, and says so.
func (w *Window) applyDevices(devs []app.Device, err error, asked bool) {
	if w.closing {
		return
	}
	old := map[string]bool{}
	for _, id := range w.devIDs {
		old[id] = true
	}
	hadList := w.devLoaded
	w.devices = devs
	w.devLoaded = true
	chosen := w.sess.Settings().Device

	var labels, ids []string
	seen := map[string]int{}
	var defaultLabel string
	for _, d := range devs {
		w.devNames[d.ID] = d.Name
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
		name := w.devNames[chosen]
		if name == "" {
			name = chosen
		}
		w.sess.SetDevice("")
		chosen = ""
		msg = fmt.Sprintf("The microphone “%s” is not connected: Podium will use the default microphone. Plug it back in and choose it again if you want it.", name)
		imp = widget.WarningImportance
	case !present:
		labels = append(labels, w.devNames[chosen]+" (disconnected)")
		ids = append(ids, chosen)
	}
	if err != nil {
		msg = "Cannot list microphones: " + err.Error()
		imp = widget.DangerImportance
	} else if len(devs) == 0 && chosen != app.NullDevice {
		msg = "No microphone found: plug one in. Podium checks every few seconds, or press Refresh."
		imp = widget.DangerImportance
	} else if len(news) > 0 && msg == "" {
		msg = "New microphone: " + strings.Join(news, ", ") + ". Choose it above to record with it."
	} else if asked && msg == "" {
		msg = "Microphones: " + plural(len(devs), "found", "found")
	}

	w.devLabels, w.devIDs = labels, ids
	w.settingDev = true
	w.deviceSel.Options = labels
	switch {
	case len(labels) == 0:
		w.deviceSel.PlaceHolder = "No microphone found"
		w.deviceSel.ClearSelected()
	case chosen == "":
		w.deviceSel.SetSelected(defaultLabel)
	default:
		for i, id := range ids {
			if id == chosen {
				w.deviceSel.SetSelected(labels[i])
			}
		}
	}
	w.deviceSel.Refresh()
	w.settingDev = false
	if idle && len(labels) > 0 {
		w.deviceSel.Enable()
	} else {
		w.deviceSel.Disable()
	}
	if msg != "" {
		w.setStatus(msg, imp)
	} else if w.statusLabel.Text == "Looking for microphones…" {
		w.setStatus("", widget.MediumImportance)
	}
}

// onDeviceSelected is the presenter choosing a microphone: it is used from the next Start
// and remembered.
func (w *Window) onDeviceSelected(label string) {
	if w.settingDev {
		return
	}
	for i, l := range w.devLabels {
		if l != label {
			continue
		}
		id := w.devIDs[i]
		w.sess.SetDevice(id)
		st := w.sess.Settings()
		_ = app.SaveSettings(w.prefs, st) // an invalid folder is for the settings dialog to say
		w.setStatus("", widget.MediumImportance)
	}
	// give Space back to the start button
	w.win.Canvas().Unfocus()
}
