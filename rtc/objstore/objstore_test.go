package objstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"podium/scripts/testkit"
)

func openBucket(t *testing.T, s *testkit.S3, prefix string) *Bucket {
	t.Helper()
	b, err := Open(context.Background(), Config{Endpoint: s.Endpoint, Bucket: s.Bucket, Prefix: prefix,
		AccessKey: s.AccessKey, SecretKey: s.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randomFile(t *testing.T, dir, name string, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return b
}

// Files of one part, exactly one, and several (the last one short) reach a real S3 server
// whole: listed under their names, read back byte for byte and by range, the SHA-256 in
// their metadata. An upload of the same name that an earlier run left unfinished (noted in
// its claim) is gone; one that another origin has under way is left alone.
func TestUploadListOpen(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	b := openBucket(t, s, "talks/")
	ctx := context.Background()
	dir := t.TempDir()
	// An earlier run's upload of one of them, cut off after a part, and noted; another
	// origin's of another, under way.
	var others []string
	for _, key := range []string{"talks/two parts.mp3", "talks/three parts.mp3"} {
		id, err := b.c.NewMultipartUpload(ctx, s.Bucket, key, minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.c.PutObjectPart(ctx, s.Bucket, key, id, 1, strings.NewReader("old"), 3, minio.PutObjectPartOptions{}); err != nil {
			t.Fatal(err)
		}
		others = append(others, id)
	}
	notes := t.TempDir()
	if err := os.WriteFile(filepath.Join(notes, "two parts.mp3"), []byte(others[0]), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		size int
	}{
		{"small.mp3", 1000},
		{"one part.mp3", PartSize},
		{"two parts.mp3", PartSize + 3},
		{"three parts.mp3", 2*PartSize + 12345},
	} {
		data := randomFile(t, dir, c.name, c.size)
		if err := b.Upload(ctx, filepath.Join(dir, c.name), c.name, filepath.Join(notes, c.name)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := s.Objects("talks/")["talks/"+c.name]; got != int64(c.size) {
			t.Errorf("%s: the bucket holds %d bytes, want %d", c.name, got, c.size)
		}
		st, err := s.Client.StatObject(ctx, s.Bucket, "talks/"+c.name, minio.StatObjectOptions{})
		sum := sha256.Sum256(data)
		if err != nil || st.UserMetadata["Sha256"] != hex.EncodeToString(sum[:]) || st.ContentType != "audio/mpeg" {
			t.Errorf("%s: metadata %v, type %q (%v), want its sha256 %x", c.name, st.UserMetadata, st.ContentType, err, sum)
		}
		o, _, err := b.Open(ctx, c.name)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(o)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: read back %d bytes (%v), not what was uploaded", c.name, len(got), err)
		}
		if _, err := o.Seek(int64(c.size/2), io.SeekStart); err != nil {
			t.Fatal(err)
		}
		tail, _ := io.ReadAll(o)
		if !bytes.Equal(tail, data[c.size/2:]) {
			t.Errorf("%s: read from the middle: %d bytes, not the file's second half", c.name, len(tail))
		}
		o.Close()
	}
	if u := s.Unfinished("talks/"); len(u) != 1 || u[0] != "talks/three parts.mp3" {
		t.Errorf("unfinished uploads left in the bucket: %q, want only the other origin's", u)
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 4 {
		t.Fatalf("List: %d (%v), want the 4 files", len(list), err)
	}
	for _, r := range list {
		if strings.Contains(r.Name, "/") || r.Size == 0 || time.Since(r.Modified) > time.Minute {
			t.Errorf("listed %+v", r)
		}
	}
	// A listing is shared for a while (a thousand listener pages ask at once when a talk
	// ends), and an upload through the bucket shows at once.
	if _, err := s.Client.PutObject(ctx, s.Bucket, "talks/by hand.mp3", strings.NewReader("x"), 1, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if again, _ := b.List(ctx); len(again) != 4 {
		t.Errorf("List right after: %d, want the 4 of the shared listing", len(again))
	}
	randomFile(t, dir, "later.mp3", 10)
	if err := b.Upload(ctx, filepath.Join(dir, "later.mp3"), "later.mp3", ""); err != nil {
		t.Fatal(err)
	}
	if again, _ := b.List(ctx); len(again) != 6 {
		t.Errorf("List after an upload: %d, want all 6", len(again))
	}
	if _, _, err := b.Open(ctx, "none.mp3"); err == nil {
		t.Error("Open of a name the bucket lacks: no error")
	}
}

// Open refuses what it cannot use, naming it.
func TestOpenRefuses(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	ctx := context.Background()
	// Storage that does not answer: a Bucket that works once it is there, and ErrUnreachable.
	down := "http://127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	b, err := Open(short, Config{Endpoint: down, Bucket: "x", AccessKey: "a", SecretKey: "b"})
	cancel()
	if b == nil || !errors.Is(err, ErrUnreachable) {
		t.Errorf("Open of storage that does not answer: %v, %v; want a Bucket and ErrUnreachable", b, err)
	}
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Endpoint: "127.0.0.1:9", Bucket: "x"}, "want http(s)://host"},
		{Config{Endpoint: "ftp://host", Bucket: "x"}, "want http(s)://host"},
		{Config{Endpoint: s.Endpoint + "/path", Bucket: "x"}, "want http(s)://host"},
		{Config{Endpoint: s.Endpoint}, "no bucket"},
		{Config{Endpoint: s.Endpoint, Bucket: "nope", AccessKey: s.AccessKey, SecretKey: s.SecretKey}, "does not exist"},
		{Config{Endpoint: s.Endpoint, Bucket: s.Bucket, AccessKey: s.AccessKey, SecretKey: "wrong"}, "signature"},
	} {
		_, err := Open(ctx, c.cfg)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), c.want) {
			t.Errorf("Open(%+v): %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}

// The uploader takes each finished, claimed file to the bucket and then removes it; while
// the bucket is away it keeps trying, and the file waits; a file it never claimed (another
// program's) is neither uploaded nor removed; a claim left by an earlier run is uploaded at
// the start.
func TestUploaderThroughAnOutage(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	b := openBucket(t, s, "")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, PendingDir), 0o755); err != nil {
		t.Fatal(err)
	}
	randomFile(t, dir, "left by a crash.mp3", 5000)
	if err := os.WriteFile(filepath.Join(dir, PendingDir, "left by a crash.mp3"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	randomFile(t, dir, "not ours.mp3", 100)
	u, err := NewUploader(b, dir, true, testkit.Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	if u.Pending() != 1 {
		t.Fatalf("pending at start %d, want the claim left behind", u.Pending())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { u.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	inBucket := func(name string) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(dir, name))
			return s.Objects("")[name] > 0 && os.IsNotExist(err) && u.Pending() == 0
		}
	}
	testkit.WaitFor(t, 10*time.Second, "the crash's file in the bucket, and gone here", inBucket("left by a crash.mp3"))

	if err := u.Claim("talk.mp3"); err != nil {
		t.Fatal(err)
	}
	randomFile(t, dir, "talk.mp3", 3*PartSize/2)
	s.Stop()
	u.Finished("talk.mp3")
	testkit.WaitFor(t, 10*time.Second, "a failed try", func() bool { return u.failures.Load() > 0 })
	if _, err := os.Stat(filepath.Join(dir, "talk.mp3")); err != nil || u.Pending() != 1 {
		t.Fatalf("with the bucket away: local file %v, pending %d; want it kept, waiting", err, u.Pending())
	}
	s.Start()
	testkit.WaitFor(t, 20*time.Second, "the talk in the bucket once it is back", inBucket("talk.mp3"))
	if _, err := os.Stat(filepath.Join(dir, "not ours.mp3")); err != nil || s.Objects("")["not ours.mp3"] != 0 {
		t.Errorf("a file the server never claimed: local %v, in the bucket %v", err, s.Objects("")["not ours.mp3"])
	}
	m := testkit.Exposition(t, u.Collectors()...)
	got := testkit.ParseMetrics(strings.NewReader(m))
	for name, want := range map[string]float64{"podium_s3_uploads_total": 2, "podium_s3_bytes_uploaded_total": 5000 + 3*PartSize/2, "podium_s3_pending": 0} {
		if v, ok := got[name]; !ok || v != want {
			t.Errorf("%s = %v, want %v:\n%s", name, v, want, m)
		}
	}
}

// A symlink put where a recording was is never followed: nothing of its target is uploaded.
func TestUploadRefusesSymlinks(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	b := openBucket(t, s, "")
	dir := t.TempDir()
	randomFile(t, dir, "secret", 100)
	if err := os.Symlink(filepath.Join(dir, "secret"), filepath.Join(dir, "talk.mp3")); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(context.Background(), filepath.Join(dir, "talk.mp3"), "talk.mp3", ""); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Upload of a symlink: %v, want refused", err)
	}
	if objs := s.Objects(""); len(objs) != 0 {
		t.Errorf("the bucket holds %v", objs)
	}
}

// An upload never replaces an object: where the name holds other bytes (another origin's
// talk of the same second) it is ErrTaken and the object stays as it was; where it holds
// the file's own bytes (an earlier run's upload) it is done. Of uploads of one name at once,
// from origins that each saw it free, exactly one completes: the bucket decides, by
// If-None-Match: * on CompleteMultipartUpload, which versitygw honours (checked here on its
// own, beside the same completion without it, which replaces).
func TestUploadNeverReplaces(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	b := openBucket(t, s, "")
	ctx := context.Background()
	dir := t.TempDir()
	first := randomFile(t, dir, "first.mp3", 1000)
	randomFile(t, dir, "second.mp3", 1000)
	if err := b.Upload(ctx, filepath.Join(dir, "first.mp3"), "talk.mp3", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(ctx, filepath.Join(dir, "second.mp3"), "talk.mp3", ""); !errors.Is(err, ErrTaken) {
		t.Errorf("other bytes over talk.mp3: %v, want ErrTaken", err)
	}
	if err := b.Upload(ctx, filepath.Join(dir, "first.mp3"), "talk.mp3", ""); err != nil {
		t.Errorf("the same bytes again: %v, want done", err)
	}
	if got := read(t, b, "talk.mp3"); !bytes.Equal(got, first) {
		t.Errorf("talk.mp3 holds %d bytes, not the first upload's", len(got))
	}

	// The bucket's own refusal, past the look Upload takes first.
	complete := func(opts minio.PutObjectOptions) error {
		id, err := b.c.NewMultipartUpload(ctx, s.Bucket, "talk.mp3", minio.PutObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := b.c.PutObjectPart(ctx, s.Bucket, "talk.mp3", id, 1, strings.NewReader("over"), 4, minio.PutObjectPartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = b.c.CompleteMultipartUpload(ctx, s.Bucket, "talk.mp3", id, []minio.CompletePart{{PartNumber: 1, ETag: p.ETag}}, opts)
		if err != nil {
			_ = b.c.AbortMultipartUpload(ctx, s.Bucket, "talk.mp3", id)
		}
		return err
	}
	var only minio.PutObjectOptions
	only.SetMatchETagExcept("*")
	if err := complete(only); minio.ToErrorResponse(err).StatusCode != 412 {
		t.Errorf("completing over talk.mp3 with If-None-Match: *: %v, want 412", err)
	}
	if got := read(t, b, "talk.mp3"); !bytes.Equal(got, first) {
		t.Errorf("after a refused completion talk.mp3 holds %q", got[:min(len(got), 8)])
	}
	if err := complete(minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, "talk.mp3"); string(got) != "over" {
		t.Errorf("without the condition talk.mp3 holds %d bytes, want it replaced: the test proves nothing", len(got))
	}

	// Eight origins, one name, at once.
	const n = 8
	files := make([][]byte, n)
	for i := range files {
		files[i] = randomFile(t, dir, strconv.Itoa(i), PartSize+1000)
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Upload(ctx, filepath.Join(dir, strconv.Itoa(i)), "same second.mp3", filepath.Join(dir, strconv.Itoa(i)+".note"))
		}()
	}
	wg.Wait()
	won, taken := -1, 0
	for i, err := range errs {
		switch {
		case err == nil && won < 0:
			won = i
		case errors.Is(err, ErrTaken):
			taken++
		default:
			t.Errorf("upload %d: %v", i, err)
		}
	}
	if won < 0 || taken != n-1 {
		t.Fatalf("of %d uploads of one name at once %d were refused as taken, want all but one to be", n, taken)
	}
	if got := read(t, b, "same second.mp3"); !bytes.Equal(got, files[won]) {
		t.Errorf("the bucket holds %d bytes, not those of the one upload that completed", len(got))
	}
	if u := s.Unfinished(""); len(u) != 0 {
		t.Errorf("unfinished uploads left: %q", u)
	}
}

func read(t *testing.T, b *Bucket, name string) []byte {
	t.Helper()
	o, _, err := b.Open(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	got, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Two origins mirror one stream name's HLS to one bucket (a presenter who reconnected to
// the other): the one that ends deletes only what it wrote last, never the playlist the other,
// still live, wrote over its own, even with the same bytes.
func TestHLSMirrorDeletesOnlyItsOwn(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	a, b := openBucket(t, s, "p/").HLS(), openBucket(t, s, "p/").HLS()
	ctx := context.Background()
	playlist := []byte("#EXTM3U\nmain_stream.m3u8\n")
	for _, put := range []struct {
		m    HLSMirror
		name string
	}{{a, "talk/index.m3u8"}, {a, "talk/a_seg1.mp4"}, {b, "talk/index.m3u8"}, {b, "talk/b_seg1.mp4"}} {
		if err := put.m.Put(ctx, put.name, playlist, "application/vnd.apple.mpegurl", "max-age=1"); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"talk/index.m3u8", "talk/a_seg1.mp4", "talk/gone.mp4"} {
		if err := a.Delete(ctx, n); err != nil {
			t.Fatalf("a deletes %s: %v", n, err)
		}
	}
	objs := s.Objects("p/hls/")
	if _, ok := objs["p/hls/talk/index.m3u8"]; !ok || len(objs) != 2 {
		t.Errorf("after the first origin's end the bucket holds %v, want the second's playlist and segment", objs)
	}
	for _, n := range []string{"talk/index.m3u8", "talk/b_seg1.mp4"} {
		if err := b.Delete(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if objs := s.Objects("p/hls/"); len(objs) != 0 {
		t.Errorf("after both ends the bucket holds %v", objs)
	}
}

// Two origins' uploaders, one bucket, the same names: the second origin's talk and studio
// copy go up as "(2)" beside the first's, and keep that name on its disk too (one name for one
// talk wherever it is listed from), the studio copy following its talk even where the first
// origin has none. An upload again of what is already there is done, not renamed.
func TestUploadersShareABucket(t *testing.T) {
	s := testkit.StartS3(t, "podium")
	const talk, studio = "talk 2026-12-07 10-00-00.mp3", "talk 2026-12-07 10-00-00 (studio).mp3"
	run := func(u *Uploader) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { u.Run(ctx); close(done) }()
		testkit.WaitFor(t, 10*time.Second, "uploads", func() bool { return u.Pending() == 0 })
		cancel()
		<-done
	}
	files := map[string][]byte{}
	var dirs [2]string
	for i, names := range [][]string{{talk}, {talk, studio}} {
		dirs[i] = t.TempDir()
		u, err := NewUploader(openBucket(t, s, ""), dirs[i], false, testkit.Logger(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			files[strconv.Itoa(i)+n] = randomFile(t, dirs[i], n, 3000)
			if err := u.Add(n); err != nil {
				t.Fatal(err)
			}
		}
		run(u)
	}
	want := map[string][]byte{
		talk:                               files["0"+talk],
		"talk 2026-12-07 10-00-00 (2).mp3": files["1"+talk],
		"talk 2026-12-07 10-00-00 (2) (studio).mp3": files["1"+studio],
	}
	b := openBucket(t, s, "")
	if objs := s.Objects(""); len(objs) != len(want) {
		t.Errorf("the bucket holds %v, want %d objects", objs, len(want))
	}
	for name, data := range want {
		if got := read(t, b, name); !bytes.Equal(got, data) {
			t.Errorf("%s: %d bytes, not the file's", name, len(got))
		}
	}
	for name := range want {
		if name == talk {
			continue
		}
		if got, err := os.ReadFile(filepath.Join(dirs[1], name)); err != nil || !bytes.Equal(got, want[name]) {
			t.Errorf("the second origin's disk has no %s of its own bytes (%v)", name, err)
		}
	}
	if local, _ := filepath.Glob(filepath.Join(dirs[1], "*.mp3")); len(local) != 2 {
		t.Errorf("the second origin's disk holds %q, want its two files under their bucket names", local)
	}
	// Its own file again (a crash before the claim was dropped): done, under its name.
	u, _ := NewUploader(b, dirs[0], false, testkit.Logger(t))
	if err := u.Add(talk); err != nil {
		t.Fatal(err)
	}
	run(u)
	if objs := s.Objects(""); len(objs) != len(want) {
		t.Errorf("after uploading the first origin's talk again the bucket holds %v", objs)
	}
}
