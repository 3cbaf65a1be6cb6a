package proto

import "strings"

// What a talk is called, and its chapters, as both ends carry them (issue 25). The title and
// the presenter travel in the WHIP offer's session-level lines: s=<title> (session name,
// RFC 8866) and i=<presenter> (session information), which other WHIP servers ignore; "s=-"
// with no i= is what browsers and OBS send, and means none. Chapters are a WHIP extension
// the server advertises in its 201 (RFC 9725 §4.4): a Link to {session}/chapters with
// RelChapters, to which the publisher POSTs a ChapterRequest.
const (
	MaxTitleRunes     = 200 // a talk's title (s=), and a chapter's name
	MaxPresenterRunes = 100 // the presenter's name (i=)
	// RelChapters is the Link relation of the chapters extension.
	RelChapters = "urn:podium:whip:chapters"
	// MaxChapterBody bounds the body of one chapters POST; beyond it the server answers 413.
	MaxChapterBody = 4 << 10
	// MaxChapters bounds the chapters of one recording; beyond it the server answers 429.
	MaxChapters = 1000
)

// CleanText is s as it may travel and be stored: invalid UTF-8 and control characters (CR,
// LF, everything below 0x20, DEL and the C1 range) removed, trimmed, and cut to maxRunes
// runes (at a rune boundary). It is text, never markup: whoever shows it must not interpret it.
func CleanText(s string, maxRunes int) string {
	var b strings.Builder
	n := 0
	for _, r := range strings.TrimSpace(strings.ToValidUTF8(s, "")) {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			continue
		}
		if n == maxRunes {
			break
		}
		b.WriteRune(r)
		n++
	}
	return strings.TrimSpace(b.String())
}

// TalkLine is the value of an s= or i= line as a server reads it: cleaned and cut to
// maxRunes, "-" (the placeholder every WebRTC stack sends) and empty meaning none.
func TalkLine(v string, maxRunes int) string {
	v = CleanText(v, maxRunes)
	if v == "-" {
		return ""
	}
	return v
}

// ChapterRequest is the body of a POST to the chapters extension (Content-Type
// application/json, at most MaxChapterBody bytes): {"name": "…"} marks a chapter now,
// {"index": i, "name": "…"} renames chapter i (from 0), {"title": "…"} changes the talk's
// title. The server answers 204.
type ChapterRequest struct {
	Name  *string `json:"name,omitempty"`
	Index *int    `json:"index,omitempty"`
	Title *string `json:"title,omitempty"`
}

// Chapter is one chapter as GET /streams/{stream} and GET /recordings give it: its start in
// seconds from the beginning of the recording, and its name (may be empty).
type Chapter struct {
	Start float64 `json:"start"`
	Name  string  `json:"name"`
}
