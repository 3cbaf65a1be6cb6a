// Package frames reads MPEG audio layer III frames: the first frame's header and the
// Xing/Info and LAME headers in it (ReadInfo), where a recording's parts lie (Layout), and the
// head of a recording that never got its header: the placeholder frame, the whole frames after
// it, and the Info header that describes them (InfoFrame).
package frames

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"podium/audio/id3"
)

// Info is what an MP3's first frame (the Xing/Info frame written by LAME) says about the file.
type Info struct {
	ID3Size        int // bytes of ID3v2 tag before the audio (0 if none)
	SampleRate     int
	Channels       int
	Bitrate        int    // kbps of the first frame
	HasXing        bool   // "Xing" or "Info" tag present
	VBR            bool   // "Xing" (true) vs "Info" (false)
	Frames         uint32 // Xing frame count (0 if the flag is absent)
	Bytes          uint32 // Xing byte count
	Encoder        string // e.g. "LAME3.100" from the LAME extension, "" if none
	Delay, Padding int    // encoder delay and padding from the LAME extension (12 bits each)
}

// Samples is the exact decoded length the header promises:
//
//	Frames*samplesPerFrame - Delay - Padding
//
// with samplesPerFrame 1152 for MPEG-1 layer III and 576 for MPEG-2/2.5.
// Frames counts audio frames only: LAME and ffmpeg's muxer both leave the
// Xing/Info frame itself out of the count (a 2.5 s 48 kHz ffmpeg encode has
// 107 frames on disk and Frames == 106). Delay is the encoder delay only;
// decoders add their own 529-sample decoder delay on top, but they also push
// the end trim out by the same 529 (ffmpeg: start_skip_samples =
// Delay+528+1, first_discard_sample = Frames*spf - Padding + 528 + 1), so it
// cancels and does not appear here. The test in info_test.go checks this
// against the number of samples ffmpeg actually decodes.
//
// It returns 0 when the header carries no frame count.
func (i Info) Samples() int64 {
	if i.Frames == 0 {
		return 0
	}
	n := int64(i.Frames)*int64(i.samplesPerFrame()) - int64(i.Delay) - int64(i.Padding)
	return max(n, 0)
}

// samplesPerFrame relies on the MPEG-1 sample rates (32, 44.1, 48 kHz) being
// disjoint from the MPEG-2/2.5 ones, so the version need not be stored.
func (i Info) samplesPerFrame() int {
	if i.SampleRate >= 32000 {
		return 1152
	}
	return 576
}

// Duration is Samples at SampleRate; 0 when either is unknown.
func (i Info) Duration() time.Duration {
	n := i.Samples()
	if n == 0 || i.SampleRate <= 0 {
		return 0
	}
	sr := int64(i.SampleRate)
	// Split to keep n*time.Second from overflowing for huge frame counts.
	return time.Duration(n/sr)*time.Second + time.Duration(n%sr)*time.Second/time.Duration(sr)
}

const (
	// ScanLimit bounds the search for the first frame after the ID3 tag;
	// real files have at most a little junk or zero padding there.
	ScanLimit = 64 << 10
	// MaxLen is the largest layer III frame (320 kbps at 32 kHz, or
	// 160 kbps at 8 kHz, plus padding).
	MaxLen = 1441
)

// ReadInfo reads the ID3 tag (skipping it via id3.Read's size), finds the first MPEG audio frame sync
// after it, parses its header (MPEG-1/2/2.5 layer III: version, bitrate index, sample rate index, channel mode),
// and the Xing/Info tag at the side-info offset (MPEG-1: 32 stereo / 17 mono; MPEG-2/2.5: 17 / 9; after the 4-byte header),
// and the LAME extension 120 bytes after the "Xing" tag start (9-byte encoder string, then delay/padding are
// the 3 bytes at offset 21 of the LAME extension: delay = b0<<4 | b1>>4, padding = (b1&0xF)<<8 | b2).
//
// It reads from the start of r regardless of r's current offset. The LAME
// extension is located from the Xing flags (120 bytes when all four fields
// are present, as LAME and ffmpeg always write them), and Delay/Padding are
// only taken from encoders ffmpeg also trusts (LAME, Lavf, Lavc) so that
// Samples agrees with what ffmpeg decodes.
func ReadInfo(r io.ReadSeeker) (Info, error) {
	var info Info
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return info, fmt.Errorf("mp3: seeking to start: %w", err)
	}
	_, size, err := id3.Read(r)
	switch {
	case err == nil, errors.Is(err, id3.ErrNoTag):
	case size > 0:
		// A tag we cannot parse still has a valid header saying how much to
		// skip, and the audio is what matters here.
	default:
		return info, fmt.Errorf("mp3: %w", err)
	}
	info.ID3Size = size
	if _, err := r.Seek(int64(size), io.SeekStart); err != nil {
		return info, fmt.Errorf("mp3: seeking past %d-byte ID3 tag: %w", size, err)
	}
	limit := int64(ScanLimit + 2*MaxLen)
	buf, err := io.ReadAll(io.LimitReader(r, limit))
	if err != nil {
		return info, fmt.Errorf("mp3: reading first frame: %w", err)
	}

	pos, h, ok := find(buf)
	if !ok {
		return info, fmt.Errorf("mp3: no MPEG layer III frame in the first %d bytes after the ID3 tag", min(len(buf), ScanLimit))
	}
	info.SampleRate, info.Channels, info.Bitrate = h.SampleRate, h.Channels, h.Bitrate

	frame := buf[pos:min(pos+h.Len, len(buf))]
	side := sideInfo(h)
	if !parseXing(frame, 4+side, &info) && h.CRC {
		// The side info starts after the CRC, though some writers put the
		// tag where it would be without one; try both.
		parseXing(frame, 4+2+side, &info)
	}
	return info, nil
}

// ReadFileInfo is ReadInfo of the file at path.
func ReadFileInfo(path string) (Info, error) {
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("mp3 info: %w", err)
	}
	defer f.Close()
	info, err := ReadInfo(f)
	if err != nil {
		return info, fmt.Errorf("mp3 info of %q: %w", path, err)
	}
	return info, nil
}

// Header is one MPEG audio layer III frame header.
type Header struct {
	MPEG1      bool // MPEG-1 vs MPEG-2/2.5 (half the samples per frame)
	Version    byte // raw 2-bit version field
	SampleRate int
	Bitrate    int // kbps
	Channels   int
	Len        int // the frame's length in bytes, header included
	CRC        bool
}

var (
	bitratesV1 = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}
	bitratesV2 = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}
	// Indexed by the raw version field: 0 MPEG-2.5, 1 reserved, 2 MPEG-2, 3 MPEG-1.
	sampleRates = [4][3]int{{11025, 12000, 8000}, {}, {22050, 24000, 16000}, {44100, 48000, 32000}}
)

// ParseHeader accepts only layer III headers with a usable bitrate,
// because free-format and reserved values are far more often random bytes
// that happen to contain a sync pattern than real audio.
func ParseHeader(b []byte) (Header, bool) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return Header{}, false
	}
	version := (b[1] >> 3) & 3
	layer := (b[1] >> 1) & 3
	brIdx := b[2] >> 4
	srIdx := (b[2] >> 2) & 3
	if version == 1 || layer != 1 || brIdx == 0 || brIdx == 15 || srIdx == 3 || b[3]&3 == 2 {
		return Header{}, false
	}
	h := Header{
		MPEG1:      version == 3,
		Version:    version,
		SampleRate: sampleRates[version][srIdx],
		CRC:        b[1]&1 == 0,
		Channels:   2,
	}
	if b[3]>>6 == 3 {
		h.Channels = 1
	}
	pad := int(b[2]>>1) & 1
	if h.MPEG1 {
		h.Bitrate = bitratesV1[brIdx]
		h.Len = 144*h.Bitrate*1000/h.SampleRate + pad
	} else {
		h.Bitrate = bitratesV2[brIdx]
		h.Len = 72*h.Bitrate*1000/h.SampleRate + pad
	}
	return h, true
}

// find returns the first header whose successor (when it lies
// inside buf) is also a matching header, to avoid locking onto a stray
// 0xFFE sync pattern in junk before the audio.
func find(buf []byte) (int, Header, bool) {
	for i := 0; i < ScanLimit && i+4 <= len(buf); i++ {
		h, ok := ParseHeader(buf[i:])
		if !ok {
			continue
		}
		if next := i + h.Len; next+4 <= len(buf) {
			h2, ok := ParseHeader(buf[next:])
			if !ok || h2.Version != h.Version || h2.SampleRate != h.SampleRate {
				continue
			}
		}
		return i, h, true
	}
	return 0, Header{}, false
}

func sideInfo(h Header) int {
	switch {
	case h.MPEG1 && h.Channels == 1:
		return 17
	case h.MPEG1:
		return 32
	case h.Channels == 1:
		return 9
	default:
		return 17
	}
}

// parseXing reads the Xing/Info tag at off in frame into info and
// reports whether one was there. Truncated fields are left zero.
func parseXing(frame []byte, off int, info *Info) bool {
	if off+8 > len(frame) {
		return false
	}
	tag := string(frame[off : off+4])
	if tag != "Xing" && tag != "Info" {
		return false
	}
	info.HasXing, info.VBR = true, tag == "Xing"
	flags := binary.BigEndian.Uint32(frame[off+4:])
	p := off + 8
	if flags&1 != 0 {
		if p+4 > len(frame) {
			return true
		}
		info.Frames = binary.BigEndian.Uint32(frame[p:])
		p += 4
	}
	if flags&2 != 0 {
		if p+4 > len(frame) {
			return true
		}
		info.Bytes = binary.BigEndian.Uint32(frame[p:])
		p += 4
	}
	if flags&4 != 0 {
		p += 100 // seek table
	}
	if flags&8 != 0 {
		p += 4 // VBR quality
	}
	// The LAME extension: 9-byte version, then tag revision, lowpass,
	// replay gain (8), encoding flags, bitrate, and at 21 the delays.
	if p+24 > len(frame) {
		return true
	}
	enc, ok := encoderString(frame[p : p+9])
	if !ok {
		return true
	}
	info.Encoder = enc
	if strings.HasPrefix(enc, "LAME") || strings.HasPrefix(enc, "Lavf") || strings.HasPrefix(enc, "Lavc") {
		d := frame[p+21 : p+24]
		info.Delay = int(d[0])<<4 | int(d[1])>>4
		info.Padding = int(d[1]&0x0f)<<8 | int(d[2])
	}
	return true
}

// encoderString accepts printable ASCII only, because a Xing tag without
// a LAME extension is followed by audio data, not text.
func encoderString(b []byte) (string, bool) {
	s := strings.TrimRight(string(b), "\x00 ")
	if s == "" {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "", false
		}
	}
	return s, true
}
