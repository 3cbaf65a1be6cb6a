package frames

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/id3"
	"podium/scripts/testkit"
)

// MPEG version field values as they appear in the header.
const (
	testV25 = 0
	testV2  = 2
	testV1  = 3
)

// testFrame builds one silent layer III frame (zero payload) of the right length.
func testFrame(t testing.TB, version, brIdx, srIdx byte, mono, crc bool) []byte {
	t.Helper()
	hdr := []byte{0xff, 0xe0 | version<<3 | 1<<1, brIdx<<4 | srIdx<<2, 0}
	if !crc {
		hdr[1] |= 1
	}
	if mono {
		hdr[3] = 3 << 6
	}
	h, ok := ParseHeader(hdr)
	if !ok {
		t.Fatalf("test built an invalid header % x", hdr)
	}
	f := make([]byte, h.Len)
	copy(f, hdr)
	return f
}

type testLAME struct {
	enc            string
	delay, padding int
}

// testXing writes a Xing/Info tag at off the way LAME lays it out.
func testXing(frame []byte, off int, tag string, flags, frames, nbytes uint32, lame *testLAME) []byte {
	b := append([]byte(tag), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[4:], flags)
	if flags&1 != 0 {
		b = binary.BigEndian.AppendUint32(b, frames)
	}
	if flags&2 != 0 {
		b = binary.BigEndian.AppendUint32(b, nbytes)
	}
	if flags&4 != 0 {
		for i := range 100 {
			b = append(b, byte(i*255/100))
		}
	}
	if flags&8 != 0 {
		b = binary.BigEndian.AppendUint32(b, 57)
	}
	if lame != nil {
		ext := make([]byte, 36)
		copy(ext, lame.enc)
		ext[9] = 0x03 // tag revision 0, VBR method 3
		ext[10] = 160 // lowpass, to make sure neighbours are not misread
		ext[20] = 0xff
		ext[21] = byte(lame.delay >> 4)
		ext[22] = byte(lame.delay<<4) | byte(lame.padding>>8)
		ext[23] = byte(lame.padding)
		ext[24] = 0xff
		b = append(b, ext...)
	}
	copy(frame[off:], b)
	return frame
}

func TestReadMP3InfoSynthetic(t *testing.T) {
	cat := func(b ...[]byte) []byte { return bytes.Join(b, nil) }
	// MPEG-1 48 kHz 64 kbps mono: 192-byte frames, Xing at 4+17.
	v1mono := func() []byte { return testFrame(t, testV1, 5, 1, true, false) }
	lame := &testLAME{enc: "LAME3.100", delay: 576, padding: 1536}
	tag, err := id3.Encode(id3.Tags{Title: "t"}, 256)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name        string
		in          []byte
		want        Info
		wantSamples int64
		wantErr     bool
	}{
		{
			name: "no Xing",
			in:   cat(v1mono(), v1mono()),
			want: Info{SampleRate: 48000, Channels: 1, Bitrate: 64},
		},
		{
			name:        "Info (CBR) with LAME extension",
			in:          cat(testXing(v1mono(), 4+17, "Info", 0xf, 106, 20352, lame), v1mono()),
			want:        Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, Frames: 106, Bytes: 20352, Encoder: "LAME3.100", Delay: 576, Padding: 1536},
			wantSamples: 106*1152 - 576 - 1536,
		},
		{
			name: "Xing (VBR) MPEG-1 stereo 44.1 kHz",
			in: cat(testXing(testFrame(t, testV1, 9, 0, false, false), 4+32, "Xing", 0xf, 1000, 1<<20, &testLAME{enc: "LAME3.99r", delay: 576, padding: 1000}),
				testFrame(t, testV1, 11, 0, false, false)),
			want:        Info{SampleRate: 44100, Channels: 2, Bitrate: 128, HasXing: true, VBR: true, Frames: 1000, Bytes: 1 << 20, Encoder: "LAME3.99r", Delay: 576, Padding: 1000},
			wantSamples: 1000*1152 - 576 - 1000,
		},
		{
			name: "MPEG-2 mono 24 kHz",
			// 64 kbps: a 32 kbps MPEG-2 frame (96 bytes) is too small for the LAME extension.
			in:          cat(testXing(testFrame(t, testV2, 8, 1, true, false), 4+9, "Xing", 0xf, 50, 4000, lame), testFrame(t, testV2, 4, 1, true, false)),
			want:        Info{SampleRate: 24000, Channels: 1, Bitrate: 64, HasXing: true, VBR: true, Frames: 50, Bytes: 4000, Encoder: "LAME3.100", Delay: 576, Padding: 1536},
			wantSamples: 50*576 - 576 - 1536,
		},
		{
			name:        "MPEG-2.5 stereo 8 kHz",
			in:          cat(testXing(testFrame(t, testV25, 8, 2, false, false), 4+17, "Info", 0xf, 20, 2000, &testLAME{enc: "Lavc59.37", delay: 576, padding: 100}), testFrame(t, testV25, 8, 2, false, false)),
			want:        Info{SampleRate: 8000, Channels: 2, Bitrate: 64, HasXing: true, Frames: 20, Bytes: 2000, Encoder: "Lavc59.37", Delay: 576, Padding: 100},
			wantSamples: 20*576 - 576 - 100,
		},
		{
			name: "garbage and a false sync before the first frame",
			in: cat([]byte("junk\x00\xff\xfb"), []byte{0xff, 0xfb, 0x54, 0xc0}, bytes.Repeat([]byte("x"), 200),
				testXing(v1mono(), 4+17, "Info", 0xf, 1, 192, lame), v1mono()),
			want:        Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, Frames: 1, Bytes: 192, Encoder: "LAME3.100", Delay: 576, Padding: 1536},
			wantSamples: 0, // 1152 < delay+padding: clamped, not negative
		},
		{
			name:        "ID3 tag before the audio",
			in:          cat(tag, testXing(v1mono(), 4+17, "Info", 0xf, 10, 1920, lame), v1mono()),
			want:        Info{ID3Size: 256, SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, Frames: 10, Bytes: 1920, Encoder: "LAME3.100", Delay: 576, Padding: 1536},
			wantSamples: 10*1152 - 576 - 1536,
		},
		{
			name:        "unreadable ID3v2.2 tag is still skipped",
			in:          cat([]byte("ID3\x02\x00\x00\x00\x00\x00\x05xxxxx"), testXing(v1mono(), 4+17, "Info", 0x1, 10, 0, nil)),
			want:        Info{ID3Size: 15, SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, Frames: 10},
			wantSamples: 10 * 1152,
		},
		{
			name:        "Xing with only frame and byte counts, no LAME extension",
			in:          cat(testXing(v1mono(), 4+17, "Xing", 0x3, 10, 1920, nil), v1mono()),
			want:        Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, VBR: true, Frames: 10, Bytes: 1920},
			wantSamples: 10 * 1152,
		},
		{
			name: "LAME extension after a short Xing tag is found from the flags",
			in:   cat(testXing(v1mono(), 4+17, "Xing", 0x1, 10, 0, lame), v1mono()),
			want: Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, VBR: true, Frames: 10, Encoder: "LAME3.100", Delay: 576, Padding: 1536},
			// 10*1152 - 576 - 1536
			wantSamples: 9408,
		},
		{
			name:        "unknown encoder: delay not trusted",
			in:          cat(testXing(v1mono(), 4+17, "Info", 0xf, 10, 1920, &testLAME{enc: "FooEnc1.0", delay: 576, padding: 1536}), v1mono()),
			want:        Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, Frames: 10, Bytes: 1920, Encoder: "FooEnc1.0"},
			wantSamples: 10 * 1152,
		},
		{
			name:        "CRC-protected frame",
			in:          cat(testXing(testFrame(t, testV1, 5, 1, true, true), 4+2+17, "Info", 0xf, 10, 1920, lame), v1mono()),
			want:        Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, Frames: 10, Bytes: 1920, Encoder: "LAME3.100", Delay: 576, Padding: 1536},
			wantSamples: 10*1152 - 576 - 1536,
		},
		{
			name: "Xing tag at the wrong offset is not believed",
			in:   cat(testXing(v1mono(), 4+32, "Xing", 0xf, 10, 1920, lame), v1mono()),
			want: Info{SampleRate: 48000, Channels: 1, Bitrate: 64},
		},
		{
			name: "truncated Xing frame",
			in:   testXing(v1mono(), 4+17, "Xing", 0xf, 10, 1920, lame)[:4+17+10],
			want: Info{SampleRate: 48000, Channels: 1, Bitrate: 64, HasXing: true, VBR: true},
		},
		{name: "empty", in: nil, wantErr: true},
		{name: "no sync", in: make([]byte, 5000), wantErr: true},
		{name: "layer II is not layer III", in: cat([]byte{0xff, 0xfd, 0x54, 0xc0}, make([]byte, 400)), wantErr: true},
		{name: "ID3 tag only", in: tag, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(tc.in)
			if _, err := r.Seek(int64(len(tc.in)), io.SeekStart); err != nil { // ReadInfo must rewind by itself
				t.Fatal(err)
			}
			got, err := ReadInfo(r)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("got %+v, want error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadInfo: %v", err)
			}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
			if s := got.Samples(); s != tc.wantSamples {
				t.Errorf("Samples() = %d, want %d", s, tc.wantSamples)
			}
		})
	}
}

func TestMP3InfoDuration(t *testing.T) {
	tests := []struct {
		info Info
		want time.Duration
	}{
		{Info{SampleRate: 48000, Frames: 106, Delay: 576, Padding: 1536}, 2500 * time.Millisecond},
		{Info{SampleRate: 44100, Frames: 1, Delay: 0, Padding: 1152 - 441}, 10 * time.Millisecond},
		{Info{SampleRate: 8000, Frames: 3}, 216 * time.Millisecond},
		{Info{SampleRate: 48000}, 0},
		{Info{Frames: 10}, 0},
		// (2^32-1)*1152 samples at 32 kHz = 154618822.62 s; n*time.Second would overflow.
		{Info{SampleRate: 32000, Frames: 1<<32 - 1}, 154618822*time.Second + 620*time.Millisecond},
	}
	for _, tc := range tests {
		if got := tc.info.Duration(); got != tc.want {
			t.Errorf("%+v.Duration() = %v, want %v", tc.info, got, tc.want)
		}
	}
}

// TestMP3InfoMatchesFFmpeg is the ground truth for the Samples formula:
// whatever ffmpeg decodes from a LAME-encoded file must equal Samples().
func TestMP3InfoMatchesFFmpeg(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	const ffmpeg = "ffmpeg"
	tests := []struct {
		name     string
		rate     int
		channels int
		duration string
		codec    []string // bitrate or quality options
		vbr      bool
		ourTag   bool // replace ffmpeg's ID3 tag with one from id3.Encode
	}{
		{"48k mono CBR", 48000, 1, "2.5", []string{"-b:a", "64k"}, false, false},
		{"44.1k stereo CBR", 44100, 2, "1.3", []string{"-b:a", "128k"}, false, false},
		{"32k mono CBR odd length", 32000, 1, "0.7777", []string{"-b:a", "48k"}, false, false},
		{"24k mono MPEG-2", 24000, 1, "1.7", []string{"-b:a", "32k"}, false, false},
		{"22.05k stereo MPEG-2", 22050, 2, "3.01", []string{"-b:a", "48k"}, false, false},
		{"16k mono MPEG-2", 16000, 1, "1", []string{"-b:a", "24k"}, false, false},
		{"12k mono MPEG-2.5", 12000, 1, "2", []string{"-b:a", "16k"}, false, false},
		{"8k mono MPEG-2.5", 8000, 1, "1.3", []string{"-b:a", "16k"}, false, false},
		{"48k mono VBR", 48000, 1, "3.1", []string{"-q:a", "4"}, true, false},
		{"48k stereo VBR long", 48000, 2, "61", []string{"-q:a", "2"}, true, false},
		{"Podium tag in front", 48000, 1, "2.5", []string{"-b:a", "64k"}, false, true},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("%d.mp3", i))
			args := []string{"-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=" + tc.duration,
				"-ac", fmt.Sprint(tc.channels), "-ar", fmt.Sprint(tc.rate), "-c:a", "libmp3lame"}
			args = append(args, tc.codec...)
			if tc.ourTag {
				args = append(args, "-id3v2_version", "0")
			}
			if out, err := exec.Command(ffmpeg, append(args, path)...).CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg encode: %v\n%s", err, out)
			}
			if tc.ourTag {
				data, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				tag, err := id3.Encode(id3.Tags{Title: "Zoë Ångström — 講演", Length: time.Hour}, 1000)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, append(tag, data...), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			pcm, err := exec.Command(ffmpeg, "-v", "error", "-i", path, "-ac", "1", "-f", "s16le", "-").Output()
			if err != nil {
				t.Fatalf("ffmpeg decode: %v", err)
			}
			decoded := int64(len(pcm) / 2)

			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := ReadInfo(f)
			if err != nil {
				t.Fatalf("ReadInfo: %v", err)
			}
			t.Logf("%+v; ffmpeg decoded %d samples", info, decoded)
			if info.SampleRate != tc.rate || info.Channels != tc.channels || !info.HasXing || info.VBR != tc.vbr {
				t.Errorf("header fields wrong: %+v", info)
			}
			if info.ID3Size == 0 || (tc.ourTag && info.ID3Size != 1000) {
				t.Errorf("ID3Size = %d", info.ID3Size)
			}
			if len(info.Encoder) < 4 || info.Encoder[:3] != "Lav" {
				t.Errorf("Encoder = %q, want ffmpeg's Lavc/Lavf", info.Encoder)
			}
			if got := info.Samples(); got != decoded {
				t.Errorf("Samples() = %d (%d frames*%d - delay %d - padding %d), ffmpeg decoded %d (diff %d)",
					got, info.Frames, info.samplesPerFrame(), info.Delay, info.Padding, decoded, got-decoded)
			}
			want := time.Duration(decoded) * time.Second / time.Duration(tc.rate)
			if d := info.Duration(); d != want {
				t.Errorf("Duration() = %v, want %v", d, want)
			}
		})
	}
}

func FuzzReadInfo(f *testing.F) {
	frame := func(version, br, sr byte, mono bool) []byte {
		return testFrame(f, version, br, sr, mono, false)
	}
	lame := &testLAME{enc: "LAME3.100", delay: 576, padding: 1536}
	tag, err := id3.Encode(id3.Tags{Title: "t", Length: time.Second}, 128)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(append(testXing(frame(testV1, 5, 1, true), 4+17, "Info", 0xf, 106, 20352, lame), frame(testV1, 5, 1, true)...))
	f.Add(append(append(tag, testXing(frame(testV2, 4, 1, true), 4+9, "Xing", 0x1, 1, 0, lame)...), frame(testV2, 4, 1, true)...))
	f.Add(testXing(frame(testV25, 8, 2, false), 4+17, "Xing", 0x3, 1, 0, nil))
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x54\xc0Info"))
	f.Fuzz(func(t *testing.T, data []byte) {
		info, err := ReadInfo(bytes.NewReader(data))
		if err != nil {
			return
		}
		if info.ID3Size > len(data) && info.SampleRate != 0 {
			t.Fatalf("found audio inside a %d-byte tag in %d bytes", info.ID3Size, len(data))
		}
		if info.Samples() < 0 || info.Duration() < 0 {
			t.Fatalf("negative length: %+v", info)
		}
	})
}
