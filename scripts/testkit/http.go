package testkit

import (
	"encoding/json"
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
