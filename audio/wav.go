package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// WAVReader reads 16-bit PCM samples from a RIFF/WAVE file.
type WAVReader struct {
	r          io.Reader
	sampleRate int
	channels   int
	frames     int64 // promised by the data chunk; -1 when streamed
	read       int64 // frames delivered so far
	buf        []byte
	err        error // sticky, returned once the samples before it are delivered
}

const (
	wavFormatPCM        = 1
	wavFormatExtensible = 0xfffe
	// wavMaxChannels keeps one frame small enough for the fixed read buffer;
	// nothing Podium is fed has more.
	wavMaxChannels = 64
	// wavFmtMax is as much of a fmt chunk as is ever read: the extensible
	// layout needs 40 bytes, anything beyond is skipped unread.
	wavFmtMax = 40
	wavBufLen = 16 << 10
)

// wavPCMGUIDTail is the fixed part of KSDATAFORMAT_SUBTYPE_PCM after the
// 2-byte format code.
var wavPCMGUIDTail = []byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71}

// NewWAVReader parses RIFF header, walks chunks (skip unknown chunks like LIST, pad odd chunk sizes), requires fmt (PCM format 1, or WAVE_FORMAT_EXTENSIBLE 0xFFFE with PCM subformat) with 16 bits per sample; any other format is a clear error naming what it found ("wav: 24-bit samples; Podium reads 16-bit PCM" / "wav: format 3 (IEEE float); ..."). Accept data size 0 or 0xFFFFFFFF (streamed) as "read to EOF".
//
// The fmt chunk must come before the data chunk, as every writer puts it,
// because r cannot be rewound. Chunks after data are never read.
func NewWAVReader(r io.Reader) (*WAVReader, error) {
	var riff [12]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return nil, fmt.Errorf("wav: reading RIFF header: %w", err)
	}
	if string(riff[0:4]) != "RIFF" || string(riff[8:12]) != "WAVE" {
		return nil, fmt.Errorf("wav: not a RIFF/WAVE file (starts with %q)", riff[:])
	}
	w := &WAVReader{r: r}
	haveFmt := false
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			if err == io.EOF {
				return nil, errors.New("wav: no data chunk")
			}
			return nil, fmt.Errorf("wav: reading chunk header: %w", err)
		}
		id := string(ch[:4])
		size := int64(binary.LittleEndian.Uint32(ch[4:]))
		switch id {
		case "fmt ":
			if err := w.parseFmt(r, size); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, errors.New("wav: data chunk before fmt chunk")
			}
			w.frames = -1
			if size != 0 && size != 0xffffffff {
				w.frames = size / int64(2*w.channels)
			}
			// Whole frames only, so a frame never straddles two reads.
			frameLen := 2 * w.channels
			w.buf = make([]byte, wavBufLen/frameLen*frameLen)
			return w, nil
		default:
			if err := wavSkip(r, size+size&1); err != nil {
				return nil, fmt.Errorf("wav: skipping %q chunk: %w", id, err)
			}
		}
	}
}

func (w *WAVReader) parseFmt(r io.Reader, size int64) error {
	if size < 16 {
		return fmt.Errorf("wav: fmt chunk is %d bytes, need at least 16", size)
	}
	var b [wavFmtMax]byte
	n := min(size, wavFmtMax)
	if _, err := io.ReadFull(r, b[:n]); err != nil {
		return fmt.Errorf("wav: reading fmt chunk: %w", wavShort(err))
	}
	if err := wavSkip(r, size-n+size&1); err != nil {
		return fmt.Errorf("wav: reading fmt chunk: %w", err)
	}
	format := binary.LittleEndian.Uint16(b[0:])
	channels := int(binary.LittleEndian.Uint16(b[2:]))
	rate := binary.LittleEndian.Uint32(b[4:])
	bits := binary.LittleEndian.Uint16(b[14:])
	if format == wavFormatExtensible {
		if n < 40 {
			return fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE fmt chunk is %d bytes, need 40", size)
		}
		sub := binary.LittleEndian.Uint16(b[24:])
		if string(b[26:40]) != string(wavPCMGUIDTail) {
			return errors.New("wav: WAVE_FORMAT_EXTENSIBLE with an unknown subformat; Podium reads 16-bit PCM")
		}
		format = sub
	}
	if format != wavFormatPCM {
		return fmt.Errorf("wav: format %d (%s); Podium reads 16-bit PCM", format, wavFormatName(format))
	}
	if bits != 16 {
		return fmt.Errorf("wav: %d-bit samples; Podium reads 16-bit PCM", bits)
	}
	if channels < 1 || channels > wavMaxChannels {
		return fmt.Errorf("wav: %d channels; Podium reads 1 to %d", channels, wavMaxChannels)
	}
	if rate == 0 || rate > 1<<20 {
		return fmt.Errorf("wav: implausible sample rate %d Hz", rate)
	}
	// The block align field is ignored: for 16-bit PCM it can only be
	// 2*channels, and some writers get it wrong.
	w.channels, w.sampleRate = channels, int(rate)
	return nil
}

func wavFormatName(f uint16) string {
	switch f {
	case 2:
		return "Microsoft ADPCM"
	case 3:
		return "IEEE float"
	case 6:
		return "A-law"
	case 7:
		return "µ-law"
	case 0x11:
		return "IMA ADPCM"
	case 0x55:
		return "MPEG layer III"
	default:
		return "unknown"
	}
}

// wavSkip discards n bytes without buffering them, so a hostile chunk size
// costs at most a read to EOF.
func wavSkip(r io.Reader, n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		return wavShort(err)
	}
	return nil
}

func wavShort(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// SampleRate is in Hz.
func (w *WAVReader) SampleRate() int { return w.sampleRate }

// Channels is the file's channel count; ReadSamples mixes them to mono.
func (w *WAVReader) Channels() int { return w.channels }

// Samples is the number of frames promised by the data chunk header, -1 if unknown.
func (w *WAVReader) Samples() int64 { return w.frames }

// ReadSamples fills p with mono samples (multi-channel input is averaged to mono), returns n and io.EOF at the end.
// A file cut short (data chunk says more than the file holds) returns io.ErrUnexpectedEOF after the samples that were there, wrapped with context ("wav: cut short after N of M samples").
//
// Samples read before an error are returned with a nil error and the error
// follows on the next call, so callers never have to look at n and err together.
func (w *WAVReader) ReadSamples(p []int16) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	frameLen := 2 * w.channels
	n := 0
	for n < len(p) {
		want := min(len(p)-n, len(w.buf)/frameLen)
		if w.frames >= 0 {
			left := w.frames - w.read
			if left == 0 {
				w.err = io.EOF
				break
			}
			want = int(min(int64(want), left))
		}
		got, err := io.ReadFull(w.r, w.buf[:want*frameLen])
		full := got / frameLen // a trailing partial frame is dropped
		w.mix(p[n:n+full], w.buf[:full*frameLen])
		n += full
		w.read += int64(full)
		if err != nil {
			switch {
			case err != io.EOF && err != io.ErrUnexpectedEOF:
				w.err = fmt.Errorf("wav: reading samples: %w", err)
			case w.frames < 0:
				w.err = io.EOF
			default:
				w.err = fmt.Errorf("wav: cut short after %d of %d samples: %w", w.read, w.frames, io.ErrUnexpectedEOF)
			}
			break
		}
	}
	if n > 0 || len(p) == 0 {
		return n, nil
	}
	return 0, w.err
}

func (w *WAVReader) mix(dst []int16, src []byte) {
	if w.channels == 1 {
		for i := range dst {
			dst[i] = int16(binary.LittleEndian.Uint16(src[2*i:]))
		}
		return
	}
	ch := w.channels
	for i := range dst {
		var sum int32
		for c := range ch {
			sum += int32(int16(binary.LittleEndian.Uint16(src[2*(i*ch+c):])))
		}
		dst[i] = int16(sum / int32(ch))
	}
}

// WriteWAV writes mono 16-bit PCM (used by tests and tools).
func WriteWAV(w io.Writer, sampleRate int, samples []int16) error {
	if sampleRate <= 0 || sampleRate > 1<<20 {
		return fmt.Errorf("wav: invalid sample rate %d", sampleRate)
	}
	dataLen := int64(len(samples)) * 2
	if dataLen > 0xffffffff-36 {
		return fmt.Errorf("wav: %d samples do not fit in a RIFF file", len(samples))
	}
	var h [44]byte
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], uint32(36+dataLen))
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], wavFormatPCM)
	binary.LittleEndian.PutUint16(h[22:], 1)
	binary.LittleEndian.PutUint32(h[24:], uint32(sampleRate))
	binary.LittleEndian.PutUint32(h[28:], uint32(sampleRate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], uint32(dataLen))
	if _, err := w.Write(h[:]); err != nil {
		return fmt.Errorf("wav: writing header: %w", err)
	}
	// Encode in chunks so a long recording is not duplicated in memory.
	var buf [8 << 10]byte
	for len(samples) > 0 {
		k := min(len(samples), len(buf)/2)
		for i, s := range samples[:k] {
			binary.LittleEndian.PutUint16(buf[2*i:], uint16(s))
		}
		if _, err := w.Write(buf[:2*k]); err != nil {
			return fmt.Errorf("wav: writing samples: %w", err)
		}
		samples = samples[k:]
	}
	return nil
}
