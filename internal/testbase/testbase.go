// Package testbase holds the test helpers that depend on nothing of Podium's, so packages at
// the bottom (podium/audio/audiotest) and the test kit above them (podium/scripts/testkit)
// share one copy: a required tool, the end of a log.
package testbase

import (
	"fmt"
	"os/exec"
	"testing"
)

// Need fails the test when a tool is missing: make test installs every tool a test uses, so a
// missing one is a broken set-up, never a reason to skip.
func Need(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make test installs it: scripts/deps.sh test)", tool)
		}
	}
}

// Tail is the last n bytes of s, for logs in failure messages.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("…%s", s[len(s)-n:])
}
