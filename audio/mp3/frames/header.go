package frames

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"time"
)

// lameEncoderDelay is the encoder delay LAME 3.100 writes in its header (in samples); the
// decoder adds its own 529 on top, as with any LAME file.
const lameEncoderDelay = 576

// rebuiltPadding goes in headers Podium rebuilds: decoders (ffmpeg among them) cut
// padding−529 samples at the end, so 529 means "cut nothing", and the header's length
// (frames×1152 − delay − padding) is then exactly what they decode.
const rebuiltPadding = 529

// RebuiltLength is the audio a rebuilt header describes.
func RebuiltLength(h Header, frames uint32) time.Duration {
	n := int64(frames)*int64(h.samplesPerFrame()) - lameEncoderDelay - rebuiltPadding
	return time.Duration(max(n, 0)) * time.Second / time.Duration(h.SampleRate)
}

func (h Header) samplesPerFrame() int {
	if h.MPEG1 {
		return 1152
	}
	return 576
}

// First finds the first audio frame after the ID3 tag, and whether it is an empty
// header placeholder (all zeros after the frame header).
func First(f *os.File) (int64, Header, bool, error) {
	info, err := ReadInfo(f)
	if err != nil {
		return 0, Header{}, false, err
	}
	buf := make([]byte, ScanLimit+2*MaxLen)
	n, err := f.ReadAt(buf, int64(info.ID3Size))
	if err != nil && err != io.EOF {
		return 0, Header{}, false, err
	}
	pos, h, ok := find(buf[:n])
	if !ok {
		return 0, Header{}, false, errors.New("mp3: no audio frame")
	}
	frame := buf[pos:min(pos+h.Len, n)]
	empty := len(frame) == h.Len
	for _, b := range frame[4:] {
		if b != 0 {
			empty = false
			break
		}
	}
	return int64(info.ID3Size + pos), h, empty, nil
}

// Count walks frame headers from off to the first byte that is not a frame of the same
// stream, and returns how many whole frames there are and where the last one ends.
func Count(f *os.File, off int64, first Header) (uint32, int64, error) {
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return 0, 0, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	var frames uint32
	for {
		hdr, err := r.Peek(4)
		if err != nil {
			return frames, off, nil
		}
		h, ok := ParseHeader(hdr)
		if !ok || h.Version != first.Version || h.SampleRate != first.SampleRate {
			return frames, off, nil
		}
		n, err := r.Discard(h.Len)
		if n < h.Len {
			return frames, off, nil // torn last frame
		}
		if err != nil {
			return 0, 0, err
		}
		frames++
		off += int64(h.Len)
	}
}

// InfoFrame builds a CBR "Info" header frame in the placeholder's own frame header: frame
// and byte counts, and a LAME extension carrying the encoder delay so decoders trim it.
// The true padding is unknown after a crash: see rebuiltPadding.
// It is nil when the frame is too short to hold them (MPEG-2 and 2.5 at their lowest
// bitrates).
func InfoFrame(hdr []byte, h Header, frames, bytes uint32) []byte {
	off := 4 + sideInfo(h)
	if off+16+24 > h.Len {
		return nil
	}
	b := make([]byte, h.Len)
	copy(b, hdr)
	copy(b[off:], "Info")
	binary.BigEndian.PutUint32(b[off+4:], 3) // frames and bytes present
	binary.BigEndian.PutUint32(b[off+8:], frames)
	binary.BigEndian.PutUint32(b[off+12:], bytes)
	lame := b[off+16:]
	copy(lame, "LAME3.100")
	lame[21] = byte(lameEncoderDelay >> 4)
	lame[22] = byte(lameEncoderDelay&0xf)<<4 | byte(rebuiltPadding>>8)
	lame[23] = byte(rebuiltPadding & 0xff)
	return b
}
