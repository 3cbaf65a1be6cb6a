package id3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
)

// Read parses an ID3v2.3 or v2.4 tag at the start of r's data and returns the tags it knows and the
// total tag size in bytes (10-byte header + body, + footer if present). ErrNoTag if there is no tag.
//
// On success r is positioned just after the tag. When the header is valid but
// the rest is not (unsupported version, unsynchronisation, corrupt frames, data
// cut short) the error comes with the size the header declares, so callers can
// still skip the tag. Dates are returned in time.Local because ID3 timestamps
// carry no zone. Multiple values in one text frame are joined with "/".
func Read(r io.Reader) (Tags, int, error) {
	var hdr [headerLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return Tags{}, 0, ErrNoTag
		}
		return Tags{}, 0, fmt.Errorf("id3: reading header: %w", err)
	}
	if string(hdr[:3]) != "ID3" || hdr[3] == 0xff || hdr[4] == 0xff {
		return Tags{}, 0, ErrNoTag
	}
	bodySize, ok := synchsafe(hdr[6:10])
	if !ok {
		// A non-synchsafe size means this is not really a tag header.
		return Tags{}, 0, ErrNoTag
	}
	version, flags := hdr[3], hdr[5]
	total := headerLen + int(bodySize)
	hasFooter := version == 4 && flags&0x10 != 0
	if hasFooter {
		total += headerLen
	}
	if version != 3 && version != 4 {
		return Tags{}, total, fmt.Errorf("id3: unsupported version 2.%d", version)
	}
	if flags&0x80 != 0 {
		return Tags{}, total, errors.New("id3: unsynchronised tags are not supported")
	}

	p := parser{r: r, left: int64(bodySize), version: version}
	t, err := p.parse(flags&0x40 != 0)
	if err != nil {
		return Tags{}, total, err
	}
	// Consume the padding (and any frames we skipped) so that a short file is
	// reported here rather than as a tag that claims bytes that do not exist.
	if err := p.skip(p.left); err != nil {
		return Tags{}, total, err
	}
	if hasFooter {
		var foot [headerLen]byte
		if _, err := io.ReadFull(r, foot[:]); err != nil {
			return Tags{}, total, fmt.Errorf("id3: reading footer: %w", short(err))
		}
		if string(foot[:3]) != "3DI" {
			return Tags{}, total, errors.New("id3: footer flag set but no footer found")
		}
	}
	return t, total, nil
}

// short turns a plain EOF into ErrUnexpectedEOF: once the header has
// promised more bytes, running out is never a clean end.
func short(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func synchsafe(b []byte) (uint32, bool) {
	var v uint32
	for _, c := range b {
		if c&0x80 != 0 {
			return 0, false
		}
		v = v<<7 | uint32(c)
	}
	return v, true
}

// parser streams the tag body so that hostile sizes cost reading time,
// never memory: only frames Podium understands are buffered.
type parser struct {
	r       io.Reader
	left    int64 // body bytes not yet consumed
	version byte
}

func (p *parser) read(b []byte) error {
	if int64(len(b)) > p.left {
		return fmt.Errorf("id3: need %d bytes but only %d left in tag", len(b), p.left)
	}
	n, err := io.ReadFull(p.r, b)
	p.left -= int64(n)
	if err != nil {
		return fmt.Errorf("id3: tag cut short: %w", short(err))
	}
	return nil
}

func (p *parser) skip(n int64) error {
	if n > p.left {
		return fmt.Errorf("id3: need %d bytes but only %d left in tag", n, p.left)
	}
	m, err := io.CopyN(io.Discard, p.r, n)
	p.left -= m
	if err != nil {
		return fmt.Errorf("id3: tag cut short: %w", short(err))
	}
	return nil
}

func (p *parser) parse(extended bool) (Tags, error) {
	if extended {
		if err := p.skipExtendedHeader(); err != nil {
			return Tags{}, err
		}
	}
	var (
		t                      Tags
		tdrc, tyer, tdat, ttim string
		comm                   string
		haveComm, commIsPlain  bool
		rg                     replayGainRead
	)
	for p.left >= headerLen {
		var fh [headerLen]byte
		if err := p.read(fh[:]); err != nil {
			return Tags{}, err
		}
		if fh[0] == 0 {
			break // padding
		}
		id := string(fh[:4])
		if !validFrameID(id) {
			// Garbage after the frames (some writers leave junk in the
			// padding); nothing sensible can follow.
			break
		}
		size := int64(binary.BigEndian.Uint32(fh[4:8]))
		if p.version == 4 {
			if s, ok := synchsafe(fh[4:8]); ok {
				size = int64(s)
			}
			// else: old iTunes wrote plain sizes in v2.4 tags; the high bit
			// proves this one is not synchsafe.
		}
		if size > p.left {
			return Tags{}, fmt.Errorf("id3: frame %s claims %d bytes but only %d remain in tag", id, size, p.left)
		}
		if !wanted(id) || size > maxFrame {
			if err := p.skip(size); err != nil {
				return Tags{}, err
			}
			continue
		}
		data := make([]byte, size)
		if err := p.read(data); err != nil {
			return Tags{}, err
		}
		data, ok := frameData(p.version, binary.BigEndian.Uint16(fh[8:10]), data)
		if !ok || len(data) == 0 {
			continue
		}
		switch id {
		case "TIT2":
			t.Title = decodeText(data)
		case "TPE1":
			t.Presenter = decodeText(data)
		case "TDRC":
			tdrc = decodeText(data)
		case "TYER":
			tyer = decodeText(data)
		case "TDAT":
			tdat = decodeText(data)
		case "TIME":
			ttim = decodeText(data)
		case "TLEN":
			if ms, err := strconv.ParseInt(strings.TrimSpace(decodeText(data)), 10, 64); err == nil &&
				ms > 0 && ms <= int64(1<<63-1)/int64(time.Millisecond) {
				t.Length = time.Duration(ms) * time.Millisecond
			}
		case "TXXX":
			if desc, text, ok := decodeTXXX(data); ok {
				rg.set(desc, text)
			}
		case "CHAP":
			if c, ok := decodeChapter(p.version, data); ok && len(t.Chapters) < MaxChapters {
				t.Chapters = append(t.Chapters, c)
			}
		case "TSSE":
			t.ByPodium = decodeText(data) == podiumMark
		case "COMM":
			// Prefer the comment without a description: that is the one
			// Podium writes, and described ones are often tool metadata
			// such as iTunNORM.
			desc, text, ok := decodeComment(data)
			if ok && (!haveComm || (!commIsPlain && desc == "")) {
				comm, haveComm, commIsPlain = text, true, desc == ""
			}
		}
	}
	t.Comment = comm
	sortChapters(t.Chapters)
	t.ReplayGain = rg.tags()
	if tdrc != "" {
		t.Date = parseTimestamp(tdrc)
	} else if tyer != "" {
		t.Date = parseV23Date(tyer, tdat, ttim)
	}
	return t, nil
}

func (p *parser) skipExtendedHeader() error {
	var b [4]byte
	if err := p.read(b[:]); err != nil {
		return fmt.Errorf("id3: extended header: %w", err)
	}
	var rest int64
	if p.version == 4 {
		// v2.4: synchsafe size that includes the 4 size bytes themselves.
		s, ok := synchsafe(b[:])
		if !ok || s < 6 {
			return fmt.Errorf("id3: invalid extended header size % x", b)
		}
		rest = int64(s) - 4
	} else {
		// v2.3: plain size that excludes the size bytes.
		rest = int64(binary.BigEndian.Uint32(b[:]))
	}
	if err := p.skip(rest); err != nil {
		return fmt.Errorf("id3: extended header: %w", err)
	}
	return nil
}

func validFrameID(id string) bool {
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func wanted(id string) bool {
	switch id {
	case "TIT2", "TPE1", "TDRC", "TYER", "TDAT", "TIME", "TLEN", "COMM", "TSSE", "TXXX", "CHAP":
		return true
	}
	return false
}

// frameData strips the per-frame extras announced by the format flags and
// undoes frame-level unsynchronisation. It reports false for frames that
// cannot be read without more machinery (compressed or encrypted).
func frameData(version byte, flags uint16, d []byte) ([]byte, bool) {
	if version == 3 {
		if flags&0x0080 != 0 || flags&0x0040 != 0 { // compressed, encrypted
			return nil, false
		}
		if flags&0x0020 != 0 { // grouping identity byte
			if len(d) < 1 {
				return nil, false
			}
			d = d[1:]
		}
		return d, true
	}
	if flags&0x0008 != 0 || flags&0x0004 != 0 { // compressed, encrypted
		return nil, false
	}
	if flags&0x0040 != 0 { // grouping identity byte
		if len(d) < 1 {
			return nil, false
		}
		d = d[1:]
	}
	if flags&0x0001 != 0 { // data length indicator
		if len(d) < 4 {
			return nil, false
		}
		d = d[4:]
	}
	if flags&0x0002 != 0 {
		d = bytes.ReplaceAll(d, []byte{0xff, 0x00}, []byte{0xff})
	}
	return d, true
}

// decodeText decodes a text frame body (encoding byte + strings).
func decodeText(d []byte) string {
	if len(d) == 0 {
		return ""
	}
	enc, rest := d[0], d[1:]
	var vals []string
	for len(rest) > 0 {
		v, tail, _ := splitTerminated(enc, rest)
		vals = append(vals, decodeString(enc, v))
		rest = tail
	}
	for len(vals) > 0 && vals[len(vals)-1] == "" {
		vals = vals[:len(vals)-1]
	}
	return strings.Join(vals, "/")
}

// decodeTXXX splits a TXXX body into its description and value.
func decodeTXXX(d []byte) (desc, value string, ok bool) {
	if len(d) < 2 {
		return "", "", false
	}
	enc := d[0]
	descRaw, rest, found := splitTerminated(enc, d[1:])
	if !found {
		return "", "", false
	}
	return decodeString(enc, descRaw), decodeText(append([]byte{enc}, rest...)), true
}

// replayGainRead collects the ReplayGain TXXX frames of a tag; a track gain that does not
// parse leaves the tag without ReplayGain.
type replayGainRead struct {
	g    ReplayGain
	seen [len(replayGainFrames)]bool
}

func (r *replayGainRead) set(desc, value string) {
	for i, name := range replayGainFrames {
		if !strings.EqualFold(desc, name) {
			continue
		}
		f := strings.Fields(value)
		if len(f) == 0 {
			return
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		switch i {
		case 0:
			r.g.TrackGain = v
		case 1:
			r.g.TrackPeak = v
		case 2:
			r.g.Loudness = v
		case 3:
			r.g.Range = v
		}
		r.seen[i] = true
	}
}

// tags is the ReplayGain read, or nil without a track gain. A file tagged by another tool
// carries no PODIUM_LOUDNESS: it is the reference less the gain.
func (r *replayGainRead) tags() *ReplayGain {
	if !r.seen[0] {
		return nil
	}
	g := r.g
	if !r.seen[2] {
		g.Loudness = ReplayGainReference - g.TrackGain
	}
	return &g
}

// decodeComment splits a COMM body into description and text.
func decodeComment(d []byte) (desc, text string, ok bool) {
	if len(d) < 4 {
		return "", "", false
	}
	enc, rest := d[0], d[4:] // skip the 3-byte language
	descRaw, rest, _ := splitTerminated(enc, rest)
	return decodeString(enc, descRaw), decodeText(append([]byte{enc}, rest...)), true
}

// splitTerminated returns the string up to the encoding's terminator and
// what follows it; found is false if the data ran out first.
func splitTerminated(enc byte, d []byte) (s, rest []byte, found bool) {
	if enc == 1 || enc == 2 {
		for i := 0; i+1 < len(d); i += 2 {
			if d[i] == 0 && d[i+1] == 0 {
				return d[:i], d[i+2:], true
			}
		}
		return d, nil, false
	}
	if i := bytes.IndexByte(d, 0); i >= 0 {
		return d[:i], d[i+1:], true
	}
	return d, nil, false
}

func decodeString(enc byte, b []byte) string {
	switch enc {
	case 0: // ISO-8859-1 maps byte-for-byte onto the first 256 code points.
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	case 1, 2:
		bigEndian := enc == 2
		if enc == 1 && len(b) >= 2 {
			switch {
			case b[0] == 0xfe && b[1] == 0xff:
				bigEndian, b = true, b[2:]
			case b[0] == 0xff && b[1] == 0xfe:
				b = b[2:]
			}
			// No BOM: writers that omit it are overwhelmingly
			// little-endian Windows tools, so keep the LE default.
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if bigEndian {
				u[i] = binary.BigEndian.Uint16(b[2*i:])
			} else {
				u[i] = binary.LittleEndian.Uint16(b[2*i:])
			}
		}
		return string(utf16.Decode(u))
	default: // 3 is UTF-8; unknown encodings are most likely UTF-8 or ASCII too.
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
}

func parseTimestamp(s string) time.Time {
	s = strings.TrimSpace(s)
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:] // common non-conforming variant
	}
	for _, layout := range []string{
		dateLayout, "2006-01-02T15:04", "2006-01-02T15", "2006-01-02", "2006-01", "2006",
	} {
		if d, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return d
		}
	}
	return time.Time{}
}

// parseV23Date combines the v2.3 TYER (YYYY), TDAT (DDMM) and TIME (HHMM)
// frames, which together replace v2.4's TDRC.
func parseV23Date(year, ddmm, hhmm string) time.Time {
	y, err := strconv.Atoi(strings.TrimSpace(year))
	if err != nil || y < 0 || y > 9999 {
		return time.Time{}
	}
	month, day, hour, minute := 1, 1, 0, 0
	if v, err := strconv.Atoi(ddmm); err == nil && len(ddmm) == 4 {
		if d, m := v/100, v%100; d >= 1 && d <= 31 && m >= 1 && m <= 12 {
			day, month = d, m
		}
	}
	if v, err := strconv.Atoi(hhmm); err == nil && len(hhmm) == 4 {
		if h, m := v/100, v%100; h <= 23 && m <= 59 {
			hour, minute = h, m
		}
	}
	return time.Date(y, time.Month(month), day, hour, minute, 0, 0, time.Local)
}
