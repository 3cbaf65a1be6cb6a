package testkit

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	in := `# HELP a_total A.
# TYPE a_total counter
a_total 3
b{stream="x y"} 1.5e+00
garbage
c NaNish
`
	got := ParseMetrics(strings.NewReader(in))
	want := map[string]float64{"a_total": 3, `b{stream="x y"}`: 1.5}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// The log is read while the program writes it (run with -race), lines are found in order,
// one line is returned once, and an exit ends the wait at once with the exit code kept.
func TestProc(t *testing.T) {
	Need(t, "sh")
	p := Start(t, nil, "sh", "-c", `for i in 1 2 3; do echo "line $i" >&2; done; printf 'progress 1\rprogress 2\n' >&2; sleep 0.2; echo done >&2; exit 3`)
	go func() {
		for i := 0; i < 100; i++ {
			_ = p.Log()
		}
	}()
	if l := p.WaitLine(t, "line 2", 5*time.Second); l != "line 2" {
		t.Fatalf("WaitLine = %q", l)
	}
	if m := p.Next(t, regexp.MustCompile(`^line (\d)`), 5*time.Second); m[1] != "3" {
		t.Fatalf("Next after line 2 = %v, want line 3", m)
	}
	p.WaitLine(t, "progress 2", 5*time.Second)
	if l := p.NextLine(t, regexp.MustCompile(`^(progress|done)`), 5*time.Second); l.Text != "done" || l.At.IsZero() {
		t.Fatalf("NextLine after progress 2 = %+v, want done with its time", l)
	}
	if code := p.Wait(t, 5*time.Second); code != 3 {
		t.Fatalf("exit code %d, want 3", code)
	}
	if n := p.Skip(); n != 6 || len(p.From(n)) != 0 {
		t.Fatalf("Skip after the exit = %d (%d lines after it), want 6 and none", n, len(p.From(n)))
	}
	if _, _, err := p.nextMatch(regexp.MustCompile("never"), time.Minute); err == nil || !strings.Contains(err.Error(), "exited") {
		t.Fatalf("waiting past the exit: %v", err)
	}
	if !strings.Contains(p.Log(), "done") {
		t.Fatalf("log lost the last line:\n%s", p.Log())
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, time.Second, "three polls", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("polled %d times", n)
	}
}
