package ui_test

import (
	"path/filepath"
	"testing"
	"time"

	"podium/app"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The real window: a title is typed into its field, Start is clicked, more of the title is
// typed while recording (its m's are letters of the title, not chapter marks), then M is
// pressed twice, 3 s and 6 s into the talk, and Stop, Enter. The MP3's tags have the whole
// title and two chapters where M was pressed.
//
// Tolerances: the gap between the marks is the gap between the two key presses (measured
// here) within 150 ms. xdotool's key reaches the window's handler in a few ms and the
// recording clock moves in 20 ms frames, but a mark is stamped with the audio written to the
// MP3 so far, which trails the microphone by what waits in the capture ring: a period when
// the machine is idle, up to 115 ms seen at a load average of 9.5 (two cores). Each mark's
// own time, measured from when the window's title said "Recording", is within 300 ms: that
// title shows once the first audio came (the file starts then), and it is looked for every
// 100 ms or so.
func TestRealWindowTitleAndChapters(t *testing.T) {
	speech := audiotest.Speech(t, false)
	home := t.TempDir()
	r := openWindow(t, home, "import")
	p, pid, win, wd := r.p, r.pid, r.win, r.wd

	// The title field is the row under the listeners' (Share…) row, at any width.
	const titleY = 395
	typeText := func(s string) { testkit.Xdo(t, "type", "--window", win.ID, "--delay", "30", s) }
	win.Click(t, wd/2, titleY)
	typeText("Systems lecture")
	win.Key(t, "Return") // gives the keys back to the window
	win.Screenshot(t, "/tmp/podium-title.png")

	r.record(t)
	start := time.Now()
	played := make(chan struct{})
	go func() { audiotest.PlayFor(t, speech, 9*time.Second); close(played) }()
	t.Cleanup(func() { <-played })

	time.Sleep(time.Second)
	win.Screenshot(t, "/tmp/podium-recording-title.png")
	win.Click(t, wd-20, titleY) // the end of the title
	win.Key(t, "End")
	typeText(" 4 by Dr. Kim, summer term")
	win.Key(t, "Return")

	var pressed []time.Duration
	for _, at := range []time.Duration{3 * time.Second, 6 * time.Second} {
		time.Sleep(time.Until(start.Add(at)))
		win.Key(t, "m")
		pressed = append(pressed, time.Since(start))
	}
	time.Sleep(500 * time.Millisecond)
	win.Screenshot(t, "/tmp/podium-chapters.png")
	<-played
	win.Click(t, wd/2, bigButtonY) // Stop: asks
	time.Sleep(500 * time.Millisecond)
	win.Key(t, "Return")
	testkit.WaitGone(t, pid, "Recording - Podium", 15*time.Second)
	time.Sleep(time.Second)
	win.Screenshot(t, "/tmp/podium-chapters-saved.png")

	files, _ := filepath.Glob(filepath.Join(home, "Podium", "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("~/Podium holds %v", files)
	}
	e, err := app.ReadEntry(files[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: title %q, chapters %+v; M pressed at %v", filepath.Base(files[0]), e.Title, e.Chapters, pressed)
	if want := "Systems lecture 4 by Dr. Kim, summer term"; e.Title != want {
		t.Errorf("title %q, want %q", e.Title, want)
	}
	if len(e.Chapters) != 2 {
		t.Fatalf("%d chapters, want 2 (M pressed twice; the m's typed into the title are not marks)", len(e.Chapters))
	}
	for i, c := range e.Chapters {
		if d := c.Start - pressed[i]; d < -300*time.Millisecond || d > 300*time.Millisecond {
			t.Errorf("chapter %d at %v, M pressed %v after the recording began", i+1, c.Start, pressed[i])
		}
	}
	gap, want := e.Chapters[1].Start-e.Chapters[0].Start, pressed[1]-pressed[0]
	if d := gap - want; d < -150*time.Millisecond || d > 150*time.Millisecond {
		t.Errorf("the chapters are %v apart, the presses %v", gap, want)
	}
	win.Key(t, "ctrl+q")
	if code := p.Wait(t, 15*time.Second); code != 0 {
		t.Errorf("podium exited %d after Ctrl+Q", code)
	}
}
