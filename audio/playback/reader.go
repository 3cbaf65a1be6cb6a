// Package playback plays a recording from any position through the default output device:
// the history's chapters play from where they start, which a system player handed a file
// cannot do.
//
// Reader decodes an MP3 from a position (as an io.Reader of mono 16-bit samples); Player
// sends a Reader to miniaudio (malgo) and says how far it got.
//
// The decoder is github.com/hajimehoshi/go-mp3, pure Go: LAME, which Podium links to encode,
// has a decoder (hip_decode) on Linux, but the Windows build compiles LAME without it
// (scripts/windeps.sh, --disable-decoder), and a pure Go decoder needs no C library on any
// system. go-mp3's own Seek reads every frame header of the file first and primes only one
// frame back, too few for the bit reservoir at speech bitrates, so Reader finds the frame
// itself and primes with enough frames before it.
package playback

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hajimehoshi/go-mp3"

	"podium/audio/mp3/frames"
)

// decoderDelay is what every MPEG layer III decoder adds in front of the audio (528 + 1
// samples of filter bank); with the encoder's delay from the LAME header it is what ffmpeg
// and other gapless players skip, so a position means the same sample to them and to Reader.
const decoderDelay = 529

// Reader is an MP3 file decoded from a position on: mono little-endian int16 samples at
// SampleRate. Stereo files are mixed down.
type Reader struct {
	f     *os.File
	dec   *mp3.Decoder
	rate  int
	start time.Duration
	skip  int    // decoded samples still to discard before start
	raw   []byte // decoded stereo, not yet handed out
	n     int64  // samples handed out
	left  int64  // samples before the encoder's padding at the end; -1: unknown
}

// Open decodes the MP3 at path from position at (clamped to the start; at or past the end,
// Read says io.EOF at once).
func Open(path string, at time.Duration) (*Reader, error) {
	info, err := frames.ReadFileInfo(path)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("play %q: %w", path, err)
	}
	r, err := open(f, info, max(at, 0))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("play %q from %v: %w", path, at, err)
	}
	return r, nil
}

// warmup is how many frames before the wanted one are decoded and thrown away: the bit
// reservoir reaches 511 bytes back (three frames at 64 kbps, seven at 32), and the filter
// bank carries one frame over.
func warmup(h frames.Header) int {
	main := h.Len - 4 - 32 // at least this much main data in a frame
	if main < 32 {
		main = 32
	}
	return (511+main-1)/main + 2
}

func open(f *os.File, info frames.Info, at time.Duration) (*Reader, error) {
	first, h, _, err := frames.First(f)
	if err != nil {
		return nil, err
	}
	if info.HasXing {
		first += int64(h.Len) // the Info frame holds no audio
	}
	spf := 576
	if h.MPEG1 {
		spf = 1152
	}
	lead := 0
	if info.HasXing && info.Encoder != "" {
		lead = info.Delay + decoderDelay
	}
	want := int64(at) * int64(h.SampleRate) / int64(time.Second)
	d := want + int64(lead) // the wanted sample, counted in decoded output
	k := int(d / int64(spf))
	offs, err := frameOffsets(f, first, k)
	if err != nil {
		return nil, err
	}
	if k >= len(offs) { // past the end
		return &Reader{f: f, rate: h.SampleRate, start: at, skip: -1}, nil
	}
	// A frame whose reservoir was not primed can fail to decode: start one frame later.
	var lastErr error
	for from := max(0, k-warmup(h)); from <= k; from++ {
		dec, err := mp3.NewDecoder(onlyReader{bufio.NewReaderSize(io.NewSectionReader(f, offs[from], 1<<62), 64<<10)})
		if err != nil {
			lastErr = err
			continue
		}
		r := &Reader{f: f, dec: dec, rate: h.SampleRate, start: at, skip: (k-from)*spf + int(d%int64(spf)), left: -1}
		if total := info.Samples(); lead > 0 && total > 0 {
			r.left = max(total-want, 0)
		}
		if err := r.discard(); err != nil && !errors.Is(err, io.EOF) {
			lastErr = err
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("cannot decode from there: %w", lastErr)
}

// onlyReader hides Seek, which would make go-mp3 read every frame header of the file first.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// frameOffsets are the offsets of frames 0..k from first, fewer when the file ends sooner.
func frameOffsets(f *os.File, first int64, k int) ([]int64, error) {
	br := bufio.NewReaderSize(io.NewSectionReader(f, first, 1<<62), 64<<10)
	offs := make([]int64, 0, k+1)
	off := first
	var hdr [4]byte
	for len(offs) <= k {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return offs, nil
			}
			return nil, err
		}
		h, ok := frames.ParseHeader(hdr[:])
		if !ok {
			return offs, nil // a trailing tag or junk: the audio ends here
		}
		offs = append(offs, off)
		if _, err := br.Discard(h.Len - 4); err != nil {
			return offs[:len(offs)-1], nil // a torn last frame
		}
		off += int64(h.Len)
	}
	return offs, nil
}

// discard decodes and drops the warm-up frames and the part of the wanted frame before start.
func (r *Reader) discard() error {
	for r.skip > 0 {
		if len(r.raw) < 4 {
			if err := r.fill(); err != nil {
				return err
			}
		}
		n := min(r.skip, len(r.raw)/4)
		r.raw = r.raw[4*n:]
		r.skip -= n
	}
	return nil
}

// fill decodes more stereo samples into raw.
func (r *Reader) fill() error {
	var buf [4608]byte // one MPEG-1 frame, stereo
	n, err := r.dec.Read(buf[:])
	r.raw = append(r.raw, buf[:n]...)
	if n > 0 {
		return nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return err
}

// Read fills p with whole samples (mono, little-endian int16).
func (r *Reader) Read(p []byte) (int, error) {
	if r.skip < 0 || r.dec == nil {
		return 0, io.EOF
	}
	if len(p) < 2 {
		return 0, io.ErrShortBuffer
	}
	if len(r.raw) < 4 && r.left != 0 {
		if err := r.fill(); err != nil {
			return 0, err
		}
	}
	n := min(len(p)/2, len(r.raw)/4)
	if r.left >= 0 {
		if r.left == 0 {
			return 0, io.EOF
		}
		n = int(min(int64(n), r.left))
		r.left -= int64(n)
	}
	for i := range n {
		l := int16(binary.LittleEndian.Uint16(r.raw[4*i:]))
		rt := int16(binary.LittleEndian.Uint16(r.raw[4*i+2:]))
		binary.LittleEndian.PutUint16(p[2*i:], uint16((int32(l)+int32(rt))/2))
	}
	r.raw = r.raw[4*n:]
	r.n += int64(n)
	return 2 * n, nil
}

// SampleRate is the file's sample rate.
func (r *Reader) SampleRate() int { return r.rate }

// Start is the position the first sample read is at.
func (r *Reader) Start() time.Duration { return r.start }

// Position is the position of the next sample Read gives.
func (r *Reader) Position() time.Duration {
	return r.start + time.Duration(r.n)*time.Second/time.Duration(r.rate)
}

// Close closes the file.
func (r *Reader) Close() error { return r.f.Close() }
