package whip

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The client and the server share package proto and nothing else: a presenter's app does
// not link the server's code through the client, nor the server the client's.
func TestClientAndServerApart(t *testing.T) {
	for pkg, not := range map[string]string{"podium/rtc/whip": "podium/rtc", "podium/rtc": "podium/rtc/whip"} {
		out, err := exec.Command("go", "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if !slices.Contains(deps, "podium/rtc/proto") {
			t.Errorf("%s does not use podium/rtc/proto: %q", pkg, deps)
		}
		if slices.Contains(deps, not) {
			t.Errorf("%s depends on %s", pkg, not)
		}
	}
}
