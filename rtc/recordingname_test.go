package rtc

import (
	"strings"
	"testing"
	"time"

	"podium/app/filename"
)

// Every name a recording gets (RecordingName, then NumberedName where it is taken) reads back
// to its stream and start; names from outside, or of streams WHIP would refuse, do not.
func TestRecordingNamesReadBack(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.Local)
	base, err := RecordingName("talk", start)
	if err != nil || base != "talk 2026-12-07 10-00-00" {
		t.Fatalf("RecordingName = %q, %v", base, err)
	}
	for _, n := range []int{0, 1, 2, 20} {
		name := NumberedName(base, n)
		if err := filename.Check(name + StudioSuffix); err != nil {
			t.Errorf("%q is not a name every platform keeps: %v", name+StudioSuffix, err)
		}
		stream, at, ok := RecordingStart(name)
		if !ok || stream != "talk" || !at.Equal(start) {
			t.Errorf("RecordingStart(%q) = %q, %v, %v", name, stream, at, ok)
		}
	}
	if got := NumberedName(base, 3); got != base+" (3)" {
		t.Errorf("NumberedName(…, 3) = %q", got)
	}
	for _, stream := range []string{"", "../www/pwned", "a/b", "sp ace", "x\x00y", "CON", "nul", "Aux", "PRN", "COM1", "com9", "LPT1", "lpt0"} {
		if name, err := RecordingName(stream, start); err == nil || !strings.Contains(err.Error(), "stream name") {
			t.Errorf("RecordingName(%q) = %q, %v: want an error about the stream name", stream, name, err)
		}
	}
	for _, name := range []string{"talk", "talk 2026-12-07", "talk 2026-12-07 10-00-00x", "../x 2026-12-07 10-00-00", "talk 2026-13-07 10-00-00"} {
		if _, _, ok := RecordingStart(name); ok {
			t.Errorf("RecordingStart(%q) read a recording's name", name)
		}
	}
}
