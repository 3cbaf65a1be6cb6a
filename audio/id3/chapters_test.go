package id3

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestChaptersRoundTrip(t *testing.T) {
	s := time.Second
	huge := strings.Repeat("Lecture ", 100<<10/8) // 100 KB
	tests := []struct {
		name   string
		tags   Tags
		size   int // 0: 1024 + ChaptersSize
		want   []Chapter
		wantTi string // the talk's title read back; "" means tags.Title
	}{
		{
			name: "ends follow the next start, the last ends at the length",
			tags: Tags{Title: "Talk", Length: 60 * s, Chapters: []Chapter{{Start: 0, Title: "Intro"}, {Start: 12345 * time.Millisecond, Title: "Body"}, {Start: 50 * s}}},
			want: []Chapter{{0, 12345 * time.Millisecond, "Intro"}, {12345 * time.Millisecond, 50 * s, "Body"}, {50 * s, 60 * s, ""}},
		},
		{
			name: "unicode, quotes and markup are kept as text",
			tags: Tags{Length: 9 * s, Chapters: []Chapter{{Start: s, Title: "Zoë Ångström — 講演 💬"}, {Start: 2 * s, Title: `<script>alert("x")</script> & 'q'`}}},
			want: []Chapter{{s, 2 * s, "Zoë Ångström — 講演 💬"}, {2 * s, 9 * s, `<script>alert("x")</script> & 'q'`}},
		},
		{
			name: "marked out of order come back in order",
			tags: Tags{Length: 5 * s, Chapters: []Chapter{{Start: 3 * s, Title: "b"}, {Start: s, Title: "a"}}},
			want: []Chapter{{s, 3 * s, "a"}, {3 * s, 5 * s, "b"}},
		},
		{
			name: "a 100 KB chapter title and talk title are cut, never stored whole",
			tags: Tags{Title: huge, Length: 2 * s, Chapters: []Chapter{{Start: s, Title: huge}}},
			want: []Chapter{{s, 2 * s, huge[:MaxChapterTitle]}},
			// 1024 - 10 header - 17 TSSE - 15 TLEN - 11 TIT2 header = 971 bytes of title.
			wantTi: huge[:971],
		},
		{
			name: "NUL and invalid UTF-8 are cleaned",
			tags: Tags{Length: 2 * s, Chapters: []Chapter{{Start: 0, Title: "a\x00b\xffc"}}},
			want: []Chapter{{0, 2 * s, "ab\uFFFDc"}},
		},
		{
			name: "a tag too small for the titles keeps the chapters untitled",
			// 120 body - 17 TSSE - 15 TLEN = 88: two untitled CHAPs (31 each) and the CTOC (26).
			tags: Tags{Length: 3 * s, Chapters: []Chapter{{Start: 0, Title: strings.Repeat("x", 150)}, {Start: s, Title: "y"}}},
			size: 130,
			want: []Chapter{{0, s, ""}, {s, 3 * s, ""}},
		},
		{
			name: "a tag too small for the titles cuts the longest first",
			tags: Tags{Length: 3 * s, Chapters: []Chapter{{Start: 0, Title: "Intro"}, {Start: s, Title: strings.Repeat("x", 900)}}},
			size: 300,
			// 290 body - 17 TSSE - 15 TLEN - 88 for two untitled chapters = 170 for titles:
			// "Intro" takes 16, the other 11 + 143 (of the 200 kept of 900).
			want: []Chapter{{0, s, "Intro"}, {s, 3 * s, strings.Repeat("x", 143)}},
		},
		{
			name: "a tag too small for all chapters keeps the first",
			tags: Tags{Length: 9 * s, Chapters: slices.Repeat([]Chapter{{Start: s}}, 10)},
			size: 130, // as above: two fit
			want: []Chapter{{s, s, ""}, {s, 9 * s, ""}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if size == 0 {
				size = 1024 + ChaptersSize(tc.tags.Chapters)
			}
			tag, err := Encode(tc.tags, size)
			if err != nil {
				t.Fatal(err)
			}
			if len(tag) != size {
				t.Fatalf("tag is %d bytes, want %d", len(tag), size)
			}
			got, n, err := Read(bytes.NewReader(append(tag, 0xff, 0xfb, 0x90, 0x64)))
			if err != nil || n != size {
				t.Fatalf("Read: %d bytes, %v", n, err)
			}
			if !slices.Equal(got.Chapters, tc.want) {
				t.Errorf("chapters\n got %+v\nwant %+v", got.Chapters, tc.want)
			}
			wantTi := tc.wantTi
			if wantTi == "" && len(tc.tags.Title) < 1000 {
				wantTi = tc.tags.Title
			}
			if got.Title != wantTi {
				t.Errorf("title %d bytes %.40q, want %d bytes", len(got.Title), got.Title, len(wantTi))
			}
		})
	}
}

// Many chapters: more than one CTOC can list nest under the top one; more than MaxChapters
// keep the first MaxChapters; ChaptersSize is exactly the room they take.
func TestChaptersMany(t *testing.T) {
	for _, n := range []int{1, 255, 256, 600, MaxChapters, MaxChapters + 5} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			var ch []Chapter
			for i := range n {
				ch = append(ch, Chapter{Start: time.Duration(i) * time.Second, Title: fmt.Sprintf("Chapter %d", i+1)})
			}
			length := time.Duration(n) * time.Second
			tags := Tags{Title: "many", Length: length, Chapters: ch}
			tag, err := Encode(tags, MinSize+ChaptersSize(ch))
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := Read(bytes.NewReader(tag))
			if err != nil {
				t.Fatal(err)
			}
			want := min(n, MaxChapters)
			if len(got.Chapters) != want {
				t.Fatalf("%d chapters read, want %d", len(got.Chapters), want)
			}
			for i, c := range got.Chapters {
				if c.Title != ch[i].Title || c.Start != ch[i].Start {
					t.Fatalf("chapter %d = %+v, want %+v", i, c, ch[i])
				}
			}
			if got.Title != "many" {
				t.Errorf("title %q: the room ChaptersSize gave was not enough", got.Title)
			}
			tocs := bytes.Count(tag, []byte("CTOC"))
			if wantTOCs := 1 + (want+254)/255; want <= 255 && tocs != 1 || want > 255 && tocs != wantTOCs {
				t.Errorf("%d CTOC frames for %d chapters", tocs, want)
			}
		})
	}
}

// TestChaptersLayout pins the bytes of the Chapter Frame Addendum that other readers depend on.
func TestChaptersLayout(t *testing.T) {
	tag, err := Encode(Tags{Length: 3 * time.Second, Chapters: []Chapter{{Start: 0, Title: "A"}, {Start: 1500 * time.Millisecond}}}, 256)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("TLEN\x00\x00\x00\x05\x00\x00\x033000" +
		"CHAP\x00\x00\x00\x21\x00\x00chp0\x00\x00\x00\x00\x00\x00\x00\x05\xdc\xff\xff\xff\xff\xff\xff\xff\xff" +
		"TIT2\x00\x00\x00\x02\x00\x00\x03A" +
		"CHAP\x00\x00\x00\x15\x00\x00chp1\x00\x00\x00\x05\xdc\x00\x00\x0b\xb8\xff\xff\xff\xff\xff\xff\xff\xff" +
		"CTOC\x00\x00\x00\x10\x00\x00toc\x00\x03\x02chp0\x00chp1\x00")
	if !bytes.Contains(tag, want) {
		t.Errorf("tag\n%q\ndoes not contain\n%q", tag, want)
	}
}

// Chapters another tool wrote: ID3v2.3 plain sub-frame sizes, a UTF-16 title, a TIT3 beside
// it, no CTOC, times out of order.
func TestReadForeignChapters(t *testing.T) {
	chap := func(id string, start, end uint32, sub ...[]byte) []byte {
		b := append([]byte(id), 0)
		b = binary.BigEndian.AppendUint32(b, start)
		b = binary.BigEndian.AppendUint32(b, end)
		b = append(b, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0)
		return testFrame(3, "CHAP", 0, append(b, bytes.Join(sub, nil)...))
	}
	title := "Ça va — ок"
	tag := testTag(3, 0,
		chap("ch2", 9000, 12000, testFrame(3, "TIT2", 0, append([]byte{1}, encodeUTF16(title, false, true)...))),
		chap("ch1", 0, 9000, testFrame(3, "TIT3", 0, []byte("\x00sub")), testFrame(3, "TIT2", 0, []byte("\x00First"))),
		chap("broken", 1, 2)[:14], // cut short: its frame size claims more than the tag holds
	)
	got, _, err := Read(bytes.NewReader(tag))
	if err == nil {
		t.Fatalf("a frame past the tag's end was accepted: %+v", got)
	}
	tag = testTag(3, 0,
		chap("ch2", 9000, 12000, testFrame(3, "TIT2", 0, append([]byte{1}, encodeUTF16(title, false, true)...))),
		chap("ch1", 0, 9000, testFrame(3, "TIT3", 0, []byte("\x00sub")), testFrame(3, "TIT2", 0, []byte("\x00First"))),
		testFrame(3, "CHAP", 0, []byte("short\x00\x00\x00")), // too short for the times: skipped
	)
	got, _, err = Read(bytes.NewReader(tag))
	if err != nil {
		t.Fatal(err)
	}
	want := []Chapter{{0, 9 * time.Second, "First"}, {9 * time.Second, 12 * time.Second, title}}
	if !slices.Equal(got.Chapters, want) {
		t.Errorf("got %+v\nwant %+v", got.Chapters, want)
	}
}

func TestChapterTitleCutOnRunes(t *testing.T) {
	tag, err := Encode(Tags{Chapters: []Chapter{{Title: strings.Repeat("講", 300)}}}, 2048)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(bytes.NewReader(tag))
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Chapters[0].Title; c != strings.Repeat("講", MaxChapterTitle) || !utf8.ValidString(c) {
		t.Errorf("title %d runes", utf8.RuneCountInString(c))
	}
}

// However many chapters, the talk keeps its title, presenter and comment (up to textFloor).
func TestChaptersLeaveTheTitle(t *testing.T) {
	ch := slices.Repeat([]Chapter{{Start: time.Second, Title: "chapter"}}, MaxChapters)
	in := Tags{Title: "The talk", Presenter: "Dr. Kim", Comment: "c", Length: time.Hour, Chapters: ch}
	tag, err := Encode(in, 1024)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Read(bytes.NewReader(tag))
	if err != nil {
		t.Fatal(err)
	}
	if got.Title != in.Title || got.Presenter != in.Presenter || got.Comment != in.Comment {
		t.Errorf("got %q %q %q", got.Title, got.Presenter, got.Comment)
	}
	if len(got.Chapters) == 0 || len(got.Chapters) >= MaxChapters {
		t.Errorf("%d chapters kept in 1024 bytes", len(got.Chapters))
	}
}

func TestRewrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.mp3")
	tag, err := Encode(Tags{Title: "old", Chapters: []Chapter{{Title: "a"}, {Start: time.Second, Title: "b"}}}, 1024)
	if err != nil {
		t.Fatal(err)
	}
	audio := []byte{0xff, 0xfb, 0x90, 0x64, 1, 2, 3}
	if err := os.WriteFile(path, append(tag, audio...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Rewrite(path, func(t *Tags) { t.Chapters[1].Title = "renamed" }); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data[1024:], audio) {
		t.Errorf("the audio changed")
	}
	got, _, err := Read(bytes.NewReader(data))
	if err != nil || got.Title != "old" || len(got.Chapters) != 2 || got.Chapters[1].Title != "renamed" || got.Chapters[0].Title != "a" {
		t.Errorf("got %+v, %v", got, err)
	}
	os.WriteFile(path, audio, 0o644)
	if err := Rewrite(path, func(*Tags) {}); !errors.Is(err, ErrNoTag) {
		t.Errorf("no tag: %v", err)
	}
}
