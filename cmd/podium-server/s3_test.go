package main_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"podium/audio/filename"
	"podium/audio/pcm"
	"podium/rtc/objstore"
	"podium/rtc/recordings"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// startS3Server runs the binary with its recordings going to s3's bucket under prefix.
func startS3Server(t *testing.T, s3 *testkit.S3, dir, prefix string, args ...string) (*testkit.Proc, string) {
	t.Helper()
	p := testkit.Start(t, s3.Env(), serverBin, append([]string{"--listen", "127.0.0.1:0", "--dir", dir,
		"--token", "op-secret", "--s3-endpoint", s3.Endpoint, "--s3-bucket", s3.Bucket, "--s3-prefix", prefix}, args...)...)
	return p, testkit.ServerBase(t, p)
}

// A talk published to the real binary ends up in a real S3 server (versitygw), checked, and
// with --s3-remove-local no longer on the server's disk; /recordings lists it from the
// bucket, and its signed link plays it from there, whole and by range: what was said.
func TestRecordingsGoToTheBucket(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	dir := t.TempDir()
	p, base := startS3Server(t, s3, dir, "2026/", "--s3-remove-local")
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:4*pcm.SampleRate]
	pub := startPublisher(t, base+"/whip/talk", "op-secret", speech)
	<-pub.done
	pub.close()

	var key string
	testkit.WaitFor(t, 20*time.Second, "the talk in the bucket and gone from --dir", func() bool {
		local, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
		for k := range s3.Objects("2026/") {
			key = k
		}
		return key != "" && len(local) == 0
	})
	p.WaitLine(t, "in the bucket", 5*time.Second)
	size := s3.Objects("2026/")[key]
	var list []recordings.File
	testkit.GetJSON(t, base+"/recordings", "op-secret", &list)
	if len(list) != 1 || "2026/"+list[0].Name != key || list[0].Size != size || list[0].Live || !strings.HasPrefix(list[0].Name, "talk ") {
		t.Fatalf("/recordings: %+v, want the bucket's %s (%d bytes)", list, key, size)
	}
	status, body := testkit.Get(t, base+list[0].URL, "")
	if status != http.StatusOK || int64(len(body)) != size {
		t.Fatalf("GET its signed link: %d, %d bytes; want the bucket's %d", status, len(body), size)
	}
	path := filepath.Join(t.TempDir(), "talk.mp3")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, path)
	corr, _, overlap := audiotest.Correlate(speech, got, pcm.SampleRate/2)
	t.Logf("%s: %d bytes from the bucket, %d samples, correlation %.3f", key, size, len(got), corr)
	if corr < 0.9 || overlap < 3*pcm.SampleRate {
		t.Errorf("the bucket's recording correlates %.3f with what was said over %d samples, want ≥ 0.9 over 3 s", corr, overlap)
	}
	req, _ := http.NewRequest("GET", base+list[0].URL, nil)
	req.Header.Set("Range", "bytes=100-199")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || string(part) != body[100:200] {
		t.Errorf("a range of it: %d, %d bytes; want 206 and those bytes", resp.StatusCode, len(part))
	}
	if m := testkit.Metrics(t, base+"/metrics", "op-secret"); m["podium_s3_uploads_total"] != 1 || m["podium_s3_pending"] != 0 {
		t.Errorf("metrics: uploads %v, pending %v; want 1, 0", m["podium_s3_uploads_total"], m["podium_s3_pending"])
	}
}

// podium-server killed in the middle of an upload: the bucket lists nothing of it (a
// multipart upload is invisible until complete); started again, it uploads the file anew
// from its claim, abandons the half upload, and the bucket holds the file byte for byte.
func TestS3UploadSurvivesARestart(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	dir := t.TempDir()
	// What a previous run left: a finished recording it had claimed for the bucket, large
	// enough (16 parts) that the upload is still under way when the test cuts it.
	const name = "talk 2026-01-01 10-00-00.mp3"
	data := make([]byte, 16*objstore.PartSize)
	_, _ = rand.Read(data)
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, objstore.PendingDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, objstore.PendingDir, name), nil, 0o644); err != nil {
		t.Fatal(err)
	}

	p, _ := startS3Server(t, s3, dir, "")
	testkit.WaitFor(t, 20*time.Second, "an upload under way", func() bool { return len(s3.Unfinished("")) > 0 })
	p.Kill()
	if objs := s3.Objects(""); len(objs) != 0 {
		t.Fatalf("the bucket lists %v after the server died mid-upload, want nothing", objs)
	}
	if len(s3.Unfinished("")) == 0 {
		t.Fatal("no unfinished upload left: the test did not cut one")
	}

	p, base := startS3Server(t, s3, dir, "")
	p.WaitLine(t, "in the bucket", 60*time.Second)
	if got := s3.Objects("")[name]; got != int64(len(data)) {
		t.Fatalf("the bucket holds %d bytes of %q, want %d", got, name, len(data))
	}
	if u := s3.Unfinished(""); len(u) != 0 {
		t.Errorf("unfinished uploads left: %q", u)
	}
	o, err := s3.Client.GetObject(context.Background(), s3.Bucket, name, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	h := sha256.New()
	if _, err := io.Copy(h, o); err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(data); !bytes.Equal(h.Sum(nil), sum[:]) {
		t.Error("the bucket's copy differs from the file")
	}
	var list []recordings.File
	testkit.GetJSON(t, base+"/recordings", "op-secret", &list)
	if len(list) != 1 || list[0].Name != name {
		t.Errorf("/recordings: %+v, want the one file once", list)
	}
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		t.Errorf("without --s3-remove-local the local copy stays: %v", err)
	}
}

// The presenter's own MP3 (the studio copy) goes to the bucket too, named after the live
// recording even when that one has already left the server's disk, so /recordings lists the
// talk once, from the bucket, serving the presenter's bytes.
func TestStudioCopyToTheBucket(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	dir := t.TempDir()
	p, base := startS3Server(t, s3, dir, "", "--s3-remove-local")
	podium := buildPodium(t)
	local := filepath.Join(t.TempDir(), "talk.mp3")
	out, err := exec.Command(podium, "record", "--input", audiotest.Speech(t, false), "--duration", "4s",
		"--out", local, "--server", base+"/whip/talk", "--token", "op-secret").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "studio copy: on the server") {
		t.Fatalf("podium record: %v\n%s", err, out)
	}
	testkit.WaitFor(t, 20*time.Second, "both copies in the bucket, none left in --dir", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
		return len(s3.Objects("")) == 2 && len(left) == 0
	})
	p.Next(t, regexp.MustCompile(`s3: in the bucket file="[^"]*`+regexp.QuoteMeta(filename.StudioSuffix)+`"`), 5*time.Second)
	want, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	var list []recordings.File
	testkit.GetJSON(t, base+"/recordings", "op-secret", &list)
	if len(list) != 1 || list[0].Serves != "studio" || list[0].Studio == nil || list[0].Studio.Size != int64(len(want)) {
		t.Fatalf("/recordings: %+v (bucket %v), want one talk serving its studio copy of %d bytes", list, s3.Objects(""), len(want))
	}
	if code, body := testkit.Get(t, base+list[0].URL, ""); code != http.StatusOK || body != string(want) {
		t.Errorf("GET its link: %d, %d bytes; want the presenter's %d bytes", code, len(body), len(want))
	}
}

// The bucket is away when the server starts and during a talk: the server starts all the
// same, the recording finishes on the server's disk as ever,
// /recordings lists and serves it from there, the failed uploads are counted, and once the
// bucket is back the talk goes there and leaves the disk.
func TestBucketAwayDuringATalk(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	dir := t.TempDir()
	s3.Stop() // away from the start: the server starts all the same
	p, base := startS3Server(t, s3, dir, "", "--s3-remove-local")
	if !strings.Contains(p.Log(), "recordings wait for it") {
		t.Errorf("the log does not say the bucket is away:\n%s", p.Log())
	}
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:3*pcm.SampleRate]
	pub := startPublisher(t, base+"/whip/talk", "op-secret", speech)
	<-pub.done
	pub.close()
	testkit.WaitFor(t, 20*time.Second, "a failed upload", func() bool {
		return testkit.Metrics(t, base+"/metrics", "op-secret")["podium_s3_upload_failures_total"] > 0
	})
	var list []recordings.File
	t0 := time.Now()
	testkit.GetJSON(t, base+"/recordings", "op-secret", &list)
	t.Logf("/recordings with the bucket away answered in %v", time.Since(t0).Round(time.Millisecond))
	if len(list) != 1 || list[0].Size == 0 {
		t.Fatalf("/recordings with the bucket away: %+v, want the talk from the disk", list)
	}
	if code, body := testkit.Get(t, base+list[0].URL, ""); code != http.StatusOK || int64(len(body)) != list[0].Size {
		t.Fatalf("GET it with the bucket away: %d, %d bytes", code, len(body))
	}
	if m := testkit.Metrics(t, base+"/metrics", "op-secret"); m["podium_s3_pending"] != 1 {
		t.Errorf("pending %v with the bucket away, want 1", m["podium_s3_pending"])
	}
	s3.Start()
	testkit.WaitFor(t, 30*time.Second, "the talk in the bucket once it is back, and gone from --dir", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
		return s3.Objects("")[list[0].Name] == list[0].Size && len(left) == 0
	})
}

// With --hls-bucket the live stream's HLS is copied to the bucket as it goes, under hls/ at
// the origin's own paths, each file with the Cache-Control a CDN keeps: a CDN can pull from
// there and no origin carries a listener. What the bucket holds plays what was said;
// listener pages are pointed at the CDN (--hls-base); once the talk is over (and --hls-keep
// has passed) none of it stays, and the recordings list never shows it.
func TestHLSToTheBucket(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	dir := t.TempDir()
	_, base := startS3Server(t, s3, dir, "live/", "--hls-bucket", "--hls-keep", "2s",
		"--hls-base", "https://cdn.example.org/", "--listener-token", "ear")
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	speech = append(speech, speech...)[:22*pcm.SampleRate]
	pub := startPublisher(t, base+"/whip/talk", "op-secret", speech)

	get := func(key string) (string, minio.ObjectInfo) {
		o, err := s3.Client.GetObject(context.Background(), s3.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			return "", minio.ObjectInfo{}
		}
		defer o.Close()
		b, err := io.ReadAll(o)
		if err != nil {
			return "", minio.ObjectInfo{}
		}
		st, _ := o.Stat()
		return string(b), st
	}
	segment := regexp.MustCompile(`(?m)^[^#\s]\S*\.mp4$`)
	var index, media, playlist string
	testkit.WaitFor(t, 20*time.Second, "three segments in the bucket's playlist", func() bool {
		index, _ = get("live/hls/talk/index.m3u8")
		media = mediaPlaylistLine.FindString(index)
		if media == "" {
			return false
		}
		playlist, _ = get("live/hls/talk/" + media)
		return len(segment.FindAllString(playlist, -1)) >= 3
	})
	_, pst := get("live/hls/talk/" + media)
	initURI := regexp.MustCompile(`#EXT-X-MAP:URI="([^"]+)"`).FindStringSubmatch(playlist)
	if initURI == nil {
		t.Fatalf("no EXT-X-MAP in:\n%s", playlist)
	}
	var file []byte
	for i, u := range append([]string{initURI[1]}, segment.FindAllString(playlist, -1)...) {
		body, st := get("live/hls/talk/" + u)
		if body == "" {
			t.Fatalf("the playlist lists %s, which the bucket lacks", u)
		}
		if i == 1 && (!strings.Contains(st.Metadata.Get("Cache-Control"), "immutable") || st.ContentType != "video/mp4") {
			t.Errorf("segment %s: Cache-Control %q, type %q", u, st.Metadata.Get("Cache-Control"), st.ContentType)
		}
		file = append(file, body...)
	}
	if cc := pst.Metadata.Get("Cache-Control"); cc != "public, max-age=1" || pst.ContentType != "application/vnd.apple.mpegurl" {
		t.Errorf("playlist: Cache-Control %q, type %q", cc, pst.ContentType)
	}
	path := filepath.Join(t.TempDir(), "talk.mp4")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, path)
	corr, _, overlap := audiotest.Correlate(speech, got, pcm.SampleRate/2)
	t.Logf("the bucket's HLS: %d segments listed, %d samples, correlation %.3f", len(segment.FindAllString(playlist, -1)), len(got), corr)
	if corr < 0.9 || overlap < 4*pcm.SampleRate {
		t.Errorf("the bucket's HLS correlates %.3f with what was said over %d samples, want ≥ 0.9 over 4 s", corr, overlap)
	}
	if info := streamInfo(t, base, "ear", "talk"); !strings.HasPrefix(info.HLS, "https://cdn.example.org/hls/talk/index.m3u8?expires=") {
		t.Errorf("listener pages are sent to %q, want the CDN's", info.HLS)
	}

	// Segments that leave the playlist leave the bucket: it holds what the playlist lists.
	testkit.WaitFor(t, 25*time.Second, "a segment gone from the playlist and from the bucket", func() bool {
		playlist, _ = get("live/hls/talk/" + media)
		if strings.Contains(playlist, "#EXT-X-MEDIA-SEQUENCE:0\n") || !strings.Contains(playlist, "#EXT-X-MEDIA-SEQUENCE:") {
			return false
		}
		want := map[string]int64{}
		for _, u := range append([]string{initURI[1], "index.m3u8", media}, segment.FindAllString(playlist, -1)...) {
			want["live/hls/talk/"+u] = 0
		}
		objs := s3.Objects("live/hls/")
		for k := range objs {
			if _, ok := want[k]; !ok {
				return false
			}
		}
		return len(objs) == len(want)
	})

	<-pub.done
	pub.close()
	testkit.WaitFor(t, 15*time.Second, "nothing of the stream left in the bucket", func() bool {
		return len(s3.Objects("live/hls/")) == 0
	})
	var list []recordings.File
	testkit.GetJSON(t, base+"/recordings", "op-secret", &list)
	if len(list) != 1 || !strings.HasPrefix(list[0].Name, "talk ") {
		t.Errorf("/recordings: %+v, want the one talk", list)
	}
}
