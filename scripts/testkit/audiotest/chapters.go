package audiotest

import (
	"encoding/json"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"podium/scripts/testkit"
)

// ProbedChapter is one chapter as ffprobe -show_chapters reads it from a file.
type ProbedChapter struct {
	Start, End time.Duration
	Title      string
}

// ProbeChapters returns the chapters ffprobe finds in path (ID3v2 CHAP frames for an MP3).
func ProbeChapters(t testing.TB, path string) []ProbedChapter {
	t.Helper()
	testkit.Need(t, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-show_chapters", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe -show_chapters %s: %v", path, err)
	}
	var probe struct {
		Chapters []struct {
			Start string            `json:"start_time"`
			End   string            `json:"end_time"`
			Tags  map[string]string `json:"tags"`
		} `json:"chapters"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe -show_chapters %s: %v\n%s", path, err, out)
	}
	secs := func(s string) time.Duration {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("ffprobe -show_chapters %s: time %q: %v", path, s, err)
		}
		return time.Duration(v * float64(time.Second))
	}
	var ch []ProbedChapter
	for _, c := range probe.Chapters {
		ch = append(ch, ProbedChapter{Start: secs(c.Start), End: secs(c.End), Title: c.Tags["title"]})
	}
	return ch
}
