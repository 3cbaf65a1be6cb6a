// Package testkit is the one kit every test in Podium shares: waiting for a condition,
// running a binary whose output is safe to read while it runs, free ports, serving a handler,
// a process's memory, a WebRTC offer and Prometheus text. Sound-specific helpers (speech, the
// virtual microphone, decoding and correlating audio, ffprobe's tags) live in
// podium/audio/audiotest, and the helpers both stand on (a required tool, the end of a log)
// in podium/internal/testbase, so the bottom floor never imports this kit.
package testkit

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
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

// Serve serves h on a free loopback port until the test ends and returns its base URL
// (http://127.0.0.1:PORT). Unlike httptest.Server, the end does not wait for requests still
// in flight, such as those of a client the test has cut off.
func Serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("serve: %v", err)
	}
	hs := &http.Server{Handler: h}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	return "http://" + ln.Addr().String()
}

// RSS is the resident memory of process pid in bytes (VmRSS in /proc/PID/status).
func RSS(pid int) (int64, error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	status, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: VmRSS %q: %w", path, f[1], err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS", path)
}

// Build builds the module's packages, named by import path ("podium/cmd/podium"), the
// binaries under test: out is the binary's path for one package, or a folder ending in "/"
// for several. It works from any folder of the module, so TestMain can call it too.
func Build(out string, pkgs ...string) error {
	cmd := exec.Command("go", append([]string{"build", "-o", out}, pkgs...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, b)
	}
	return nil
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

// Tail is the last n bytes of s, for logs in failure messages.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("…%s", s[len(s)-n:])
}
