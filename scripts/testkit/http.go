package testkit

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

var client = http.Client{Timeout: 10 * time.Second}

// Get fetches url, with token (when set) as a Bearer token, and returns the status and the
// whole body.
func Get(t testing.TB, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: reading the body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// GetJSON fetches url as Get does and decodes its JSON body into v; anything but 200 fails.
func GetJSON(t testing.TB, url, token string, v any) {
	t.Helper()
	code, body := Get(t, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, Tail(body, 500))
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v in %q", url, err, Tail(body, 500))
	}
}

// StaticOffer is a well-formed sendonly audio SDP offer with one codec (payload type pt,
// rtpmap such as "opus/48000/2" or "PCMU/8000") and made-up ICE and DTLS values: enough for
// a server to accept or refuse it on its merits, never to connect.
func StaticOffer(pt int, rtpmap string) string {
	return fmt.Sprintf("v=0\r\n"+
		"o=- 4215775240449105457 2 IN IP4 127.0.0.1\r\n"+
		"s=-\r\n"+
		"t=0 0\r\n"+
		"a=group:BUNDLE 0\r\n"+
		"m=audio 9 UDP/TLS/RTP/SAVPF %[1]d\r\n"+
		"c=IN IP4 0.0.0.0\r\n"+
		"a=mid:0\r\n"+
		"a=ice-ufrag:abcd\r\n"+
		"a=ice-pwd:abcdefghijklmnopqrstuvwx\r\n"+
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n"+
		"a=setup:actpass\r\n"+
		"a=sendonly\r\n"+
		"a=rtcp-mux\r\n"+
		"a=rtpmap:%[1]d %[2]s\r\n", pt, rtpmap)
}
