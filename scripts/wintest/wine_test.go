// Package wintest runs the Windows build of Podium under Wine, driven from this Linux host
// through scripts/wine.sh, against the same references as the Linux tests: the speech fixture,
// the PulseAudio virtual microphone, a Linux podium-server, the window on Xvfb.
//
// This file holds what every Wine test shares: the prefix, starting podium.exe or
// podium-server.exe (and ending every Wine process a test started), Windows paths, the
// window's settings inside the prefix.
package wintest

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// prefix is a Wine prefix (its folder). The tests share one, the one scripts/wine.sh uses:
// a fresh prefix costs wineboot 8–20 s and 690 MB, so each test points podium at its own
// folders instead. Tests that end every program of a prefix (the end of the session) or need
// a clean machine (the installer) have their own.
type prefix string

// shared is the prefix scripts/wine.sh uses (WINEPREFIX, or $PODIUM_CACHE/wine, or
// ~/.cache/podium/wine).
var shared prefix

func TestMain(m *testing.M) {
	if err := setUp(); err != nil {
		fmt.Fprintln(os.Stderr, "wintest:", err)
		os.Exit(1)
	}
	code := m.Run()
	shared.kill()
	os.Exit(code)
}

// cached is the prefix called name in Podium's cache, beside the Windows C libraries.
func cached(name string) (prefix, error) {
	cache := os.Getenv("PODIUM_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		cache = filepath.Join(home, ".cache", "podium")
	}
	return prefix(filepath.Join(cache, name)), nil
}

// setUp finds the shared prefix and has wine.sh make it (the first time) and build the Wine
// test build, once, before any test's clock runs: later calls find both ready (wine.sh's
// build is then a Go no-op of under a second).
func setUp() error {
	shared = prefix(os.Getenv("WINEPREFIX"))
	if shared == "" {
		var err error
		if shared, err = cached("wine"); err != nil {
			return err
		}
	}
	for _, tool := range []string{"wine", "wineserver", "x86_64-w64-mingw32-gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is missing: bash scripts/deps.sh test installs it (make test does)", tool)
		}
	}
	if os.Getenv("DISPLAY") == "" {
		return fmt.Errorf("no X display: Wine needs one; run `source scripts/xvfb.sh start` first (make test does)")
	}
	start := time.Now()
	out, err := shared.cmd("podium", "help").CombinedOutput()
	shared.kill()
	if err != nil {
		return fmt.Errorf("scripts/wine.sh podium help: %v\n%s", err, out)
	}
	fmt.Fprintf(os.Stderr, "wintest: Wine prefix %s and the Wine test build ready in %v\n", shared, time.Since(start).Round(100*time.Millisecond))
	return nil
}

// env is this process's environment for Wine in the prefix, in English.
func (w prefix) env() []string {
	return append(os.Environ(), "WINEPREFIX="+string(w), "WINEDEBUG=-all", "LANG=en_US.UTF-8")
}

// cmd is scripts/wine.sh prog args… in the prefix (which wine.sh makes the first time).
func (w prefix) cmd(prog string, args ...string) *exec.Cmd {
	root := audiotest.Root()
	cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "wine.sh"), prog}, args...)...)
	cmd.Dir, cmd.Env = root, w.env()
	return cmd
}

// kill ends every Wine process of the prefix (the program, and wineserver with the services
// it started), so nothing of one test runs on into the next.
func (w prefix) kill() {
	// -k returns once the kill is sent; -w waits until wineserver is gone.
	for _, arg := range []string{"-k", "-w"} {
		cmd := exec.Command("wineserver", arg)
		cmd.Env = w.env()
		_ = cmd.Run()
	}
}

// start starts prog (podium, podium-cli or podium-server) under Wine. wine.sh execs wine,
// and Wine runs the .exe in that same Unix process: the Proc's pid is podium.exe's, which a
// kill -9 ends as it would a crash. Every Wine process of the prefix is ended when the test
// ends.
func (w prefix) start(t *testing.T, prog string, args ...string) *testkit.Proc {
	t.Helper()
	t.Cleanup(w.kill) // registered first, so it runs after the Proc's own cleanup
	return testkit.StartCmd(t, w.cmd(prog, args...))
}

// run runs prog under Wine to its end (at most d) and returns its output and exit code.
func (w prefix) run(t *testing.T, d time.Duration, prog string, args ...string) (string, int) {
	t.Helper()
	p := w.start(t, prog, args...)
	code := p.Wait(t, d)
	return p.Log(), code
}

// winPath is how a program under Wine names a Linux path: Wine's Z: drive is /.
func winPath(p string) string {
	return `Z:` + strings.ReplaceAll(filepath.Clean(p), "/", `\`)
}

// home is the Windows user's folder in the prefix (C:\users\<name>).
func (w prefix) home(t *testing.T) string {
	t.Helper()
	users, _ := filepath.Glob(filepath.Join(string(w), "drive_c", "users", "*"))
	users = slices.DeleteFunc(users, func(u string) bool { return filepath.Base(u) == "Public" })
	if len(users) != 1 {
		t.Fatalf("want one user in the Wine prefix %s (scripts/wine.sh makes it), found %v", w, users)
	}
	return users[0]
}

// setPrefs writes the window's stored settings (Fyne keeps them in
// %APPDATA%\fyne\<app id>\preferences.json) inside the prefix, replacing what was there,
// and puts back what was there when the test ends. The recordings folder at least should be
// the test's own: Wine maps the Music folder onto $HOME, which the Linux tests share.
func (w prefix) setPrefs(t *testing.T, prefs map[string]any) {
	t.Helper()
	path := filepath.Join(w.home(t), "AppData", "Roaming", "fyne", "app.podium.desktop", "preferences.json")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	had := err == nil
	t.Cleanup(func() {
		if had {
			_ = os.WriteFile(path, old, 0o644)
		} else {
			_ = os.Remove(path)
		}
	})
	data, err := json.Marshal(prefs)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}
