package main_test

// The studio copy against the real binaries: `podium record --server` uploads its own MP3 to
// podium-server while it records, and the server ends with the same bytes.

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

func sha256File(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// studioCopy waits up to d for the server's studio copy and returns its path.
func studioCopy(t *testing.T, p *serverProc, d time.Duration) string {
	t.Helper()
	var got string
	testkit.WaitFor(t, d, "the studio copy on the server", func() bool {
		m, _ := filepath.Glob(filepath.Join(p.dir, "*"+filename.StudioSuffix))
		if len(m) == 1 {
			got = m[0]
		}
		return got != ""
	})
	return got
}

// checkListed: /recordings lists the talk once, serving the studio copy, and its link
// downloads the presenter's bytes.
func checkListed(t *testing.T, p *serverProc, want []byte) {
	t.Helper()
	list := p.recordings(t)
	if len(list) != 1 || list[0].Serves != "studio" || list[0].Studio == nil || list[0].Studio.Size != int64(len(want)) {
		t.Fatalf("/recordings: %+v, want one talk serving its studio copy of %d bytes", list, len(want))
	}
	code, body := testkit.Get(t, p.base+list[0].URL, "")
	if code != http.StatusOK || body != string(want) {
		t.Errorf("GET its link: %d, %d bytes; want 200 and the presenter's %d bytes", code, len(body), len(want))
	}
}

// TestStudioCopy: speech into the virtual microphone, `podium record --server` capturing it:
// within 2 s of the end the server's studio copy is byte for byte the presenter's file (same
// SHA-256), listed with the live one, and it is the speech.
func TestStudioCopy(t *testing.T) {
	speech := audiotest.Speech(t, false)
	audiotest.VirtualMic(t)
	podium := buildPodium(t)
	p := startServer(t)
	local := filepath.Join(t.TempDir(), "talk.mp3")
	go audiotest.PlayFor(t, speech, 12*time.Second)
	cmd := exec.Command(podium, "record", "--duration", "8s", "--out", local,
		"--server", p.base+"/whip/talk", "--token", p.token)
	out, err := cmd.CombinedOutput()
	end := time.Now()
	if err != nil {
		t.Fatalf("podium record: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "studio copy: on the server") {
		t.Errorf("podium record did not say the studio copy is on the server:\n%s", out)
	}
	got := studioCopy(t, p, 2*time.Second)
	after := time.Since(end)
	want, _ := os.ReadFile(local)
	t.Logf("studio copy %s: %d bytes, %v after podium record ended; local %s", filepath.Base(got), len(want), after.Round(time.Millisecond), sha256File(t, local)[:12])
	if sha256File(t, got) != sha256File(t, local) {
		t.Fatalf("studio copy differs from the presenter's file")
	}
	if _, err := os.Stat(local + ".studio"); err != nil {
		t.Errorf("no sidecar beside the local file: %v", err)
	}
	checkListed(t, p, want)
	if rms := audiotest.RMS(audiotest.Decode(t, got)); rms < -40 {
		t.Errorf("the studio copy is silent (%.1f dBFS): the microphone did not hear the speech", rms)
	}
	if got := p.metrics(t)["podium_studio_bytes_received_total"]; got != float64(len(want)) {
		t.Errorf("server took %.0f upload bytes for a %d-byte file, want exactly its size", got, len(want))
	}
	if m, _ := filepath.Glob(filepath.Join(p.dir, ".uploads", "*")); len(m) != 0 {
		t.Errorf("uploads left behind: %v", m)
	}
}

// recordToServer starts a server and `podium record` of the speech publishing to it for d.
func recordToServer(t *testing.T, d time.Duration) (p *serverProc, podium string, rec *testkit.Proc, local string) {
	t.Helper()
	speech := audiotest.Speech(t, false)
	podium = buildPodium(t)
	p = startServer(t)
	local = filepath.Join(t.TempDir(), "talk.mp3")
	rec = testkit.Start(t, nil, podium, "record", "--input", speech, "--duration", d.String(), "--out", local,
		"--server", p.base+"/whip/talk", "--token", p.token)
	return p, podium, rec, local
}

// TestStudioCopyAfterKill: podium record killed with kill -9 mid-talk leaves an interrupted
// file and an unfinished upload; `podium upload` repairs the file and finishes the upload:
// the server ends with the repaired file's exact bytes.
func TestStudioCopyAfterKill(t *testing.T) {
	p, podium, rec, local := recordToServer(t, 30*time.Second)
	time.Sleep(6 * time.Second)
	if err := rec.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.Wait(t, 10*time.Second)
	out, err := exec.Command(podium, "upload", "--token", p.token, filepath.Dir(local)).CombinedOutput()
	if err != nil {
		t.Fatalf("podium upload: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "recovered an interrupted recording") {
		t.Errorf("podium upload did not repair the file first:\n%s", out)
	}
	got := studioCopy(t, p, 2*time.Second)
	want, _ := os.ReadFile(local)
	t.Logf("after kill -9 at 6 s: studio copy %d bytes; podium upload said:\n%s", len(want), out)
	if sha256File(t, got) != sha256File(t, local) {
		t.Fatalf("studio copy differs from the repaired file")
	}
	checkListed(t, p, want)
	// What was sent before the kill is not sent again: at most the chunk under way.
	took := p.metrics(t)["podium_studio_bytes_received_total"]
	t.Logf("server took %.0f upload bytes for the %d-byte file", took, len(want))
	if took < float64(len(want)) || took > float64(len(want)+64<<10) {
		t.Errorf("server took %.0f upload bytes for a %d-byte file, want its size and at most one resume's overlap", took, len(want))
	}
}

// TestStudioRefusesOthers: only a publisher token of the stream creates an upload; a
// listener's token or none gets 401, and nobody touches an upload another token made.
func TestStudioRefusesOthers(t *testing.T) {
	p := &serverProc{dir: t.TempDir(), token: "pub-tok"}
	p.Proc = testkit.Start(t, nil, serverBin, "--listen", "127.0.0.1:0", "--dir", p.dir, "--token", p.token,
		"--stream-token", "hall:hall-tok", "--listener-token", "lis-tok")
	p.base = testkit.ServerBase(t, p.Proc)
	// tus asks one request at a time: method, URL, token and tus headers.
	tus := func(method, url, token string, hdr ...string) *http.Response {
		req, _ := http.NewRequest(method, url, nil)
		req.Header.Set("Tus-Resumable", "1.0.0")
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	meta := func(stream string) string {
		return "stream " + b64(stream) + ",filename " + b64("x.mp3") + ",started " + b64(time.Now().UTC().Format(time.RFC3339)) + ",sha256 " + b64(strings.Repeat("0", 64))
	}
	post := func(token, stream string) *http.Response {
		return tus(http.MethodPost, p.base+"/studio/", token, "Upload-Defer-Length", "1", "Upload-Concat", "partial", "Upload-Metadata", meta(stream))
	}
	for _, c := range []struct {
		token, stream string
		want          int
	}{
		{"", "talk", http.StatusUnauthorized},
		{"lis-tok", "talk", http.StatusUnauthorized},
		{"hall-tok", "talk", http.StatusUnauthorized},
		{"hall-tok", "hall", http.StatusCreated},
		{"pub-tok", "talk", http.StatusCreated},
	} {
		if got := post(c.token, c.stream).StatusCode; got != c.want {
			t.Errorf("POST /studio/ for %q with token %q: %d, want %d", c.stream, c.token, got, c.want)
		}
	}
	// A final upload naming parts outside the uploads: refused before anything is read.
	for _, c := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"hall-tok", http.StatusBadRequest}} {
		resp := tus(http.MethodPost, p.base+"/studio/", c.token,
			"Upload-Concat", "final;/studio/../../../etc/passwd /studio/"+strings.Repeat("a", 32), "Upload-Metadata", meta("hall"))
		if resp.StatusCode != c.want {
			t.Errorf("final upload of ../ parts with token %q: %d, want %d", c.token, resp.StatusCode, c.want)
		}
	}
	// The hall's upload, touched with another token.
	loc := post("hall-tok", "hall").Header.Get("Location")
	for _, tok := range []string{"", "lis-tok", "pub-tok"} {
		if resp := tus(http.MethodHead, loc, tok); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("HEAD of the hall's upload with %q: %d, want 401", tok, resp.StatusCode)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// TestStudioCopyServerRestart: podium-server killed with kill -9 mid-talk and started again
// on the same address and folder: the upload waits, resumes where the server's disk has it,
// and the server ends with the presenter's exact bytes.
func TestStudioCopyServerRestart(t *testing.T) {
	p, _, rec, local := recordToServer(t, 14*time.Second)
	addr := strings.TrimPrefix(p.base, "http://")
	time.Sleep(5 * time.Second)
	if err := p.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(t, 10*time.Second)
	time.Sleep(3 * time.Second) // down for a while: the uploader waits
	p2 := &serverProc{dir: p.dir, token: p.token}
	p2.Proc = testkit.Start(t, nil, serverBin, "--listen", addr, "--dir", p.dir, "--token", p.token)
	p2.base = testkit.ServerBase(t, p2.Proc)
	if code := rec.Wait(t, 90*time.Second); code != 0 {
		t.Fatalf("podium record: exit %d:\n%s", code, testkit.Tail(rec.Log(), 3000))
	}
	got := studioCopy(t, p2, 2*time.Second)
	want, _ := os.ReadFile(local)
	took := p2.metrics(t)["podium_studio_bytes_received_total"]
	t.Logf("server killed at 5 s, back at 8 s: studio copy %d bytes; the restarted server took %.0f bytes", len(want), took)
	if sha256File(t, got) != sha256File(t, local) {
		t.Fatalf("studio copy differs from the presenter's file")
	}
	if !strings.Contains(rec.Log(), "studio copy: on the server") {
		t.Errorf("podium record did not say the copy is on the server:\n%s", testkit.Tail(rec.Log(), 2000))
	}
}

// TestStudioPendingFinishedByNextRecord: after kill -9 of podium record, the next podium
// record in the same folder repairs the interrupted file and, beside its own, finishes that
// one's studio copy: two copies on the server, each the exact bytes of its file.
func TestStudioPendingFinishedByNextRecord(t *testing.T) {
	p, podium, rec, first := recordToServer(t, 30*time.Second)
	time.Sleep(5 * time.Second)
	if err := rec.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	rec.Wait(t, 10*time.Second)
	second := filepath.Join(filepath.Dir(first), "second.mp3")
	out, err := exec.Command(podium, "record", "--input", audiotest.Speech(t, false), "--duration", "3s", "--out", second,
		"--server", p.base+"/whip/talk", "--token", p.token).CombinedOutput()
	if err != nil {
		t.Fatalf("the next podium record: %v\n%s", err, out)
	}
	copies, _ := filepath.Glob(filepath.Join(p.dir, "*"+filename.StudioSuffix))
	sums := map[string]bool{}
	for _, c := range copies {
		sums[sha256File(t, c)] = true
	}
	t.Logf("studio copies %v; podium record said:\n%s", copies, out)
	if len(copies) != 2 || !sums[sha256File(t, first)] || !sums[sha256File(t, second)] {
		t.Errorf("studio copies %v: want the interrupted file's and the new one's, each exact", copies)
	}
}
