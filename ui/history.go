package ui

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"podium/app"
)

// historyPanel is the list of recordings under its title, or the words for an empty or
// unreadable folder. entries is UI state: what the list shows.
type historyPanel struct {
	w       *Window
	title   *widget.Label
	empty   *widget.Label
	list    *widget.List
	bar     *playerBar // what plays in the window
	entries []app.Entry
}

func newHistoryPanel(w *Window) *historyPanel {
	p := &historyPanel{w: w}
	p.title = widget.NewLabelWithStyle("Recordings", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	p.empty = widget.NewLabel("No recordings yet: they appear here as soon as you press Stop.")
	p.empty.Wrapping = fyne.TextWrapWord
	p.empty.Importance = widget.LowImportance
	p.empty.Hide()
	p.list = widget.NewList(
		func() int { return len(p.entries) },
		func() fyne.CanvasObject { return newHistoryRow() },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < 0 || id >= len(p.entries) {
				return
			}
			p.fillRow(o.(*historyRow), p.entries[id])
		},
	)
	p.list.OnSelected = func(widget.ListItemID) { p.list.UnselectAll() } // rows act through their buttons
	p.bar = newPlayerBar(w.stopPlaying)
	return p
}

// object is the panel: it fills what the window has left below the other panels.
func (p *historyPanel) object() fyne.CanvasObject {
	return container.NewBorder(container.NewVBox(p.title, p.empty, p.bar.box), nil, nil, nil, p.list)
}

// poll keeps the list in step with the recordings folder through an app.HistoryWatch: it
// looks every HistoryPoll, and at once when a recording was saved or the list was edited.
// First it tells what the session's start repaired, if anything.
// It runs on its own goroutine.
func (p *historyPanel) poll() {
	w := p.w
	if rec := w.sess.Recovery(); len(rec.Files) > 0 || rec.Err != nil {
		w.ui(func() { p.announceRepair(rec.Files, rec.Err) })
	}
	t := time.NewTicker(w.cfg.HistoryPoll)
	defer t.Stop()
	var watch app.HistoryWatch
	var studioSeen uint64
	for {
		snap := w.sess.Snapshot()
		if snap.StudioChanges != studioSeen {
			// a studio copy moved on: the rows say how far
			studioSeen = snap.StudioChanges
			w.ui(func() {
				if !w.closing {
					p.list.Refresh()
				}
			})
		}
		if entries, changed, lerr := watch.Look(w.sess.Settings().Folder, snap, w.wasSaved(snap.File)); changed {
			w.ui(func() { p.apply(entries, lerr) })
		}
		select {
		case <-w.done:
			return
		case <-t.C:
		case <-w.histKick:
		}
	}
}

func (p *historyPanel) announceRepair(fixed []string, err error) {
	var names []string
	for _, p := range fixed {
		names = append(names, "“"+strings.TrimSuffix(filepath.Base(p), ".mp3")+"”")
	}
	sort.Strings(names)
	var msg string
	if len(fixed) > 0 {
		msg = fmt.Sprintf("Podium was interrupted last time. It recovered %s: %s. Everything recorded up to the interruption is there; they are marked “recovered” in the list.",
			plural(len(fixed), "recording", "recordings"), strings.Join(names, ", "))
	}
	if err != nil {
		msg = strings.TrimSpace(msg + "\nSome files could not be repaired and were left as they are: " + err.Error())
	}
	p.w.setStatus(msg, widget.WarningImportance)
	p.w.showInfo("Recordings recovered", msg, "OK", nil)
}

// apply shows entries (or why there are none); only the rows that changed are redrawn.
func (p *historyPanel) apply(entries []app.Entry, err error) {
	if p.w.closing {
		return
	}
	old := p.entries
	p.entries = entries
	title := "Recordings"
	if len(entries) > 0 {
		title = fmt.Sprintf("Recordings (%d)", len(entries))
	}
	setText(p.title, title)
	switch {
	case err != nil:
		setLabel(p.empty, "Cannot read the recordings folder: "+err.Error(), widget.DangerImportance)
	case len(entries) == 0:
		setLabel(p.empty, "No recordings yet: each one appears here as soon as you press Stop.", widget.LowImportance)
	}
	setShown(p.empty, err != nil || len(entries) == 0)
	if len(old) != len(entries) {
		p.list.Refresh()
		return
	}
	for i := range entries {
		if !sameEntry(old[i], entries[i]) {
			p.list.RefreshItem(i)
		}
	}
}

func sameEntry(a, b app.Entry) bool {
	return a.Path == b.Path && a.Title == b.Title && a.Date.Equal(b.Date) && a.Duration == b.Duration &&
		a.Size == b.Size && a.Recovered == b.Recovered && a.Studio == b.Studio &&
		a.Loudness == b.Loudness && a.LoudnessKnown == b.LoudnessKnown && slices.Equal(a.Chapters, b.Chapters)
}

// historyRow is one recording: title and details on the left, actions on the right.
type historyRow struct {
	widget.BaseWidget
	title, details, badge          *widget.Label
	open, folder, rename, del      *widget.Button
	retry                          *widget.Button // sends a studio copy left unfinished
	chapters                       *widget.Button // lists the chapters, to play from one
	onOpen, onFolder, onRen, onDel func()
	onRetry, onChapters            func()
	box                            *fyne.Container // laid out again when a button comes or goes
}

func newHistoryRow() *historyRow {
	r := &historyRow{
		title:   widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		details: widget.NewLabel(""),
		badge:   widget.NewLabel("recovered"),
	}
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.details.Truncation = fyne.TextTruncateEllipsis
	r.details.SizeName = theme.SizeNameCaptionText
	r.badge.Importance = widget.WarningImportance
	r.badge.SizeName = theme.SizeNameCaptionText
	r.badge.TextStyle = fyne.TextStyle{Bold: true}
	r.badge.Hide()
	r.open = widget.NewButtonWithIcon("", theme.MediaPlayIcon(), func() { r.onOpen() })
	r.folder = widget.NewButtonWithIcon("", theme.FolderOpenIcon(), func() { r.onFolder() })
	r.rename = widget.NewButtonWithIcon("", theme.DocumentCreateIcon(), func() { r.onRen() })
	r.del = widget.NewButtonWithIcon("", theme.DeleteIcon(), func() { r.onDel() })
	r.retry = widget.NewButtonWithIcon("", theme.UploadIcon(), func() { r.onRetry() })
	r.retry.Hide()
	r.chapters = widget.NewButtonWithIcon("", theme.ListIcon(), func() { r.onChapters() })
	r.chapters.Hide()
	r.ExtendBaseWidget(r)
	return r
}

func (r *historyRow) CreateRenderer() fyne.WidgetRenderer {
	actions := container.NewHBox(r.retry, r.chapters, r.open, r.folder, r.rename, r.del)
	text := container.NewVBox(r.title, container.NewBorder(nil, nil, nil, r.badge, r.details))
	r.box = container.NewBorder(nil, nil, nil, container.NewCenter(actions), text)
	return widget.NewSimpleRenderer(r.box)
}

// text is what the row says, for tests and screen readers alike.
func (r *historyRow) text() string {
	s := r.title.Text + " — " + r.details.Text
	if r.badge.Visible() {
		s += " — recovered"
	}
	if r.retry.Visible() {
		s += " — send the studio copy"
	}
	return s
}

func (p *historyPanel) fillRow(r *historyRow, e app.Entry) {
	w := p.w
	buttons := [2]bool{r.retry.Visible(), r.chapters.Visible()}
	r.title.SetText(e.Title)
	dur := "length unknown"
	if e.Duration > 0 {
		dur = clock(e.Duration)
	}
	details := date(e.Date) + " · " + dur + " · " + app.Size(e.Size)
	if e.LoudnessKnown {
		details += " · " + lufsWords(e.Loudness)
	}
	if n := len(e.Chapters); n > 0 {
		details += " · " + chapterWords(e.Chapters)
	}
	setShown(r.chapters, len(e.Chapters) > 0)
	st, active := w.sess.StudioStatus(e.Path)
	switch {
	case active:
		details += " · " + app.StudioShort(st)
	case e.Studio == app.StudioDone:
		details += " · on the server"
	case e.Studio == app.StudioPending:
		details += " · not uploaded"
	}
	r.details.SetText(details)
	// A copy no uploader is sending (it failed, or a closed app left it): send it now.
	stalled := active && app.StudioStalled(st)
	setShown(r.retry, e.Studio == app.StudioPending && (!active || stalled))
	if r.box != nil && buttons != [2]bool{r.retry.Visible(), r.chapters.Visible()} {
		r.box.Refresh() // the actions column changed width
	}
	if e.Recovered {
		r.badge.Show()
	} else {
		r.badge.Hide()
	}
	path := e.Path
	r.onOpen = func() { p.report(w.cfg.Open(path), "open the recording") }
	r.onFolder = func() { p.report(w.cfg.ShowInFolder(path), "show the folder") }
	r.onRen = func() { p.showRename(e) }
	r.onDel = func() { p.askDelete(e) }
	r.onChapters = func() { p.showChapters(e) }
	r.onRetry = func() {
		if err := w.sess.RetryUpload(path); err != nil {
			p.report(err, "send the studio copy")
			return
		}
		w.setStatus(fmt.Sprintf("Sending the studio copy of “%s”…", e.Title), widget.MediumImportance)
	}
}

func (p *historyPanel) report(err error, what string) {
	if err != nil {
		p.w.setStatus(fmt.Sprintf("Could not %s: %v", what, err), widget.DangerImportance)
	}
}

// askDelete removes a recording for good, after asking.
func (p *historyPanel) askDelete(e app.Entry) {
	w := p.w
	w.ask("Delete this recording?",
		fmt.Sprintf("“%s” (%s, %s) will be deleted from\n%s\nThis cannot be undone.", e.Title, clock(e.Duration), app.Size(e.Size), filepath.Dir(e.Path)),
		"Keep it", "Delete", func() {
			err := app.History{Dir: filepath.Dir(e.Path)}.Delete(e.Path)
			if err != nil {
				w.setStatus("Could not delete: "+err.Error(), widget.DangerImportance)
				return
			}
			p.remove(e.Path)
			w.setStatus(fmt.Sprintf("Deleted “%s”.", e.Title), widget.MediumImportance)
			poke(w.histKick)
		})
}

func (p *historyPanel) remove(path string) {
	out := p.entries[:0:0]
	for _, x := range p.entries {
		if x.Path != path {
			out = append(out, x)
		}
	}
	p.apply(out, nil)
}

// renameDialog asks for a new title; errors stay in the dialog.
type renameDialog struct {
	d     *dialog.CustomDialog
	entry *widget.Entry
	err   *widget.Label
	save  *widget.Button
	body  *fyne.Container
}

func (p *historyPanel) showRename(e app.Entry) {
	w := p.w
	rd := &renameDialog{entry: widget.NewEntry(), err: widget.NewLabel("")}
	rd.entry.SetText(e.Title)
	rd.err.Importance = widget.DangerImportance
	rd.err.Wrapping = fyne.TextWrapWord
	rd.err.Hide()
	do := func() {
		newPath, err := app.History{Dir: filepath.Dir(e.Path)}.Rename(e.Path, rd.entry.Text)
		if err != nil {
			rd.err.SetText(capitalise(err.Error()))
			rd.err.Show()
			rd.body.Refresh()
			return
		}
		rd.d.Hide()
		w.renameUI = nil
		for i := range p.entries {
			if p.entries[i].Path == e.Path {
				p.entries[i].Path = newPath
				p.entries[i].Title = strings.TrimSpace(rd.entry.Text)
				p.list.RefreshItem(i)
			}
		}
		w.setStatus(fmt.Sprintf("Renamed to “%s”.", strings.TrimSpace(rd.entry.Text)), widget.MediumImportance)
		poke(w.histKick)
	}
	rd.entry.OnSubmitted = func(string) { do() }
	cancel := widget.NewButton("Cancel", func() { rd.d.Hide(); w.renameUI = nil })
	rd.save = widget.NewButtonWithIcon("Rename", theme.ConfirmIcon(), do)
	rd.save.Importance = widget.HighImportance
	rd.body = container.NewVBox(widget.NewLabel("New title (the file name follows):"), rd.entry, rd.err)
	rd.d = dialog.NewCustomWithoutButtons("Rename recording", rd.body, w.win)
	rd.d.SetButtons([]fyne.CanvasObject{cancel, rd.save})
	rd.d.Resize(fyne.NewSize(w.win.Canvas().Size().Width*0.9, 0))
	w.renameUI = rd
	rd.d.Show()
	w.win.Canvas().Focus(rd.entry)
}

// chapterWords lists chapters as the row says them: "2 chapters: 00:00:05 Intro, 00:00:09".
func chapterWords(chs []app.Chapter) string {
	var b strings.Builder
	b.WriteString(plural(len(chs), "chapter", "chapters") + ":")
	for i, c := range chs {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(" " + clock(c.Start))
		if c.Name != "" {
			b.WriteString(" " + c.Name)
		}
	}
	return b.String()
}
