//go:build linux

package faults

import (
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"podium/app"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// TestCrashGUI: kill -9 the windowed app (podium with no command, on the X display of
// scripts/xvfb.sh) at random moments while it records speech from the virtual microphone.
// All runs share one HOME, so the recordings pile up in ~/Podium as they would for a
// presenter. Every file a crash leaves decodes from start to end and holds all but at most
// about a second of what was captured; the next start repairs it; after a last, normal start
// every one is listed as recovered with its real length, the window shows the "Recordings
// recovered" dialog, and Ctrl+Q ends the app cleanly.
func TestCrashGUI(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no X display (DISPLAY unset): scripts/test.sh starts Xvfb on :99, or run `export DISPLAY=:99; source scripts/xvfb.sh start`")
	}
	testkit.Need(t, "xdotool", "ffmpeg")
	audiotest.VirtualMic(t)
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	runs := 3
	if full() {
		runs = 20
	}
	home := t.TempDir()
	dir := filepath.Join(home, "Podium") // no ~/Music in a fresh HOME
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(11, seed))
	t.Logf("random seed %d", seed)

	type crash struct {
		path              string
		delay             time.Duration // chosen time from "Recording" to kill -9
		captured, pressed time.Duration // from the title turning "Recording", from the key press
		have              time.Duration // decoded from the file as the crash left it
		corr              float64       // with the speech played, when long enough to tell
	}
	var crashes []crash
	var repairs []time.Duration // how long each next start took to repair the last crash
	var plain image.Image       // the first start's window, before anything was recovered
	for i := range runs {
		g := startGUI(t, home)
		win := g.waitWindow(t, "Podium", 20*time.Second)
		shown := time.Now()
		if i > 0 {
			// This start repairs what the last crash left, before anything is pressed.
			prev := crashes[i-1].path
			repairs = append(repairs, waitRepaired(t, prev, shown, 15*time.Second))
		}
		time.Sleep(time.Second) // first frame, the microphone list
		if i == 0 {
			// The window with nothing recovered yet, no dialog: what the last start is
			// compared with.
			plain = win.Screenshot(t, "/tmp/podium-plain.png")
		}
		if i > 0 {
			// The start names what it recovered in a message; Enter dismisses it (Space
			// deliberately does nothing while it is open, and for a moment after).
			win.Key(t, "Return")
			time.Sleep(600 * time.Millisecond)
		}
		pressed := time.Now()
		win.Key(t, "space") // Space toggles Start wherever the button sits in the layout
		if testkit.FindWindowWithin(g.pid(), "Recording - Podium", 4*time.Second) == "" {
			t.Logf("run %d: no \"Recording - Podium\" 4 s after Space: pressing it again", i)
			win.Key(t, "space") // nothing happens to Space while a start is under way
			g.waitWindow(t, "Recording - Podium", 10*time.Second)
		}
		began := time.Now()
		delay := time.Duration(1000+rng.IntN(4001)) * time.Millisecond
		played := make(chan struct{})
		go func() { audiotest.PlayFor(t, speech, delay+time.Second); close(played) }()
		t.Cleanup(func() { <-played }) // never let speech spill into the next test's microphone
		time.Sleep(delay)
		g.p.Cmd.Process.Signal(syscall.SIGKILL)
		c := crash{delay: delay, captured: time.Since(began), pressed: time.Since(pressed)}
		g.p.Wait(t, time.Minute)
		<-played

		// The file this run left, as the crash left it (the next start repairs it).
		var fresh []string
		files, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
		for _, f := range files {
			if !slices.ContainsFunc(crashes, func(c crash) bool { return c.path == f }) {
				fresh = append(fresh, f)
			}
		}
		if len(fresh) != 1 {
			t.Fatalf("run %d left %v in %s (known: %d files); podium's output:\n%s", i, fresh, dir, len(crashes), g.p.Log())
		}
		c.path = fresh[0]
		if need, err := repair.Needed(c.path); err != nil || !need {
			t.Errorf("%s after kill -9: needs repair %v (%v)?", filepath.Base(c.path), need, err)
		}
		got := audiotest.Decode(t, c.path) // fails on any ffmpeg complaint
		c.have = time.Duration(len(got)) * time.Second / pcm.SampleRate
		// The title turns "Recording" once the first samples are in (the session waits for
		// them), so everything from then to the kill was captured.
		if c.captured-c.have > time.Second {
			t.Errorf("run %d: %v captured (title \"Recording\" to kill -9), %v on disk in %s", i, c.captured.Round(time.Millisecond), c.have.Round(time.Millisecond), filepath.Base(c.path))
		}
		if len(got) >= 3*pcm.SampleRate/2 {
			// What is there is the speech played into the microphone, not noise or silence.
			corr, lag, n := audiotest.Correlate(in[:min(len(in), len(got))], got, 2*pcm.SampleRate)
			c.corr = corr
			if corr < 0.9 {
				t.Errorf("run %d: %s correlates %.3f with the speech (lag %v over %v), want ≥ 0.9", i, filepath.Base(c.path), corr, secs(lag), secs(n))
			}
		}
		corr := "too short to correlate"
		if c.corr != 0 {
			corr = fmt.Sprintf("correlation %.3f with the speech", c.corr)
		}
		t.Logf("run %d: killed %v after \"Recording\" (%v after Space): %s holds %v before repair, %s",
			i, c.captured.Round(time.Millisecond), c.pressed.Round(time.Millisecond), filepath.Base(c.path), c.have.Round(time.Millisecond), corr)
		crashes = append(crashes, c)
	}

	// One more start, left alone: it repairs the last crash's file and says so in a dialog;
	// Ctrl+Q then ends it cleanly.
	g := startGUI(t, home)
	win := g.waitWindow(t, "Podium", 20*time.Second)
	repairs = append(repairs, waitRepaired(t, crashes[len(crashes)-1].path, time.Now(), 15*time.Second))
	time.Sleep(1500 * time.Millisecond) // the dialog and the list drawn
	// The "Recordings recovered" dialog (it names the files) is up: checked without reading
	// text, by the dimming a modal dialog puts over the window, against the first start's
	// window. The screenshot stays in /tmp for a look.
	var dialog string
	if shot := win.Screenshot(t, "/tmp/podium-recovered.png"); plain != nil {
		frac := dimmed(shot, plain)
		t.Logf("last start: %.0f %% of the window's top dimmed against the first start's (/tmp/podium-recovered.png, /tmp/podium-plain.png)", 100*frac)
		if frac < 0.3 {
			t.Errorf("no modal dialog at the start after a crash: only %.0f %% of the window's top is dimmed; see /tmp/podium-recovered.png", 100*frac)
		}
		dialog = fmt.Sprintf("the \"Recordings recovered\" dialog was up (%.0f %% of the window's top dimmed behind it; /tmp/podium-recovered.png)", 100*frac)
	}
	if testkit.FindWindow(g.pid(), "Recording - Podium") != "" {
		t.Errorf("the last start is recording: nothing should have started it")
	}
	win.Key(t, "ctrl+q")
	select {
	case <-g.p.Done():
		if code := g.p.ExitCode(); code != 0 {
			t.Errorf("podium exited %d after Ctrl+Q:\n%s", code, g.p.Log())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("podium still running 15 s after Ctrl+Q:\n%s", g.p.Log())
	}

	// Everything is in the history, marked recovered, its length the audio's.
	list, err := app.History{Dir: dir}.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != runs {
		t.Errorf("history lists %d recordings after %d crashes", len(list), runs)
	}
	recovered := 0
	var worstDur time.Duration
	for _, e := range list {
		if !e.Recovered {
			t.Errorf("%s not marked recovered", e.Title)
			continue
		}
		recovered++
		got := audiotest.Decode(t, e.Path)
		d := e.Duration - time.Duration(len(got))*time.Second/pcm.SampleRate
		if d < 0 {
			d = -d
		}
		worstDur = max(worstDur, d)
		if d > 30*time.Millisecond {
			t.Errorf("%s: history says %v, the repaired file decodes to %v", e.Title, e.Duration, secs(len(got)))
		}
	}

	var worst, worstPressed time.Duration
	minCorr := 1.0
	for _, c := range crashes {
		worst = max(worst, c.captured-c.have)
		worstPressed = max(worstPressed, c.pressed-c.have)
		if c.corr != 0 {
			minCorr = min(minCorr, c.corr)
		}
	}
	scenario(t, "kill -9 of the GUI app %d times 1–5 s into a recording of speech from the virtual mic (HOME shared): all %d files decoded before repair, worst loss %v of captured audio (from the title turning \"Recording\", which waits for the first samples; %v counting from the Space press), speech correlation ≥ %.3f; each next start repaired the last crash's file (done at most %v after its window appeared); %d of %d listed recovered, header lengths within %.1f ms of the decoded audio; last start: %s; Ctrl+Q clean",
		runs, len(crashes), worst.Round(time.Millisecond), worstPressed.Round(time.Millisecond), minCorr, slices.Max(repairs).Round(10*time.Millisecond),
		recovered, runs, float64(worstDur.Microseconds())/1000, dialog)
}

// gui is one run of the windowed app.
type gui struct{ p *testkit.Proc }

// startGUI starts podium with no command (the window) with home as HOME, its settings and
// data inside it too, in English.
func startGUI(t *testing.T, home string) *gui {
	t.Helper()
	return &gui{start(t, []string{"HOME=" + home, "LANG=en_US.UTF-8",
		"XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"),
		"XDG_CACHE_HOME=" + filepath.Join(home, ".cache")}, "podium")}
}

func (g *gui) pid() int { return g.p.Cmd.Process.Pid }

// waitWindow waits for the app's window titled name; the test fails if it never came.
func (g *gui) waitWindow(t *testing.T, name string, d time.Duration) testkit.Window {
	t.Helper()
	return testkit.WaitWindow(t, g.pid(), name, d)
}

// waitRepaired waits until path no longer needs repair and returns how long after since that
// was.
func waitRepaired(t *testing.T, path string, since time.Time, d time.Duration) time.Duration {
	t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		need, err := repair.Needed(path)
		if err == nil && !need {
			return time.Since(since)
		}
		if time.Now().After(end) {
			t.Fatalf("%s still needs repair %v after the app started (%v)", filepath.Base(path), d, err)
		}
	}
}

// dimmed is the share of the top of the window (microphone row, title, Start button: the
// part no list or status line reaches) that is darker in img than in the plain window ref.
// A modal dialog dims the whole window behind it; without one the two are the same.
func dimmed(img, ref image.Image) float64 {
	b := img.Bounds().Intersect(ref.Bounds())
	b.Max.Y = b.Min.Y + b.Dy()*3/10
	darker, total := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			total++
			if luma(img, x, y) < luma(ref, x, y)-3 {
				darker++
			}
		}
	}
	return float64(darker) / float64(max(total, 1))
}

// luma is a pixel's brightness, 0–255.
func luma(img image.Image, x, y int) int {
	r, g, b, _ := img.At(x, y).RGBA()
	return int((299*r + 587*g + 114*b) / 1000 >> 8)
}
