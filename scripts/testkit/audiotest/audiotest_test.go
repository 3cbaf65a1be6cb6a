package audiotest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// verdict records what MatchCaptured said instead of failing the test that asks.
type verdict struct {
	testing.TB
	errors, logs []string
}

func (v *verdict) Helper()                      {}
func (v *verdict) Errorf(f string, args ...any) { v.errors = append(v.errors, fmt.Sprintf(f, args...)) }
func (v *verdict) Logf(f string, args ...any)   { v.logs = append(v.logs, fmt.Sprintf(f, args...)) }
func (v *verdict) String() string               { return fmt.Sprintf("errors %q, logs %q", v.errors, v.logs) }
func silence(n int) []int16                     { return make([]int16, n) }
func join(parts ...[]int16) []int16             { return slices.Concat(parts...) }
func cut(p []int16, from, to int) []int16       { return join(p[:from], p[to:]) }
func noise(p []int16, scale int16) (out []int16) { // a recording made of something else
	out = make([]int16, len(p))
	x := uint32(1)
	for i := range out {
		x = x*1664525 + 1013904223
		out[i] = int16(x>>16) / scale
	}
	return out
}

// A capture the player shifted later in the middle passes, and says so; one that lost audio,
// or holds something else, fails.
func TestMatchCaptured(t *testing.T) {
	speech := ReadWAV(t, Speech(t, false))
	mid := 12 * 48000
	const lead = 4800 // the 100 ms the capture runs before the speech starts
	cases := []struct {
		name     string
		captured []int16
		pass     bool
		said     string // the start of a line logged (passing) or an error (failing)
	}{
		{"whole", join(silence(lead), speech, silence(lead)), true, ""},
		{"player ran dry 150 ms", join(silence(lead), speech[:mid], silence(7200), speech[mid:]), true, "the player ran dry"},
		{"150 ms lost", join(silence(lead), cut(speech, mid, mid+7200), silence(7200)), false, "the speech from 12.0 s"}, // its stretch no longer matches
		{"something else", noise(join(silence(lead), speech), 8), false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := &verdict{TB: t}
			lag := MatchCaptured(v, speech, c.captured, 0.95)
			if pass := len(v.errors) == 0; pass != c.pass {
				t.Errorf("passed %v, want %v: %s", pass, c.pass, v)
			}
			if c.pass && lag != lead {
				t.Errorf("lag %d, want %d", lag, lead)
			}
			said := v.logs
			if !c.pass {
				said = v.errors
			}
			if c.said != "" && !slices.ContainsFunc(said, func(l string) bool { return strings.HasPrefix(l, c.said) }) {
				t.Errorf("nothing said starting %q: %s", c.said, v)
			}
		})
	}
}
