//go:build linux

// Package faults is Podium's fault suite: each scenario causes a real fault (kill -9, a full
// disk, an unplugged microphone, a cut or lossy network, abusive clients) against the built
// binaries and checks that nothing captured is lost. `make test` runs the quick versions;
// `make faults` (PODIUM_FAULTS=full) runs them at full length. Each scenario logs one line:
// what it did and the figure it measured. Linux only (network namespaces, nftables, tmpfs,
// PulseAudio): the Windows build is attacked under Wine by scripts/wintest.
package faults

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"podium/audio/filename"
	"podium/audio/mp3/frames"
	"podium/scripts/testkit"
)

var bin string // folder with the freshly built podium and podium-server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podium-faults")
	if err != nil {
		panic(err)
	}
	bin = dir
	if err := testkit.Build(dir+"/", "podium/cmd/podium", "podium/cmd/podium-server"); err != nil {
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// full reports whether the scenarios run at full length (make faults).
func full() bool { return os.Getenv("PODIUM_FAULTS") == "full" }

// scenario prints the one line a scenario reports.
func scenario(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("FAULT %s: %s", t.Name(), fmt.Sprintf(format, args...))
	t.Log(line)
	fmt.Println(line)
}

// start runs one of the freshly built binaries (podium, podium-server).
func start(t *testing.T, env []string, name string, args ...string) *testkit.Proc {
	t.Helper()
	return testkit.Start(t, env, filepath.Join(bin, name), args...)
}

func readMP3Info(t *testing.T, path string) frames.Info {
	t.Helper()
	info, err := frames.ReadFileInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// liveMP3s is filepath.Glob(pattern) without studio copies: the files a server recorded
// from the live stream (a podium record that ran to its end also uploaded its own MP3).
func liveMP3s(pattern string) ([]string, error) {
	m, err := filepath.Glob(pattern)
	return slices.DeleteFunc(m, func(p string) bool { return strings.HasSuffix(p, filename.StudioSuffix) }), err
}
