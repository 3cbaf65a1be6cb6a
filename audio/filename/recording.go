package filename

// The names of the server's recordings: "talk 2026-12-02 10-00-00.mp3", "… (2).mp3" when that
// was taken, "… (studio).mp3" for the presenter's own copy beside it. Everything that makes,
// reads or pairs such a name does it here, so that a change of format reaches the recorder,
// the studio server, the listing and the bucket alike.

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Ext ends every recording's name.
const Ext = ".mp3"

// studioTag marks the presenter's own copy of a talk, after its live recording's base name.
const studioTag = " (studio)"

// StudioSuffix ends the name of a talk's studio copy: "talk 2026-12-02 10-00-00 (studio).mp3"
// beside "talk 2026-12-02 10-00-00.mp3".
const StudioSuffix = studioTag + Ext

// stamp is how a recording's name gives the time it began (local time, to the second).
const stamp = "2006-01-02 15-04-05"

// maxStream bounds a stream's name, so that a recording's name stays well within MaxBytes.
const maxStream = 64

var streamName = regexp.MustCompile(fmt.Sprintf(`^[A-Za-z0-9_-]{1,%d}$`, maxStream))

// CheckStream is the one rule for a stream's name: 1 to 64 of A-Z a-z 0-9 _ -, and not a
// name Windows keeps for a device (CON, NUL, COM1…), so it is safe in a URL path and, as the
// start of a recording's name, in a file name on every platform as it is.
func CheckStream(name string) error {
	if !streamName.MatchString(name) {
		return fmt.Errorf("stream name %q: use 1 to %d letters, digits, - or _", name, maxStream)
	}
	if err := Check(name); err != nil {
		return fmt.Errorf("stream name %q: %w; choose another", name, err)
	}
	return nil
}

// Recording is the name of one of the server's recordings, made by NewRecording (and Numbered,
// Studio) or read back by ParseRecording. Its zero value is no name.
type Recording struct {
	Stream string    // passes CheckStream
	Start  time.Time // when it began: local time, to the second
	// Dup numbers a name that was taken, in the order it was numbered: [2] is "… (2)"; a
	// name the bucket held too may be numbered again, "… (2) (3)".
	Dup    []int
	Studio bool // the presenter's own copy, beside the live recording of the same base
}

// NewRecording is the name of the recording of stream that began at start; the stream
// passes CheckStream, so the name stays a plain file name inside the recordings folder
// whatever a client sent.
func NewRecording(stream string, start time.Time) (Recording, error) {
	if err := CheckStream(stream); err != nil {
		return Recording{}, err
	}
	return Recording{Stream: stream, Start: start.Local().Truncate(time.Second)}, nil
}

// Base is the talk's name without the studio tag and Ext: "talk 2026-12-02 10-00-00 (2)".
func (r Recording) Base() string {
	b := r.Stream + " " + r.Start.Local().Format(stamp)
	for _, n := range r.Dup {
		b = Numbered(b, n)
	}
	return b
}

// File is the recording's file name: its Base, the studio tag for a studio copy, and Ext.
func (r Recording) File() string {
	if r.Studio {
		return StudioName(r.Base() + Ext)
	}
	return r.Base() + Ext
}

// Numbered is the nth name for the recording when its own is taken: r itself for n ≤ 1.
func (r Recording) Numbered(n int) Recording {
	if n > 1 {
		r.Dup = append(r.Dup[:len(r.Dup):len(r.Dup)], n)
	}
	return r
}

// StudioCopy is the name of the studio copy of the live recording r.
func (r Recording) StudioCopy() Recording {
	r.Studio = true
	return r
}

// ParseRecording reads back a file name a Recording made (File), and says whether it is one.
// What it reads gives the same name again: ParseRecording(f).File() == f.
func ParseRecording(file string) (Recording, bool) {
	base, studio := CutStudio(file)
	base, ok := strings.CutSuffix(base, Ext)
	if !ok {
		return Recording{}, false
	}
	stream, rest, found := strings.Cut(base, " ")
	if !found || CheckStream(stream) != nil || len(rest) < len(stamp) {
		return Recording{}, false
	}
	start, err := time.ParseInLocation(stamp, rest[:len(stamp)], time.Local)
	if err != nil || start.Format(stamp) != rest[:len(stamp)] {
		return Recording{}, false // a time that does not read back the same (a DST gap)
	}
	r := Recording{Stream: stream, Start: start, Studio: studio}
	for rest = rest[len(stamp):]; rest != ""; {
		var n int
		if n, rest, ok = cutNumber(rest); !ok {
			return Recording{}, false
		}
		r.Dup = append(r.Dup, n)
	}
	return r, true
}

// cutNumber reads " (n)" (n ≥ 2, as Numbered writes it) off the front of s.
func cutNumber(s string) (int, string, bool) {
	s, ok := strings.CutPrefix(s, " (")
	if !ok {
		return 0, "", false
	}
	digits, rest, ok := strings.Cut(s, ")")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 2 || strconv.Itoa(n) != digits {
		return 0, "", false
	}
	return n, rest, true
}

// Numbered is the nth name for a file whose base name (no extension) is taken: base itself
// for n ≤ 1, then "base (2)", "base (3)"…; for recordings, by another file, or in the bucket
// by another origin's talk of the same second.
func Numbered(base string, n int) string {
	if n <= 1 {
		return base
	}
	return fmt.Sprintf("%s (%d)", base, n)
}

// StudioName is the name of the studio copy beside the recording named file ("x.mp3" →
// "x (studio).mp3"); any MP3 the server lists may have one.
func StudioName(file string) string {
	return strings.TrimSuffix(file, Ext) + StudioSuffix
}

// CutStudio says whether file is a studio copy's name and, if so, gives the name of the
// recording it copies ("x (studio).mp3" → "x.mp3"); else file itself.
func CutStudio(file string) (live string, ok bool) {
	if base, ok := strings.CutSuffix(file, StudioSuffix); ok {
		return base + Ext, true
	}
	return file, false
}

// StreamOf is the stream a recording named file belongs to: its name begins with it.
func StreamOf(file string) string {
	stream, _, _ := strings.Cut(file, " ")
	return stream
}

// listable admits the MP3s the server lists and serves: its recordings, their studio copies,
// and any other plain name put in the folder; no separators, no leading dot, so neither
// "../x" nor hidden files can be reached.
var listable = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._ ()-]{0,250}\.mp3$`)

// CheckListed says why the server will not list or serve a file of this name, or nil.
func CheckListed(file string) error {
	if !listable.MatchString(file) || strings.Contains(file, "..") {
		return errors.New("not a recording's name: a plain name of letters, digits, . _ - ( ) and spaces, ending in .mp3")
	}
	return nil
}
