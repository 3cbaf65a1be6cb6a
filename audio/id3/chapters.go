package id3

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"time"
)

// Chapter is one chapter of a recording, written as an ID3v2 Chapter Frame Addendum CHAP
// frame (with its title in an embedded TIT2) and listed in a CTOC table of contents, which
// ffmpeg/ffprobe, podcast apps and players read.
type Chapter struct {
	Start, End time.Duration
	Title      string
}

const (
	// MaxChapters bounds the chapters a tag holds, written or read: a recording that was
	// marked more often than that is not a chaptered talk but a runaway key.
	MaxChapters = 1000
	// MaxChapterTitle is the most runes of a chapter title that are stored; longer ones are cut.
	MaxChapterTitle = 200
	// tocID is the element ID of the top-level table of contents.
	tocID = "toc"
	// tocChildren is the most entries one CTOC frame can list (its count is one byte), so
	// more chapters than that go into nested tables of contents under the top one.
	tocChildren = 255
	// noOffset is the CHAP byte offset meaning "use the times".
	noOffset = 0xFFFFFFFF
)

// chapterID is the element ID of chapter i.
func chapterID(i int) string { return "chp" + strconv.Itoa(i) }

// subTOCID is the element ID of the i-th nested table of contents.
func subTOCID(i int) string { return tocID + strconv.Itoa(i) }

// prepareChapters returns the chapters as Encode writes them: in start order, at most
// MaxChapters, titles cleaned and cut, each ending where the next begins and the last at
// length (or its own End, or its Start, whichever comes last but not before Start).
func prepareChapters(in []Chapter, length time.Duration) []Chapter {
	if len(in) == 0 {
		return nil
	}
	ch := slices.Clone(in)
	sortChapters(ch)
	if len(ch) > MaxChapters {
		ch = ch[:MaxChapters]
	}
	for i := range ch {
		ch[i].Start = max(ch[i].Start, 0)
		ch[i].Title = cutRunes(cleanText(ch[i].Title), MaxChapterTitle)
		if i+1 < len(ch) {
			ch[i].End = ch[i+1].Start
			continue
		}
		if length > ch[i].Start {
			ch[i].End = length
		} else if ch[i].End < ch[i].Start {
			ch[i].End = ch[i].Start
		}
	}
	return ch
}

// fitChapters makes ch fit in room bytes: the last chapters go while even untitled ones do not
// fit, then the titles are cut to the longest length that fits, longest first.
func fitChapters(ch []Chapter, room int, length time.Duration) []Chapter {
	if chaptersLen(ch) <= room {
		return ch
	}
	untitled := make([]Chapter, len(ch))
	for i, c := range ch {
		untitled[i] = Chapter{Start: c.Start, End: c.End}
	}
	n := len(ch)
	for n > 0 && chaptersLen(untitled[:n]) > room {
		n--
	}
	if n < len(ch) {
		ch = prepareChapters(ch[:n], length) // the last kept ends at length
	}
	titles := room - chaptersLen(untitled[:n])
	cost := func(limit int) int {
		total := 0
		for _, c := range ch {
			if l := min(len(c.Title), limit); l > 0 {
				total += headerLen + 1 + l
			}
		}
		return total
	}
	lo, hi := 0, 0 // the longest title length that fits lies in [lo, hi]
	for _, c := range ch {
		hi = max(hi, len(c.Title))
	}
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if cost(mid) <= titles {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	for i := range ch {
		ch[i].Title = truncateRunes(ch[i].Title, lo)
	}
	return ch
}

// cutRunes cuts s to at most n runes.
func cutRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// ChaptersSize is the number of bytes the CHAP and CTOC frames for ch take in a tag, titles
// cut as Encode cuts them: a writer that reserves this much on top of the room its other
// fields take keeps every chapter and every title whole.
func ChaptersSize(ch []Chapter) int {
	return chaptersLen(prepareChapters(ch, 0))
}

func chaptersLen(ch []Chapter) int {
	if len(ch) == 0 {
		return 0
	}
	n := 0
	for i, c := range ch {
		n += headerLen + len(chapterID(i)) + 1 + 16
		if c.Title != "" {
			n += headerLen + 1 + len(c.Title)
		}
	}
	for _, toc := range tocs(len(ch)) {
		n += headerLen + len(toc.id) + 1 + 2
		for _, c := range toc.children {
			n += len(c) + 1
		}
	}
	return n
}

type toc struct {
	id       string
	top      bool
	children []string
}

// tocs is the table of contents for n chapters: one top-level CTOC listing them all, or,
// beyond what one CTOC can list, a top-level one listing nested ones of up to 255 each.
func tocs(n int) []toc {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = chapterID(i)
	}
	if n <= tocChildren {
		return []toc{{id: tocID, top: true, children: ids}}
	}
	out := []toc{{id: tocID, top: true}}
	for i := 0; len(ids) > 0; i++ {
		k := min(len(ids), tocChildren)
		out[0].children = append(out[0].children, subTOCID(i))
		out = append(out, toc{id: subTOCID(i), children: ids[:k]})
		ids = ids[k:]
	}
	return out
}

// appendChapters appends the CHAP frames of ch and their CTOC frames.
func appendChapters(b []byte, ch []Chapter) []byte {
	if len(ch) == 0 {
		return b
	}
	for i, c := range ch {
		id := chapterID(i)
		n := len(id) + 1 + 16
		if c.Title != "" {
			n += headerLen + 1 + len(c.Title)
		}
		b = appendFrameHeader(b, "CHAP", n)
		b = append(b, id...)
		b = append(b, 0)
		b = binary.BigEndian.AppendUint32(b, millis(c.Start))
		b = binary.BigEndian.AppendUint32(b, millis(c.End))
		b = binary.BigEndian.AppendUint32(b, noOffset)
		b = binary.BigEndian.AppendUint32(b, noOffset)
		b = appendTextFrame(b, "TIT2", c.Title)
	}
	for _, t := range tocs(len(ch)) {
		n := len(t.id) + 1 + 2
		for _, c := range t.children {
			n += len(c) + 1
		}
		b = appendFrameHeader(b, "CTOC", n)
		b = append(b, t.id...)
		b = append(b, 0)
		flags := byte(0x01) // ordered
		if t.top {
			flags |= 0x02
		}
		b = append(b, flags, byte(len(t.children)))
		for _, c := range t.children {
			b = append(b, c...)
			b = append(b, 0)
		}
	}
	return b
}

// millis is d in whole milliseconds as a CHAP time, rounded, clamped to what fits.
func millis(d time.Duration) uint32 {
	ms := d.Round(time.Millisecond).Milliseconds()
	if ms < 0 {
		return 0
	}
	if ms >= noOffset {
		return noOffset - 1
	}
	return uint32(ms)
}

// decodeChapter parses a CHAP frame body: its times and the title of its embedded TIT2.
// Sub-frames are framed as the tag's own frames are.
func decodeChapter(version byte, d []byte) (Chapter, bool) {
	_, rest, found := splitTerminated(0, d)
	if !found || len(rest) < 16 {
		return Chapter{}, false
	}
	c := Chapter{
		Start: time.Duration(binary.BigEndian.Uint32(rest[0:4])) * time.Millisecond,
		End:   time.Duration(binary.BigEndian.Uint32(rest[4:8])) * time.Millisecond,
	}
	sub := rest[16:]
	for len(sub) >= headerLen && sub[0] != 0 {
		id := string(sub[:4])
		if !validFrameID(id) {
			break
		}
		size := int(binary.BigEndian.Uint32(sub[4:8]))
		if version == 4 {
			if s, ok := synchsafe(sub[4:8]); ok {
				size = int(s)
			}
		}
		if size < 0 || size > len(sub)-headerLen || size > math.MaxInt32 {
			break
		}
		body := sub[headerLen : headerLen+size]
		if id == "TIT2" {
			if data, ok := frameData(version, binary.BigEndian.Uint16(sub[8:10]), body); ok && len(data) > 0 {
				c.Title = cutRunes(decodeText(data), MaxChapterTitle)
			}
		}
		sub = sub[headerLen+size:]
	}
	return c, true
}

// sortChapters puts chapters read from a tag in start order: a table of contents, where
// there is one, lists them in that order too, and a player shows them so.
func sortChapters(ch []Chapter) {
	slices.SortStableFunc(ch, func(a, b Chapter) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
}
