package id3_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/id3"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// TestID3FFprobe checks that a real tag reader agrees with ours.
func TestID3FFprobe(t *testing.T) {
	testkit.Need(t, "ffmpeg", "ffprobe")
	ffmpeg := "ffmpeg"
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.mp3")
	out, err := exec.Command(ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=1", "-ac", "1", "-ar", "48000",
		"-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0", "-id3v2_version", "0", raw).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	audio, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		tags id3.Tags
	}{
		{"ascii", id3.Tags{Title: "Weekly sync", Presenter: "Ada Lovelace", Date: time.Date(2025, 3, 14, 9, 26, 53, 0, time.Local), Length: time.Second, Comment: "notes"}},
		{"non-ascii", id3.Tags{Title: "Zoë Ångström — 講演", Presenter: "Zoë Ångström", Date: time.Date(1999, 12, 31, 23, 59, 59, 0, time.Local), Comment: "Ünïcødé"}},
		{"title only", id3.Tags{Title: "only"}},
		{"replaygain", id3.Tags{Title: "loud", ReplayGain: &id3.ReplayGain{TrackGain: 2.5, TrackPeak: 0.5, Loudness: -20.5, Range: 3}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag, err := id3.Encode(tc.tags, 1024)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.name+".mp3")
			if err := os.WriteFile(path, append(tag, audio...), 0o644); err != nil {
				t.Fatal(err)
			}
			got := audiotest.ProbeTags(t, path)
			want := map[string]string{}
			if tc.tags.Title != "" {
				want["title"] = tc.tags.Title
			}
			if tc.tags.Presenter != "" {
				want["artist"] = tc.tags.Presenter
			}
			if !tc.tags.Date.IsZero() {
				want["date"] = tc.tags.Date.Format("2006-01-02T15:04:05")
			}
			if tc.tags.Comment != "" {
				want["comment"] = tc.tags.Comment
			}
			if tc.tags.Length > 0 {
				want["TLEN"] = "1000"
			}
			if g := tc.tags.ReplayGain; g != nil {
				want["REPLAYGAIN_TRACK_GAIN"] = fmt.Sprintf("%.2f dB", g.TrackGain)
				want["REPLAYGAIN_TRACK_PEAK"] = fmt.Sprintf("%.6f", g.TrackPeak)
				want["PODIUM_LOUDNESS"] = fmt.Sprintf("%.2f LUFS", g.Loudness)
				want["PODIUM_LOUDNESS_RANGE"] = fmt.Sprintf("%.2f LU", g.Range)
			}
			want["encoder"] = "Podium" // the mark of a file Podium wrote
			for k, v := range want {
				if got[k] != v {
					t.Errorf("ffprobe %s = %q, want %q (all tags: %v)", k, got[k], v, got)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("ffprobe found unexpected tag %s=%q", k, got[k])
				}
			}
		})
	}
}

// TestChaptersFFprobe: ffprobe reads our CHAP frames: count, titles (any Unicode, markup as
// text), start and end times.
func TestChaptersFFprobe(t *testing.T) {
	testkit.Need(t, "ffmpeg", "ffprobe")
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.mp3")
	out, err := exec.Command("ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=3", "-ac", "1", "-ar", "48000",
		"-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0", "-id3v2_version", "0", raw).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	audio, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	pc := func(start, end time.Duration, title string) audiotest.ProbedChapter {
		return audiotest.ProbedChapter{Start: start, End: end, Title: title}
	}
	for _, tc := range []struct {
		name string
		ch   []id3.Chapter
		want []audiotest.ProbedChapter
	}{
		{"one", []id3.Chapter{{Title: "Intro"}}, []audiotest.ProbedChapter{pc(0, 3000*ms, "Intro")}},
		{"three", []id3.Chapter{{Title: "Zoë — 講演"}, {Start: 1234 * ms, Title: `<b>"quoted" & 'so'</b>`}, {Start: 2500 * ms}},
			[]audiotest.ProbedChapter{pc(0, 1234*ms, "Zoë — 講演"), pc(1234*ms, 2500*ms, `<b>"quoted" & 'so'</b>`), pc(2500*ms, 3000*ms, "chp2")}}, // ffmpeg names an untitled chapter by its element ID
	} {
		t.Run(tc.name, func(t *testing.T) {
			tags := id3.Tags{Title: "chapters", Length: 3 * time.Second, Chapters: tc.ch}
			tag, err := id3.Encode(tags, 1024+id3.ChaptersSize(tc.ch))
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, tc.name+".mp3")
			if err := os.WriteFile(path, append(tag, audio...), 0o644); err != nil {
				t.Fatal(err)
			}
			got := audiotest.ProbeChapters(t, path)
			if len(got) != len(tc.want) {
				t.Fatalf("ffprobe found %d chapters %+v, want %d", len(got), got, len(tc.want))
			}
			for i, w := range tc.want {
				g := got[i]
				if g.Title != w.Title || (g.Start-w.Start).Abs() > ms || (g.End-w.End).Abs() > ms {
					t.Errorf("chapter %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}
