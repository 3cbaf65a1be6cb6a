package ui

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"podium/app"
	"podium/scripts/testkit/audiotest"
)

// While speech plays into the microphone the meter shows its momentary and short-term
// loudness in LUFS (a dash before there is any); once the talk is saved the window says its
// integrated loudness and range, and its history row shows the loudness tagged in the file.
func TestMeterShowsLoudness(t *testing.T) {
	audiotest.VirtualMic(t)
	speech := audiotest.Speech(t, false)
	dir := t.TempDir()
	// the system default microphone (the virtual one), aiming at a podcast's -16 LUFS
	w := newTestWindow(t, dir, nil, "", func(c *Config) { c.Settings.LoudnessTarget = -16 })
	var idle string
	w.locked(func() { idle = w.meter.loud.text() })
	if !strings.Contains(idle, "–") || !strings.HasSuffix(idle, "LUFS") {
		t.Errorf("before recording the loudness reads %q, want dashes and LUFS", idle)
	}

	w.locked(func() { test.Tap(w.transport.startBtn) })
	waitFor(t, w, 10*time.Second, "recording", func() bool { return w.snap.State == app.StateRecording })
	played := make(chan struct{})
	go func() { audiotest.PlayFor(t, speech, 8*time.Second); close(played) }()
	t.Cleanup(func() { <-played })

	// The speech is about -23 LUFS: too quiet for -16.
	line := regexp.MustCompile(`^M[\s\x{2007}]+(-?\d+\.\d)[\s\x{2007}]+S[\s\x{2007}]+(-?\d+\.\d) LUFS · (too quiet|good|too loud)$`)
	// The fixture is normalised to -3 dBFS peak: speech of about -23 LUFS, which the 3 s
	// window reaches once it holds speech.
	var shown string
	var short float64
	waitFor(t, w, 8*time.Second, "the meter to show the speech's loudness in LUFS", func() bool {
		shown = w.meter.loud.text()
		m := line.FindStringSubmatch(shown)
		if m == nil {
			return false
		}
		short, _ = strconv.ParseFloat(m[2], 64)
		return short > -30
	})
	t.Logf("meter while speaking: %q", shown)
	if !strings.HasSuffix(shown, "· too quiet") {
		t.Errorf("speech of %.1f LUFS against a -16 LUFS target reads %q, want too quiet", short, shown)
	}
	// The loudest 3 s the meter showed, sampled as the window redraws until the speech ends.
	loudest := short
	for wait := true; wait; {
		select {
		case <-played:
			wait = false
		case <-time.After(100 * time.Millisecond):
		}
		w.locked(func() {
			if m := line.FindStringSubmatch(w.meter.loud.text()); m != nil {
				v, _ := strconv.ParseFloat(m[2], 64)
				loudest = max(loudest, v)
			}
		})
	}

	sum, err := w.sess.Stop()
	if err != nil {
		t.Fatal(err)
	}
	if sum.Loudness == nil {
		t.Fatal("no loudness measured")
	}
	want := lufsWords(sum.Loudness.Integrated)
	waitFor(t, w, 20*time.Second, "the talk's loudness in the notes and the history", func() bool {
		rows := w.rows()
		return w.notes.loud.Visible() && strings.Contains(w.notes.loud.Text, want) &&
			len(rows) == 1 && strings.Contains(rows[0].text(), want)
	})
	// Steady speech: its loudest 3 s is a little above the whole talk's gated loudness.
	if d := loudest - sum.Loudness.Integrated; d < -1 || d > 4 {
		t.Errorf("the meter's loudest short-term %.1f LUFS against the talk's %.1f", loudest, sum.Loudness.Integrated)
	}
	var note, row string
	w.locked(func() { note, row = w.notes.loud.Text, w.rows()[0].text() })
	t.Logf("loudest short-term shown %.1f LUFS; notes: %q; row: %q", loudest, note, row)
}

// The readout's numbers stand still as they change: each value's decimal point stays where
// it was, the readout keeps its width, and its line reads as it shows.
func TestLoudnessReadoutStandsStill(t *testing.T) {
	test.NewTempApp(t)
	l := newLoudnessText()
	test.NewWindow(l)
	r := test.WidgetRenderer(l).(*loudnessRenderer)
	point := func(i int) float32 { return r.chars[i][3].Position().X } // "-23.9": the point is the fourth
	l.set(-23.9, -18.0, "")
	width, m, s := r.MinSize().Width, point(0), point(1)
	for _, c := range []struct {
		momentary, shortTerm float64
		line                 string
	}{
		{-9.5, -41.2, "M  -9.5  S -41.2 LUFS"},
		{-60.0, -0.4, "M -60.0  S  -0.4 LUFS"},
		{-33.3, -23.0, "M -33.3  S -23.0 LUFS"},
	} {
		l.set(c.momentary, c.shortTerm, "")
		if l.text() != c.line {
			t.Errorf("%.1f, %.1f reads %q, want %q", c.momentary, c.shortTerm, l.text(), c.line)
		}
		if got := r.MinSize().Width; got != width {
			t.Errorf("%.1f, %.1f: readout %.1f wide, was %.1f", c.momentary, c.shortTerm, got, width)
		}
		if point(0) != m || point(1) != s {
			t.Errorf("%.1f, %.1f: points at %.1f and %.1f, were at %.1f and %.1f", c.momentary, c.shortTerm, point(0), point(1), m, s)
		}
		if r.chars[0][3].Text != "." || r.chars[1][3].Text != "." {
			t.Errorf("%.1f, %.1f: the fourth characters are %q and %q, want points", c.momentary, c.shortTerm, r.chars[0][3].Text, r.chars[1][3].Text)
		}
	}
	l.set(app.NoLoudness, -20, "good")
	if want := "M    –   S -20.0 LUFS · good"; l.text() != want {
		t.Errorf("no momentary loudness reads %q, want %q", l.text(), want)
	}
	if r.MinSize().Width <= width {
		t.Errorf("the words did not widen the readout (%.1f, was %.1f)", r.MinSize().Width, width)
	}
}
