package app_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/app"
	"podium/app/studio"
	"podium/app/studio/studiotest"
	"podium/audio/capture"
	"podium/scripts/testkit"
)

// With a configured server the session uploads the recording as it is made: Stop does not
// wait for it, and soon after the server has the file byte for byte. With the server's
// HTTP down mid-talk the copy waits for the network, and completes once it is back.
func TestSessionStudioCopy(t *testing.T) {
	srv := studiotest.Start(t)
	s, _, _ := newSession(t, func(st *app.Settings) {
		st.Device = capture.NullDevice
		st.ServerURL, st.Token = srv.WHIP("talk"), studiotest.Token
	})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "live, three seconds in", func() bool {
		snap := s.Snapshot()
		return snap.Link == "Live" && snap.Elapsed >= 3*time.Second
	})
	if snap := s.Snapshot(); !snap.StudioKnown || snap.Studio.State != studio.Uploading || snap.Studio.Sent == 0 {
		t.Errorf("while recording: studio copy %+v (known %v), want uploading with bytes sent", snap.Studio, snap.StudioKnown)
	}
	srv.Down()
	testkit.WaitFor(t, 10*time.Second, "the copy to wait for the network", func() bool {
		return s.Snapshot().Studio.State == studio.Waiting
	})
	began := time.Now()
	sum, err := s.Stop()
	if err != nil {
		t.Fatal(err)
	}
	stopTook := time.Since(began)
	if st := s.Snapshot().Studio.State; st != studio.Waiting {
		t.Errorf("after Stop with the server down: %v, want waiting", st)
	}
	srv.Up(t)
	back := time.Now()
	testkit.WaitFor(t, 40*time.Second, "the studio copy on the server", func() bool {
		return s.Snapshot().Studio.State == studio.Done
	})
	want, err := os.ReadFile(sum.Path)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.StudioCopy(t)
	t.Logf("Stop took %v with the server down; the copy (%d bytes) completed %v after the server came back",
		stopTook.Round(time.Millisecond), len(want), time.Since(back).Round(time.Millisecond))
	if !bytes.Equal(got, want) {
		t.Fatalf("studio copy: %d bytes, differs from the presenter's %d", len(got), len(want))
	}
	if stopTook > 2*time.Second {
		t.Errorf("Stop took %v: it waited for the upload", stopTook)
	}
	entries, err := app.History{Dir: filepath.Dir(sum.Path)}.List()
	if err != nil || len(entries) != 1 || entries[0].Studio != app.StudioDone {
		t.Errorf("history: %+v (%v), want the recording marked on the server", entries, err)
	}
	if st, ok := s.StudioStatus(sum.Path); !ok || st.State != studio.Done {
		t.Errorf("StudioStatus: %+v %v", st, ok)
	}
	// Renamed, the recording keeps its sidecar; deleted, it goes with it.
	h := app.History{Dir: filepath.Dir(sum.Path)}
	p, err := h.Rename(sum.Path, "Renamed talk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(studio.SidecarPath(p)); err != nil {
		t.Errorf("sidecar after rename: %v", err)
	}
	if err := h.Delete(p); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(studio.SidecarPath(p)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("sidecar after delete: %v", err)
	}
}
