// Package testkit is the one kit every test in Podium shares: waiting for a condition,
// running a binary whose output is safe to read while it runs, free ports, required tools
// and Prometheus text. Sound-specific helpers (speech, the virtual microphone, decoding and
// correlating audio) live beside it in podium/audio/audiotest.
package testkit

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"
)

// WaitFor polls cond every 10 ms until it holds, and fails the test after d.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Tail is the last n bytes of s, for logs in failure messages.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("…%s", s[len(s)-n:])
}
