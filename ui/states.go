package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// stateView is what changes only with the session's state: the banner, the big button, the
// microphone selector and the window's title.
type stateView struct {
	banner    string
	bannerImp widget.Importance
	button    string
	// icon and buttonImp restyle the big button; "" keeps the style it has (a start or a
	// stop under way keeps the look of where it came from).
	icon      fyne.ThemeIconName
	buttonImp widget.Importance
	enabled   bool // the big button can be pressed
	stopShown bool // "Stop and save" beside it: paused by an unplugged microphone
	idle      bool // nothing records: the microphone may be changed
	title     string
}

// stateViews is the window's look for every state of the session.
var stateViews = map[app.State]stateView{
	app.StateIdle: {banner: "Ready to record", bannerImp: widget.MediumImportance,
		button: "Start recording", icon: theme.IconNameMediaRecord, buttonImp: widget.HighImportance, enabled: true,
		idle: true, title: "Podium"},
	app.StateStarting: {banner: "Starting…", bannerImp: widget.MediumImportance,
		button: "Starting…", title: "Podium"},
	app.StateRecording: {banner: "RECORDING", bannerImp: widget.DangerImportance,
		button: "Stop recording", icon: theme.IconNameMediaStop, buttonImp: widget.DangerImportance, enabled: true,
		title: "Recording - Podium"},
	app.StateStopping: {banner: "Saving the recording…", bannerImp: widget.MediumImportance,
		button: "Saving…", title: "Podium"},
	app.StateInterrupted: {banner: "PAUSED: the microphone was disconnected", bannerImp: widget.WarningImportance,
		button: "Continue recording", icon: theme.IconNameMediaRecord, buttonImp: widget.HighImportance, enabled: true,
		stopShown: true, idle: true, title: "Podium"},
	app.StateFailed: {banner: "Not recording: see the message below", bannerImp: widget.WarningImportance,
		button: "Start recording", icon: theme.IconNameMediaRecord, buttonImp: widget.HighImportance, enabled: true,
		idle: true, title: "Podium"},
}

// viewOf is the look of state s.
func viewOf(s app.State) stateView { return stateViews[s] }

// buttonIcon is v's icon for the big button, nil to keep the one it has.
func (v stateView) buttonIcon() fyne.Resource {
	if v.icon == "" {
		return nil
	}
	return theme.Icon(v.icon)
}
