package proto

import (
	"strings"
	"unicode/utf8"
)

// A talk's title and presenter travel in the WHIP offer's session-level SDP lines (RFC 8866):
// the title as the session name "s=", the presenter as the session information "i=". Other
// servers ignore both; browsers and OBS send "s=-" and no "i=", which means none.
const (
	MaxTitleRunes     = 200 // a longer title is cut at a rune boundary
	MaxPresenterRunes = 100
	noSessionName     = "-" // RFC 8866's "no name"
)

// CleanText makes s fit to travel in one SDP line and to be shown: control characters (CR
// and LF among them, all below U+0020, and DEL) removed, invalid UTF-8 replaced, spaces
// trimmed, cut to maxRunes runes.
func CleanText(s string, maxRunes int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxRunes {
		n := 0
		for i := range s {
			if n == maxRunes {
				s = s[:i]
				break
			}
			n++
		}
		s = strings.TrimSpace(s)
	}
	return s
}

// WithTalk returns the offer sdp with the talk's title as its session name and the presenter
// as its session information, both cleaned (CleanText) first: "s=-" and no "i=" when they are
// empty. Only the session-level "s=" (before the first "m=") is replaced; an "i=" there is
// replaced too.
func WithTalk(sdp, title, presenter string) string {
	title = CleanText(title, MaxTitleRunes)
	presenter = CleanText(presenter, MaxPresenterRunes)
	if title == "" {
		title = noSessionName
	}
	lines := strings.SplitAfter(sdp, "\n")
	out := make([]string, 0, len(lines)+1)
	done := false
	for _, l := range lines {
		body := strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(body, "m=") {
			done = true
		}
		switch {
		case done:
		case strings.HasPrefix(body, "s="):
			out = append(out, "s="+title+"\r\n")
			if presenter != "" {
				out = append(out, "i="+presenter+"\r\n")
			}
			continue
		case strings.HasPrefix(body, "i="):
			continue // ours, or none
		}
		out = append(out, l)
	}
	return strings.Join(out, "")
}

// Talk reads the title and presenter from an offer's session-level "s=" and "i=" lines,
// cleaned and cut as WithTalk does; "s=-" is no title.
func Talk(sdp string) (title, presenter string) {
	var s, i string
	var seenS, seenI bool
	for l := range strings.Lines(sdp) {
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, "m=") {
			break
		}
		switch {
		case !seenS && strings.HasPrefix(l, "s="):
			s, seenS = l[2:], true
		case !seenI && strings.HasPrefix(l, "i="):
			i, seenI = l[2:], true
		}
	}
	title = CleanText(s, MaxTitleRunes)
	if title == noSessionName {
		title = ""
	}
	return title, CleanText(i, MaxPresenterRunes)
}

// RelChapters is the link relation of Podium's live chapters extension of WHIP (RFC 9725
// §4.4): a server that has it sends, with its 201, a Link to the session's chapters resource,
// to which the client POSTs JSON: {"name": …} marks a chapter now, {"index": i, "name": …}
// renames one, {"title": …} changes the talk's title.
const RelChapters = "urn:podium:whip:chapters"

// MaxChapterBody bounds the body of one POST to the chapters resource.
const MaxChapterBody = 4 << 10

// ExtensionLink is the URI of the first Link with relation rel among the Link header values,
// or "".
func ExtensionLink(values []string, rel string) string {
	for _, v := range values {
		for _, l := range splitLinks(v) {
			for _, r := range strings.Fields(l.params["rel"]) {
				if strings.EqualFold(r, rel) {
					return l.uri
				}
			}
		}
	}
	return ""
}

// MaxChapters bounds the chapters of one recording on the server; beyond it the chapters
// resource answers 429.
const MaxChapters = 1000

// ChapterRequest is the body of a POST to the chapters resource (Content-Type
// application/json, at most MaxChapterBody bytes): exactly one of {"name"}, {"index",
// "name"} or {"title"}. The server answers 204.
type ChapterRequest struct {
	Index *int    `json:"index,omitempty"`
	Name  *string `json:"name,omitempty"`
	Title *string `json:"title,omitempty"`
}

// Chapter is one chapter as GET /streams/{stream} and GET /recordings give it: its start in
// seconds from the beginning of the recording, and its name (may be empty).
type Chapter struct {
	Start float64 `json:"start"`
	Name  string  `json:"name"`
}
