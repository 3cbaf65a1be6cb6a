//go:build linux

package faults

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"podium/app"
	"podium/audio/mp3/chapterlog"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

var (
	progressLine = regexp.MustCompile(`^(\d+):(\d+):(\d+\.\d+)  level`)
	chapterLine  = regexp.MustCompile(`^chapter (\d+) at (\d+):(\d+):(\d+\.\d+)`)
)

// kill -9 podium record after chapters were marked on its standard input: the next start
// repairs the file with the chapters in its tag, where ffprobe finds them at the positions
// the recording reported, within 20 ms, and the chapter log is gone.
func TestCrashChapters(t *testing.T) {
	speech := audiotest.Speech(t, false)
	dir := t.TempDir()
	out := filepath.Join(dir, "crashed talk.mp3")
	cmd := exec.Command(filepath.Join(bin, "podium"), "record", "--input", speech, "--out", out, "--title", "Lecture 4")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.StartCmd(t, cmd)
	marks := []struct {
		after      time.Duration
		line, want string
	}{{time.Second, "Before the crash", "Before the crash"}, {2500 * time.Millisecond, "", "chp1"}}
	var at []time.Duration
	for _, m := range marks {
		for shown := time.Duration(0); shown < m.after; {
			shown = testkit.Clock(t, p.Next(t, progressLine, 20*time.Second)[1:4])
		}
		fmt.Fprintln(stdin, m.line)
		// Printed once it is in the log, synced.
		at = append(at, testkit.Clock(t, p.Next(t, chapterLine, 10*time.Second)[2:5]))
	}
	for shown := time.Duration(0); shown < 3500*time.Millisecond; {
		shown = testkit.Clock(t, p.Next(t, progressLine, 20*time.Second)[1:4])
	}
	p.Cmd.Process.Signal(syscall.SIGKILL)
	p.Wait(t, time.Minute)
	if _, err := os.Stat(chapterlog.Path(out)); err != nil {
		t.Fatalf("no chapter log after the crash: %v", err)
	}

	next := start(t, nil, "podium", "record", "--input", speech, "--duration", "1s", "--fast", "--out", filepath.Join(dir, "next.mp3"))
	if code := next.Wait(t, time.Minute); code != 0 {
		t.Fatalf("next start exited %d:\n%s", code, next.Log())
	}
	e, err := app.ReadEntry(out)
	if err != nil || !e.Recovered || e.Title != "Lecture 4" || len(e.Chapters) != len(marks) {
		t.Fatalf("after repair: %+v (%v)", e, err)
	}
	probed := audiotest.ProbeChapters(t, out)
	if len(probed) != len(marks) {
		t.Fatalf("ffprobe: %d chapters %+v, want %d", len(probed), probed, len(marks))
	}
	var worst time.Duration
	for i, m := range marks {
		off := (probed[i].Start - at[i]).Abs()
		worst = max(worst, off)
		if probed[i].Title != m.want || off > 20*time.Millisecond {
			t.Errorf("chapter %d: ffprobe %+v, want %q at %v", i+1, probed[i], m.want, at[i])
		}
	}
	if end := probed[len(probed)-1].End; (end - e.Duration).Abs() > 30*time.Millisecond {
		t.Errorf("the last chapter ends at %v, the repaired recording at %v", end, e.Duration)
	}
	if _, err := os.Stat(chapterlog.Path(out)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the chapter log is still there after the repair: %v", err)
	}
	scenario(t, "kill -9 of podium record after %d chapters marked on stdin: repaired with them at %v (ffprobe at most %v off)", len(marks), at, worst)
}
