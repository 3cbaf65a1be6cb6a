package testkit

import (
	"context"
	"go/build"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// VersityGWVersion is the S3 server the tests run; scripts/deps.sh test installs it.
const VersityGWVersion = "v1.8.0"

// S3 is a real S3 server on loopback: versitygw (Apache-2.0) serving a folder of the test's,
// with one bucket.
type S3 struct {
	Endpoint             string // http://127.0.0.1:PORT
	Bucket               string
	AccessKey, SecretKey string
	Client               *minio.Client // the test's own view of the bucket
	Proc                 *Proc
	t                    testing.TB
	bin, root, addr      string
}

// StartS3 starts versitygw over a new folder and makes the bucket.
func StartS3(t testing.TB, bucket string) *S3 {
	t.Helper()
	bin, err := exec.LookPath("versitygw")
	if err != nil {
		bin = filepath.Join(build.Default.GOPATH, "bin", "versitygw")
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("versitygw is not installed (make test installs it: scripts/deps.sh test)")
		}
	}
	s := &S3{Bucket: bucket, AccessKey: "podium-test", SecretKey: "podium-test-secret", t: t, bin: bin,
		root: t.TempDir(), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))}
	s.Endpoint = "http://" + s.addr
	s.Start()
	s.Client, err = minio.New(s.addr, &minio.Options{Creds: credentials.NewStaticV4(s.AccessKey, s.SecretKey, "")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client.MakeBucket(context.Background(), bucket, minio.MakeBucketOptions{}); err != nil {
		t.Fatalf("make bucket %q: %v", bucket, err)
	}
	return s
}

// Start (again) serves the folder on the same address, once it answers.
func (s *S3) Start() {
	s.t.Helper()
	s.Proc = Start(s.t, nil, s.bin, "--access", s.AccessKey, "--secret", s.SecretKey,
		"--port", s.addr, "--quiet", "posix", s.root)
	WaitFor(s.t, 10*time.Second, "versitygw on "+s.addr, func() bool {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// Stop kills the server at once, as a crash would.
func (s *S3) Stop() { s.Proc.Kill() }

// Env is the environment the AWS tools (and podium-server) read the credentials from.
func (s *S3) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.SecretKey}
}

// Objects lists the bucket's complete objects under prefix, by name, with their sizes.
func (s *S3) Objects(prefix string) map[string]int64 {
	s.t.Helper()
	out := map[string]int64{}
	for o := range s.Client.ListObjects(context.Background(), s.Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			s.t.Fatalf("list %s: %v", s.Bucket, o.Err)
		}
		out[o.Key] = o.Size
	}
	return out
}

// Unfinished lists the keys of the bucket's multipart uploads in progress.
func (s *S3) Unfinished(prefix string) []string {
	s.t.Helper()
	var out []string
	for u := range s.Client.ListIncompleteUploads(context.Background(), s.Bucket, prefix, true) {
		if u.Err != nil {
			s.t.Fatalf("list uploads in %s: %v", s.Bucket, u.Err)
		}
		out = append(out, u.Key)
	}
	return out
}
