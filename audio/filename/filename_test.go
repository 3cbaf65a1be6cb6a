package filename

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Each title becomes the name Windows would keep as it is, and that name passes Check.
func TestSafe(t *testing.T) {
	long := strings.Repeat("é", 150) // 300 bytes: cut at a character boundary
	for _, c := range []struct{ title, want string }{
		{"Sunday sermon", "Sunday sermon"},
		{"Podium 2026-12-07 10-00-00", "Podium 2026-12-07 10-00-00"},
		{"Q&A: what next?", "Q&A_ what next_"},
		{`a<b>c:d"e/f\g|h?i*j`, "a_b_c_d_e_f_g_h_i_j"},
		{"tab\there\nnewline\x00nul\x7fdel", "tab_here_newline_nul_del"},
		{"ends with a dot.", "ends with a dot"},
		{"ends with dots and spaces. . .", "ends with dots and spaces"},
		{"  padded  ", "padded"},
		{"CON", "CON_"},
		{"con", "con_"},
		{"Nul.mp3", "Nul_.mp3"},
		{"CON .txt", "CON_ .txt"},
		{"aux.", "aux_"},
		{"COM1", "COM1_"},
		{"com9.x.y", "com9_.x.y"},
		{"LPT0", "LPT0_"},
		{"LPT¹", "LPT¹_"},
		{"CONOUT$", "CONOUT$_"},
		{"COM10", "COM10"},     // not a device
		{"CONSOLE", "CONSOLE"}, // not a device
		{"PRN talk", "PRN talk"},
		{"AUX 2026-12-07 10-00-00", "AUX 2026-12-07 10-00-00"}, // the stem is the whole of it
		{"bad \xff utf8", "bad _ utf8"},
		{"Mañana — 講演", "Mañana — 講演"},
		{long, strings.Repeat("é", 100)},
		{"", ""},
		{"...", ""},
		{" . ", ""},
		{"..", ""},
		{"???", "___"},
	} {
		got := Safe(c.title)
		if got != c.want {
			t.Errorf("Safe(%q) = %q, want %q", c.title, got, c.want)
		}
		if got != "" {
			if err := Check(got); err != nil {
				t.Errorf("Check(Safe(%q) = %q): %v", c.title, got, err)
			}
		}
	}
}

// Check refuses each kind of name Windows refuses, saying which rule it broke.
func TestCheck(t *testing.T) {
	for _, c := range []struct{ name, says string }{
		{"", "needed"},
		{".", "not a name"},
		{"..", "not a name"},
		{"a:b", `':'`},
		{"a*", `'*'`},
		{"a/b", `'/'`},
		{`a\b`, `'\\'`},
		{"a\x01b", "U+0001"},
		{"a\nb", "U+000A"},
		{"x\xffy", "UTF-8"},
		{"talk.", "end in a dot"},
		{"talk ", "end in a dot or a space"},
		{"CON", "Windows device (CON)"},
		{"con.mp3", "Windows device (CON)"},
		{"Com3", "COM3"},
		{"lpt9.tar.gz", "LPT9"},
		{"nul ", "end in"},
		{"PRN", "PRN"},
		{"AUX", "AUX"},
		{"NUL", "NUL"},
		{"COM²", "COM²"},
	} {
		err := Check(c.name)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Check(%q) = %v, want an error saying %q", c.name, err, c.says)
		}
	}
	for _, ok := range []string{"live", "talk 2026-12-07 10-00-00.mp3", "COM10", "CONSOLE.mp3", "LPT", "a.b.c", ".hidden", "講演"} {
		if err := Check(ok); err != nil {
			t.Errorf("Check(%q) = %v, want nil", ok, err)
		}
	}
}

// Whatever the title, Safe gives "" or a name Check accepts, no longer than MaxBytes, that
// Safe keeps as it is; a name Check accepts is kept as it is (if short and unpadded).
func FuzzSafe(f *testing.F) {
	for _, s := range []string{"talk", "CON", "nul.mp3", "a:b", "x. ", " \x00", "LPT¹", strings.Repeat("講", 80), "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, title string) {
		got := Safe(title)
		if got == "" {
			return
		}
		if err := Check(got); err != nil {
			t.Fatalf("Check(Safe(%q) = %q): %v", title, got, err)
		}
		if len(got) > MaxBytes || !utf8.ValidString(got) {
			t.Fatalf("Safe(%q) = %q: %d bytes", title, got, len(got))
		}
		if again := Safe(got); again != got {
			t.Fatalf("Safe(Safe(%q)) = %q, not %q", title, again, got)
		}
		if Check(title) == nil && len(title) <= MaxBytes && !strings.HasPrefix(title, " ") && got != title {
			t.Fatalf("Safe(%q) = %q: changed a name Check accepts", title, got)
		}
	})
}
