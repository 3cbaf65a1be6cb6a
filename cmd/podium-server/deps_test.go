package main_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The server records from the network only: it must not link miniaudio (a microphone) or
// Fyne (a window), which would drag a sound and a display stack onto every server.
func TestServerLinksNoMicrophoneNorWindow(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "podium/cmd/podium-server").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "podium/rtc") {
		t.Fatalf("go list -deps gave %d packages, without podium/rtc: %q", len(deps), out)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/gen2brain/malgo") || strings.HasPrefix(d, "fyne.io/") {
			t.Errorf("podium-server depends on %s", d)
		}
	}
}
