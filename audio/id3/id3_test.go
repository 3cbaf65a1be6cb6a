package id3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

func TestID3RoundTrip(t *testing.T) {
	date := time.Date(2025, 3, 14, 9, 26, 53, 0, time.Local)
	long := strings.Repeat("Very long lecture title ", 100)
	tests := []struct {
		name string
		in   Tags
		size int
		want Tags // differs from in only where truncation is expected
	}{
		{
			name: "ascii",
			in:   Tags{Title: "Weekly sync", Presenter: "Ada Lovelace", Date: date, Length: 3723500 * time.Millisecond, Comment: "Recorded with Podium"},
			size: 1024,
		},
		{
			name: "non-ascii",
			in:   Tags{Title: "Zoë Ångström — 講演", Presenter: "Zoë Ångström", Date: date, Length: time.Second, Comment: "Ünïcødé 💬"},
			size: 512,
		},
		{name: "all empty", in: Tags{}, size: 128},
		{
			name: "replaygain",
			in:   Tags{Title: "Talk", Date: date, Length: time.Minute, ReplayGain: &ReplayGain{TrackGain: -3.21, TrackPeak: 0.812345, Loudness: -14.79, Range: 4.2}},
			size: 1024,
		},
		{name: "title only", in: Tags{Title: "Just a title"}, size: 128},
		{name: "no comment", in: Tags{Title: "T", Presenter: "P", Date: date, Length: 90 * time.Minute}, size: 256},
		{
			name: "long title truncated",
			in:   Tags{Title: long, Presenter: "Grace Hopper", Date: date, Length: time.Hour, Comment: "c"},
			size: 256,
			want: Tags{
				// 246 body bytes - TSSE 17 - TPE1 23 - TDRC 30 - TLEN 18 - COMM 16 - TIT2 header 11
				// = 131 bytes of title.
				Title: long[:131], Presenter: "Grace Hopper", Date: date, Length: time.Hour, Comment: "c", ByPodium: true,
			},
		},
		{
			name: "multibyte truncated on rune boundary",
			in:   Tags{Title: strings.Repeat("講", 200)},
			size: 128,
			// 118 body bytes - TSSE 17 - 11 header = 90, in whole 3-byte runes.
			want: Tags{Title: strings.Repeat("講", 30), ByPodium: true},
		},
		{
			name: "every text field too long",
			in:   Tags{Title: long, Presenter: long, Comment: long, Date: date, Length: time.Minute},
			size: 128,
		},
		{
			name: "millisecond rounding",
			in:   Tags{Title: "x", Length: 1499600 * time.Microsecond},
			size: 128,
			want: Tags{Title: "x", Length: 1500 * time.Millisecond},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tag, err := Encode(tc.in, tc.size)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if len(tag) != tc.size {
				t.Fatalf("tag is %d bytes, want exactly %d", len(tag), tc.size)
			}
			// Trailing audio must not be taken for part of the tag.
			in := append(append([]byte{}, tag...), 0xff, 0xfb, 0x90, 0x64)
			got, n, err := Read(bytes.NewReader(in))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if n != tc.size {
				t.Errorf("Read size = %d, want %d", n, tc.size)
			}
			want := tc.want
			if reflect.DeepEqual(want, Tags{}) {
				want = tc.in
			}
			if tc.name == "every text field too long" {
				// Exact split is an implementation detail; what matters is
				// that everything kept is a valid prefix and the rest fits.
				for _, s := range []string{got.Title, got.Presenter, got.Comment} {
					if !strings.HasPrefix(long, s) || !utf8.ValidString(s) {
						t.Errorf("field %q is not a prefix of the input", s)
					}
				}
				want.Title, want.Presenter, want.Comment = got.Title, got.Presenter, got.Comment
				if got.Title == "" || got.Presenter == "" || got.Comment == "" {
					t.Errorf("a field was dropped entirely although all could share the space: %+v", got)
				}
			}
			assertTags(t, got, want)
		})
	}
}

func assertTags(t *testing.T, got, want Tags) {
	t.Helper()
	if got.Title != want.Title || got.Presenter != want.Presenter || got.Comment != want.Comment || got.Length != want.Length {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !got.Date.Equal(want.Date) {
		t.Errorf("Date = %v, want %v", got.Date, want.Date)
	}
	if (got.ReplayGain == nil) != (want.ReplayGain == nil) || got.ReplayGain != nil && *got.ReplayGain != *want.ReplayGain {
		t.Errorf("ReplayGain = %+v, want %+v", got.ReplayGain, want.ReplayGain)
	}
	if !slices.Equal(got.Chapters, want.Chapters) {
		t.Errorf("Chapters = %+v, want %+v", got.Chapters, want.Chapters)
	}
}

func TestEncodeID3Errors(t *testing.T) {
	for _, size := range []int{-1, 0, 10, 127, 1<<28 + 10} {
		if _, err := Encode(Tags{Title: "x"}, size); err == nil {
			t.Errorf("Encode(size=%d) succeeded, want error", size)
		}
	}
}

// TestEncodeID3Layout pins the bytes that other tools depend on.
func TestEncodeID3Layout(t *testing.T) {
	tag, err := Encode(Tags{Title: "Hi", Date: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Length: 2 * time.Second, Comment: "c"}, 200)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("ID3\x04\x00\x00\x00\x00\x01\x3e" +
		"TSSE\x00\x00\x00\x07\x00\x00\x03Podium" +
		"TIT2\x00\x00\x00\x03\x00\x00\x03Hi" +
		"TDRC\x00\x00\x00\x14\x00\x00\x032024-01-02T03:04:05" +
		"TLEN\x00\x00\x00\x05\x00\x00\x032000" +
		"COMM\x00\x00\x00\x06\x00\x00\x03eng\x00c")
	if !bytes.Equal(tag[:len(want)], want) {
		t.Errorf("tag starts\n%q\nwant\n%q", tag[:len(want)], want)
	}
	if bytes.ContainsFunc(tag[len(want):], func(r rune) bool { return r != 0 }) {
		t.Error("padding is not all zero")
	}
}

// testFrame builds one frame; sizes are synchsafe for v2.4 and plain for v2.3.
func testFrame(version byte, id string, flags uint16, data []byte) []byte {
	b := []byte(id)
	if version == 4 {
		b = appendSynchsafe(b, uint32(len(data)))
	} else {
		b = binary.BigEndian.AppendUint32(b, uint32(len(data)))
	}
	b = binary.BigEndian.AppendUint16(b, flags)
	return append(b, data...)
}

// testTag wraps body (frames and optional padding) in a header.
func testTag(version, flags byte, body ...[]byte) []byte {
	all := bytes.Join(body, nil)
	b := []byte{'I', 'D', '3', version, 0, flags}
	b = appendSynchsafe(b, uint32(len(all)))
	return append(b, all...)
}

func encodeUTF16(s string, bigEndian, bom bool) []byte {
	var b []byte
	var order binary.AppendByteOrder = binary.LittleEndian
	if bigEndian {
		order = binary.BigEndian
	}
	if bom {
		b = order.AppendUint16(b, 0xfeff)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		b = order.AppendUint16(b, u)
	}
	return b
}

func TestReadID3Variants(t *testing.T) {
	name := "Zoë Ångström — 講演"
	text := func(enc byte, b ...[]byte) []byte { return append([]byte{enc}, bytes.Join(b, nil)...) }
	nul2 := []byte{0, 0}
	longTitle := strings.Repeat("t", 199) // frame size 200 = 0xc8: not synchsafe as a plain size
	tests := []struct {
		name string
		in   []byte
		want Tags
		size int // 0: len(in)
	}{
		{
			name: "v2.4 ISO-8859-1 with trailing NUL",
			in:   testTag(4, 0, testFrame(4, "TIT2", 0, text(0, []byte("Zo\xeb"), []byte{0}))),
			want: Tags{Title: "Zoë"},
		},
		{
			name: "v2.4 UTF-16 LE BOM",
			in:   testTag(4, 0, testFrame(4, "TPE1", 0, text(1, encodeUTF16(name, false, true), nul2))),
			want: Tags{Presenter: name},
		},
		{
			name: "v2.4 UTF-16 BE BOM",
			in:   testTag(4, 0, testFrame(4, "TPE1", 0, text(1, encodeUTF16(name, true, true)))),
			want: Tags{Presenter: name},
		},
		{
			name: "v2.4 UTF-16BE",
			in:   testTag(4, 0, testFrame(4, "TIT2", 0, text(2, encodeUTF16(name, true, false), nul2, nul2))),
			want: Tags{Title: name},
		},
		{
			name: "v2.4 UTF-8 multiple values",
			in:   testTag(4, 0, testFrame(4, "TPE1", 0, text(3, []byte("Ada\x00Grace\x00")))),
			want: Tags{Presenter: "Ada/Grace"},
		},
		{
			name: "v2.4 partial date and padding",
			in: testTag(4, 0,
				testFrame(4, "TDRC", 0, text(3, []byte("2024-05"))),
				testFrame(4, "TLEN", 0, text(0, []byte("61000"))),
				make([]byte, 50)),
			want: Tags{Date: time.Date(2024, 5, 1, 0, 0, 0, 0, time.Local), Length: 61 * time.Second},
		},
		{
			name: "v2.4 extended header, footer, data length indicator, unsync frame",
			in: func() []byte {
				ext := []byte{0, 0, 0, 6, 1, 0}
				frames := bytes.Join([][]byte{
					testFrame(4, "TIT2", 0x0001, append([]byte{0, 0, 0, 4}, text(3, []byte("abc"))...)),
					testFrame(4, "TPE1", 0x0002, text(0, []byte{'x', 0xff, 0x00, 'y'})),
				}, nil)
				tag := testTag(4, 0x40|0x10, ext, frames)
				foot := append([]byte("3DI"), tag[3:10]...)
				return append(tag, foot...)
			}(),
			want: Tags{Title: "abc", Presenter: "x\u00ffy"},
		},
		{
			name: "v2.4 non-synchsafe frame size (iTunes)",
			in:   testTag(4, 0, testFrame(3, "TIT2", 0, text(3, []byte(longTitle)))),
			want: Tags{Title: longTitle},
		},
		{
			name: "v2.3 plain frame size, TYER/TDAT/TIME, extended header",
			in: testTag(3, 0x40,
				[]byte{0, 0, 0, 6, 0, 0, 0, 0, 0, 0},
				testFrame(3, "TIT2", 0, text(0, []byte(longTitle))),
				testFrame(3, "TYER", 0, text(0, []byte("2023"))),
				testFrame(3, "TDAT", 0, text(0, []byte("3112"))),
				testFrame(3, "TIME", 0, text(0, []byte("2359"))),
				testFrame(3, "TLEN", 0, text(1, encodeUTF16("1234", false, true), nul2))),
			want: Tags{Title: longTitle, Date: time.Date(2023, 12, 31, 23, 59, 0, 0, time.Local), Length: 1234 * time.Millisecond},
		},
		{
			name: "COMM: plain description preferred over tool metadata",
			in: testTag(3, 0,
				testFrame(3, "COMM", 0, text(0, []byte("eng"), []byte("iTunNORM\x00 000001"))),
				testFrame(3, "COMM", 0, text(1, []byte("eng"), encodeUTF16("", false, true), nul2, encodeUTF16("hello", false, true)))),
			want: Tags{Comment: "hello"},
		},
		{
			name: "skips unknown and compressed frames",
			in: testTag(4, 0,
				testFrame(4, "APIC", 0, make([]byte, 5000)),
				testFrame(4, "TIT2", 0x0008, text(3, []byte("compressed"))),
				testFrame(4, "TPE1", 0, text(3, []byte("kept")))),
			want: Tags{Presenter: "kept"},
		},
		{
			name: "junk instead of padding ends the frames",
			in:   testTag(4, 0, testFrame(4, "TIT2", 0, text(3, []byte("ok"))), []byte("\x01junk junk junk")),
			want: Tags{Title: "ok"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := bytes.NewReader(append(tc.in, "trailing audio"...))
			got, n, err := Read(r)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if want := len(tc.in); n != want {
				t.Errorf("size = %d, want %d", n, want)
			}
			if rest, _ := io.ReadAll(r); string(rest) != "trailing audio" {
				t.Errorf("reader left at %q, want just after the tag", rest)
			}
			assertTags(t, got, tc.want)
		})
	}
}

func TestReadID3Errors(t *testing.T) {
	good := testTag(4, 0, testFrame(4, "TIT2", 0, []byte("\x03title")), make([]byte, 20))
	tests := []struct {
		name     string
		in       []byte
		noTag    bool // want ErrNoTag
		wantSize int  // size still reported alongside the error
	}{
		{name: "empty", in: nil, noTag: true},
		{name: "short", in: []byte("ID3\x04"), noTag: true},
		{name: "mp3 frame", in: []byte("\xff\xfb\x90\x64\x00\x00\x00\x00\x00\x00\x00"), noTag: true},
		{name: "non-synchsafe tag size", in: []byte("ID3\x04\x00\x00\x00\x00\x00\x80"), noTag: true},
		{name: "v2.2", in: []byte("ID3\x02\x00\x00\x00\x00\x00\x05xxxxx"), wantSize: 15},
		{name: "unsynchronisation", in: testTag(3, 0x80, make([]byte, 10)), wantSize: 20},
		{name: "cut short", in: good[:len(good)-5], wantSize: len(good)},
		{name: "cut inside frame", in: good[:14], wantSize: len(good)},
		{
			name:     "frame larger than tag",
			in:       testTag(4, 0, []byte("TIT2\x00\x00\x07\x68\x00\x00"), make([]byte, 10)),
			wantSize: 30,
		},
		{
			name:     "footer missing",
			in:       testTag(4, 0x10, make([]byte, 10)),
			wantSize: 30,
		},
		{name: "bad extended header", in: testTag(4, 0x40, []byte{0, 0, 0, 2}, make([]byte, 10)), wantSize: 24},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, n, err := Read(bytes.NewReader(tc.in))
			if tc.noTag {
				if !errors.Is(err, ErrNoTag) || n != 0 {
					t.Fatalf("got (%d, %v), want (0, ErrNoTag)", n, err)
				}
				return
			}
			if err == nil || errors.Is(err, ErrNoTag) {
				t.Fatalf("err = %v, want a parse error", err)
			}
			if n != tc.wantSize {
				t.Errorf("size = %d, want %d so callers can skip the tag", n, tc.wantSize)
			}
		})
	}
}

// TestReadID3HostileSizes checks that sizes in the input do not drive
// allocation: the header promises a 256 MiB tag and a 200 MiB title.
func TestReadID3HostileSizes(t *testing.T) {
	frame := []byte("TIT2")
	frame = appendSynchsafe(frame, 200<<20)
	frame = append(frame, 0, 0, 3, 'x')
	in := []byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f")
	in = append(in, frame...)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, n, err := Read(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("Read accepted a tag larger than its input")
	}
	if n != 10+(1<<28-1) {
		t.Errorf("size = %d", n)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
		t.Errorf("allocated %d bytes for a %d-byte input", alloc, len(in))
	}
}

func FuzzRead(f *testing.F) {
	for _, tags := range []Tags{
		{},
		{Title: "Weekly sync", Presenter: "Ada", Date: time.Date(2025, 1, 2, 3, 4, 5, 0, time.Local), Length: time.Hour, Comment: "c"},
		{Title: "Zoë Ångström — 講演"},
		{Title: "rg", ReplayGain: &ReplayGain{TrackGain: -1.5, TrackPeak: 0.9, Loudness: -16.5, Range: 5}},
		{Title: "ch", Length: time.Minute, Chapters: []Chapter{{Title: "Intro"}, {Start: 20 * time.Second}, {Start: 40 * time.Second, Title: "講演"}}},
	} {
		tag, err := Encode(tags, 256)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tag)
	}
	f.Add(testTag(3, 0x40, []byte{0, 0, 0, 6, 0, 0, 0, 0, 0, 0},
		testFrame(3, "TIT2", 0x0020, []byte("\x01\x01\xff\xfet\x00")),
		testFrame(3, "COMM", 0, []byte("\x00engd\x00text"))))
	f.Add(append(testTag(4, 0x10, testFrame(4, "TPE1", 0x0043, []byte("\x01\x00\x00\x00\x02\x02x"))), "3DI\x04\x00\x10\x00\x00\x00\x0b"...))
	f.Add([]byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7fTIT2\x7f\x7f\x7f\x7f\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tags, n, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if n > len(data) || n < headerLen {
			t.Fatalf("size %d for %d bytes of input", n, len(data))
		}
		for _, s := range []string{tags.Title, tags.Presenter, tags.Comment} {
			if !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %q", s)
			}
		}
		if len(tags.Chapters) > MaxChapters {
			t.Fatalf("%d chapters read, more than %d", len(tags.Chapters), MaxChapters)
		}
		for i, c := range tags.Chapters {
			if !utf8.ValidString(c.Title) || utf8.RuneCountInString(c.Title) > MaxChapterTitle {
				t.Fatalf("chapter title %q", c.Title)
			}
			if i > 0 && c.Start < tags.Chapters[i-1].Start {
				t.Fatalf("chapters out of order: %+v", tags.Chapters)
			}
		}
	})
}

// ReplayGain written by another tool (an ID3v2.3 tag, lower-case descriptions, a gain and
// peak only): the loudness is the reference less the gain; a gain that does not parse is none.
func TestReadID3ForeignReplayGain(t *testing.T) {
	txxx := func(desc, value string) []byte {
		return testFrame(3, "TXXX", 0, append(append([]byte{0}, desc+"\x00"...), value...))
	}
	for _, tc := range []struct {
		name   string
		frames [][]byte
		want   *ReplayGain
	}{
		{"gain and peak", [][]byte{txxx("replaygain_track_gain", "+2.50 dB"), txxx("replaygain_track_peak", "0.950000")},
			&ReplayGain{TrackGain: 2.5, TrackPeak: 0.95, Loudness: ReplayGainReference - 2.5}},
		{"peak only", [][]byte{txxx("REPLAYGAIN_TRACK_PEAK", "0.5")}, nil},
		{"gain not a number", [][]byte{txxx("REPLAYGAIN_TRACK_GAIN", "loud dB")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := Read(bytes.NewReader(testTag(3, 0, tc.frames...)))
			if err != nil {
				t.Fatal(err)
			}
			if (got.ReplayGain == nil) != (tc.want == nil) || got.ReplayGain != nil && *got.ReplayGain != *tc.want {
				t.Errorf("ReplayGain = %+v, want %+v", got.ReplayGain, tc.want)
			}
		})
	}
}
