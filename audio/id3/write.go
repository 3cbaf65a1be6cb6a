// Package id3 reads and writes ID3v2 tags: Encode writes the fixed-size ID3v2.4 tag of a
// Podium recording (so it can be rewritten in place), and Read reads the fields Podium uses
// from any ID3v2.3 or v2.4 tag, whoever wrote it, with every size in the input checked.
package id3

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Tags are the fields Podium writes into a recording.
type Tags struct {
	Title     string
	Presenter string        // TPE1
	Date      time.Time     // TDRC, written as "2006-01-02T15:04:05" (ID3v2.4 timestamp) in local time of the value
	Length    time.Duration // TLEN in milliseconds
	Comment   string        // COMM (lang "eng", empty description); optional, omitted when empty
	// ReplayGain, when set, is written as ReplayGain 2's TXXX frames, so players that honour
	// them play every talk at the same loudness.
	ReplayGain *ReplayGain
	// Chapters, in start order, are written as CHAP frames with a CTOC table of contents;
	// Encode ends each where the next begins and the last at Length.
	Chapters []Chapter
	// ByPodium is read back, never written by hand: every tag Encode makes carries
	// TSSE "Podium", the mark Podium checks before it repairs or removes a file, so it never
	// touches one it did not write.
	ByPodium bool
}

// ReplayGain is a track's ReplayGain 2 values: TXXX REPLAYGAIN_TRACK_GAIN ("-3.21 dB") and
// REPLAYGAIN_TRACK_PEAK ("0.812345"), and, Podium's own, PODIUM_LOUDNESS ("-14.79 LUFS") and
// PODIUM_LOUDNESS_RANGE ("4.20 LU"), the measurement they came from.
type ReplayGain struct {
	TrackGain float64 // dB to ReplayGainReference
	TrackPeak float64 // sample peak, 1.0 = full scale
	Loudness  float64 // integrated loudness, LUFS
	Range     float64 // loudness range, LU
}

// ReplayGainReference is the loudness ReplayGain 2 brings every track to, in LUFS.
const ReplayGainReference = -18.0

// NewReplayGain is the ReplayGain of a track measured at loudness (integrated, LUFS) with
// the given sample peak and loudness range.
func NewReplayGain(loudness, peak, lra float64) *ReplayGain {
	return &ReplayGain{TrackGain: ReplayGainReference - loudness, TrackPeak: peak, Loudness: loudness, Range: lra}
}

// replayGainFrames are the TXXX descriptions, in the order they are written.
var replayGainFrames = [...]string{"REPLAYGAIN_TRACK_GAIN", "REPLAYGAIN_TRACK_PEAK", "PODIUM_LOUDNESS", "PODIUM_LOUDNESS_RANGE"}

// values formats g as the TXXX values, in replayGainFrames' order.
func (g *ReplayGain) values() [4]string {
	return [4]string{
		strconv.FormatFloat(g.TrackGain, 'f', 2, 64) + " dB",
		strconv.FormatFloat(g.TrackPeak, 'f', 6, 64),
		strconv.FormatFloat(g.Loudness, 'f', 2, 64) + " LUFS",
		strconv.FormatFloat(g.Range, 'f', 2, 64) + " LU",
	}
}

// podiumMark is the TSSE (encoder software) value of every tag Podium writes.
const podiumMark = "Podium"

// ErrNoTag is returned by Read when the data does not start with an ID3v2 tag.
var ErrNoTag = errors.New("id3: no ID3v2 tag")

const (
	headerLen = 10
	// MinSize keeps room for the date and length frames (at most 60 bytes
	// together) so that truncating the text fields can always make them fit.
	MinSize = 128
	// maxBody is the largest body a synchsafe 28-bit size can describe.
	maxBody = 1<<28 - 1
	// maxFrame caps what Read allocates for one frame. Frames Podium
	// understands are short text; anything bigger is skipped unread.
	maxFrame   = 1 << 20
	dateLayout = "2006-01-02T15:04:05"
	// textFloor is the room of the title, presenter and comment that chapters never take.
	textFloor = 512
)

// Encode returns a complete ID3v2.4 tag (header + frames + zero padding) of exactly size bytes,
// so the tag can be rewritten in place at Close when Length is known. Text frames UTF-8 (encoding byte 3),
// synchsafe sizes. Empty fields are omitted. If the frames do not fit, shorten Title/Presenter/Comment
// (on rune boundaries) until they fit; size must be >= 128 or it returns an error. Chapters
// are placed first, leaving those fields textFloor bytes: a size that cannot hold them
// with their titles (ChaptersSize) cuts the longest chapter titles first, then drops the last
// chapters.
func Encode(t Tags, size int) ([]byte, error) {
	if size < MinSize {
		return nil, fmt.Errorf("id3: tag size %d is below the minimum of %d bytes", size, MinSize)
	}
	if size-headerLen > maxBody {
		return nil, fmt.Errorf("id3: tag size %d exceeds the ID3v2 maximum of %d bytes", size, maxBody+headerLen)
	}

	var date, length string
	if !t.Date.IsZero() {
		date = t.Date.Format(dateLayout)
	}
	if t.Length > 0 {
		length = strconv.FormatInt(t.Length.Round(time.Millisecond).Milliseconds(), 10)
	}
	// Index order matters only for tie-breaking when shortening.
	texts := [3]string{cleanText(t.Title), cleanText(t.Presenter), cleanText(t.Comment)}
	const (
		iTitle = iota
		iPresenter
		iComment
	)
	// Per-field frame overhead: header + encoding byte, and for COMM also
	// the language and the empty description's terminator.
	overhead := [3]int{headerLen + 1, headerLen + 1, headerLen + 1 + 3 + 1}

	fixed := headerLen + 1 + len(podiumMark)
	var rg [4]string
	if t.ReplayGain != nil {
		rg = t.ReplayGain.values()
		for i, v := range rg {
			fixed += headerLen + 1 + len(replayGainFrames[i]) + 1 + len(v)
		}
	}
	if date != "" {
		fixed += headerLen + 1 + len(date)
	}
	if length != "" {
		fixed += headerLen + 1 + len(length)
	}
	// Chapters come before the text fields, which keep room for textFloor bytes of theirs
	// (or all they need, when less) so that many chapters never leave a talk untitled.
	need := func() int {
		n := 0
		for i, s := range texts {
			if s != "" {
				n += overhead[i] + len(s)
			}
		}
		return n
	}
	chapters := fitChapters(prepareChapters(t.Chapters, t.Length), size-headerLen-fixed-min(need(), textFloor), t.Length)
	fixed += chaptersLen(chapters)
	budget := size - headerLen - fixed
	for over := need() - budget; over > 0; over = need() - budget {
		// Trim the longest field first, but only down to the next longest,
		// so one huge field does not wipe out the short ones.
		longest, second := 0, 0
		for i := range texts {
			if len(texts[i]) > len(texts[longest]) {
				longest = i
			}
		}
		for i := range texts {
			if i != longest && len(texts[i]) > second {
				second = len(texts[i])
			}
		}
		s := texts[longest]
		if s == "" {
			break // nothing left to shorten; caught by the length check below
		}
		target := max(len(s)-over, second)
		if target >= len(s) {
			target = len(s) - 1
		}
		texts[longest] = truncateRunes(s, target)
	}

	buf := make([]byte, 0, size)
	buf = append(buf, 'I', 'D', '3', 4, 0, 0)
	buf = appendSynchsafe(buf, uint32(size-headerLen))
	buf = appendTextFrame(buf, "TSSE", podiumMark)
	buf = appendTextFrame(buf, "TIT2", texts[iTitle])
	buf = appendTextFrame(buf, "TPE1", texts[iPresenter])
	buf = appendTextFrame(buf, "TDRC", date)
	buf = appendTextFrame(buf, "TLEN", length)
	if c := texts[iComment]; c != "" {
		buf = appendFrameHeader(buf, "COMM", 1+3+1+len(c))
		buf = append(buf, 3, 'e', 'n', 'g', 0)
		buf = append(buf, c...)
	}
	if t.ReplayGain != nil {
		for i, v := range rg {
			d := replayGainFrames[i]
			buf = appendFrameHeader(buf, "TXXX", 1+len(d)+1+len(v))
			buf = append(buf, 3)
			buf = append(buf, d...)
			buf = append(buf, 0)
			buf = append(buf, v...)
		}
	}
	buf = appendChapters(buf, chapters)
	if len(buf) > size {
		// The fitting loop above guarantees this cannot happen; fail loudly
		// rather than hand back a tag that would overwrite audio.
		return nil, fmt.Errorf("id3: internal error: frames take %d of %d bytes", len(buf), size)
	}
	return buf[:size], nil // zero padding: the backing array is zeroed
}

// cleanText makes s safe to store: a NUL would read back as a value
// separator, and the frame declares UTF-8.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

// truncateRunes cuts s to at most n bytes without splitting a rune.
func truncateRunes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if n >= len(s) {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func appendSynchsafe(b []byte, v uint32) []byte {
	return append(b, byte(v>>21)&0x7f, byte(v>>14)&0x7f, byte(v>>7)&0x7f, byte(v)&0x7f)
}

func appendFrameHeader(b []byte, id string, n int) []byte {
	b = append(b, id...)
	b = appendSynchsafe(b, uint32(n))
	return append(b, 0, 0)
}

func appendTextFrame(b []byte, id, text string) []byte {
	if text == "" {
		return b
	}
	b = appendFrameHeader(b, id, 1+len(text))
	b = append(b, 3)
	return append(b, text...)
}
