package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func wavTestFmt(format uint16, channels uint16, rate uint32, bits uint16) []byte {
	b := binary.LittleEndian.AppendUint16(nil, format)
	b = binary.LittleEndian.AppendUint16(b, channels)
	b = binary.LittleEndian.AppendUint32(b, rate)
	b = binary.LittleEndian.AppendUint32(b, rate*uint32(channels)*uint32(bits)/8)
	b = binary.LittleEndian.AppendUint16(b, channels*bits/8)
	return binary.LittleEndian.AppendUint16(b, bits)
}

func wavTestExtensible(channels uint16, rate uint32, bits, subformat uint16) []byte {
	b := wavTestFmt(wavFormatExtensible, channels, rate, bits)
	b = binary.LittleEndian.AppendUint16(b, 22)   // cbSize
	b = binary.LittleEndian.AppendUint16(b, bits) // valid bits
	b = binary.LittleEndian.AppendUint32(b, 3)    // channel mask
	b = binary.LittleEndian.AppendUint16(b, subformat)
	return append(b, wavPCMGUIDTail...)
}

// wavTestChunk adds the pad byte RIFF requires after odd-sized chunks.
func wavTestChunk(id string, body []byte) []byte {
	return wavTestChunkSize(id, uint32(len(body)), body)
}

func wavTestChunkSize(id string, size uint32, body []byte) []byte {
	b := binary.LittleEndian.AppendUint32([]byte(id), size)
	b = append(b, body...)
	if len(body)%2 == 1 && uint32(len(body)) == size { // lying sizes get no pad
		b = append(b, 0)
	}
	return b
}

func wavTestFile(chunks ...[]byte) []byte {
	body := bytes.Join(chunks, nil)
	b := binary.LittleEndian.AppendUint32([]byte("RIFF"), uint32(4+len(body)))
	return append(append(b, "WAVE"...), body...)
}

func wavTestPCM(samples ...int16) []byte {
	var b []byte
	for _, s := range samples {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// wavTestReadAll reads with a deliberately awkward buffer size and returns
// the first error (io.EOF on a clean end).
func wavTestReadAll(t *testing.T, w *WAVReader, bufLen int) ([]int16, error) {
	t.Helper()
	var out []int16
	p := make([]int16, bufLen)
	for range 1 << 20 {
		n, err := w.ReadSamples(p)
		if n < 0 || n > len(p) {
			t.Fatalf("ReadSamples returned n=%d for a buffer of %d", n, len(p))
		}
		out = append(out, p[:n]...)
		if err != nil {
			if n, err2 := w.ReadSamples(p); n != 0 || err2 != err {
				t.Errorf("after error %v, next call returned (%d, %v); want the same error again", err, n, err2)
			}
			return out, err
		}
		if n == 0 {
			t.Fatal("ReadSamples returned 0, nil")
		}
	}
	t.Fatal("ReadSamples never ended")
	return nil, nil
}

func TestWAVReader(t *testing.T) {
	mono := wavTestPCM(0, 1, -1, 32767, -32768, 1234)
	tests := []struct {
		name        string
		in          []byte
		wantErr     string // substring of the NewWAVReader error
		rate, chans int
		total       int64 // Samples()
		want        []int16
		readErr     error  // errors.Is target for the final ReadSamples error
		readErrMsg  string // substring of it
	}{
		{
			name: "mono PCM",
			in:   wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 48000, 16)), wavTestChunk("data", mono)),
			rate: 48000, chans: 1, total: 6,
			want: []int16{0, 1, -1, 32767, -32768, 1234},
		},
		{
			name: "stereo averaged to mono",
			in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 2, 44100, 16)),
				wavTestChunk("data", wavTestPCM(100, 200, -1, -2, 32767, 32767, -32768, -32768, 32767, -32768))),
			rate: 44100, chans: 2, total: 5,
			want: []int16{150, -1, 32767, -32768, 0},
		},
		{
			name: "three channels",
			in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 3, 8000, 16)),
				wavTestChunk("data", wavTestPCM(3, 6, 9, -30000, -30000, -30000))),
			rate: 8000, chans: 3, total: 2,
			want: []int16{6, -30000},
		},
		{
			name: "WAVE_FORMAT_EXTENSIBLE PCM",
			in:   wavTestFile(wavTestChunk("fmt ", wavTestExtensible(2, 48000, 16, 1)), wavTestChunk("data", wavTestPCM(10, 20))),
			rate: 48000, chans: 2, total: 1,
			want: []int16{15},
		},
		{
			name: "unknown chunks skipped, odd size padded",
			in: wavTestFile(wavTestChunk("LIST", []byte("INFOISFT\x05\x00\x00\x00odd!\x00")), // 17 bytes + pad
				wavTestChunk("fmt ", wavTestFmt(1, 1, 16000, 16)),
				wavTestChunk("fact", []byte{1, 0, 0, 0}),
				wavTestChunk("junk", []byte("x")),
				wavTestChunk("data", mono),
				wavTestChunk("LIST", []byte("trailing metadata is not audio"))),
			rate: 16000, chans: 1, total: 6,
			want: []int16{0, 1, -1, 32767, -32768, 1234},
		},
		{
			name: "fmt chunk longer than needed",
			in:   wavTestFile(wavTestChunk("fmt ", append(wavTestFmt(1, 1, 22050, 16), 0, 0, 7)), wavTestChunk("data", wavTestPCM(5))),
			rate: 22050, chans: 1, total: 1,
			want: []int16{5},
		},
		{
			name: "streamed: data size 0xFFFFFFFF",
			in:   wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 2, 48000, 16)), wavTestChunkSize("data", 0xffffffff, wavTestPCM(2, 4, 6, 8, 9))),
			rate: 48000, chans: 2, total: -1,
			want: []int16{3, 7}, // the trailing half frame is dropped
		},
		{
			name: "streamed: data size 0",
			in:   wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 48000, 16)), wavTestChunkSize("data", 0, mono)),
			rate: 48000, chans: 1, total: -1,
			want: []int16{0, 1, -1, 32767, -32768, 1234},
		},
		{
			name: "empty data",
			in:   wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 48000, 16)), wavTestChunkSize("data", 0, nil)),
			rate: 48000, chans: 1, total: -1,
		},
		{
			name: "cut short",
			in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 48000, 16)),
				wavTestChunkSize("data", 200, append(wavTestPCM(7, 8, 9), 0x55))),
			rate: 48000, chans: 1, total: 100,
			want:       []int16{7, 8, 9},
			readErr:    io.ErrUnexpectedEOF,
			readErrMsg: "wav: cut short after 3 of 100 samples",
		},
		{
			name:    "8-bit",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 8000, 8)), wavTestChunk("data", []byte{128})),
			wantErr: "wav: 8-bit samples; Podium reads 16-bit PCM",
		},
		{
			name:    "24-bit",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 2, 96000, 24)), wavTestChunk("data", make([]byte, 6))),
			wantErr: "wav: 24-bit samples; Podium reads 16-bit PCM",
		},
		{
			name:    "24-bit extensible",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestExtensible(2, 96000, 24, 1)), wavTestChunk("data", make([]byte, 6))),
			wantErr: "wav: 24-bit samples; Podium reads 16-bit PCM",
		},
		{
			name:    "IEEE float",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestFmt(3, 1, 48000, 32)), wavTestChunk("data", make([]byte, 4))),
			wantErr: "wav: format 3 (IEEE float); Podium reads 16-bit PCM",
		},
		{
			name:    "extensible IEEE float",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestExtensible(2, 48000, 32, 3)), wavTestChunk("data", make([]byte, 8))),
			wantErr: "wav: format 3 (IEEE float); Podium reads 16-bit PCM",
		},
		{
			name:    "extensible unknown subformat",
			in:      wavTestFile(wavTestChunk("fmt ", append(wavTestExtensible(1, 48000, 16, 1)[:26], make([]byte, 14)...)), wavTestChunk("data", nil)),
			wantErr: "unknown subformat",
		},
		{
			name:    "extensible fmt chunk too short",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestExtensible(1, 48000, 16, 1)[:30]), wavTestChunk("data", nil)),
			wantErr: "need 40",
		},
		{
			name:    "A-law",
			in:      wavTestFile(wavTestChunk("fmt ", wavTestFmt(6, 1, 8000, 8)), wavTestChunk("data", nil)),
			wantErr: "wav: format 6 (A-law)",
		},
		{name: "not RIFF", in: []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), wantErr: "not a RIFF/WAVE file"},
		{name: "RIFF but not WAVE", in: []byte("RIFF\x04\x00\x00\x00AVI "), wantErr: "not a RIFF/WAVE file"},
		{name: "empty", in: nil, wantErr: "wav: reading RIFF header"},
		{name: "no chunks", in: wavTestFile(), wantErr: "no data chunk"},
		{name: "no data chunk", in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 8000, 16))), wantErr: "no data chunk"},
		{name: "data before fmt", in: wavTestFile(wavTestChunk("data", mono), wavTestChunk("fmt ", wavTestFmt(1, 1, 8000, 16))), wantErr: "data chunk before fmt"},
		{name: "fmt chunk too small", in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 8000, 16)[:14])), wantErr: "fmt chunk is 14 bytes"},
		{name: "fmt chunk cut short", in: wavTestFile(wavTestChunkSize("fmt ", 16, wavTestFmt(1, 1, 8000, 16)[:10])), wantErr: "reading fmt chunk"},
		{name: "zero channels", in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 0, 8000, 16)), wavTestChunk("data", nil)), wantErr: "0 channels"},
		{name: "zero sample rate", in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 0, 16)), wavTestChunk("data", nil)), wantErr: "sample rate 0"},
		{name: "unknown chunk cut short", in: wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 8000, 16)), wavTestChunkSize("LIST", 1000, []byte("ab"))), wantErr: `skipping "LIST" chunk`},
	}
	for _, tc := range tests {
		for _, bufLen := range []int{1, 2, 1000} {
			w, err := NewWAVReader(bytes.NewReader(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("%s: err = %v, want it to contain %q", tc.name, err, tc.wantErr)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: NewWAVReader: %v", tc.name, err)
			}
			if w.SampleRate() != tc.rate || w.Channels() != tc.chans || w.Samples() != tc.total {
				t.Errorf("%s: rate %d channels %d samples %d, want %d %d %d",
					tc.name, w.SampleRate(), w.Channels(), w.Samples(), tc.rate, tc.chans, tc.total)
			}
			got, err := wavTestReadAll(t, w, bufLen)
			wantErr := tc.readErr
			if wantErr == nil {
				wantErr = io.EOF
			}
			if !errors.Is(err, wantErr) || !strings.Contains(err.Error(), tc.readErrMsg) {
				t.Errorf("%s (buffer %d): final error %v, want %v containing %q", tc.name, bufLen, err, wantErr, tc.readErrMsg)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s (buffer %d): samples %v, want %v", tc.name, bufLen, got, tc.want)
			}
		}
	}
}

func TestWAVRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		rate int
		n    int
	}{
		{"empty", 48000, 0},
		{"one sample", 8000, 1},
		{"several write chunks", 44100, 3*4096 + 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := make([]int16, tc.n)
			x := uint32(1)
			for i := range in {
				x = x*1664525 + 1013904223 // any sequence that covers the full range
				in[i] = int16(x >> 16)
			}
			if tc.n > 2 {
				in[0], in[1] = 32767, -32768
			}
			var buf bytes.Buffer
			if err := WriteWAV(&buf, tc.rate, in); err != nil {
				t.Fatal(err)
			}
			if got, want := buf.Len(), 44+2*tc.n; got != want {
				t.Fatalf("file is %d bytes, want %d", got, want)
			}
			w, err := NewWAVReader(&buf)
			if err != nil {
				t.Fatal(err)
			}
			wantTotal := int64(tc.n)
			if tc.n == 0 {
				wantTotal = -1 // a zero data size reads as "streamed"
			}
			if w.SampleRate() != tc.rate || w.Channels() != 1 || w.Samples() != wantTotal {
				t.Errorf("rate %d channels %d samples %d", w.SampleRate(), w.Channels(), w.Samples())
			}
			got, err := wavTestReadAll(t, w, 4000)
			if err != io.EOF {
				t.Errorf("final error %v, want io.EOF", err)
			}
			if !slices.Equal(got, in) {
				t.Errorf("samples differ after round trip")
			}
		})
	}
}

func TestWriteWAVErrors(t *testing.T) {
	for _, rate := range []int{0, -1, 1<<20 + 1} {
		if err := WriteWAV(io.Discard, rate, nil); err == nil {
			t.Errorf("WriteWAV(rate=%d) succeeded", rate)
		}
	}
	wantErr := errors.New("disk full")
	if err := WriteWAV(wavFailingWriter{wantErr}, 48000, make([]int16, 10)); !errors.Is(err, wantErr) {
		t.Errorf("err = %v, want it to wrap %v", err, wantErr)
	}
}

type wavFailingWriter struct{ err error }

func (w wavFailingWriter) Write([]byte) (int, error) { return 0, w.err }

// TestWAVReaderHostileSizes checks that header values never size an allocation.
func TestWAVReaderHostileSizes(t *testing.T) {
	inputs := map[string][]byte{
		"huge fmt chunk":     wavTestFile(wavTestChunkSize("fmt ", 0xfffffff0, wavTestFmt(1, 1, 8000, 16))),
		"huge unknown chunk": wavTestFile(wavTestChunkSize("LIST", 0xffffffff, []byte("INFO"))),
		"huge data chunk":    wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 64, 8000, 16)), wavTestChunkSize("data", 0xfffffffe, make([]byte, 256))),
		"too many channels":  wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 65535, 8000, 16)), wavTestChunkSize("data", 0xfffffffe, make([]byte, 256))),
	}
	for name, in := range inputs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		w, err := NewWAVReader(bytes.NewReader(in))
		if err == nil {
			_, err = wavTestReadAll(t, w, 1<<16)
		}
		runtime.ReadMemStats(&after)
		if err == nil || err == io.EOF {
			t.Errorf("%s: no error", name)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
			t.Errorf("%s: allocated %d bytes for %d bytes of input", name, alloc, len(in))
		}
	}
}

func FuzzWAVReader(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteWAV(&buf, 48000, []int16{1, -2, 3, 32767, -32768}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(wavTestFile(wavTestChunk("LIST", []byte("INFOx")), wavTestChunk("fmt ", wavTestFmt(1, 2, 44100, 16)), wavTestChunk("data", wavTestPCM(1, 2, 3, 4))))
	f.Add(wavTestFile(wavTestChunk("fmt ", wavTestExtensible(2, 48000, 16, 1)), wavTestChunkSize("data", 0xffffffff, wavTestPCM(1, 2, 3))))
	f.Add(wavTestFile(wavTestChunk("fmt ", wavTestFmt(1, 1, 8000, 16)), wavTestChunkSize("data", 1000, wavTestPCM(1, 2, 3))))
	f.Add(wavTestFile(wavTestChunk("fmt ", wavTestFmt(3, 1, 8000, 32)), wavTestChunk("data", nil)))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := NewWAVReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		if w.Channels() < 1 || w.SampleRate() < 1 {
			t.Fatalf("accepted %d channels at %d Hz", w.Channels(), w.SampleRate())
		}
		p := make([]int16, 333)
		total := 0
		for range len(data) + 2 {
			n, err := w.ReadSamples(p)
			total += n
			if err != nil {
				break
			}
			if n == 0 {
				t.Fatal("ReadSamples returned 0, nil")
			}
		}
		if total > len(data)/2 {
			t.Fatalf("read %d samples from %d bytes", total, len(data))
		}
		if s := w.Samples(); s >= 0 && int64(total) > s {
			t.Fatalf("read %d samples, header promised %d", total, s)
		}
	})
}
