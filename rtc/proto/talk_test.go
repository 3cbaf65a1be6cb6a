package proto

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// What Pion's CreateOffer gives, shortened.
const pionOffer = "v=0\r\no=- 123 456 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\ni=media info\r\na=mid:0\r\n"

func TestWithTalk(t *testing.T) {
	huge := strings.Repeat("é", 100<<10)
	for _, tc := range []struct {
		name, title, presenter string
		wantS, wantI           string // the lines; wantI "" means no i= line
	}{
		{"none: what browsers send", "", "", "s=-", ""},
		{"both", "Distributed systems, lecture 4", "Dr. Kim", "s=Distributed systems, lecture 4", "i=Dr. Kim"},
		{"presenter only", "", "Dr. Kim", "s=-", "i=Dr. Kim"},
		{"CR LF cannot add lines", "Talk\r\na=inject:1\r\nm=video 9 RTP/AVP 0", "Kim\nc=IN IP4 6.6.6.6",
			"s=Talka=inject:1m=video 9 RTP/AVP 0", "i=Kimc=IN IP4 6.6.6.6"},
		{"control characters and DEL go, spaces are trimmed", " \x00T\x01i\x1ft\x7fle\t ", "\x1b[31mKim ", "s=Title", "i=[31mKim"},
		{"markup and quotes stay text", `<script>alert("x")</script> & 'q'`, `Zoë "Z" Ångström`, `s=<script>alert("x")</script> & 'q'`, `i=Zoë "Z" Ångström`},
		{"100 KB is cut at a rune boundary", huge, huge, "s=" + strings.Repeat("é", MaxTitleRunes), "i=" + strings.Repeat("é", MaxPresenterRunes)},
		{"only spaces is none", "   ", " \r\n ", "s=-", ""},
		{"invalid UTF-8", "a\xffb", "", "s=a\uFFFDb", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := WithTalk(pionOffer, tc.title, tc.presenter)
			lines := strings.Split(strings.TrimSuffix(got, "\r\n"), "\r\n")
			want := []string{"v=0", "o=- 123 456 IN IP4 0.0.0.0", tc.wantS}
			if tc.wantI != "" {
				want = append(want, tc.wantI)
			}
			want = append(want, "t=0 0", "a=group:BUNDLE 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "i=media info", "a=mid:0")
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("offer\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
			}
			if strings.Count(got, "\n") != strings.Count(got, "\r\n") || !strings.HasSuffix(got, "\r\n") {
				t.Errorf("a bare LF or a missing CRLF in %q", got)
			}
			title, presenter := Talk(got)
			if wantTitle := strings.TrimPrefix(tc.wantS, "s="); title != wantTitle && !(wantTitle == "-" && title == "") {
				t.Errorf("Talk title %q, want %q", title, wantTitle)
			}
			if presenter != strings.TrimPrefix(tc.wantI, "i=") {
				t.Errorf("Talk presenter %q, want %q", presenter, tc.wantI)
			}
		})
	}
}

// Talk, as a server reads an offer it did not make: the session's lines only, cleaned and cut.
func TestTalk(t *testing.T) {
	for _, tc := range []struct {
		name, sdp, title, presenter string
	}{
		{"pion", pionOffer, "", ""},
		{"first s= wins, media i= is not the presenter", "v=0\ns=One\ns=Two\nm=audio 9 RTP/AVP 0\ni=media\n", "One", ""},
		{"a long one is cut", "v=0\r\ns=" + strings.Repeat("x", 300) + "\r\ni=" + strings.Repeat("y", 300) + "\r\n", strings.Repeat("x", MaxTitleRunes), strings.Repeat("y", MaxPresenterRunes)},
		{"no lines", "", "", ""},
	} {
		title, presenter := Talk(tc.sdp)
		if title != tc.title || presenter != tc.presenter {
			t.Errorf("%s: Talk = %q, %q; want %q, %q", tc.name, title, presenter, tc.title, tc.presenter)
		}
	}
}

func TestExtensionLink(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{nil, ""},
		{[]string{`<stun:stun.example.net>; rel="ice-server"`}, ""},
		{[]string{`<stun:s>; rel="ice-server", </whip/x/s1/chapters>; rel="urn:podium:whip:chapters"`}, "/whip/x/s1/chapters"},
		{[]string{`<https://a/c>; rel="other URN:PODIUM:WHIP:CHAPTERS"`}, "https://a/c"},
	} {
		if got := ExtensionLink(tc.values, RelChapters); got != tc.want {
			t.Errorf("ExtensionLink(%q) = %q, want %q", tc.values, got, tc.want)
		}
	}
}

func FuzzCleanText(f *testing.F) {
	f.Add("Talk\r\nx", 200)
	f.Add("\xff\x00é", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%300 + 1
		if n < 1 {
			n = -n + 1
		}
		c := CleanText(s, n)
		if !utf8.ValidString(c) || utf8.RuneCountInString(c) > n || strings.ContainsAny(c, "\r\n\x00\x7f") {
			t.Fatalf("CleanText(%q, %d) = %q", s, n, c)
		}
		if out := WithTalk(pionOffer, s, s); strings.Count(out, "\r\n") > strings.Count(pionOffer, "\r\n")+1 {
			t.Fatalf("WithTalk(%q) added lines:\n%s", s, out)
		}
	})
}
