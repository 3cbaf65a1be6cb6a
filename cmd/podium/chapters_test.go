package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

var (
	progressLine = regexp.MustCompile(`^(\d+):(\d+):(\d+\.\d+)  level`)
	chapterLine  = regexp.MustCompile(`^chapter (\d+) at (\d+):(\d+):(\d+\.\d+)(?:: (.*))?$`)
)

// podium record marks a chapter for each line on standard input (an empty line: unnamed) at
// the position it reports, and ffprobe finds them there in the MP3, within 20 ms; the end of
// standard input changes nothing.
func TestRecordChaptersFromStdin(t *testing.T) {
	speech := audiotest.Speech(t, false)
	out := filepath.Join(t.TempDir(), "chapters.mp3")
	cmd := exec.Command(podium, "record", "--input", speech, "--out", out, "--title", "Lecture 4", "--presenter", "Dr. Kim", "--duration", "4s")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := testkit.StartCmd(t, cmd)
	type mark struct {
		after time.Duration // type the line once the progress shows this much
		line  string
		want  string // the name ffprobe reads
	}
	marks := []mark{{time.Second, "Intro", "Intro"}, {2200 * time.Millisecond, "", "chp1"}, {3 * time.Second, `Q&A <b>"x"</b> Zoë`, `Q&A <b>"x"</b> Zoë`}}
	var at []time.Duration
	for i, m := range marks {
		var shown time.Duration
		for shown < m.after {
			shown = testkit.Clock(t, p.Next(t, progressLine, 20*time.Second)[1:4])
		}
		fmt.Fprintln(stdin, m.line)
		c := p.Next(t, chapterLine, 10*time.Second)
		pos := testkit.Clock(t, c[2:5])
		if c[1] != strconv.Itoa(i+1) || c[5] != m.line {
			t.Errorf("chapter line %q, want chapter %d %q", c[0], i+1, m.line)
		}
		// The position is the audio recorded when the line came: what the progress showed,
		// to a few frames more (it is drawn every 250 ms).
		if pos < shown || pos > shown+400*time.Millisecond {
			t.Errorf("chapter %d at %v; the progress showed %v just before", i+1, pos, shown)
		}
		at = append(at, pos)
	}
	stdin.Close() // the end of standard input: the recording goes on to --duration
	if code := p.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d:\n%s", code, p.Log())
	}
	probed := audiotest.ProbeChapters(t, out)
	if len(probed) != len(marks) {
		t.Fatalf("ffprobe: %d chapters %+v, want %d", len(probed), probed, len(marks))
	}
	for i, m := range marks {
		off := (probed[i].Start - at[i]).Abs()
		if probed[i].Title != m.want || off > 20*time.Millisecond {
			t.Errorf("chapter %d: ffprobe %+v, want %q at %v", i+1, probed[i], m.want, at[i])
		}
		t.Logf("chapter %d: marked at %v, ffprobe %v (%v off)", i+1, at[i], probed[i].Start, off)
	}
	if end := probed[len(probed)-1].End; end < 3990*time.Millisecond || end > 4010*time.Millisecond {
		t.Errorf("the last chapter ends at %v, the recording at 4 s", end)
	}
	if tags := audiotest.ProbeTags(t, out); tags["title"] != "Lecture 4" || tags["artist"] != "Dr. Kim" {
		t.Errorf("tags %v", tags)
	}
}

// Standard input that is a file, not a pipe or a terminal, marks nothing.
func TestRecordStdinFileNoChapters(t *testing.T) {
	speech := audiotest.Speech(t, false)
	dir := t.TempDir()
	lines := filepath.Join(dir, "lines.txt")
	os.WriteFile(lines, []byte("one\ntwo\n"), 0o644)
	f, err := os.Open(lines)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := filepath.Join(dir, "plain.mp3")
	cmd := exec.Command(podium, "record", "--input", speech, "--fast", "--duration", "2s", "--out", out)
	cmd.Stdin = f
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v:\n%s", err, msg)
	}
	if ch := audiotest.ProbeChapters(t, out); len(ch) != 0 {
		t.Errorf("chapters from a file on standard input: %+v", ch)
	}
}
