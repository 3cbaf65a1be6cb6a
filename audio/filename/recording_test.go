package filename

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// Every name a recording gets (NewRecording, then Numbered where it is taken, StudioCopy for
// the presenter's own copy) is the file name expected, passes Check, and reads back to the
// same recording; names from outside, or of streams WHIP would refuse, do not.
func TestRecordingNames(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	talk, err := NewRecording("talk", start.Add(400*time.Millisecond)) // to the second
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    Recording
		file string
		base string
	}{
		{talk, "talk 2026-12-07 10-00-00.mp3", "talk 2026-12-07 10-00-00"},
		{talk.Numbered(0), "talk 2026-12-07 10-00-00.mp3", "talk 2026-12-07 10-00-00"},
		{talk.Numbered(1), "talk 2026-12-07 10-00-00.mp3", "talk 2026-12-07 10-00-00"},
		{talk.Numbered(2), "talk 2026-12-07 10-00-00 (2).mp3", "talk 2026-12-07 10-00-00 (2)"},
		{talk.Numbered(20), "talk 2026-12-07 10-00-00 (20).mp3", "talk 2026-12-07 10-00-00 (20)"},
		{talk.Numbered(2).Numbered(3), "talk 2026-12-07 10-00-00 (2) (3).mp3", "talk 2026-12-07 10-00-00 (2) (3)"}, // renamed in the bucket too
		{talk.StudioCopy(), "talk 2026-12-07 10-00-00 (studio).mp3", "talk 2026-12-07 10-00-00"},
		{talk.Numbered(2).StudioCopy(), "talk 2026-12-07 10-00-00 (2) (studio).mp3", "talk 2026-12-07 10-00-00 (2)"},
		{talk.StudioCopy().Numbered(4), "talk 2026-12-07 10-00-00 (4) (studio).mp3", "talk 2026-12-07 10-00-00 (4)"},
	} {
		if got := c.r.File(); got != c.file {
			t.Errorf("File() = %q, want %q", got, c.file)
		}
		if got := c.r.Base(); got != c.base {
			t.Errorf("Base() of %q = %q, want %q", c.file, got, c.base)
		}
		if err := Check(c.file); err != nil {
			t.Errorf("%q is not a name every platform keeps: %v", c.file, err)
		}
		if err := CheckListed(c.file); err != nil {
			t.Errorf("%q would not be listed: %v", c.file, err)
		}
		back, ok := ParseRecording(c.file)
		if !ok || back.Stream != "talk" || !back.Start.Equal(start) || back.Studio != c.r.Studio || !slices.Equal(back.Dup, c.r.Dup) || back.File() != c.file {
			t.Errorf("ParseRecording(%q) = %+v, %v", c.file, back, ok)
		}
		if got := StreamOf(c.file); got != "talk" {
			t.Errorf("StreamOf(%q) = %q", c.file, got)
		}
		live, isCopy := CutStudio(c.file)
		if isCopy != c.r.Studio || isCopy && StudioName(live) != c.file || !isCopy && live != c.file {
			t.Errorf("CutStudio(%q) = %q, %v", c.file, live, isCopy)
		}
	}
	// Numbering one name never changes another made from the same recording.
	two := talk.Numbered(2)
	if a, b := two.Numbered(3).File(), two.Numbered(4).File(); a == b || two.File() != "talk 2026-12-07 10-00-00 (2).mp3" {
		t.Errorf("numbering shares its list: %q, %q, %q", a, b, two.File())
	}
	if got := StudioName("notes.mp3"); got != "notes (studio).mp3" {
		t.Errorf("StudioName(notes.mp3) = %q", got) // any listed MP3 may have a copy
	}
	if got := Numbered("Q&A_ 2026-12-07", 2); got != "Q&A_ 2026-12-07 (2)" {
		t.Errorf("Numbered = %q", got) // the app's own titles number the same way
	}
}

// Streams WHIP would refuse make no recording's name: the traversal of issue 21, separators,
// blanks, and the names Windows keeps for devices.
func TestRecordingRefusesStreams(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	for _, stream := range []string{"", "../x", "../www/pwned", "a/b", `a\b`, "sp ace", "x\x00y", "a.b", strings.Repeat("x", 65),
		"CON", "nul", "Aux", "PRN", "COM1", "com9", "LPT1", "lpt0", "CONIN$"} {
		if r, err := NewRecording(stream, start); err == nil || !strings.Contains(err.Error(), "stream name") {
			t.Errorf("NewRecording(%q) = %q, %v: want an error about the stream name", stream, r.File(), err)
		}
		if CheckStream(stream) == nil {
			t.Errorf("CheckStream(%q) took it", stream)
		}
	}
	for _, stream := range []string{"talk", "a", "Main-Hall_2", strings.Repeat("x", 64), "COM10", "CONSOLE"} {
		if err := CheckStream(stream); err != nil {
			t.Errorf("CheckStream(%q) = %v", stream, err)
		}
	}
}

// Names not made by Recording do not read back as one, so that neither a studio copy nor the
// owner of a recording is taken from a name someone else made.
func TestParseRecordingRefuses(t *testing.T) {
	for _, file := range []string{
		"", "talk", "talk.mp3", "talk 2026-12-07.mp3", "talk 2026-12-07 10-00-00", // no .mp3
		"talk 2026-12-07 10-00-00x.mp3", "talk 2026-12-07 10-00-00 .mp3", "talk 2026-13-07 10-00-00.mp3",
		"talk 2026-12-07 1-00-00.mp3", "talk  2026-12-07 10-00-00.mp3",
		"talk 2026-12-07 10-00-00 (1).mp3", "talk 2026-12-07 10-00-00 (02).mp3", "talk 2026-12-07 10-00-00 (-2).mp3",
		"talk 2026-12-07 10-00-00 (2.mp3", "talk 2026-12-07 10-00-00 (copy).mp3", "talk 2026-12-07 10-00-00 (studio) (2).mp3",
		"talk 2026-12-07 10-00-00 (studio) (studio).mp3", "talk 2026-12-07 10-00-00.MP3",
		"../x 2026-12-07 10-00-00.mp3", "../x", "x/../y 2026-12-07 10-00-00.mp3", "CON 2026-12-07 10-00-00.mp3",
		"nul 2026-12-07 10-00-00.mp3", ".talk 2026-12-07 10-00-00.mp3",
	} {
		if r, ok := ParseRecording(file); ok {
			t.Errorf("ParseRecording(%q) = %+v: read a recording's name", file, r)
		}
	}
	for _, file := range []string{"../x.mp3", "..%2fx.mp3", ".hidden.mp3", "a/b.mp3", `a\b.mp3`, "talk..mp3", "x.txt", "talk.mp3.info", "", "talk\x00.mp3"} {
		if CheckListed(file) == nil {
			t.Errorf("CheckListed(%q) took it", file)
		}
	}
	for _, file := range []string{"old.mp3", "talk.mp3", "two parts (2).mp3", "notes (studio).mp3"} {
		if err := CheckListed(file); err != nil {
			t.Errorf("CheckListed(%q) = %v: the server lists any plain MP3", file, err)
		}
	}
}

// FuzzParseRecording: whatever a folder, a bucket or a client holds, ParseRecording either
// refuses it or reads a recording that makes the same name again, a name every platform keeps.
func FuzzParseRecording(f *testing.F) {
	for _, s := range []string{"talk 2026-12-07 10-00-00.mp3", "talk 2026-12-07 10-00-00 (2) (studio).mp3",
		"a 2026-01-31 23-59-59 (2) (3).mp3", "../x 2026-12-07 10-00-00.mp3", "CON 2026-12-07 10-00-00.mp3",
		"talk 2026-12-07 10-00-00 (02).mp3", "talk 2026-02-30 10-00-00.mp3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		r, ok := ParseRecording(file)
		if !ok {
			return
		}
		if got := r.File(); got != file {
			t.Fatalf("ParseRecording(%q).File() = %q", file, got)
		}
		if err := Check(file); err != nil {
			t.Fatalf("%q reads as a recording but Check refuses it: %v", file, err)
		}
		if err := CheckListed(file); err != nil {
			t.Fatalf("%q reads as a recording but would not be listed: %v", file, err)
		}
		if StreamOf(file) != r.Stream || CheckStream(r.Stream) != nil {
			t.Fatalf("%q: stream %q", file, r.Stream)
		}
	})
}
