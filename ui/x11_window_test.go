package ui_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// realWindow is podium's window on the X display (Xvfb, from scripts/xvfb.sh), recording the
// virtual PulseAudio microphone, with its own HOME.
type realWindow struct {
	home   string
	cmd    *exec.Cmd
	p      *testkit.Proc
	pid    int
	win    testkit.Window
	wd, ht int
}

// openWindow starts the freshly built podium with home as its HOME and waits for its window,
// its first frame and its microphone list. tools are the programs the test needs besides
// xdotool.
func openWindow(t *testing.T, home string, tools ...string) *realWindow {
	t.Helper()
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no X display: run `source scripts/xvfb.sh start` first (make test does)")
	}
	testkit.Need(t, append([]string{"xdotool"}, tools...)...)
	audiotest.VirtualMic(t)
	r := &realWindow{home: home, cmd: podiumIn(t, home)}
	r.p = testkit.StartCmd(t, r.cmd)
	r.pid = r.cmd.Process.Pid
	r.win = testkit.WaitWindow(t, r.pid, "Podium", 20*time.Second)
	_, _, r.wd, r.ht = r.win.Geometry(t)
	time.Sleep(1500 * time.Millisecond) // first frame, microphone list
	return r
}

// bigButtonY is where Start and Stop are clicked: the big button is the third row, 90–150 px
// from the window's top at any width (across, wd/2).
const bigButtonY = 120

// record clicks Start and waits for the title to say the window records.
func (r *realWindow) record(t *testing.T) {
	t.Helper()
	r.win.Click(t, r.wd/2, bigButtonY)
	testkit.WaitWindow(t, r.pid, "Recording - Podium", 10*time.Second)
}

// writePrefs makes prefs (JSON) Podium's stored preferences in home, before it starts, and
// returns the file's path.
func writePrefs(t *testing.T, home, prefs string) string {
	t.Helper()
	path := filepath.Join(home, ".config", "fyne", "app.podium.desktop", "preferences.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(prefs), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
