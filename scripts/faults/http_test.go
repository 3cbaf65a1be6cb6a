//go:build linux

package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/app"

	"github.com/pion/webrtc/v4"

	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// TestHTTPSlowReaders: clients start downloading a long recording from podium-server and then
// stop reading, while a flood of connections that never send a request (each opened again as
// soon as the server drops it) goes on, and a real client downloads the same recording. The
// server's open files and sockets (/proc/PID/fd) are sampled all along: a client that stops
// reading may hold a socket and the recording's file only for the write-stall timeout, the
// flood never holds more than --max-conns sockets, and the real client's download is whole.
func TestHTTPSlowReaders(t *testing.T) {
	const (
		stalled  = 40
		flood    = 400
		maxConns = 200
		size     = 24 << 20 // larger than what the kernel buffers for one stalled client
		stall    = 15 * time.Second
	)
	hold := 35 * time.Second // how long the stalled clients hang on before they give up
	dir := t.TempDir()
	name := "long talk.mp3"
	writeLargeFile(t, filepath.Join(dir, name), size)
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok",
		"--max-conns", strconv.Itoa(maxConns))
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	pid := srv.Cmd.Process.Pid
	before := procFDs(pid, name)
	fds := watchFDs(pid, name)
	defer fds.stop()
	path := "/recordings/" + strings.ReplaceAll(name, " ", "%20")

	began := time.Now()
	// Clients that ask for the recording and never read a byte of it.
	var conns []net.Conn
	for i := range stalled {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatalf("stalled client %d: %v", i, err)
		}
		defer c.Close()
		c.(*net.TCPConn).SetReadBuffer(16 << 10)
		fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer tok\r\n\r\n", path, addr)
		conns = append(conns, c)
	}
	testkit.WaitFor(t, 5*time.Second, "the stalled downloads open on the server", func() bool {
		return procFDs(pid, name).files >= stalled
	})
	opened := time.Now()
	// The flood, from a second on.
	var fl floodStats
	floodCtx, stopFlood := context.WithCancel(context.Background())
	var fwg sync.WaitGroup
	fwg.Go(func() { connFlood(floodCtx, addr, flood, &fl) })
	time.Sleep(2 * time.Second)

	// A real client downloads the recording in the middle of it all.
	dl := download(t, base+path, "tok")
	time.Sleep(3 * time.Second)
	floodPeak := fds.peak()
	stopFlood()
	fwg.Wait()

	// The stalled clients hang on until hold; then each reads, for 2 s, what reached it: a
	// connection the server ended runs dry (EOF or a reset), one it still holds keeps flowing.
	time.Sleep(time.Until(began.Add(hold)))
	held := procFDs(pid, name)
	var cut atomic.Int32
	var rwg sync.WaitGroup
	for _, c := range conns {
		rwg.Go(func() {
			c.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, err := io.Copy(io.Discard, c); !isTimeout(err) {
				cut.Add(1)
			}
			c.Close()
		})
	}
	rwg.Wait()
	freed, ok := fds.firstNone(opened)
	// Then everything goes back to what it was.
	var after fdCount
	for settle := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		after = procFDs(pid, name)
		if after.fds <= before.fds+2 || time.Since(settle) > 20*time.Second {
			break
		}
	}
	fds.stop()
	m := metrics(t, base)
	stopServer(t, srv)

	letGo := fmt.Sprintf("%v after they began", freed.Sub(began).Round(100*time.Millisecond))
	if !ok {
		letGo = fmt.Sprintf("never: held until the clients gave up at %v", hold)
	}
	if !dl.ok {
		t.Errorf("the real client's download: %s", dl.err)
	}
	if held.files > 0 {
		t.Errorf("%v after they stopped reading, the server still holds the recording open %d times for %d stalled clients", hold, held.files, stalled)
	}
	if !ok || freed.Sub(began) > stall+5*time.Second {
		t.Errorf("the stalled downloads were let go %s, want within the %v write-stall timeout", letGo, stall)
	}
	if floodPeak.sockets > maxConns+40 { // and up to 32 being answered 503
		t.Errorf("%d sockets open at the flood's peak with --max-conns %d", floodPeak.sockets, maxConns)
	}
	if after.fds > before.fds+2 {
		t.Errorf("the server has %d files open after the attack, %d before", after.fds, before.fds)
	}
	scenario(t, "%d clients stopped reading a %d MiB recording, %d-connection flood (reopened when dropped) for 5 s, --max-conns %d: server fds %d before, peak %d (%d sockets, recording open %d×), %d at %v (recording open %d×), %d after; stalled downloads let go %s (%d of %d found their connection ended when they read again); flood: %d connects, %d refused or dropped by the server; real download %d MiB in %v (%s); goroutines after %.0f",
		stalled, size>>20, flood, maxConns, before.fds, floodPeak.fds, floodPeak.sockets, floodPeak.files, held.fds, hold, held.files, after.fds,
		letGo, cut.Load(), stalled, fl.connects.Load(), fl.dropped.Load(),
		dl.n>>20, dl.took.Round(time.Millisecond), dl.status(), m["go_goroutines"])
}

// TestAppShareLAN: the windowed app, with "Share on the local network" on (in its stored
// settings), serves its listeners on the machine's LAN address only: not on IPv6, other
// interfaces' addresses or the wildcard, and a listener's WHEP answer names only that address
// (and loopback, for the presenter's own app) as ICE candidates. A connection flood against it
// stays within its connection cap, and slow request bodies are closed by its read timeout.
func TestAppShareLAN(t *testing.T) {
	if os.Getenv("DISPLAY") == "" {
		t.Fatal("no X display (DISPLAY unset): run `export DISPLAY=:99; source scripts/xvfb.sh start`")
	}
	lan := lanIPv4(t)
	audiotest.VirtualMic(t)
	home := t.TempDir()
	token := randomHex()
	prefs := filepath.Join(home, ".config", "fyne", "app.podium.desktop", "preferences.json")
	if err := os.MkdirAll(filepath.Dir(prefs), 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"podium.share_lan": 1, "podium.listener_token": token, "podium.server": "builtin"})
	if err := os.WriteFile(prefs, b, 0o644); err != nil {
		t.Fatal(err)
	}
	g := startGUI(t, home)
	g.waitWindow(t, "Podium", 20*time.Second)
	pid := g.pid()
	var listening []string
	testkit.WaitFor(t, 15*time.Second, "the built-in server listening", func() bool {
		listening = testkit.ListenAddrs(pid)
		return len(listening) > 0
	})
	time.Sleep(500 * time.Millisecond) // both listeners up, when there are two
	listening = testkit.ListenAddrs(pid)
	_, portStr, _ := net.SplitHostPort(listening[0])
	port, _ := strconv.Atoi(portStr)

	// Every address of this machine: which answer?
	addrs, _ := net.InterfaceAddrs()
	var answered, refused []string
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLinkLocalUnicast() {
			continue
		}
		hp := net.JoinHostPort(ipn.IP.String(), portStr)
		c := http.Client{Timeout: 3 * time.Second}
		resp, err := c.Get("http://" + hp + "/healthz")
		if err == nil {
			resp.Body.Close()
			answered = append(answered, hp)
		} else {
			refused = append(refused, hp)
		}
	}
	want := []string{net.JoinHostPort("127.0.0.1", portStr), net.JoinHostPort(lan, portStr)}
	slices.Sort(answered)
	slices.Sort(want)
	if !slices.Equal(answered, want) {
		t.Errorf("the app answers on %v, want only %v (refused: %v)", answered, want, refused)
	}

	// A listener on the LAN: which addresses does the server offer it?
	cands := whepCandidates(t, "http://"+net.JoinHostPort(lan, portStr)+"/whep/live", token)
	for _, c := range cands {
		if c != lan && c != "127.0.0.1" {
			t.Errorf("the WHEP answer offers ICE candidate %s (all: %v): only %s (and loopback) is the LAN", c, cands, lan)
		}
	}

	// Slow request bodies and a connection flood on the LAN address.
	before := procFDs(pid, "")
	var lorisBody slowStats
	var lwg sync.WaitGroup
	// (listener offers, which the server reads before it answers: streams live0, live1, ...)
	lwg.Go(func() {
		slowlorisAt(t, net.JoinHostPort(lan, portStr), "/whep/live", token, 20, true, 30*time.Second, &lorisBody)
	})
	time.Sleep(500 * time.Millisecond) // their headers in before the flood
	var fl floodStats
	fw := watchFDs(pid, "")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	connFlood(ctx, net.JoinHostPort(lan, portStr), 800, &fl)
	cancel()
	peak := fw.peak()
	fw.stop()
	lwg.Wait()
	lorisBody.check(t, "slow bodies", 20*time.Second)
	code, _ := testkit.Get(t, "http://"+net.JoinHostPort(lan, portStr)+"/healthz", "")
	if peak.sockets > before.sockets+appMaxConns+40 { // and up to 32 being answered 503
		t.Errorf("%d sockets open in the app during an 800-connection flood (%d before)", peak.sockets, before.sockets)
	}
	if code != 200 {
		t.Errorf("health check after the flood: %d", code)
	}
	g.p.Cmd.Process.Signal(os.Interrupt)
	g.p.Wait(t, 15*time.Second)
	scenario(t, "app sharing on the LAN (%s), port %d: listening on %v; answers on %v, refuses %v; WHEP answer's ICE candidates %v; 800-connection flood for 4 s: app sockets %d before, peak %d (%d connects, %d dropped), health after %d; 20 slow request bodies: closed after %v (%d still open at 30 s)",
		lan, port, listening, answered, refused, cands, before.sockets, peak.sockets, fl.connects.Load(), fl.dropped.Load(), code,
		lorisBody.worst().Round(100*time.Millisecond), lorisBody.open)
}

// appMaxConns is the app's built-in server's connection cap, as the flood test expects it.
const appMaxConns = 256

// lanIPv4 is the address the app shares on: app.LANAddress's choice, which the test needs to
// be a real interface's address (not loopback).
func lanIPv4(t *testing.T) string {
	t.Helper()
	addr := app.LANAddress()
	if addr == "127.0.0.1" {
		t.Skip("no network address on this machine: nothing to share on")
	}
	return addr
}

func randomHex() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// whepCandidates POSTs a listener's offer to whep and returns the addresses of the ICE
// candidates in the answer.
func whepCandidates(t *testing.T, whep, token string) []string {
	t.Helper()
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	offer := testkit.Offer(t, pc, webrtc.RTPTransceiverDirectionRecvonly)
	req, _ := http.NewRequest(http.MethodPost, whep, strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("WHEP POST %s: %v", whep, err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHEP POST %s: %d %s", whep, resp.StatusCode, answer)
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		if u, err := resp.Request.URL.Parse(loc); err == nil {
			del, _ := http.NewRequest(http.MethodDelete, u.String(), nil)
			del.Header.Set("Authorization", "Bearer "+token)
			if r, err := http.DefaultClient.Do(del); err == nil {
				r.Body.Close()
			}
		}
	}
	var out []string
	for _, line := range strings.Split(string(answer), "\n") {
		// a=candidate:foundation component transport priority address port typ host
		if f := strings.Fields(strings.TrimSpace(line)); len(f) >= 6 && strings.HasPrefix(f[0], "a=candidate:") {
			if !slices.Contains(out, f[4]) {
				out = append(out, f[4])
			}
		}
	}
	slices.Sort(out)
	return out
}

// fdCount is what a process holds open: all its descriptors, its sockets, and its handles on
// the file named (by base name; "" counts none).
type fdCount struct{ fds, sockets, files int }

func procFDs(pid int, name string) fdCount {
	var c fdCount
	ents, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, e := range ents {
		c.fds++
		l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, e.Name()))
		switch {
		case strings.HasPrefix(l, "socket:"):
			c.sockets++
		case name != "" && filepath.Base(l) == name:
			c.files++
		}
	}
	return c
}

// fdWatch samples procFDs every 100 ms.
type fdWatch struct {
	mu      sync.Mutex
	samples []fdSample
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type fdSample struct {
	at time.Time
	fdCount
}

func watchFDs(pid int, name string) *fdWatch {
	w := &fdWatch{quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			c := procFDs(pid, name)
			w.mu.Lock()
			w.samples = append(w.samples, fdSample{time.Now(), c})
			w.mu.Unlock()
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *fdWatch) stop() {
	w.once.Do(func() { close(w.quit) })
	<-w.done
}

// peak is the sample with the most sockets so far.
func (w *fdWatch) peak() fdCount {
	w.mu.Lock()
	defer w.mu.Unlock()
	var p fdCount
	for _, s := range w.samples {
		if s.sockets > p.sockets {
			p = s.fdCount
		}
	}
	return p
}

// firstNone is the first sample after since in which the named file was not open at all.
func (w *fdWatch) firstNone(since time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, s := range w.samples {
		if s.at.After(since) && s.files == 0 {
			return s.at, true
		}
	}
	return time.Time{}, false
}

// floodStats counts a connection flood's connections, and those the server ended.
type floodStats struct{ connects, dropped, failed atomic.Int64 }

// connFlood keeps n connections open to addr that never send a byte until ctx ends: each one
// the server drops (or refuses) is opened again 100 ms later.
func connFlood(ctx context.Context, addr string, n int, st *floodStats) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				d := net.Dialer{Timeout: 3 * time.Second}
				c, err := d.DialContext(ctx, "tcp", addr)
				if err != nil {
					st.failed.Add(1)
					select {
					case <-ctx.Done():
					case <-time.After(100 * time.Millisecond):
					}
					continue
				}
				st.connects.Add(1)
				gone := make(chan struct{})
				go func() {
					io.Copy(io.Discard, c)
					close(gone)
				}()
				select {
				case <-ctx.Done():
					c.Close()
					<-gone
					return
				case <-gone:
					st.dropped.Add(1)
					c.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		})
	}
	wg.Wait()
}

// downloaded is how a whole-file download went.
type downloaded struct {
	ok   bool
	n    int64
	took time.Duration
	err  string
}

func (d downloaded) status() string {
	if d.ok {
		return "complete"
	}
	return d.err
}

// download fetches url with a Bearer token, as a listener's browser or curl would, and checks
// it got the whole body.
func download(t *testing.T, url, token string) downloaded {
	t.Helper()
	began := time.Now()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return downloaded{err: err.Error(), took: time.Since(began)}
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	d := downloaded{n: n, took: time.Since(began)}
	switch {
	case resp.StatusCode != 200:
		d.err = fmt.Sprintf("status %d", resp.StatusCode)
	case err != nil:
		d.err = err.Error()
	case n != resp.ContentLength:
		d.err = fmt.Sprintf("%d of %d bytes", n, resp.ContentLength)
	default:
		d.ok = true
	}
	return d
}

// writeLargeFile writes size bytes of noise to path: a stand-in for a long recording, which
// the server serves as it is.
func writeLargeFile(t *testing.T, path string, size int) {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}
