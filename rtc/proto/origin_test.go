package proto

import (
	"errors"
	"testing"
)

// CheckOrigin compares scheme, host and port, with the scheme's default port spelled out:
// another port of the same host, or plain http for https, is another origin.
func TestCheckOrigin(t *testing.T) {
	for _, c := range []struct {
		server, target string
		same           bool
	}{
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/studio/abc", true},
		{"http://127.0.0.1:8080/prefix", "/studio/abc", false}, // relative: resolve first
		{"http://127.0.0.1:8080", "http://127.0.0.1:8081/studio/abc", false},
		{"https://Podium.example", "https://podium.example:443/whip/talk/1", true},
		{"https://podium.example", "http://podium.example/whip/talk/1", false},
		{"http://podium.example", "http://podium.example:80/x", true},
		{"https://podium.example", "https://evil.example/x", false},
		{"https://podium.example", "https://sub.podium.example/x", false},
		{"http://[::1]:8080", "http://[::1]:8080/x", true},
		{"http://[::1]:8080", "http://127.0.0.1:8080/x", false},
		{"", "http://127.0.0.1:8080/x", false},
	} {
		err := CheckOrigin(c.server, c.target)
		if (err == nil) != c.same || (err != nil && !errors.Is(err, ErrOtherOrigin)) {
			t.Errorf("CheckOrigin(%q, %q) = %v, want same origin %v", c.server, c.target, err, c.same)
		}
	}
}
