package ui

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"podium/app"
	"podium/app/studio/studiotest"
)

// The history line of a recording made with a configured server follows its studio copy:
// uploading, then on the server; with the server's HTTP down it says waiting, and it
// catches up once the server is back. The link line says it too while recording.
func TestHistoryShowsStudioCopy(t *testing.T) {
	srv := studiotest.Start(t)
	dir := t.TempDir()
	w := newTestWindow(t, dir, nil, app.NullDevice, func(c *Config) {
		c.Settings.ServerURL, c.Settings.Token = srv.WHIP("talk"), studiotest.Token
	})
	record := func() {
		w.locked(func() { test.Tap(w.transport.startBtn) })
		waitFor(t, w, 10*time.Second, "two seconds, live, the copy uploading", func() bool {
			return w.transport.clock.Text >= "00:00:02" && strings.Contains(w.link.link.Text, "Live") &&
				strings.Contains(w.link.link.Text, "studio copy uploading")
		})
	}
	stop := func() {
		w.locked(func() {
			test.Tap(w.transport.startBtn)
			test.Tap(w.confirm.yes)
		})
	}

	record()
	stop()
	waitFor(t, w, 15*time.Second, "the history row to say the copy is on the server", func() bool {
		return len(w.rows()) == 1 && strings.Contains(w.rows()[0].text(), "· on the server")
	})
	files, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("recordings: %v", files)
	}
	mine, _ := os.ReadFile(files[0])
	if !bytes.Equal(mine, srv.StudioCopy(t)) {
		t.Fatal("the server's studio copy is not the recording")
	}

	// The server's HTTP goes down during the second talk.
	for _, f := range files {
		os.Rename(f, f+".first") // out of the history: one row to read
		os.Rename(f+".studio", f+".first.studio")
	}
	record()
	srv.Down()
	waitFor(t, w, 15*time.Second, "the link line to say the copy waits", func() bool {
		return strings.Contains(w.link.link.Text, "studio copy waiting for the network")
	})
	stop()
	waitFor(t, w, 15*time.Second, "the history row to say waiting", func() bool {
		return len(w.rows()) == 1 && strings.Contains(w.rows()[0].text(), "upload waiting")
	})
	waitFor(t, w, 5*time.Second, "the row to offer sending it", func() bool {
		return len(w.rows()) == 1 && strings.Contains(w.rows()[0].text(), "send the studio copy")
	})
	srv.Up(t)
	// Send it now rather than at the uploader's next try.
	w.locked(func() { test.Tap(w.rows()[0].retry) })
	waitFor(t, w, 15*time.Second, "the history row to catch up", func() bool {
		return len(w.rows()) == 1 && strings.Contains(w.rows()[0].text(), "· on the server") &&
			!strings.Contains(w.rows()[0].text(), "send the studio copy")
	})
}
