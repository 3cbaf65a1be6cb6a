// Package objstore keeps podium-server's finished recordings in S3-compatible object storage
// (AWS S3, MinIO, Ceph, R2, versitygw...): Bucket uploads a file in parts and checks what the
// bucket then holds, lists and opens what is there; Uploader takes each recording the server
// finishes to the bucket, through restarts and outages. The signing and the wire protocol
// are minio-go's.
package objstore

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"podium/rtc/recordings"
)

// PartSize is the size of each part of an upload but the last: S3's least is 5 MiB, and
// a part is held in memory while it is sent. A 90-minute talk at 64 kb/s is 43 MB, 5 parts.
const PartSize = 8 << 20

// Config names a bucket and how to reach it, as the AWS tools name these things.
type Config struct {
	// Endpoint is the storage's URL: https://s3.eu-west-1.amazonaws.com, http://127.0.0.1:7070.
	Endpoint string
	Bucket   string
	// Prefix goes before every object's name ("podium/talks/"); "" for none.
	Prefix string
	Region string // "" lets the client ask the bucket
	// AccessKey and SecretKey (and SessionToken) sign the requests; with no AccessKey they
	// come from $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY, $AWS_SESSION_TOKEN, or
	// ~/.aws/credentials ($AWS_PROFILE), as the AWS tools read them.
	AccessKey, SecretKey, SessionToken string
}

// listFor is how long a listing of the bucket is reused: every listener page asks for the
// recordings when a talk ends, and a thousand of them must not become a thousand LISTs.
const listFor = 5 * time.Second

// Bucket is the bucket of a Config.
type Bucket struct {
	c      minio.Core
	bucket string
	prefix string
	// origin names this Bucket (this server's run) in the HLS objects it writes
	// (x-amz-meta-podium-origin), so that it deletes only its own.
	origin string

	mu     sync.Mutex // one listing at a time; the others wait for it and share it
	listed time.Time
	list   []recordings.File
	err    error
}

// Open connects to cfg's bucket, which must exist.
func Open(ctx context.Context, cfg Config) (*Bucket, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("S3 endpoint %q: want http(s)://host[:port]", cfg.Endpoint)
	}
	if cfg.Bucket == "" {
		return nil, errors.New("S3: no bucket named")
	}
	creds := credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken)
	if cfg.AccessKey == "" {
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.FileAWSCredentials{}})
	}
	c, err := minio.New(u.Host, &minio.Options{Creds: creds, Secure: u.Scheme == "https", Region: cfg.Region})
	if err != nil {
		return nil, fmt.Errorf("S3 endpoint %q: %w", cfg.Endpoint, err)
	}
	b := &Bucket{c: minio.Core{Client: c}, bucket: cfg.Bucket, prefix: cfg.Prefix, origin: rand.Text()}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil && minio.ToErrorResponse(err).Code == "" {
		// No answer (the storage is down, or the network): the bucket is tried again with
		// each upload, so this is no reason to keep a recording server down.
		return b, fmt.Errorf("S3 bucket %q at %s: %w: %w", cfg.Bucket, cfg.Endpoint, ErrUnreachable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("S3 bucket %q at %s: %w", cfg.Bucket, cfg.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("S3 bucket %q at %s does not exist", cfg.Bucket, cfg.Endpoint)
	}
	return b, nil
}

// ErrUnreachable is Open's error when the storage did not answer: the Bucket it returns
// beside it works once the storage is back. Any answer that refuses (no such bucket, a wrong
// key) is an error with no Bucket.
var ErrUnreachable = errors.New("no answer")

func (b *Bucket) key(name string) string { return b.prefix + name }

// ErrTaken is Upload's error when the bucket already holds name with other bytes than the
// file's: an object this upload did not make (another origin's talk of the same second), which
// it never replaces.
var ErrTaken = errors.New("the bucket holds other bytes under this name")

// Upload copies the file at path into the bucket as name with a multipart upload, each part
// checked by the bucket against its MD5, then checks the object the bucket holds: its size,
// and its ETag against the one the parts make. The object appears only once complete. The
// file at note ("" for none: the claim) keeps the ID of the upload under way, so that the
// next run abandons the one an earlier run left unfinished, and only that one: another
// origin may be uploading the same name. The file's SHA-256 goes along as the object's
// metadata (x-amz-meta-sha256), for anyone who checks a download.
//
// It never replaces an object: the upload completes only where name is free
// (If-None-Match: *, which the bucket decides atomically), so of two origins sharing a bucket
// that upload one name at once, one wins and the other gets ErrTaken. Where name already
// holds this file's bytes (size, ETag and SHA-256: an earlier run's upload, done before it
// could drop its claim), that is success.
func (b *Bucket) Upload(ctx context.Context, path, name, note string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	// What was opened must be the regular file at path itself, never what a symlink put in
	// its place points to.
	if l, err := os.Lstat(path); err != nil || !l.Mode().IsRegular() || !os.SameFile(l, info) {
		return fmt.Errorf("upload %q: not a regular file", path)
	}
	want, err := digest(f, info.Size())
	if err != nil {
		return fmt.Errorf("read %q: %w", path, err)
	}
	key := b.key(name)
	// Most often the name is free; where it is not, nothing needs to be sent to learn so.
	switch err := b.holds(ctx, key, want); {
	case err == nil:
		return nil
	case !errors.Is(err, errNoObject):
		return err
	}
	if err := b.abandon(ctx, key, note); err != nil {
		return err
	}
	id, err := b.c.NewMultipartUpload(ctx, b.bucket, key, minio.PutObjectOptions{
		ContentType:  "audio/mpeg",
		UserMetadata: map[string]string{"sha256": want.sha256},
	})
	if err != nil {
		return fmt.Errorf("start upload of %q: %w", key, err)
	}
	if note != "" {
		if err := os.WriteFile(note, []byte(id), 0o644); err != nil {
			_ = b.c.AbortMultipartUpload(context.WithoutCancel(ctx), b.bucket, key, id)
			return fmt.Errorf("note the upload of %q: %w", key, err)
		}
	}
	done := false
	defer func() {
		if !done { // nothing half-written stays behind, where the bucket can still be asked
			_ = b.c.AbortMultipartUpload(context.WithoutCancel(ctx), b.bucket, key, id)
		}
	}()
	var parts []minio.CompletePart
	var sums []byte
	buf := make([]byte, PartSize)
	for off, n := int64(0), 1; off < info.Size() || n == 1; n++ {
		k, err := f.ReadAt(buf[:min(PartSize, info.Size()-off)], off)
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read %q: %w", path, err)
		}
		sum := md5.Sum(buf[:k])
		p, err := b.c.PutObjectPart(ctx, b.bucket, key, id, n, bytes.NewReader(buf[:k]), int64(k),
			minio.PutObjectPartOptions{Md5Base64: base64.StdEncoding.EncodeToString(sum[:])})
		if err != nil {
			return fmt.Errorf("upload part %d of %q: %w", n, key, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag})
		sums = append(sums, sum[:]...)
		off += int64(k)
	}
	if etagOf(sums, len(parts)) != want.etag {
		return fmt.Errorf("upload of %q: %s changed while it was read", key, path)
	}
	var only minio.PutObjectOptions
	only.SetMatchETagExcept("*") // If-None-Match: *, never over an object
	if _, err := b.c.CompleteMultipartUpload(ctx, b.bucket, key, id, parts, only); err != nil {
		if r := minio.ToErrorResponse(err); r.StatusCode == http.StatusPreconditionFailed || r.Code == "PreconditionFailed" {
			return b.holds(ctx, key, want) // someone else's, or this file's all the same
		}
		return fmt.Errorf("complete upload of %q: %w", key, err)
	}
	done = true
	b.mu.Lock()
	b.listed = time.Time{} // the next listing shows it
	b.mu.Unlock()
	if err := b.holds(ctx, key, want); err != nil {
		return fmt.Errorf("check: %w", err)
	}
	return nil
}

// sent is what an upload sends, as the bucket then describes the object.
type sent struct {
	size   int64
	etag   string // of a multipart upload in PartSize parts: the MD5 of the parts' MD5s, "-", their number
	sha256 string // hex, the x-amz-meta-sha256 Upload gives the object
}

// errNoObject is holds' error when the bucket has no object under the key.
var errNoObject = errors.New("no such object")

// holds checks that the bucket's object key is want: nil if it is, errNoObject if there is
// none, ErrTaken if it holds other bytes.
func (b *Bucket) holds(ctx context.Context, key string, want sent) error {
	st, err := b.c.Client.StatObject(ctx, b.bucket, key, minio.StatObjectOptions{})
	if noObject(err) {
		return fmt.Errorf("%q: %w", key, errNoObject)
	}
	if err != nil {
		return fmt.Errorf("look at %q: %w", key, err)
	}
	if got := strings.Trim(st.ETag, `"`); st.Size != want.size || got != want.etag || st.UserMetadata["Sha256"] != want.sha256 {
		return fmt.Errorf("%q: %w: %d bytes with ETag %s, SHA-256 %q; this file is %d bytes, ETag %s, SHA-256 %s",
			key, ErrTaken, st.Size, got, st.UserMetadata["Sha256"], want.size, want.etag, want.sha256)
	}
	return nil
}

// noObject says err is the bucket's answer that it holds no object under the key.
func noObject(err error) bool {
	r := minio.ToErrorResponse(err)
	return r.StatusCode == http.StatusNotFound || r.Code == "NoSuchKey"
}

// digest reads f's size bytes once for what an upload of them sends: their SHA-256 and the
// ETag of a multipart upload in PartSize parts.
func digest(f io.ReaderAt, size int64) (sent, error) {
	whole := sha256.New()
	var sums []byte
	n := 0
	for off := int64(0); off < size || n == 0; n++ {
		part := md5.New()
		want := min(PartSize, size-off)
		k, err := io.Copy(io.MultiWriter(whole, part), io.NewSectionReader(f, off, want))
		if err != nil {
			return sent{}, err
		}
		if k < want {
			return sent{}, io.ErrUnexpectedEOF // shorter than it was: cut while being read
		}
		sums = part.Sum(sums)
		off += k
	}
	return sent{size: size, etag: etagOf(sums, n), sha256: hex.EncodeToString(whole.Sum(nil))}, nil
}

// etagOf is the ETag S3 gives a multipart upload: the MD5 of its parts' MD5s, "-", their number.
func etagOf(partSums []byte, parts int) string {
	return fmt.Sprintf("%x-%d", md5.Sum(partSums), parts)
}

// abandon aborts the unfinished upload of key whose ID note holds: one of this server's, cut
// off by a crash (never one it did not begin, which may be another origin's under way).
func (b *Bucket) abandon(ctx context.Context, key, note string) error {
	if note == "" {
		return nil
	}
	id, err := os.ReadFile(note)
	if errors.Is(err, fs.ErrNotExist) || len(id) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the unfinished upload of %q: %w", key, err)
	}
	err = b.c.AbortMultipartUpload(ctx, b.bucket, key, strings.TrimSpace(string(id)))
	if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" { // NoSuchUpload: it ended
		return fmt.Errorf("abort the unfinished upload of %q: %w", key, err)
	}
	return nil
}

// Has says whether the bucket holds name with size bytes.
func (b *Bucket) Has(ctx context.Context, name string, size int64) bool {
	st, err := b.c.Client.StatObject(ctx, b.bucket, b.key(name), minio.StatObjectOptions{})
	return err == nil && st.Size == size
}

// List describes the complete objects under the prefix (not below it: one level, as the
// recordings folder is), as they were at most listFor ago or at the last upload.
func (b *Bucket) List(ctx context.Context) ([]recordings.File, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if time.Since(b.listed) > listFor {
		b.list, b.err = b.listNow(ctx)
		b.listed = time.Now()
	}
	return slices.Clone(b.list), b.err
}

func (b *Bucket) listNow(ctx context.Context) ([]recordings.File, error) {
	var out []recordings.File
	for o := range b.c.Client.ListObjects(ctx, b.bucket, minio.ListObjectsOptions{Prefix: b.prefix}) {
		if o.Err != nil {
			return out, fmt.Errorf("list %s/%s: %w", b.bucket, b.prefix, o.Err)
		}
		name := strings.TrimPrefix(o.Key, b.prefix)
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		out = append(out, recordings.File{Name: name, Size: o.Size, Modified: o.LastModified})
	}
	return out, nil
}

// Open opens name for reading: ranges are read from the bucket as they are asked for.
func (b *Bucket) Open(ctx context.Context, name string) (io.ReadSeekCloser, time.Time, error) {
	o, err := b.c.Client.GetObject(ctx, b.bucket, b.key(name), minio.GetObjectOptions{})
	if err != nil {
		return nil, time.Time{}, err
	}
	st, err := o.Stat()
	if err != nil {
		o.Close()
		return nil, time.Time{}, err
	}
	return o, st.LastModified, nil
}

// HLSDir is where, under the prefix, live streams' HLS goes (HLS): the same paths as the
// origin's /hls/{stream}/{file}, so a CDN maps one onto the other.
const HLSDir = "hls/"

// HLS is the bucket as an hls.Mirror: each live stream's playlists and segments under
// PREFIX/hls/{stream}/, each with the Cache-Control the CDN is to keep.
func (b *Bucket) HLS() HLSMirror { return HLSMirror{b} }

// HLSMirror puts and deletes HLS files under PREFIX/hls/. Two origins live on one stream
// name at once (a presenter who reconnected through the balancer to another origin, while the
// first keeps its recording for --grace) write the same playlist names there: each deletes
// only what it wrote last, never the other's playlist.
type HLSMirror struct{ b *Bucket }

// originMeta is the metadata naming the origin that wrote an HLS object (x-amz-meta-…).
const originMeta = "Podium-Origin"

// Put stores body as name ("{stream}/{file}").
func (h HLSMirror) Put(ctx context.Context, name string, body []byte, contentType, cacheControl string) error {
	_, err := h.b.c.Client.PutObject(ctx, h.b.bucket, h.b.prefix+HLSDir+name, bytes.NewReader(body), int64(len(body)),
		minio.PutObjectOptions{ContentType: contentType, CacheControl: cacheControl, SendContentMd5: true,
			UserMetadata: map[string]string{originMeta: h.b.origin}})
	return err
}

// Delete removes name if this origin wrote it last (another's stays: its stream is live
// there). The look and the removal are two requests: a put by the other origin between them
// is lost, and for a playlist put again with the next segment.
func (h HLSMirror) Delete(ctx context.Context, name string) error {
	key := h.b.prefix + HLSDir + name
	st, err := h.b.c.Client.StatObject(ctx, h.b.bucket, key, minio.StatObjectOptions{})
	if noObject(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if st.UserMetadata[originMeta] != h.b.origin {
		return nil
	}
	return h.b.c.Client.RemoveObject(ctx, h.b.bucket, key, minio.RemoveObjectOptions{})
}
