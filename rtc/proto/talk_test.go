package proto

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCleanText(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"  Lecture 4\r\n", 200, "Lecture 4"},
		{"a\x00b\x1fc\x7fd\u0085e\tf", 200, "abcdef"},
		{"\xff\xfeok", 200, "ok"},
		{`<img src=x onerror=alert(1)>"'&`, 200, `<img src=x onerror=alert(1)>"'&`},
		{"ééééé", 3, "ééé"},
		{"日本語のタイトル", 4, "日本語の"},
		{"ab   cd", 3, "ab"},
	} {
		got := CleanText(c.in, c.max)
		if got != c.want || !utf8.ValidString(got) {
			t.Errorf("CleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
	if got := CleanText(strings.Repeat("€", 100<<10), MaxTitleRunes); utf8.RuneCountInString(got) != MaxTitleRunes {
		t.Errorf("a 300 KB title kept %d runes", utf8.RuneCountInString(got))
	}
	if TalkLine(" - ", MaxTitleRunes) != "" || TalkLine("-x", MaxTitleRunes) != "-x" {
		t.Error(`TalkLine: "-" is no title, "-x" is one`)
	}
}
