//go:build linux

package faults

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"podium/audio/filename"
	"podium/audio/pcm"
	"podium/rtc/recordings"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// origin is one podium-server of two behind one load balancer, sharing one bucket.
type origin struct {
	srv   *testkit.Proc
	base  string
	dir   string
	input []int16 // what its presenter says
	out   string  // the presenter's own MP3: its studio copy's bytes
	live  string  // the name of its live recording
	kept  string  // a hard link to that file, taken while it was recorded: its bytes
}

// Two origins share one bucket and one prefix, and the same stream begins on both in the
// same second: both live recordings are "talk YYYY-MM-DD HH-MM-SS.mp3", both studio copies
// "… (studio).mp3". Each origin must keep its own talk: the bucket ends up holding all four
// files byte for byte, each live recording correlating with what its own presenter said, and
// --s3-remove-local removes no file whose own bytes the bucket does not hold.
func TestTwoOriginsOneBucket(t *testing.T) {
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:4*pcm.SampleRate]
	// The second presenter says something else: the same speech backwards.
	other := slices.Clone(speech)
	slices.Reverse(other)
	var s3 *testkit.S3
	var o [2]*origin
	for try := 1; ; try++ {
		s3, o = startTwoOrigins(t, [2][]int16{speech, other})
		if o[0].live == o[1].live {
			break
		}
		t.Logf("try %d: the talks began in different seconds (%q, %q); again", try, o[0].live, o[1].live)
		if try == 3 {
			t.Fatalf("three tries and the two talks never began in the same second")
		}
	}
	// Each origin uploads its talk and its studio copy; what never gets there is measured below.
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		done := 0
		for _, x := range o {
			m := testkit.Metrics(t, x.base+"/metrics", "m")
			if m["podium_s3_pending"] == 0 && m["podium_s3_uploads_total"] >= 2 {
				done++
			}
		}
		if done == len(o) {
			break
		}
	}

	// What the bucket holds, by checksum.
	inBucket := map[[32]byte]string{}
	objects := s3.Objects("")
	for key := range objects {
		obj, err := s3.Client.GetObject(context.Background(), s3.Bucket, key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(obj)
		obj.Close()
		if err != nil {
			t.Fatalf("read %s: %v", key, err)
		}
		inBucket[sha256.Sum256(b)] = key
	}
	kept, lost, removedLost := 0, 0, 0
	var corrs []string
	for i, x := range o {
		studio := filepath.Join(x.dir, strings.TrimSuffix(x.live, ".mp3")+filename.StudioSuffix)
		for _, f := range []struct{ local, bytes string }{{filepath.Join(x.dir, x.live), x.kept}, {studio, x.out}} {
			b, err := os.ReadFile(f.bytes)
			if err != nil {
				t.Fatal(err)
			}
			key, ok := inBucket[sha256.Sum256(b)]
			_, err = os.Stat(f.local)
			removed := os.IsNotExist(err)
			switch {
			case ok:
				kept++
			case removed:
				lost++
				removedLost++
				t.Errorf("origin %d: %s removed from --dir, and the bucket holds none of its %d bytes", i+1, filepath.Base(f.local), len(b))
			default:
				lost++
				t.Errorf("origin %d: %s (%d bytes) is not in the bucket", i+1, filepath.Base(f.local), len(b))
			}
			if ok && f.bytes == x.kept {
				got := audiotest.DecodeBytes(t, b, "live.mp3")
				corr, _, _ := audiotest.Correlate(x.input, got, pcm.SampleRate/2)
				corrs = append(corrs, fmt.Sprintf("%.2f", corr))
				if corr < 0.8 {
					t.Errorf("origin %d: the bucket's %s correlates %.3f with what its presenter said", i+1, key, corr)
				}
			}
		}
	}
	// Each origin lists both talks from the bucket, and serves each: the bytes of one talk,
	// with its own presenter's studio copy beside it.
	listed, paired := 0, 0
	for i, x := range o {
		var list []recordings.File
		testkit.GetJSON(t, x.base+"/recordings", "tok", &list)
		talks := map[string]bool{}
		for _, r := range list {
			live := r.URL
			if r.Serves == "studio" {
				live = r.LiveURL
			}
			if live == "" {
				continue // a studio copy alone
			}
			_, body := testkit.Get(t, x.base+live, "")
			key := inBucket[sha256.Sum256([]byte(body))]
			if key == "" || talks[key] {
				continue
			}
			talks[key] = true
			if r.Studio != nil {
				_, sc := testkit.Get(t, x.base+r.Studio.URL, "")
				for _, y := range o {
					if k, err := os.ReadFile(y.kept); err == nil && sha256.Sum256(k) == sha256.Sum256([]byte(body)) {
						if mine, err := os.ReadFile(y.out); err == nil && string(mine) == sc {
							paired++ // the talk's studio copy is its own presenter's
						}
					}
				}
			}
		}
		listed += len(talks)
		if len(talks) != 2 {
			t.Errorf("origin %d: /recordings serves %d distinct talks of the bucket's, want both: %+v", i+1, len(talks), list)
		}
	}
	t.Logf("bucket: %v", objects)
	scenario(t, "two origins, one bucket, the same stream in the same second (%q): of 4 files (2 talks, 2 studio copies) the bucket holds %d byte for byte in %d objects, %d lost (%d of them removed from --dir); kept talks correlate %v with their own presenter; /recordings on the 2 origins serves %d of 4 talks, %d beside their own presenter's studio copy",
		o[0].live, kept, len(objects), lost, removedLost, corrs, listed, paired)
}

// startTwoOrigins starts versitygw and two podium-servers on its one bucket (same prefix,
// --s3-remove-local), then one presenter on each, on the same stream, at the same moment, and
// returns once both talks have ended, each origin's live recording named and its bytes kept.
func startTwoOrigins(t *testing.T, inputs [2][]int16) (*testkit.S3, [2]*origin) {
	s3 := testkit.StartS3(t, "lectures")
	var o [2]*origin
	for i := range o {
		x := &origin{dir: t.TempDir(), input: inputs[i], out: filepath.Join(t.TempDir(), "mine.mp3")}
		addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
		x.base = "http://" + addr
		x.srv = start(t, s3.Env(), "podium-server", "--listen", addr, "--dir", x.dir, "--token", "tok",
			"--metrics-token", "m", "--s3-endpoint", s3.Endpoint, "--s3-bucket", s3.Bucket, "--s3-prefix", "talks/",
			"--s3-remove-local")
		o[i] = x
	}
	for _, x := range o {
		x.srv.WaitLine(t, "WHIP on", 10*time.Second)
	}
	// Both presenters at once, early in a second: the servers name the talks by the second
	// their sessions began.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second + 50*time.Millisecond)))
	var pubs [2]*testkit.Proc
	for i, x := range o {
		wav := filepath.Join(t.TempDir(), "in.wav")
		audiotest.WriteWAV(t, wav, x.input)
		pubs[i] = start(t, nil, "podium", "record", "--input", wav, "--out", x.out,
			"--server", x.base+"/whip/talk", "--token", "tok")
	}
	keep := t.TempDir()
	for i, x := range o {
		testkit.WaitFor(t, 15*time.Second, "origin's live recording", func() bool {
			m, _ := liveMP3s(filepath.Join(x.dir, "*.mp3"))
			if len(m) != 1 {
				return false
			}
			x.live = filepath.Base(m[0])
			// A second name for its bytes, which outlives the server's removing it.
			x.kept = filepath.Join(keep, strconv.Itoa(i)+".mp3")
			return os.Link(m[0], x.kept) == nil
		})
	}
	for _, p := range pubs {
		waitExit(t, p, 30*time.Second)
	}
	return s3, o
}

// A presenter moves from one origin to another on the same stream (they reconnected through
// the balancer while the first kept their recording), both copying HLS to one bucket for a
// CDN: when the first origin's stream ends, it must not delete the playlists the second, still
// live, wrote over its own under the same names, or the CDN's new listeners get 404.
func TestTwoOriginsOneHLSBucket(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	var srv [2]string
	for i := range srv {
		addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
		p := start(t, s3.Env(), "podium-server", "--listen", addr, "--dir", t.TempDir(), "--token", "tok",
			"--s3-endpoint", s3.Endpoint, "--s3-bucket", s3.Bucket, "--s3-prefix", "talks/", "--hls-bucket", "--hls-keep", "1s")
		p.WaitLine(t, "WHIP on", 10*time.Second)
		srv[i] = "http://" + addr
	}
	talk := func(i int, d time.Duration) *testkit.Proc {
		wav := filepath.Join(t.TempDir(), "in.wav")
		audiotest.WriteWAV(t, wav, speech[:int(d.Seconds())*pcm.SampleRate])
		return start(t, nil, "podium", "record", "--input", wav, "--out", filepath.Join(t.TempDir(), "mine.mp3"),
			"--server", srv[i]+"/whip/talk", "--token", "tok")
	}
	first := talk(0, 8*time.Second)
	time.Sleep(3 * time.Second)
	second := talk(1, 25*time.Second) // long enough for a slow machine: the first must end, then 4 s, while it is live
	waitExit(t, first, 30*time.Second)
	time.Sleep(4 * time.Second) // the first origin's --hls-keep, and its deletions
	objs := s3.Objects("talks/hls/talk/")
	select {
	case <-second.Done():
		t.Fatal("the second talk ended before the first origin's deletions were over: the test measured nothing")
	default:
	}
	playlists := 0
	for key := range objs {
		if strings.HasSuffix(key, ".m3u8") {
			playlists++
		}
	}
	if _, ok := objs["talks/hls/talk/index.m3u8"]; !ok || playlists != 2 {
		t.Errorf("with the second origin still live the bucket holds %d playlists (index.m3u8: %v), want its 2: %v", playlists, ok, objs)
	}
	waitExit(t, second, 30*time.Second)
	// Once both have ended, each has deleted what it wrote: nothing stays.
	var left map[string]int64
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if left = s3.Objects("talks/hls/"); len(left) == 0 {
			break
		}
	}
	if len(left) != 0 {
		t.Errorf("after both talks the bucket still holds %v", left)
	}
	scenario(t, "one stream on two origins, one after the other, HLS to one bucket: once the first ended (--hls-keep 1s), the second still live, the bucket held %d of its 2 playlists and %d objects under hls/talk/; after both, %d objects",
		playlists, len(objs), len(left))
}
