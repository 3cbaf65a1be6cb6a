package ui

import (
	"image"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"podium/app"
)

// Share… shows the link (with the kept listener token) and its QR code; Copy link copies it;
// "Share on the local network" is saved, moves the link to the LAN address (and redraws the
// code) when idle, and only says it will while a recording uses the server.
func TestShareDialog(t *testing.T) {
	dir := t.TempDir()
	prefs := app.MapPrefs{}
	w := newTestWindow(t, dir, prefs, app.NullDevice)
	token := w.sess.Settings().ListenerToken
	waitFor(t, w, 5*time.Second, "the listeners' line", func() bool {
		return w.link.listen.Text == "Listeners: 0 · this computer only" && !w.link.shareBtn.Disabled()
	})
	w.locked(func() { test.Tap(w.link.shareBtn) })
	sd := w.shareUI
	if sd == nil {
		t.Fatal("Share… opened no dialog")
	}
	var link string
	w.locked(func() {
		link = sd.link.Text
		u, err := url.Parse(link)
		if err != nil || u.Hostname() != "127.0.0.1" || !strings.HasSuffix(link, "/listen/live#token="+token) {
			t.Errorf("link shown: %q (token %q)", link, token)
		}
		top := w.win.Canvas().Overlays().Top()
		if top == nil || !strings.Contains(labelsIn(top), link) || !strings.Contains(labelsIn(top), "0 people listening now") {
			t.Errorf("the dialog does not show the link and count: %q", labelsIn(top))
		}
		if sd.qr.Image == nil || !sd.qr.Visible() || sd.qr.Image.Bounds().Dx() != 256 {
			t.Fatalf("no QR code image")
		}
		if sd.lan.Checked || !sd.lan.Visible() || sd.hls.Visible() || !strings.Contains(sd.note.Text, "Only this computer") {
			t.Errorf("sharing: checked %v, note %q", sd.lan.Checked, sd.note.Text)
		}
		test.Tap(sd.copyBtn)
		if got := w.a.Clipboard().Content(); got != link {
			t.Errorf("clipboard holds %q", got)
		}
	})
	// QR of the link, exactly: the same encoder gives the same picture.
	want, _ := qrImage(link)
	w.locked(func() {
		if !sameImage(want, sd.qr.Image) {
			t.Error("the QR code is not the link's")
		}
	})

	// Share on the local network, idle: at once.
	lan := app.LANAddress()
	asked := time.Now()
	w.locked(func() { test.Tap(sd.lan) })
	if !w.sess.Settings().ShareLAN || prefs["podium.share_lan"] != 1 {
		t.Fatalf("ShareLAN not saved: session %v, prefs %v", w.sess.Settings().ShareLAN, prefs["podium.share_lan"])
	}
	waitFor(t, w, 10*time.Second, "the LAN link", func() bool {
		u, _ := url.Parse(sd.link.Text)
		return u != nil && u.Hostname() == lan && sd.shown == sd.link.Text && !w.snap.SharePending
	})
	// How long the move took idle: while recording, nothing may move in several times that.
	moved := time.Since(asked)
	w.locked(func() {
		if lan != "127.0.0.1" && (!strings.Contains(w.link.listen.Text, "on the local network") || !strings.Contains(sd.note.Text, "Anyone on this network")) {
			t.Errorf("LAN: line %q, note %q", w.link.listen.Text, sd.note.Text)
		}
		if again, _ := qrImage(sd.link.Text); !sameImage(again, sd.qr.Image) {
			t.Error("the QR code was not redrawn for the new link")
		}
		test.Tap(sd.close)
		if w.shareUI != nil {
			t.Error("Close left the dialog open")
		}
	})
	if got := app.LoadSettings(prefs); !got.ShareLAN || got.ListenerToken != token {
		t.Errorf("stored: ShareLAN %v, token %q", got.ShareLAN, got.ListenerToken)
	}

	// While recording, turning it off waits for the recording's end and says so.
	w.locked(func() { test.Tap(w.transport.startBtn) })
	waitFor(t, w, 10*time.Second, "recording", func() bool { return w.snap.State == app.StateRecording })
	lanLink := w.sess.Snapshot().ListenURL
	w.locked(func() {
		test.Tap(w.link.shareBtn)
		test.Tap(w.shareUI.lan)
		if !strings.Contains(w.shareUI.note.Text, "applies when this recording ends") || w.shareUI.link.Text != lanLink {
			t.Errorf("while recording: note %q, link %q", w.shareUI.note.Text, w.shareUI.link.Text)
		}
	})
	time.Sleep(max(3*moved, 300*time.Millisecond))
	if got := w.sess.Snapshot(); got.ListenURL != lanLink || got.State != app.StateRecording || !got.SharePending {
		t.Errorf("the server moved under the recording: %q, %v", got.ListenURL, got.State)
	}
	if _, err := w.sess.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, 10*time.Second, "the loopback link after the recording", func() bool {
		return strings.HasPrefix(w.shareUI.link.Text, "http://127.0.0.1:") && strings.Contains(w.link.listen.Text, "this computer only")
	})
}

// The settings dialog keeps a configured server's listener token; Share… then shows that
// server's listener page, without the local-network choice.
func TestShareRemoteServer(t *testing.T) {
	prefs := app.MapPrefs{}
	w := newTestWindow(t, t.TempDir(), prefs, app.NullDevice)
	w.locked(func() {
		test.Tap(w.devices.settingsBtn)
		sd := w.settingsUI
		sd.server.SetText("https://live.example.org/whip/talk")
		sd.listenerToken.SetText("hall-a")
		test.Tap(sd.save)
		if w.settingsUI != nil {
			t.Fatalf("not saved: %q", sd.err.Text)
		}
	})
	const want = "https://live.example.org/listen/talk#token=hall-a"
	waitFor(t, w, 10*time.Second, "the remote link", func() bool { return w.snap.ListenURL == want })
	w.locked(func() {
		test.Tap(w.link.shareBtn)
		sd := w.shareUI
		if sd.link.Text != want || sd.qr.Image == nil || sd.lan.Visible() || sd.newLink.Visible() {
			t.Errorf("remote: link %q, qr %v, LAN choice visible %v, New link visible %v", sd.link.Text, sd.qr.Image != nil, sd.lan.Visible(), sd.newLink.Visible())
		}
		if !strings.HasPrefix(w.link.listen.Text, "Listeners: link ready") {
			t.Errorf("line: %q", w.link.listen.Text)
		}
		// The link (and its QR code) can send listeners to the server's HLS instead.
		before := sd.qr.Image
		if !sd.hls.Visible() {
			t.Fatal("no HLS choice for a configured server")
		}
		test.Tap(sd.hls)
		if sd.link.Text != want+"&via=hls" || sd.qr.Image == before {
			t.Errorf("HLS link %q (QR code redrawn %v), want %q", sd.link.Text, sd.qr.Image != before, want+"&via=hls")
		}
		test.Tap(sd.copyBtn)
		if got := w.a.Clipboard().Content(); got != want+"&via=hls" {
			t.Errorf("copied %q", got)
		}
		test.Tap(sd.hls)
		if sd.link.Text != want {
			t.Errorf("HLS off: link %q", sd.link.Text)
		}
	})
	if got := app.LoadSettings(prefs).RemoteListenerToken; got != "hall-a" {
		t.Errorf("stored listener token %q", got)
	}
}

// "New link", during a recording: it asks first (Keep this link changes nothing); confirmed,
// the dialog shows a link with a new token at once (and its QR code), the token is saved, and
// the built-in server refuses the old token from then on while the recording goes on.
func TestShareNewLink(t *testing.T) {
	prefs := app.MapPrefs{}
	w := newTestWindow(t, t.TempDir(), prefs, app.NullDevice)
	old := w.sess.Settings().ListenerToken
	waitFor(t, w, 5*time.Second, "the listeners' line", func() bool { return !w.link.shareBtn.Disabled() && w.snap.ListenURL != "" })
	w.locked(func() { test.Tap(w.transport.startBtn) })
	waitFor(t, w, 10*time.Second, "recording", func() bool { return w.snap.State == app.StateRecording })
	var sd *shareDialog
	var link string
	w.locked(func() {
		test.Tap(w.link.shareBtn)
		sd = w.shareUI
		link = sd.link.Text
		if !sd.newLink.Visible() || sd.newLink.Disabled() {
			t.Fatalf("New link: visible %v, disabled %v", sd.newLink.Visible(), sd.newLink.Disabled())
		}
		test.Tap(sd.newLink)
		if w.confirm == nil {
			t.Fatal("New link did not ask first")
		}
		test.Tap(w.confirm.no)
		if sd.link.Text != link || w.sess.Settings().ListenerToken != old {
			t.Errorf("Keep this link changed the link: %q → %q", link, sd.link.Text)
		}
		test.Tap(sd.newLink)
		test.Tap(w.confirm.yes)
	})
	fresh := w.sess.Settings().ListenerToken
	w.locked(func() {
		if fresh == old || !strings.HasSuffix(sd.link.Text, "#token="+fresh) || sd.shown != sd.link.Text {
			t.Errorf("after New link: token %q (was %q), link shown %q", fresh, old, sd.link.Text)
		}
		if again, _ := qrImage(sd.link.Text); !sameImage(again, sd.qr.Image) {
			t.Error("the QR code is not of the new link")
		}
		if !strings.Contains(sd.note.Text, "old one no longer works") {
			t.Errorf("note: %q", sd.note.Text)
		}
	})
	if got := app.LoadSettings(prefs).ListenerToken; got != fresh {
		t.Errorf("stored token %q, want the new %q", got, fresh)
	}
	u, _ := url.Parse(link)
	for tok, want := range map[string]int{old: 401, fresh: 200} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+u.Host+"/streams/live", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /streams with the %s token: %d, want %d", map[bool]string{true: "old", false: "new"}[tok == old], resp.StatusCode, want)
		}
	}
	if snap := w.sess.Snapshot(); snap.State != app.StateRecording || snap.SharePending {
		t.Errorf("the recording after New link: %v, pending %v", snap.State, snap.SharePending)
	}
}

func sameImage(a, b image.Image) bool {
	if a == nil || b == nil || a.Bounds() != b.Bounds() {
		return false
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, a1 := a.At(x, y).RGBA()
			r2, g2, b2, a2 := b.At(x, y).RGBA()
			if r1 != r2 || g1 != g2 || b1 != b2 || a1 != a2 {
				return false
			}
		}
	}
	return true
}
