package ui_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/app/studio"
	"podium/app/studio/studiotest"
	"podium/audio/mp3/repair"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The real window with a configured server: Start is clicked, speech goes into the virtual
// microphone, the server's HTTP goes down mid-talk, Stop and Enter; the recording is saved at
// once while its studio copy waits; the server comes back and the copy completes on its own,
// byte for byte the file in ~/Podium, its sidecar marked done. Screenshots stay in /tmp.
func TestRealWindowStudioCopy(t *testing.T) {
	r := startRecordingWindow(t, 8*time.Second)
	srv, home, pid, win, wd, p, played := r.srv, r.home, r.pid, r.win, r.wd, r.p, r.played
	time.Sleep(4 * time.Second)
	win.Screenshot(t, "/tmp/podium-studio-uploading.png")
	srv.Down()
	time.Sleep(2 * time.Second)
	win.Click(t, wd/2, bigButtonY) // Stop
	time.Sleep(500 * time.Millisecond)
	win.Key(t, "Return")
	stopped := time.Now()
	testkit.WaitWindow(t, pid, "Podium", 10*time.Second)
	saved := time.Since(stopped)
	var mp3s []string
	testkit.WaitFor(t, 10*time.Second, "the recording in ~/Podium", func() bool {
		mp3s, _ = filepath.Glob(filepath.Join(home, "Podium", "*.mp3"))
		return len(mp3s) == 1
	})
	side, err := studio.ReadSidecar(mp3s[0])
	if err != nil || side.Done {
		t.Fatalf("with the server down the sidecar says %+v (%v), want an upload not done", side, err)
	}
	time.Sleep(time.Second)
	win.Screenshot(t, "/tmp/podium-studio-waiting.png")
	srv.Up(t)
	back := time.Now()
	testkit.WaitFor(t, 45*time.Second, "the studio copy once the server is back", func() bool {
		side, err = studio.ReadSidecar(mp3s[0])
		return err == nil && side.Done
	})
	took := time.Since(back)
	time.Sleep(500 * time.Millisecond)
	win.Screenshot(t, "/tmp/podium-studio-done.png")
	mine, _ := os.ReadFile(mp3s[0])
	if !bytes.Equal(mine, srv.StudioCopy(t)) {
		t.Fatal("the server's studio copy is not the recording")
	}
	t.Logf("saved %v after Stop with the server down; the copy (%d bytes) on the server %v after it came back; screenshots /tmp/podium-studio-*.png",
		saved.Round(10*time.Millisecond), len(mine), took.Round(10*time.Millisecond))
	<-played
	win.Key(t, "ctrl+q")
	if code := p.Wait(t, 15*time.Second); code != 0 {
		t.Errorf("podium exited %d after Ctrl+Q", code)
	}
}

// recordingWindow is the real window recording speech from the virtual microphone, with a
// podium-server handler on loopback configured as its server.
type recordingWindow struct {
	*realWindow
	srv    *studiotest.Server
	played chan struct{} // closed when the speech has been played (d of it)
}

func startRecordingWindow(t *testing.T, d time.Duration) *recordingWindow {
	t.Helper()
	speech := audiotest.Speech(t, false)
	srv, home := serverAndHome(t)
	r := &recordingWindow{realWindow: openWindow(t, home, "import"), srv: srv, played: make(chan struct{})}
	r.record(t)
	go func() { audiotest.PlayFor(t, speech, d); close(r.played) }()
	t.Cleanup(func() { <-r.played }) // never let speech spill into the next test's microphone
	return r
}

// serverAndHome is a podium-server handler on loopback and a HOME whose settings use it.
func serverAndHome(t *testing.T) (*studiotest.Server, string) {
	t.Helper()
	srv := studiotest.Start(t)
	home := t.TempDir()
	writePrefs(t, home, `{"podium.server":"`+srv.WHIP("talk")+`","podium.token":"`+studiotest.Token+`"}`)
	return srv, home
}

// The real window killed with kill -9 four seconds into a talk with a configured server, then
// started again: the interrupted file is repaired at the start and its studio copy finished,
// byte for byte the repaired file.
func TestRealWindowStudioCopyAfterKill(t *testing.T) {
	r := startRecordingWindow(t, 6*time.Second)
	srv, home, p, played := r.srv, r.home, r.p, r.played
	time.Sleep(4 * time.Second)
	_ = r.cmd.Process.Kill()
	p.Wait(t, 10*time.Second)
	mp3s, _ := filepath.Glob(filepath.Join(home, "Podium", "*.mp3"))
	if len(mp3s) != 1 {
		t.Fatalf("after kill -9: %v", mp3s)
	}

	again := podiumIn(t, home)
	p2 := testkit.StartCmd(t, again)
	win2 := testkit.WaitWindow(t, again.Process.Pid, "Podium", 20*time.Second)
	testkit.WaitFor(t, 30*time.Second, "the studio copy after the restart", func() bool {
		side, err := studio.ReadSidecar(mp3s[0])
		return err == nil && side.Done
	})
	win2.Screenshot(t, "/tmp/podium-studio-after-kill.png")
	mine, _ := os.ReadFile(mp3s[0])
	if !bytes.Equal(mine, srv.StudioCopy(t)) {
		t.Fatal("the server's studio copy is not the repaired recording")
	}
	if need, err := repair.Needed(mp3s[0]); err != nil || need {
		t.Errorf("the local file after the restart: needs repair %v (%v)", need, err)
	}
	t.Logf("killed 4 s in; after the restart the repaired file (%d bytes) is the server's studio copy", len(mine))
	<-played
	win2.Key(t, "ctrl+q")
	if code := p2.Wait(t, 15*time.Second); code != 0 {
		t.Errorf("podium exited %d after Ctrl+Q", code)
	}
}
