//go:build linux

package faults

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"podium/scripts/testkit/audiotest"
)

// TestFuzzTargetsBriefly runs every fuzz target of the module (the parsers of outside input)
// for a few seconds each, so make test exercises them all. It is the one fuzz harness: make
// fuzz runs it with PODIUM_FUZZTIME=30s (the time per target; default 4s).
func TestFuzzTargetsBriefly(t *testing.T) {
	if testing.Short() {
		t.Skip("fuzzing is not short")
	}
	per := 4 * time.Second
	if v := os.Getenv("PODIUM_FUZZTIME"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("PODIUM_FUZZTIME=%q: %v", v, err)
		}
		per = d
	}
	root := audiotest.Root()
	// Find the targets in the test sources: no test binary needs building for the list.
	list := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{.Dir}}|{{join .TestGoFiles ","}},{{join .XTestGoFiles ","}}`, "./...")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	fuzzFunc := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(\w+ \*testing\.F\)`)
	type target struct{ pkg, name string }
	var targets []target
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 3)
		if len(parts) != 3 {
			continue
		}
		for _, f := range strings.Split(parts[2], ",") {
			if f == "" {
				continue
			}
			src, err := os.ReadFile(filepath.Join(parts[1], f))
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range fuzzFunc.FindAllSubmatch(src, -1) {
				targets = append(targets, target{parts[0], string(m[1])})
			}
		}
	}
	if len(targets) == 0 {
		t.Fatal("no fuzz targets found")
	}
	// go test minimises every new interesting input for up to a minute by default, during
	// which nothing new is tried: a brief run would spend its whole time minimising.
	minimize := max(per/10, time.Second)
	began := time.Now()
	fuzz := func(tg target) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), per+5*time.Minute) // a cold build is slow
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "test", "-run", "^$", "-fuzz", "^"+tg.name+"$", "-fuzztime", per.String(),
			"-fuzzminimizetime", minimize.String(), tg.pkg)
		cmd.Dir = root
		return cmd.CombinedOutput()
	}
	for _, tg := range targets {
		t0 := time.Now()
		out, err := fuzz(tg)
		// go test -fuzz sometimes ends a short run with a bare "context deadline exceeded"
		// and no failing input (the fuzz time ran out mid-step): that is not a finding, so it
		// gets one more run. A real failure writes its input under testdata/fuzz.
		if err != nil && strings.Contains(string(out), "context deadline exceeded") && !strings.Contains(string(out), "Failing input written") {
			t.Logf("%s %s: fuzz time ran out mid-step; running it once more", tg.pkg, tg.name)
			out, err = fuzz(tg)
		}
		if err != nil {
			t.Errorf("%s %s: %v\n%s", tg.pkg, tg.name, err, out)
			continue
		}
		t.Logf("%s %s: %v fuzzing, %v with the build", tg.pkg, tg.name, per, time.Since(t0).Round(100*time.Millisecond))
	}
	scenario(t, "ran all %d fuzz targets for %v each: no failure in %v", len(targets), per, time.Since(began).Round(time.Second))
}
