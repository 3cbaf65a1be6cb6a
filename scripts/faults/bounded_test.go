//go:build linux

package faults

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"podium/rtc/recordings"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// bucketTap is a reverse proxy between podium-server and the bucket that counts what the
// server reads: the GETs of objects (not the bucket's listings) and their bytes.
type bucketTap struct {
	URL          string // the endpoint to give podium-server
	gets, bytes  atomic.Int64
	bucketPrefix string // "/bucket/": a GET of a path longer than this reads an object
}

func tapBucket(t *testing.T, s3 *testkit.S3) *bucketTap {
	t.Helper()
	target, err := url.Parse(s3.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	tap := &bucketTap{bucketPrefix: "/" + s3.Bucket + "/"}
	// The request keeps its Host (the tap's address), which is what the client signed.
	p := httputil.NewSingleHostReverseProxy(target)
	p.ModifyResponse = func(resp *http.Response) error {
		r := resp.Request
		if r.Method == http.MethodGet && len(r.URL.Path) > len(tap.bucketPrefix) && strings.HasPrefix(r.URL.Path, tap.bucketPrefix) {
			tap.gets.Add(1)
			resp.Body = countingBody{resp.Body, &tap.bytes}
		}
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	tap.URL = srv.URL
	return tap
}

func readAll(r io.Reader) string {
	b, _ := io.ReadAll(r)
	return string(b)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestBucketMultiRangeIsOneRead: a recording served from the bucket (--s3-remove-local),
// fetched with the ordinary signed link GET /recordings hands out, in one request of about
// 60 KB asking for thousands of one-byte ranges. Each range used to be a seek, and each seek
// a new GET of the object from the bucket: thousands of bucket reads, hundreds of megabytes,
// for one request. The bucket (versitygw, through a counting proxy) may be read at most
// twice for it, for no more than twice the object; a single range still gets its 206.
func TestBucketMultiRangeIsOneRead(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	tap := tapBucket(t, s3)
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, s3.Env(), "podium-server", "--listen", addr, "--dir", dir, "--token", "tok",
		"--listener-token", "lis", "--s3-endpoint", tap.URL, "--s3-bucket", s3.Bucket, "--s3-remove-local")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	base := "http://" + addr
	pub := start(t, nil, "podium", "record", "--input", audiotest.Speech(t, false), "--duration", "4s",
		"--out", filepath.Join(t.TempDir(), "a.mp3"), "--server", base+"/whip/talk", "--token", "tok")
	waitExit(t, pub, 30*time.Second)
	var rec recordings.File
	testkit.WaitFor(t, 30*time.Second, "the talk in the bucket and off the disk", func() bool {
		left, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
		var list []recordings.File
		testkit.GetJSON(t, base+"/recordings", "lis", &list)
		if len(left) > 0 || len(list) == 0 {
			return false
		}
		rec = list[0] // the studio copy, which the talk serves: in the bucket like the live one
		return true
	})
	link := base + rec.URL
	if u, err := url.Parse(rec.URL); err == nil && u.IsAbs() {
		link = rec.URL
	}

	fetch := func(rangeHeader string) (int, []byte, time.Duration) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, link, nil)
		if rangeHeader != "" {
			req.Header.Set("Range", rangeHeader)
		}
		began := time.Now()
		resp, err := (&http.Client{Timeout: 90 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("GET the signed link: %v", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b, time.Since(began)
	}
	size := rec.Size // the live copy's; the link serves the studio copy when there is one
	if rec.Serves == "studio" && rec.Studio != nil {
		size = rec.Studio.Size
	}
	code, whole, _ := fetch("")
	if code != http.StatusOK || int64(len(whole)) != size {
		t.Fatalf("the signed link (%s copy): %d with %d bytes, want 200 with %d", rec.Serves, code, len(whole), size)
	}

	// One-byte ranges, every 11th byte, as many as fit in a request under the server's
	// 64 KiB of headers.
	var ranges strings.Builder
	n := 0
	for at := int64(0); at < size && ranges.Len() < 60_000; at += 11 {
		if n > 0 {
			ranges.WriteByte(',')
		}
		fmt.Fprintf(&ranges, "%d-%d", at, at)
		n++
	}
	gets0, bytes0 := tap.gets.Load(), tap.bytes.Load()
	code, body, took := fetch("bytes=" + ranges.String())
	gets, read := tap.gets.Load()-gets0, tap.bytes.Load()-bytes0
	if gets > 2 || read > 2*size {
		t.Errorf("one request of %d ranges made %d bucket GETs reading %d bytes of a %d-byte object, want at most 2 GETs and %d bytes",
			n, gets, read, size, 2*size)
	}
	if code != http.StatusOK && code != http.StatusPartialContent {
		t.Errorf("the multi-range request: %d", code)
	}

	// One range, as players ask, is still served as such.
	code1, part, _ := fetch("bytes=100-199")
	if code1 != http.StatusPartialContent || string(part) != string(whole[100:200]) {
		t.Errorf("bytes=100-199: %d with %d bytes, want 206 with bytes 100-199", code1, len(part))
	}
	scenario(t, "a %d-byte request of %d ranges for a %.1f kB object in the bucket: %d bucket GETs, %.1f kB read from the bucket, answered %d with %d bytes in %v; one range: %d",
		len("bytes=")+ranges.Len(), n, float64(size)/1e3, gets, float64(read)/1e3, code, len(body), took.Round(time.Millisecond), code1)
}

// TestHLSPlaylistWaitEndsWithItsClient: a presenter sends a second of audio and drops
// (no DELETE), so the stream's HLS rendition never gets its first segments and stays until
// --grace ends; 40 listeners (--max-conns 40) ask for its playlist and go away. Their requests
// used to wait inside gohlslib for a segment until the grace ended, holding every connection:
// /healthz and any new presenter were refused 503 all that time. After the listeners go,
// /healthz must answer 200 within 2 s and a new presenter must get 201; 40 listeners that
// stay must each be answered (503 with Retry-After) within the bound, not held.
func TestHLSPlaylistWaitEndsWithItsClient(t *testing.T) {
	const conns = 40
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", t.TempDir(), "--token", "tok",
		"--listener-token", "lis", "--max-conns", strconv.Itoa(conns), "--grace", "2m")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	base := "http://" + addr

	p, _, err := dialPub(base, "talk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.sendFor(time.Second, 0); err != nil {
		t.Fatal(err)
	}
	p.close() // vanishes: the recording, and its rendition, wait out the grace
	time.Sleep(300 * time.Millisecond)

	ask := func() []net.Conn {
		var cs []net.Conn
		for range conns {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "GET /hls/talk/index.m3u8 HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer lis\r\n\r\n", addr)
			cs = append(cs, c)
		}
		time.Sleep(time.Second) // every request under way
		return cs
	}
	fresh := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	healthz := func() int {
		resp, err := fresh.Get(base + "/healthz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Listeners that go away.
	cs := ask()
	full := healthz()
	for _, c := range cs {
		c.Close()
	}
	gone := time.Now()
	const patience = 12 * time.Second
	back := patience
	for time.Since(gone) < patience {
		if healthz() == http.StatusOK {
			back = time.Since(gone)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	p2, presenter, _ := dialPub(base, "next")
	if p2 != nil {
		p2.close()
	}
	if full != http.StatusServiceUnavailable {
		t.Errorf("with %d playlist requests under way /healthz answered %d, want 503 (the cap full)", conns, full)
	}
	if back > 2*time.Second {
		t.Errorf("/healthz answered 200 only %v after the %d listeners went (gave up at %v)", back.Round(time.Millisecond), conns, patience)
	}
	if presenter != http.StatusCreated {
		t.Errorf("a new presenter after the listeners went: %d, want 201", presenter)
	}

	// Listeners that stay: each is answered within the bound.
	cs = ask()
	answered, slowest := 0, time.Duration(0)
	asked := time.Now().Add(-time.Second)
	for _, c := range cs {
		_ = c.SetReadDeadline(asked.Add(patience))
		// The rendition's own answer, not the connection cap's "server busy".
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") != "" &&
			!strings.Contains(readAll(resp.Body), "server busy") {
			answered++
			slowest = max(slowest, time.Since(asked))
		}
		c.Close()
	}
	if answered != conns {
		t.Errorf("%d of %d playlist requests that stayed were answered 503 by the rendition within %v", answered, conns, patience)
	}
	scenario(t, "%d playlist requests for a rendition with no segment (presenter gone after 1 s, --grace 2m): /healthz %d while they waited, 200 again %v after they went (gives up at %v); new presenter %d; of %d that stayed %d answered 503, slowest after %v",
		conns, full, back.Round(time.Millisecond), patience, presenter, conns, answered, slowest.Round(time.Millisecond))
}

// TestHostileHLSMemory settles what hostile presenters can make the server hold in HLS
// renditions: each rendition keeps segmentCount (7) segments and the one being filled, and a
// rendition whose segment passes the cap is closed, so the most a presenter can hold is
// about 8 segments just under the cap. Several presenters send Opus packets of 1200 bytes
// (a 20 ms frame each, the largest Pion carries) with RTP time keeping pace with the clock
// (so the server believes every one) at the rate that fills each 2 s segment to 90% of a
// cap: the old cap (1 MiB) and the one now (160 KiB, a little over what Opus at its top
// rate of 510 kb/s puts in a segment), each on a fresh server. The server's resident memory is
// watched; what one presenter can hold, times --max-sessions (200), must stay under 1 GiB.
func TestHostileHLSMemory(t *testing.T) {
	const (
		presenters  = 4
		maxSessions = 200
		payload     = 1200
	)
	hold := 17 * time.Second // 8 segments of 2 s
	if full() {
		hold = 40 * time.Second
	}
	type result struct {
		cap           int
		grew, perPres int64
		live          float64
	}
	var results []result
	for _, segCap := range []int{1 << 20, 160 << 10} {
		addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
		srv := start(t, nil, "podium-server", "--listen", addr, "--dir", t.TempDir(), "--token", "tok",
			"--listener-token", "lis")
		srv.WaitLine(t, "WHIP on", 10*time.Second)
		base := "http://" + addr
		var pubs []*pionPub
		for i := range presenters {
			p, code, err := dialPub(base, fmt.Sprintf("hostile%d", i))
			if err != nil || p == nil {
				t.Fatalf("presenter %d: %d %v", i, code, err)
			}
			defer p.close()
			pubs = append(pubs, p)
		}
		rss := watchRSS(srv.Cmd.Process.Pid)
		time.Sleep(500 * time.Millisecond)
		before := rss.now()
		rss.resetPeak()

		perSecond := int(0.9 * float64(segCap) / 2 / payload) // packets a second per presenter
		step := uint32(48000 / perSecond)                     // RTP time keeps pace with the clock
		body := make([]byte, payload)
		body[0] = 0xf8 // TOC: CELT fullband, 20 ms, one frame
		for i := 1; i < payload; i++ {
			body[i] = byte(i * 7)
		}
		tick := time.NewTicker(10 * time.Millisecond)
		began := time.Now()
		sent := 0
		for time.Since(began) < hold {
			<-tick.C
			due := int(time.Since(began).Seconds() * float64(perSecond))
			for ; sent < due; sent++ {
				for _, p := range pubs {
					p.seq++
					_ = p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: p.seq,
						Timestamp: uint32(sent) * step, SSRC: 0x5eed}, Payload: body})
				}
			}
		}
		tick.Stop()
		live := testkit.Metrics(t, base+"/metrics", "tok")["podium_hls_streams"]
		grew := rss.peak() - before
		rss.stop()
		results = append(results, result{segCap, grew, grew / presenters, live})
		srv.Kill()
	}
	worst := int64(0)
	var line []string
	for _, r := range results {
		line = append(line, fmt.Sprintf("at %d KiB a segment (%.0f kb/s each): +%s for %d, %s each, %.0f renditions still live",
			r.cap>>10, 0.9*float64(r.cap)*8/2/1000, mib(r.grew), presenters, mib(r.perPres), r.live))
		if r.live > 0 {
			worst = max(worst, r.perPres)
		}
	}
	// The figure includes what the traffic costs besides HLS (the recording, Pion's buffers:
	// about 2 MiB a presenter at the old cap's rate with its rendition closed).
	if worst*maxSessions > 1<<30 {
		t.Errorf("a hostile presenter with its rendition live grows the server %s: %s at --max-sessions %d", mib(worst), mib(worst*maxSessions), maxSessions)
	}
	scenario(t, "%s; worst a presenter can hold with its rendition live: %s, × %d sessions = %s",
		strings.Join(line, "; "), mib(worst), maxSessions, mib(worst*maxSessions))
}
