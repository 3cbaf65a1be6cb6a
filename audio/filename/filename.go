// Package filename owns the names Podium gives files: names every platform accepts, Windows'
// rules included, whatever platform the file is made on (a recording made on Linux is copied
// to a Windows laptop; podium-server on Linux serves names Windows clients save): Check and
// Safe; and the names of the server's recordings, which the recorder makes, the studio server
// and the bucket number and pair, and the listing reads back: Recording, CheckStream and the
// helpers in recording.go. It imports nothing of Podium's, so rtc, app, ui and audio all use
// it, and a change of format made here is made everywhere.
//
// Windows refuses <>:"/\|?* and control characters in a name, drops a trailing dot or space
// (so "talk." and "talk" are one file), and takes the device names CON, PRN, AUX, NUL,
// COM0–COM9, LPT0–LPT9 (and COM¹²³, LPT¹²³, CONIN$, CONOUT$) for devices, in any case and
// with any extension: "con.mp3" and "CON .txt" open the console, not a file.
package filename

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxBytes bounds a name Safe makes, in bytes of UTF-8: Linux and macOS allow 255 bytes and
// Windows 255 UTF-16 units (never fewer for the same text), less room for what Podium adds
// after a title (" (99).mp3" and the studio copy's ".studio.json"-style suffixes).
const MaxBytes = 200

// refused are the printable characters Windows refuses in a name ('/' too, everywhere).
const refused = `<>:"/\|?*`

// Check says why name (one file name, no folder) is not one every platform accepts, or nil.
func Check(name string) error {
	switch {
	case name == "":
		return errors.New("a name is needed")
	case name == "." || name == "..":
		return fmt.Errorf("%q is not a name", name)
	case !utf8.ValidString(name):
		return errors.New("the name is not valid text (UTF-8)")
	}
	for _, r := range name {
		if isRefused(r) {
			if r < ' ' || r == 0x7f {
				return fmt.Errorf("control character %U is not allowed in a file name", r)
			}
			return fmt.Errorf("%q is not allowed in a file name (none of %s)", r, refused)
		}
	}
	if last := name[len(name)-1]; last == '.' || last == ' ' {
		return errors.New("a file name cannot end in a dot or a space (Windows drops them)")
	}
	if dev, ok := device(name); ok {
		return fmt.Errorf("%q is the name of a Windows device (%s), not of a file", name, dev)
	}
	return nil
}

// Safe turns a title into a name that passes Check, keeping as much of it as it can: each
// refused or control character becomes '_', invalid UTF-8 likewise, blanks at either end and
// trailing dots go, a device name gets '_' after it ("CON" → "CON_", "nul.mp3" → "nul_.mp3"),
// and a long title is cut to MaxBytes on a character boundary. A title with nothing usable
// ("", "...", "  ") gives "": the caller says so.
func Safe(title string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(title, "\uFFFD") {
		if r == utf8.RuneError || isRefused(r) {
			r = '_'
		}
		b.WriteRune(r)
	}
	s := trimEnd(strings.TrimLeft(b.String(), " "))
	if s == "" || s == "." || s == ".." {
		return ""
	}
	if _, ok := device(s); ok {
		stem := strings.TrimRight(stemOf(s), " ")
		s = stem + "_" + s[len(stem):]
	}
	// Cut last, so the '_' a device name gets counts too (FuzzSafe: "nul.…" of 200 bytes
	// became 201). A cut leaves the stem, and so the '_', where it was.
	if len(s) > MaxBytes {
		cut := MaxBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = trimEnd(s[:cut])
	}
	return s
}

// trimEnd drops what Windows drops from the end of a name: dots and spaces.
func trimEnd(s string) string { return strings.TrimRight(s, ". ") }

func isRefused(r rune) bool {
	return r < ' ' || r == 0x7f || strings.ContainsRune(refused, r)
}

// stemOf is the part of a name Windows compares with its device names: up to the first dot.
func stemOf(name string) string {
	if i := strings.IndexByte(name, '.'); i >= 0 {
		return name[:i]
	}
	return name
}

// device reports whether Windows takes name for a device, and which: its stem, less trailing
// spaces, is one of the reserved names in any case.
func device(name string) (string, bool) {
	stem := strings.ToUpper(strings.TrimRight(stemOf(name), " "))
	switch stem {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return stem, true
	}
	if len(stem) >= 4 && (strings.HasPrefix(stem, "COM") || strings.HasPrefix(stem, "LPT")) {
		switch stem[3:] {
		case "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "¹", "²", "³":
			return stem, true
		}
	}
	return "", false
}
