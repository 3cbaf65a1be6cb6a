//go:build linux

package faults

// The studio upload endpoint (tus, /studio/) attacked as an outsider or another presenter
// would, against the real podium-server: what a token may put on the disk, where, under
// whose talk, for how long, and how long a request may last.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/scripts/testkit"
)

// studioServer runs podium-server on loopback with recordings in dir; it returns its base URL.
func studioServer(t *testing.T, env []string, dir string, args ...string) (string, *testkit.Proc) {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	p := start(t, env, "podium-server", append([]string{"--listen", addr, "--dir", dir}, args...)...)
	p.WaitLine(t, "WHIP on", 10*time.Second)
	return "http://" + addr, p
}

// tusMeta is an Upload-Metadata header: key and base64 value pairs, in a fixed order.
func tusMeta(kv map[string]string) string {
	var parts []string
	for k, v := range kv {
		parts = append(parts, k+" "+base64.StdEncoding.EncodeToString([]byte(v)))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

// studioMeta is the metadata of an upload of stream's talk that began at started.
func studioMeta(stream string, started time.Time, kind, sum string) string {
	m := map[string]string{"stream": stream, "filename": "talk.mp3", "kind": kind, "started": started.UTC().Format(time.RFC3339)}
	if sum != "" {
		m["sha256"] = sum
	}
	return tusMeta(m)
}

// tusDo sends one tus request (body may be nil) with header pairs; it returns the status, the
// response's headers, and any error of the transport (a server that cuts a body short).
func tusDo(t *testing.T, method, url, token string, body []byte, hdr ...string) (int, http.Header, error) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := (&http.Client{Timeout: 60 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header, nil
}

// createUpload makes a partial upload of stream (of deferred length when data is nil, else
// of len(data) sent along) and returns its URL.
func createUpload(t *testing.T, base, token, stream string, started time.Time, data []byte) (int, string) {
	t.Helper()
	hdr := []string{"Upload-Concat", "partial", "Upload-Metadata", studioMeta(stream, started, "body", "")}
	if data == nil {
		hdr = append(hdr, "Upload-Defer-Length", "1")
	} else {
		hdr = append(hdr, "Upload-Length", strconv.Itoa(len(data)), "Content-Type", "application/offset+octet-stream")
	}
	code, h, err := tusDo(t, http.MethodPost, base+"/studio/", token, data, hdr...)
	if err != nil {
		t.Fatalf("create an upload: %v", err)
	}
	loc := h.Get("Location")
	if i := strings.Index(loc, "/studio/"); i >= 0 {
		loc = base + loc[i:]
	}
	return code, loc
}

// joinUpload makes the final upload of parts (URLs) with the sha256 of want; it returns the
// status and the name the server gave the copy.
func joinUpload(t *testing.T, base, token, stream string, started time.Time, want []byte, parts ...string) (int, string) {
	t.Helper()
	var paths []string
	for _, p := range parts {
		paths = append(paths, strings.TrimPrefix(p, base))
	}
	sum := sha256.Sum256(want)
	code, h, err := tusDo(t, http.MethodPost, base+"/studio/", token, nil,
		"Upload-Concat", "final;"+strings.Join(paths, " "), "Upload-Metadata", studioMeta(stream, started, "file", hex.EncodeToString(sum[:])))
	if err != nil {
		t.Fatalf("join an upload: %v", err)
	}
	return code, h.Get("Podium-Studio-Copy")
}

// uploadedBytes is what .uploads holds in upload data (the .info files aside).
func uploadedBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(filepath.Join(dir, ".uploads"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".info") && filepath.Base(filepath.Dir(p)) == ".uploads" {
			if st, err := d.Info(); err == nil {
				n += st.Size()
			}
		}
		return nil
	})
	return n
}

// TestStudioUploadAllowance: a presenter token sends 50 MiB to an upload whose talk began a
// moment ago (allowance 320 kb/s × (0 s + 60 s) + 2 MiB, about 4.5 MB) by each way tusd takes
// data: the body of the creating POST (creation-with-upload), a POST carrying
// X-HTTP-Method-Override: PATCH, and a chunked PATCH. None may put more on the disk than the
// allowance. Then two uploads allowed 2 days of talk each fill a small disk together: the
// disk reserve (8 MiB) holds on every byte, not only at the start of a request.
func TestStudioUploadAllowance(t *testing.T) {
	dir := t.TempDir()
	base, _ := studioServer(t, nil, dir, "--stream-token", "talk:tokA")
	const allowance = 320*1000/8*60 + 2<<20
	big := make([]byte, 50<<20)
	for _, c := range []struct {
		way  string
		send func(started time.Time)
	}{
		{"creation-with-upload", func(started time.Time) {
			tusDo(t, http.MethodPost, base+"/studio/", "tokA", big, "Upload-Concat", "partial", "Upload-Defer-Length", "1",
				"Content-Type", "application/offset+octet-stream", "Upload-Metadata", studioMeta("talk", started, "body", ""))
		}},
		{"X-HTTP-Method-Override: PATCH", func(started time.Time) {
			_, loc := createUpload(t, base, "tokA", "talk", started, nil)
			tusDo(t, http.MethodPost, loc, "tokA", big, "X-HTTP-Method-Override", "PATCH", "Upload-Offset", "0",
				"Content-Type", "application/offset+octet-stream", "Upload-Metadata", studioMeta("talk", started, "body", ""))
		}},
		{"chunked PATCH", func(started time.Time) {
			_, loc := createUpload(t, base, "tokA", "talk", started, nil)
			req, _ := http.NewRequest(http.MethodPatch, loc, io.MultiReader(bytes.NewReader(big))) // no length: chunked
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Authorization", "Bearer tokA")
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}},
	} {
		before := uploadedBytes(t, dir)
		c.send(time.Now())
		took := uploadedBytes(t, dir) - before
		scenario(t, "%s of 50 MiB for a talk begun now: %d bytes taken, allowance %d", c.way, took, allowance)
		if took > allowance {
			t.Errorf("%s: %d bytes taken, more than the allowance of %d", c.way, took, allowance)
		}
	}
	t.Run("reserve", func(t *testing.T) {
		disk := mountTmpfs(t, "64m")
		base, _ := studioServer(t, nil, disk, "--stream-token", "talk:tokA")
		long := time.Now().Add(-47 * time.Hour) // allowance: about 6.8 GB
		part := make([]byte, 30<<20)            // each fits with the reserve; both do not
		done := make(chan struct{}, 2)
		for range 2 {
			_, loc := createUpload(t, base, "tokA", "talk", long, nil)
			go func() {
				tusDo(t, http.MethodPatch, loc, "tokA", part, "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
				done <- struct{}{}
			}()
		}
		<-done
		<-done
		free := freeBytes(t, disk)
		scenario(t, "two PATCHes of 30 MiB at once on a 64 MiB disk: %s left free, reserve 8 MiB", mib(free))
		if free < 7<<20 { // the reserve, less what two uploads take between two looks at the disk
			t.Errorf("uploads left %s of the disk, below the 8 MiB reserve for live recordings", mib(free))
		}
	})
}

// TestStudioCopyOwner: two presenter tokens of one stream. A is live; B uploads a copy that
// says it began when A's recording did. B's bytes must not become A's "(studio).mp3", which
// /recordings would serve as A's talk; A's own copy takes that name.
func TestStudioCopyOwner(t *testing.T) {
	dir := t.TempDir()
	base, _ := studioServer(t, nil, dir, "--stream-token", "talk:tokA", "--stream-token", "talk:tokB", "--grace", "5s")
	speech, _ := speechFor(t, 30*time.Second)
	local := filepath.Join(t.TempDir(), "a.mp3")
	pub := start(t, nil, "podium", "record", "--input", speech, "--duration", "6s", "--out", local,
		"--server", base+"/whip/talk", "--token", "tokA")
	var live string
	testkit.WaitFor(t, 20*time.Second, "A's live recording", func() bool {
		m, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
		if len(m) == 1 {
			live = strings.TrimSuffix(filepath.Base(m[0]), ".mp3")
		}
		return live != ""
	})
	started, err := time.ParseInLocation("2006-01-02 15-04-05", strings.TrimPrefix(live, "talk "), time.Local)
	if err != nil {
		t.Fatalf("recording name %q: %v", live, err)
	}
	bBytes := make([]byte, 64<<10)
	rand.Read(bBytes)
	code, part := createUpload(t, base, "tokB", "talk", started, bBytes)
	if code != http.StatusCreated {
		t.Fatalf("B's part: %d", code)
	}
	code, bName := joinUpload(t, base, "tokB", "talk", started, bBytes, part)
	waitExit(t, pub, 60*time.Second)
	aCopy := filepath.Join(dir, live+filename.StudioSuffix)
	testkit.WaitFor(t, 10*time.Second, "A's studio copy", func() bool {
		_, err := os.Stat(aCopy)
		return err == nil && strings.Contains(pub.Log(), "studio copy: on the server")
	})
	got, _ := os.ReadFile(aCopy)
	want, _ := os.ReadFile(local)
	scenario(t, "B's copy (%d, %q) of A's talk %q: A's %q holds B's bytes: %v, A's own: %v",
		code, bName, live, filepath.Base(aCopy), bytes.Equal(got, bBytes), bytes.Equal(got, want))
	if bName == live+filename.StudioSuffix || bytes.Equal(got, bBytes) {
		t.Errorf("B's upload became A's studio copy %q", bName)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("A's studio copy (%d bytes) is not A's file (%d bytes)", len(got), len(want))
	}
}

// TestStudioNamesStayInDir: with --public, anyone uploads; streams that name other folders
// are refused at creation, and nothing appears outside --dir.
func TestStudioNamesStayInDir(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "rec")
	os.MkdirAll(filepath.Join(root, "www"), 0o755)
	base, _ := studioServer(t, nil, dir, "--public")
	data := []byte("pwned")
	var statuses []string
	for _, stream := range []string{"../www/pwned", "..", "../../tmp/x", "a/b", "/abs", ".hidden", "x\x00y", "sp ace", strings.Repeat("a", 65)} {
		code, part := createUpload(t, base, "", stream, time.Now(), data)
		if code == http.StatusCreated {
			code, _ = joinUpload(t, base, "", stream, time.Now(), data, part)
		}
		statuses = append(statuses, fmt.Sprintf("%q:%d", stream, code))
		if code != http.StatusBadRequest {
			t.Errorf("stream %q: %d, want 400", stream, code)
		}
	}
	var outside []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			outside = append(outside, strings.TrimPrefix(p, root))
		}
		return nil
	})
	scenario(t, "uploads of traversal stream names with --public: %s; files outside --dir: %v", strings.Join(statuses, " "), outside)
	if len(outside) > 0 {
		t.Errorf("files written outside --dir: %v", outside)
	}
}

// TestStudioUploadsEnd: uploads are bounded per token and expire. One token makes
// zero-length uploads until refused; another's finished parts, not yet joined, do not count
// as unfinished; and uploads not written for the expiry (5 s here, 24 h by default) go.
func TestStudioUploadsEnd(t *testing.T) {
	dir := t.TempDir()
	const expire = 5 * time.Second
	base, _ := studioServer(t, []string{"PODIUM_STUDIO_EXPIRE=" + expire.String()}, dir,
		"--stream-token", "talk:tokA", "--stream-token", "talk:tokB", "--stream-token", "talk:tokC")
	infos := func() int { m, _ := filepath.Glob(filepath.Join(dir, ".uploads", "*.info")); return len(m) }
	made, firstRefused := 0, 0
	for range 100 {
		code, _ := createUpload(t, base, "tokA", "talk", time.Now(), []byte{})
		if code == http.StatusCreated {
			made++
		} else if firstRefused == 0 {
			firstRefused = code
		}
	}
	// B: nine finished parts (each of a head's size), then a body: a talk of B's may begin.
	partsMade := 0
	for range 9 {
		if code, _ := createUpload(t, base, "tokB", "talk", time.Now(), make([]byte, 1000)); code == http.StatusCreated {
			partsMade++
		}
	}
	bodyCode, _ := createUpload(t, base, "tokB", "talk", time.Now(), nil)
	// C: 60 zero-length uploads at once, each counted before it is on disk.
	var atOnce atomic.Int64
	parallel(60, 60, func(int) {
		if code, _ := createUpload(t, base, "tokC", "talk", time.Now(), []byte{}); code == http.StatusCreated {
			atOnce.Add(1)
		}
	})
	held := infos()
	time.Sleep(expire + time.Second)
	afterCode, _ := createUpload(t, base, "tokA", "talk", time.Now(), nil) // sweeps as it counts
	left := infos()
	scenario(t, "one token: %d of 100 zero-length uploads made (then %d), %d of 60 at once; other token: %d finished parts, then a body: %d; %d uploads held, %d after %v unwritten (a new one: %d)",
		made, firstRefused, atOnce.Load(), partsMade, bodyCode, held, left, expire, afterCode)
	if atOnce.Load() > int64(made) {
		t.Errorf("%d uploads made at once, beyond the %d made one by one", atOnce.Load(), made)
	}
	if made >= 100 || firstRefused != http.StatusTooManyRequests {
		t.Errorf("one token made %d zero-length uploads (then %d): want a bound and 429", made, firstRefused)
	}
	if partsMade != 9 || bodyCode != http.StatusCreated {
		t.Errorf("finished parts counted as unfinished: %d of 9 made, then a body: %d", partsMade, bodyCode)
	}
	if afterCode != http.StatusCreated || left > 1 {
		t.Errorf("after %v unwritten: %d uploads left (want only the new one), a new upload: %d", expire, left, afterCode)
	}
}

// TestStudioSlowPatch: a PATCH trickled at 1 KiB/s is ended by the server within the
// README's 20 s bound for a whole request, as every other request is.
func TestStudioSlowPatch(t *testing.T) {
	dir := t.TempDir()
	base, _ := studioServer(t, nil, dir, "--stream-token", "talk:tokA")
	_, loc := createUpload(t, base, "tokA", "talk", time.Now(), nil)
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "PATCH %s HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer tokA\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: %d\r\n\r\n",
		strings.TrimPrefix(loc, base), 100<<10)
	began := time.Now()
	answered := make(chan struct{})
	go func() {
		io.Copy(io.Discard, conn) // the answer, then the close
		close(answered)
	}()
	limit := 45 * time.Second
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var took time.Duration
loop:
	for {
		select {
		case <-answered:
			took = time.Since(began)
			break loop
		case <-tick.C:
			if time.Since(began) > limit {
				took = limit
				break loop
			}
			conn.Write(make([]byte, 1024))
		}
	}
	scenario(t, "PATCH trickled at 1 KiB/s: the server ended it after %v (bound 20 s)", took.Round(100*time.Millisecond))
	if took > 22*time.Second {
		t.Errorf("the trickled PATCH lasted %v, beyond the 20 s bound", took.Round(100*time.Millisecond))
	}
}

// TestStudioFinalParts: a final upload that names one part many times (each naming read
// again to join them) or more parts than a copy has (head and body) is refused.
func TestStudioFinalParts(t *testing.T) {
	dir := t.TempDir()
	base, srv := studioServer(t, nil, dir, "--stream-token", "talk:tokA")
	pid := srv.Cmd.Process.Pid
	part := make([]byte, 32<<10) // 100 of them within the allowance of a talk begun now
	rand.Read(part)
	var got []string
	for _, n := range []int{2, 100} {
		code, loc := createUpload(t, base, "tokA", "talk", time.Now(), part)
		if code != http.StatusCreated {
			t.Fatalf("part: %d", code)
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = loc
		}
		before := readBytes(pid)
		code, name := joinUpload(t, base, "tokA", "talk", time.Now(), bytes.Repeat(part, n), parts...)
		read := readBytes(pid) - before
		got = append(got, fmt.Sprintf("one part named %d times: %d %q (server read %s)", n, code, name, mib(read)))
		if code != http.StatusBadRequest {
			t.Errorf("a final upload naming one part %d times: %d, want 400", n, code)
		}
	}
	scenario(t, "%s", strings.Join(got, "; "))
}

// readBytes is what process pid has read (rchar: from files and sockets alike), 0 where
// /proc says nothing.
func readBytes(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// TestStudioUploadSparesLive: on a 64 MiB disk, one presenter is live while another token
// sends 70 MiB in the body of a creating POST for a talk it says began 47 h ago (an
// allowance of gigabytes): the upload stops at the disk reserve, and the live recording
// goes on.
func TestStudioUploadSparesLive(t *testing.T) {
	disk := mountTmpfs(t, "64m")
	base, srv := studioServer(t, nil, disk, "--token", "tok", "--stream-token", "talk:tokA")
	speech, _ := speechFor(t, 30*time.Second)
	pub, _, _ := publishLiveAs(t, speech, base, "hall", 20*time.Second)
	// Chunked, so that no length says beforehand that it will not fit.
	req, _ := http.NewRequest(http.MethodPost, base+"/studio/", io.MultiReader(bytes.NewReader(make([]byte, 70<<20))))
	for k, v := range map[string]string{"Tus-Resumable": "1.0.0", "Authorization": "Bearer tokA", "Upload-Concat": "partial",
		"Upload-Defer-Length": "1", "Content-Type": "application/offset+octet-stream",
		"Upload-Metadata": studioMeta("talk", time.Now().Add(-47*time.Hour), "body", "")} {
		req.Header.Set(k, v)
	}
	code := 0
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		code = resp.StatusCode
		resp.Body.Close()
	}
	free := freeBytes(t, disk)
	time.Sleep(3 * time.Second) // the live recording writes on
	_, stopped := findLine(srv, "recording stopped stream=hall", 0)
	scenario(t, "70 MiB chunked in a creating POST on a 64 MiB disk beside a live talk: answered %d (%v), %s left free, the live recording stopped: %v, its presenter live: %v",
		code, err, mib(free), stopped, pub.ExitCode() == -1)
	if stopped || free < 7<<20 {
		t.Errorf("the upload left %s free and the live recording stopped: %v", mib(free), stopped)
	}
}
