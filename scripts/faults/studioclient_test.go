//go:build linux

package faults

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/scripts/testkit"
)

// The studio upload client (podium record --server, podium upload) against servers that are
// gone or hostile: its own copy decides when record ends, and its token goes to no origin
// but the one it was given for.

// recordOld makes a short recording at path (no server): an earlier run's MP3.
func recordOld(t *testing.T, speech, path string) {
	t.Helper()
	if code := start(t, nil, "podium", "record", "--input", speech, "--duration", "1s", "--fast", "--out", path).Wait(t, time.Minute); code != 0 {
		t.Fatalf("podium record --out %s exited %d", path, code)
	}
}

// writeSidecar leaves beside the MP3 at path the sidecar of an unfinished studio copy for
// server (and body, the body's upload URL, if not "").
func writeSidecar(t *testing.T, path, server, body string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"server": server, "stream": "talk",
		"started": time.Now().UTC().Truncate(time.Second), "body": body})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path+".studio", b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRecordEndsWithItsOwnCopy: an output folder holds an earlier recording whose studio copy
// is for a server that no longer exists (a closed loopback port). podium record --server, to a
// real podium-server, exits soon after its own copy is placed, and says which file waits for
// which server.
func TestRecordEndsWithItsOwnCopy(t *testing.T) {
	srvDir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", srvDir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	base := "http://" + addr

	speech, _ := speechFor(t, 10*time.Second)
	dir := t.TempDir()
	old := filepath.Join(dir, "old.mp3")
	recordOld(t, speech, old)
	gone := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t)) // nothing listens there
	writeSidecar(t, old, gone, "")

	const bound = 25 * time.Second
	exited, after, log := recordToOwnCopy(t, speech, dir, base, srvDir, bound)
	named := strings.Contains(log, old) && strings.Contains(log, gone)
	scenario(t, "earlier copy for a closed port %s: record %s %.1f s after its own copy was placed (bound %v); the line names the file and its server: %v",
		gone, exited, after.Seconds(), bound, named)
	if after >= 5*time.Second {
		t.Errorf("podium record %s %.1f s after its own copy was on the server, want < 5 s:\n%s", exited, after.Seconds(), testkit.Tail(log, 2000))
	}
	if !named {
		t.Errorf("stderr does not name %s and %s:\n%s", old, gone, testkit.Tail(log, 2000))
	}
}

// TestRecordBoundsEarlierCopies: the earlier recording's copy is for the same server, which
// answers it 503 for good (a proxy in front of a real podium-server refuses that file's
// uploads); record tries it beside its own copy and for at most 10 s after, then names it.
func TestRecordBoundsEarlierCopies(t *testing.T) {
	srvDir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", srvDir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	target, _ := url.Parse("http://" + addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	refused := base64.StdEncoding.EncodeToString([]byte("old.mp3"))
	var mu sync.Mutex
	refusals := 0
	base := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Upload-Metadata"), "filename "+refused) {
			mu.Lock()
			refusals++
			mu.Unlock()
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))

	speech, _ := speechFor(t, 10*time.Second)
	dir := t.TempDir()
	old := filepath.Join(dir, "old.mp3")
	recordOld(t, speech, old)
	writeSidecar(t, old, base, "")
	const bound = 30 * time.Second
	exited, after, log := recordToOwnCopy(t, speech, dir, base, srvDir, bound)
	named := strings.Contains(log, old) && strings.Contains(log, base)
	mu.Lock()
	n := refusals
	mu.Unlock()
	scenario(t, "earlier copy for the same server, refused 503 %d times: record %s %.1f s after its own copy was placed (bound %v); the line names the file and its server: %v",
		n, exited, after.Seconds(), bound, named)
	if after >= 15*time.Second {
		t.Errorf("podium record %s %.1f s after its own copy was on the server, want < 15 s (10 s more for earlier copies):\n%s", exited, after.Seconds(), testkit.Tail(log, 2000))
	}
	if !named || n == 0 {
		t.Errorf("the earlier copy was tried %d times; stderr names %s and %s: %v:\n%s", n, old, base, named, testkit.Tail(log, 2000))
	}
}

// recordToOwnCopy runs podium record --server base/whip/talk into dir until its own studio
// copy is placed in srvDir, then says whether it exited (and how long after) within bound.
func recordToOwnCopy(t *testing.T, speech, dir, base, srvDir string, bound time.Duration) (exited string, after time.Duration, log string) {
	t.Helper()
	pub := start(t, nil, "podium", "record", "--input", speech, "--duration", "3s", "--out", filepath.Join(dir, "new.mp3"),
		"--server", base+"/whip/talk", "--token", "tok")
	var placed time.Time
	testkit.WaitFor(t, 40*time.Second, "the studio copy placed", func() bool {
		m, _ := filepath.Glob(filepath.Join(srvDir, "*"+filename.StudioSuffix))
		placed = time.Now()
		return len(m) == 1
	})
	exited = "still running"
	select {
	case <-pub.Done():
		after = time.Since(placed)
		exited = "exited " + strconv.Itoa(pub.ExitCode())
	case <-time.After(bound):
		after = bound
		pub.Kill()
	}
	return exited, after, pub.Log()
}

// TestTokenStaysOnItsOrigin: a hostile server, given as the WHIP endpoint, answers with a
// Location on another loopback port or redirects there; a file in the recordings folder
// names another server or upload URL. A second listener on that other port counts the
// Authorization headers that reach it: none may.
func TestTokenStaysOnItsOrigin(t *testing.T) {
	speech, _ := speechFor(t, 10*time.Second)
	oldMP3 := filepath.Join(t.TempDir(), "old.mp3")
	recordOld(t, speech, oldMP3)
	mp3, err := os.ReadFile(oldMP3)
	if err != nil {
		t.Fatal(err)
	}
	const token = "secret-token"
	type answer func(w http.ResponseWriter, r *http.Request, other string)
	unavailable := func(w http.ResponseWriter, r *http.Request, other string) {
		http.Error(w, "busy", http.StatusServiceUnavailable)
	}
	notFound := func(w http.ResponseWriter, r *http.Request, other string) { http.NotFound(w, r) }
	redirect := func(w http.ResponseWriter, r *http.Request, other string) {
		http.Redirect(w, r, other+r.URL.Path, http.StatusTemporaryRedirect)
	}
	cases := []struct {
		name   string
		whip   answer // POST /whip/talk
		studio answer // /studio/...
		// sidecars to plant in the folder: old MP3 name → its server, body ("A" and "B" stand
		// for the hostile server and the other origin)
		sidecars map[string][2]string
		upload   bool // podium upload --token (else podium record --server)
	}{
		{name: "whip-location", whip: func(w http.ResponseWriter, r *http.Request, other string) {
			w.Header().Set("Location", other+"/whip/talk/session")
			w.Header().Set("Content-Type", "application/sdp")
			w.WriteHeader(http.StatusCreated)
			w.Write([]byte("v=0\r\n")) // not an answer: the client ends the session (DELETE)
		}, studio: notFound},
		{name: "whip-redirect", whip: redirect, studio: notFound},
		{name: "tus-location", whip: unavailable, studio: func(w http.ResponseWriter, r *http.Request, other string) {
			if r.Method != http.MethodPost {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Tus-Resumable", "1.0.0")
			w.Header().Set("Location", other+"/studio/upload")
			w.WriteHeader(http.StatusCreated)
		}},
		{name: "tus-redirect", whip: unavailable, studio: redirect},
		{name: "sidecar-server", whip: unavailable, studio: notFound, sidecars: map[string][2]string{"old.mp3": {"B", ""}}},
		{name: "sidecar-body", whip: unavailable, studio: notFound, sidecars: map[string][2]string{"old.mp3": {"A", "B/studio/upload"}}},
		{name: "upload-two-servers", whip: unavailable, studio: unavailable, upload: true,
			sidecars: map[string][2]string{"mine.mp3": {"A", ""}, "planted.mp3": {"B", ""}}},
	}
	var mu sync.Mutex
	leaks := map[string]int{}
	var lines []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var other struct {
				sync.Mutex
				tokens int
				seen   []string
			}
			b := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.Header.Get("Authorization"), token) {
					other.Lock()
					other.tokens++
					other.seen = append(other.seen, r.Method+" "+r.URL.Path)
					other.Unlock()
				}
				http.NotFound(w, r)
			}))
			a := testkit.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasPrefix(r.URL.Path, "/whip/"):
					c.whip(w, r, b)
				case strings.HasPrefix(r.URL.Path, "/studio/"):
					c.studio(w, r, b)
				default:
					http.NotFound(w, r)
				}
			}))
			dir := t.TempDir()
			for name, sb := range c.sidecars {
				path := filepath.Join(dir, name)
				if err := os.WriteFile(path, mp3, 0o644); err != nil {
					t.Fatal(err)
				}
				at := func(s string) string {
					s = strings.Replace(s, "A", a, 1)
					return strings.Replace(s, "B", b, 1)
				}
				writeSidecar(t, path, at(sb[0]), at(sb[1]))
			}
			args := []string{"record", "--input", speech, "--duration", "1s", "--fast", "--out", filepath.Join(dir, "new.mp3"),
				"--server", a + "/whip/talk", "--token", token}
			if c.upload {
				args = []string{"upload", "--token", token, dir}
			}
			p := start(t, nil, "podium", args...)
			// Until the client gives up or the first token arrives (at most 8 s).
			end := time.After(8 * time.Second)
		wait:
			for {
				select {
				case <-p.Done():
					break wait
				case <-end:
					break wait
				case <-time.After(50 * time.Millisecond):
					other.Lock()
					n := other.tokens
					other.Unlock()
					if n > 0 {
						time.Sleep(200 * time.Millisecond)
						break wait
					}
				}
			}
			p.Kill()
			other.Lock()
			defer other.Unlock()
			mu.Lock()
			leaks[c.name] = other.tokens
			line := c.name + " " + strconv.Itoa(other.tokens)
			if len(other.seen) > 0 {
				line += " (" + strings.Join(other.seen, ", ") + ")"
			}
			lines = append(lines, line)
			mu.Unlock()
			// The client says why it stopped: the token is not for that origin.
			if log := p.Log(); !strings.Contains(log, "the token does not go there") && !strings.Contains(log, "with --server") {
				t.Errorf("podium never said it kept the token from the other origin:\n%s", testkit.Tail(log, 1500))
			}
			if other.tokens > 0 {
				t.Errorf("the token reached the other origin %d times (%s):\n%s", other.tokens, strings.Join(other.seen, ", "), testkit.Tail(p.Log(), 1500))
			}
		})
	}
	t.Cleanup(func() {
		total := 0
		for _, n := range leaks {
			total += n
		}
		slices.Sort(lines)
		scenario(t, "%d cases, %d Authorization headers reached the other origin (%s)", len(cases), total, strings.Join(lines, "; "))
	})
}
