//go:build linux

package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/scripts/testkit"

	"github.com/pion/webrtc/v4"
)

// TestServerAbuse: while a real presenter streams speech to podium-server on loopback,
// clients abuse it: floods of bad offers, wrong tokens, huge and garbage bodies, slowloris
// headers and bodies, offers for a stream already live, sessions that never send media.
// Every abusive request gets the right status, idle sessions are closed with their MP3
// finalised, the server's memory stays bounded and the presenter's recording is intact.
func TestServerAbuse(t *testing.T) {
	length, rounds, slow := 26*time.Second, 1, 200
	if full() {
		length, rounds = time.Minute, 50
	}
	speech, in := speechFor(t, length)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok",
		"--idle-timeout", "2s", "--grace", "1s")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	mem := watchRSS(srv.Cmd.Process.Pid)
	defer mem.stop()

	pub, _, local := publishLive(t, speech, base, 15*time.Second)
	time.Sleep(time.Second)
	rssBefore := mem.now()
	mem.resetPeak()

	offer := validOffer(t)
	tl := &tally{}
	client := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
	defer client.CloseIdleConnections()
	post := func(kind string, want int, path, token, ctype string, body []byte) {
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		tl.do(client, kind, want, req)
	}
	garbage := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rand.N(256))
		}
		return b
	}

	var wg sync.WaitGroup
	began := time.Now()
	// Slow clients, all at once, alongside the floods.
	var lorisHdr, lorisBody slowStats
	wg.Go(func() { slowloris(t, addr, slow, false, 25*time.Second, &lorisHdr) })
	wg.Go(func() { slowloris(t, addr, 50, true, 35*time.Second, &lorisBody) })
	// The floods: bounded loops, each with a few workers.
	wg.Go(func() {
		// Full length: round after round until shortly before the presenter's talk ends.
		for r := 0; r < rounds && (r == 0 || time.Since(began) < length-15*time.Second); r++ {
			parallel(8, 500, func(i int) {
				sdp := []byte("v=0\r\no=- " + strconv.Itoa(i) + " 1 IN IP4 0.0.0.0\r\ns=-\r\nm=video 9 UDP 96\r\n" + string(garbage(40)))
				post("offer: garbage SDP", 400, "/whip/flood", "tok", "application/sdp", sdp)
			})
			parallel(8, 250, func(int) { post("offer: no token", 401, "/whip/flood", "", "application/sdp", []byte(offer)) })
			parallel(8, 250, func(i int) {
				post("offer: wrong token", 401, "/whip/flood", "tok"+strconv.Itoa(i), "application/sdp", []byte(offer))
			})
			parallel(4, 20, func(int) { post("body: 200 KiB", 413, "/whip/flood", "tok", "application/sdp", garbage(200<<10)) })
			parallel(4, 10, func(int) { post("body: 4 MiB", 413, "/whip/flood", "tok", "application/sdp", garbage(4<<20)) })
			parallel(8, 200, func(i int) {
				post("body: garbage", 400, "/whip/flood", "tok", "application/sdp", garbage(1+rand.N(4000)))
			})
			parallel(8, 100, func(i int) { post("body: not SDP", 415, "/whip/flood", "tok", "text/plain", garbage(100)) })
			parallel(4, 50, func(int) {
				post("offer: stream already live", 409, "/whip/talk", "tok", "application/sdp", []byte(offer))
			})
			parallel(8, 100, func(i int) {
				req, _ := http.NewRequest(http.MethodPatch, base+"/whip/flood/nosuch"+strconv.Itoa(i), bytes.NewReader(garbage(300)))
				req.Header.Set("Authorization", "Bearer tok")
				req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
				tl.do(client, "PATCH: unknown session", 404, req)
			})
			parallel(8, 100, func(i int) {
				req, _ := http.NewRequest(http.MethodDelete, base+"/whip/talk/nosuch"+strconv.Itoa(i), nil)
				req.Header.Set("Authorization", "Bearer tok")
				tl.do(client, "DELETE: unknown session", 404, req)
			})
		}
	})
	// Sessions that offer properly and then never send a packet.
	idle := 20
	wg.Go(func() {
		parallel(4, idle, func(i int) {
			post("offer: never any media", 201, fmt.Sprintf("/whip/idle-%02d", i), "tok", "application/sdp", []byte(offer))
		})
	})
	// Meanwhile the server answers its health check promptly.
	var abuseOver atomic.Bool
	var worstHealth time.Duration
	var healthFails atomic.Int32
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		for !abuseOver.Load() {
			t0 := time.Now()
			resp, err := client.Get(base + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				healthFails.Add(1)
			} else {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			worstHealth = max(worstHealth, time.Since(t0))
			time.Sleep(100 * time.Millisecond)
		}
	}()
	wg.Wait()
	abuseOver.Store(true)
	<-probeDone
	abuseTook := time.Since(began)

	// Idle sessions end after --idle-timeout; having sent nothing, they opened no recording.
	var m map[string]float64
	deadline := time.Now().Add(15 * time.Second)
	for {
		m = metrics(t, base)
		if (m["podium_sessions"] <= 1 && m["podium_recordings"] <= 1) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if m["podium_sessions"] > 1 || m["podium_recordings"] > 1 {
		t.Errorf("idle sessions still open 15 s after the abuse: %.0f sessions, %.0f recordings", m["podium_sessions"], m["podium_recordings"])
	}
	// A session that never sent a packet leaves no file behind: an MP3 with no audio would
	// only clutter the recordings.
	idleFiles, _ := liveMP3s(filepath.Join(dir, "idle-*.mp3"))
	if len(idleFiles) != 0 {
		t.Errorf("sessions that never sent media left %v", idleFiles)
	}
	time.Sleep(time.Second)
	rssAfter, rssPeak := mem.now(), mem.peak()

	waitExit(t, pub, length+30*time.Second)
	sum := parseSummary(t, pub.Log())
	m = metrics(t, base)
	stopServer(t, srv)

	// Every abusive request got the answer it should have.
	total, wrong := tl.report(t)
	// Slow clients were shown the door by the server's timeouts.
	lorisHdr.check(t, "slowloris headers", 10*time.Second)
	lorisBody.check(t, "slow bodies", 20*time.Second)
	if n := healthFails.Load(); n > 0 || worstHealth > 2*time.Second {
		t.Errorf("health check during the abuse: %d failures, slowest %v", n, worstHealth)
	}
	if rssPeak-rssBefore > 200<<20 || rssAfter-rssBefore > 100<<20 {
		t.Errorf("server RSS %s before, %s at peak, %s after the abuse: not bounded", mib(rssBefore), mib(rssPeak), mib(rssAfter))
	}
	// The presenter never noticed.
	if sum.reconnects != 0 {
		t.Errorf("the presenter had to reconnect %d times during the abuse", sum.reconnects)
	}
	lost, recv := int(m["podium_packets_lost_total"]), int(m["podium_packets_received_total"])
	if recv == 0 || lost*100 > recv {
		t.Errorf("server lost %d of the presenter's %d packets during the abuse", lost, recv+lost)
	}
	talk, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
	if len(talk) != 1 {
		t.Fatalf("presenter's recordings on the server: %v", talk)
	}
	loc := checkLocal(t, local, in)
	got := serverCopy(t, dir, filepath.Base(talk[0]))
	a := analyse(t, in, loc, got)
	if a.median < 0.9 || a.lengthErr > 0.01 {
		t.Errorf("presenter's server copy: correlation %.3f (median per 1 s), length off by %.2f %%", a.median, 100*a.lengthErr)
	}
	scenario(t, "%d abusive requests in %v (%d wrong status) + %d slowloris (closed after %v) + %d slow bodies (closed after %v) + %d never-media sessions (closed after --idle-timeout 2s, no file opened) while a presenter streamed %v: health worst %v; RSS %s before, %s peak, %s after; presenter lost %d of %d packets, 0 reconnects=%v, server copy correlation %.3f",
		total, abuseTook.Round(100*time.Millisecond), wrong, slow, lorisHdr.worst().Round(100*time.Millisecond), 50, lorisBody.worst().Round(100*time.Millisecond),
		idle, secs(len(in)), worstHealth.Round(time.Millisecond), mib(rssBefore), mib(rssPeak), mib(rssAfter), lost, recv+lost, sum.reconnects == 0, a.median)
}

// tally counts, per kind of abuse, the statuses the server answered.
type tally struct {
	mu    sync.Mutex
	kinds []string
	want  map[string]int
	got   map[string]map[int]int
	errs  map[string]string
}

func (tl *tally) do(c *http.Client, kind string, want int, req *http.Request) {
	status := -1
	resp, err := c.Do(req)
	if err == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		status = resp.StatusCode
	}
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if tl.want == nil {
		tl.want, tl.got, tl.errs = map[string]int{}, map[string]map[int]int{}, map[string]string{}
	}
	if _, ok := tl.want[kind]; !ok {
		tl.kinds = append(tl.kinds, kind)
		tl.want[kind] = want
		tl.got[kind] = map[int]int{}
	}
	tl.got[kind][status]++
	if err != nil && tl.errs[kind] == "" {
		tl.errs[kind] = err.Error()
	}
}

func (tl *tally) report(t *testing.T) (total, wrong int) {
	t.Helper()
	tl.mu.Lock()
	defer tl.mu.Unlock()
	for _, k := range tl.kinds {
		var parts []string
		codes := make([]int, 0, len(tl.got[k]))
		for c := range tl.got[k] {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		bad := 0
		for _, c := range codes {
			n := tl.got[k][c]
			total += n
			parts = append(parts, fmt.Sprintf("%d×%d", n, c))
			if c != tl.want[k] {
				bad += n
			}
		}
		wrong += bad
		t.Logf("%-28s want %d: %s", k, tl.want[k], strings.Join(parts, " "))
		if bad > 0 {
			t.Errorf("%s: %d of the answers were not %d (%s; -1 is no answer: %s)", k, bad, tl.want[k], strings.Join(parts, " "), tl.errs[k])
		}
	}
	return total, wrong
}

// parallel runs f(0..n-1) on workers goroutines.
func parallel(workers, n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// slowStats is how long the server let each slow client hang on.
type slowStats struct {
	mu     sync.Mutex
	closed []time.Duration
	open   int // still open when the client gave up
	failed int // could not even connect
}

func (s *slowStats) worst() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.closed) == 0 {
		return 0
	}
	return slices.Max(s.closed)
}

func (s *slowStats) check(t *testing.T, what string, timeout time.Duration) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.open > 0 || s.failed > 0 {
		t.Errorf("%s: %d still held open, %d could not connect", what, s.open, s.failed)
	}
	if len(s.closed) > 0 {
		if w := slices.Max(s.closed); w > timeout+3*time.Second || w < timeout-time.Second {
			t.Errorf("%s: the server closed them after %v to %v, want about %v", what, slices.Min(s.closed), w, timeout)
		}
	}
}

// slowloris opens n connections that send a request one byte a second: the headers (never
// finished), or with body set complete headers and then the body. Each gives up after limit.
func slowloris(t *testing.T, addr string, n int, body bool, limit time.Duration, st *slowStats) {
	slowlorisAt(t, addr, "/whip/slow", "tok", n, body, limit, st)
}

// slowlorisAt is slowloris POSTing to path+i with token.
func slowlorisAt(t *testing.T, addr, path, token string, n int, body bool, limit time.Duration, st *slowStats) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				st.mu.Lock()
				st.failed++
				st.mu.Unlock()
				return
			}
			defer c.Close()
			began := time.Now()
			msg := fmt.Sprintf("POST %s%d HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/sdp\r\nX-Padding: %s", path, i, addr, token, strings.Repeat("a", 100))
			if body {
				msg = fmt.Sprintf("POST %s%d HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/sdp\r\nContent-Length: 1000\r\n\r\n", path, i, addr, token)
				if _, err := io.WriteString(c, msg); err != nil {
					return
				}
				msg = strings.Repeat("v", 1000)
			}
			gone := make(chan struct{})
			go func() {
				io.Copy(io.Discard, c) // until the server closes
				close(gone)
			}()
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for k := 0; ; k++ {
				select {
				case <-gone:
					st.mu.Lock()
					st.closed = append(st.closed, time.Since(began))
					st.mu.Unlock()
					return
				case <-tick.C:
				}
				if time.Since(began) > limit {
					st.mu.Lock()
					st.open++
					st.mu.Unlock()
					return
				}
				c.SetWriteDeadline(time.Now().Add(time.Second))
				c.Write([]byte{msg[k%len(msg)]})
			}
		})
	}
	wg.Wait()
}

// validOffer is a real WebRTC offer to send Opus, from a peer that then goes away.
func validOffer(t *testing.T) string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	return testkit.Offer(t, pc, webrtc.RTPTransceiverDirectionSendonly)
}

// rssWatch samples a process's resident memory (VmRSS) every 100 ms.
type rssWatch struct {
	pid  int
	max  atomic.Int64
	quit chan struct{}
	once sync.Once
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, quit: make(chan struct{})}
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-tick.C:
				if v := w.now(); v > w.max.Load() {
					w.max.Store(v)
				}
			}
		}
	}()
	return w
}

func (w *rssWatch) now() int64 {
	v, _ := testkit.RSS(w.pid) // 0 once the process is gone
	return v
}

func (w *rssWatch) resetPeak()  { w.max.Store(w.now()) }
func (w *rssWatch) peak() int64 { return w.max.Load() }
func (w *rssWatch) stop()       { w.once.Do(func() { close(w.quit) }) }

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
