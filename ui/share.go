package ui

import (
	"fmt"
	"image"
	"net/url"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
	qrcode "github.com/skip2/go-qrcode"

	"podium/app"
)

// The listeners' line of the main window is one calm row ("Listeners: 3 · on the local
// network", Share…); the link, its QR code and "Share on the local network" live in the share
// dialog, which follows the session as the main window does.

// listenersText is the main window's line about listeners.
func listenersText(s app.Snapshot, st app.Settings) string {
	if s.ListenURL == "" {
		if st.ServerURL == "" {
			return "Listeners: preparing the link…"
		}
		return "Listeners: this server has no listener page Podium knows"
	}
	n := "Listeners: " + fmt.Sprint(s.Listeners)
	if !s.ListenersKnown {
		n = "Listeners: link ready"
	}
	switch {
	case st.ServerURL != "" && !s.SharePending:
		return n
	case s.ShareLAN:
		return n + " · on the local network"
	}
	return n + " · this computer only"
}

// shareDialog shows where listeners join: the link (copyable), its QR code, how many listen,
// and, with the built-in server, whether the local network may join.
type shareDialog struct {
	d       *dialog.CustomDialog
	link    *widget.Label
	qr      *canvas.Image
	count   *widget.Label
	note    *widget.Label
	lan     *widget.Check
	hls     *widget.Check // a configured server's link sends listeners to HLS
	copyBtn *widget.Button
	newLink *widget.Button
	close   *widget.Button
	shown   string // the link the QR code is of
	pinned  string // the link a note of the presenter's last action is about, while it says so
	setting bool   // lan is being set by code, not by the presenter
}

// qrImage encodes link as a QR code a phone can read across a room (medium error correction).
func qrImage(link string) (image.Image, error) {
	q, err := qrcode.New(link, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	return q.Image(256), nil
}

func (w *Window) showShare() {
	if w.shareUI != nil {
		return
	}
	sd := &shareDialog{
		link:  widget.NewLabel(""),
		count: widget.NewLabel(""),
		note:  widget.NewLabel(""),
		qr:    canvas.NewImageFromImage(nil),
	}
	sd.link.Wrapping = fyne.TextWrapBreak
	sd.link.Selectable = true
	sd.link.TextStyle = fyne.TextStyle{Monospace: true}
	sd.link.SizeName = theme.SizeNameCaptionText
	sd.count.TextStyle = fyne.TextStyle{Bold: true}
	sd.count.Alignment = fyne.TextAlignCenter
	sd.note.Wrapping = fyne.TextWrapWord
	sd.note.SizeName = theme.SizeNameCaptionText
	sd.qr.FillMode = canvas.ImageFillContain
	sd.qr.ScaleMode = canvas.ImageScalePixels
	sd.qr.SetMinSize(fyne.NewSize(256, 256)) // the code's own size: crisp modules
	sd.lan = widget.NewCheck("Share on the local network (phones in the room can listen)", func(on bool) {
		if !sd.setting {
			w.setShareLAN(sd, on)
		}
	})
	sd.hls = widget.NewCheck("Large audience: listeners use HLS (a few seconds behind, through your server's CDN)", func(bool) {
		if !sd.setting {
			sd.pinned = ""
			sd.update(w.snap, w.sess.Settings())
		}
	})
	sd.copyBtn = widget.NewButtonWithIcon("Copy link", theme.ContentCopyIcon(), func() {
		if sd.shown != "" {
			w.a.Clipboard().SetContent(sd.shown)
			sd.pinned = sd.shown
			sd.note.SetText("Link copied: paste it in a chat, an e-mail or your slides.")
		}
	})
	sd.newLink = widget.NewButtonWithIcon("New link", theme.ViewRefreshIcon(), func() { w.askNewLink(sd) })
	sd.close = widget.NewButton("Close", func() { sd.d.Hide() })
	intro := widget.NewLabel("Listeners open this link in any browser, or scan the code with a phone's camera:")
	intro.Wrapping = fyne.TextWrapWord
	body := container.NewVBox(intro, container.NewCenter(sd.qr), sd.count, sd.link,
		container.NewHBox(sd.newLink), sd.lan, sd.hls, sd.note)
	sd.d = dialog.NewCustomWithoutButtons("Share with listeners", container.NewVScroll(body), w.win)
	sd.d.SetButtons([]fyne.CanvasObject{sd.copyBtn, sd.close})
	sd.d.SetOnClosed(func() {
		if w.shareUI == sd {
			w.shareUI = nil
		}
	})
	cs := w.win.Canvas().Size()
	sd.d.Resize(fyne.NewSize(cs.Width*0.95, cs.Height*0.9))
	w.shareUI = sd
	sd.update(w.snap, w.sess.Settings())
	sd.d.Show()
	// The built-in server may not run yet (it starts with the window, in the background).
	go func() {
		_ = w.sess.Serve()
	}()
}

// update shows snapshot s in the dialog.
func (sd *shareDialog) update(s app.Snapshot, st app.Settings) {
	builtin := st.ServerURL == ""
	link := s.ListenURL
	if !builtin && sd.hls.Checked {
		link = app.ListenViaHLS(link) // the built-in server has no HLS
	}
	if link != sd.shown {
		sd.shown = link
		sd.link.SetText(link)
		sd.qr.Image = nil
		if link != "" {
			if img, err := qrImage(link); err == nil {
				sd.qr.Image = img
			}
		}
		sd.qr.Refresh()
	}
	setShown(sd.qr, s.ListenURL != "")
	setEnabled(sd.copyBtn, s.ListenURL != "")
	// (the window redraws often while recording: labels change only when their text does)
	switch {
	case s.ListenURL == "":
		setText(sd.count, "")
	case !s.ListenersKnown:
		setText(sd.count, "The server does not say how many listen")
	case s.Listeners == 1:
		setText(sd.count, "1 person listening now")
	default:
		setText(sd.count, fmt.Sprintf("%d people listening now", s.Listeners))
	}

	sd.setting = true
	sd.lan.SetChecked(st.ShareLAN)
	sd.setting = false
	setShown(sd.lan, builtin)
	setShown(sd.hls, !builtin && s.ListenURL != "")
	// A configured server's link is its operator's to change.
	setShown(sd.newLink, builtin)
	setEnabled(sd.newLink, builtin && s.ListenURL != "")
	if sd.pinned != "" && sd.pinned == sd.shown {
		return // keep saying it until the link changes
	}
	sd.pinned = ""
	setText(sd.note, shareNote(s, st))
}

// shareNote says who can use the link, and what a change waits for.
func shareNote(s app.Snapshot, st app.Settings) string {
	recording := s.State == app.StateRecording || s.State == app.StateInterrupted || s.State == app.StateStarting
	switch {
	case s.SharePending && recording:
		return "The change applies when this recording ends: nothing interrupts the talk. Until then, the link above is the one that works."
	case s.SharePending || (st.ServerURL == "" && s.ListenURL == ""):
		return "Starting the built-in server…"
	case s.ListenURL == "":
		return "This server's address does not end in /whip/{stream}, so Podium cannot tell where its listener page is."
	case st.ServerURL != "" && st.RemoteListenerToken == "":
		return "Listeners join on your server. If it asks for a listener token, enter it in Settings so the link carries it."
	case st.ServerURL != "":
		return "Listeners join on your server with this link."
	case st.ShareLAN && !s.ShareLAN:
		return "This computer is on no network: only it can open the link. Connect to the room's Wi-Fi and turn sharing off and on again."
	case st.ShareLAN:
		host := ""
		if u, err := url.Parse(s.ListenURL); err == nil {
			host = " (" + u.Hostname() + ")"
		}
		return "Anyone on this network" + host + " who has the link can listen: phones must be on the same Wi-Fi. Recordings stay on this computer."
	}
	return "Only this computer can open the link. Turn on sharing so phones on the same Wi-Fi can listen."
}

// setShareLAN saves the choice and hands it to the session, which restarts the built-in server
// now, or when the recording under way ends.
func (w *Window) setShareLAN(sd *shareDialog, on bool) {
	sd.pinned = ""
	st := w.sess.Settings()
	st.ShareLAN = on
	if err := app.SaveSettings(w.prefs, st); err != nil {
		sd.setting = true
		sd.lan.SetChecked(!on)
		sd.setting = false
		sd.note.SetText("Not saved: " + err.Error() + " (fix it in Settings).")
		return
	}
	w.sess.SetSettings(st)
	snap := w.sess.Snapshot()
	sd.update(snap, st)
	setText(w.link.listen, listenersText(snap, st))
}

// askNewLink asks before replacing the link: everyone it was given to loses it.
func (w *Window) askNewLink(sd *shareDialog) {
	w.ask("Make a new link?",
		"The link you have shared stops working: nobody can join with it any more (people listening now stay).\nShare the new link instead.",
		"Keep this link", "New link", func() { w.renewLink(sd) })
}

// renewLink makes a new listener token, saves it and hands it to the session, which gives
// it to the built-in server at once, even during a recording: the old link is refused from
// then on.
func (w *Window) renewLink(sd *shareDialog) {
	st := w.sess.Settings()
	st.ListenerToken = app.NewListenerToken()
	if err := app.SaveSettings(w.prefs, st); err != nil {
		sd.note.SetText("Not saved: " + err.Error() + " (fix it in Settings).")
		return
	}
	w.sess.SetSettings(st)
	snap := w.sess.Snapshot()
	sd.update(snap, st)
	sd.pinned = snap.ListenURL
	sd.note.SetText("New link made: the old one no longer works. Copy this one and share it.")
	setText(w.link.listen, listenersText(snap, st))
}
