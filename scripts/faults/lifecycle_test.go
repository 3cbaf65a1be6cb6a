//go:build linux

package faults

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/scripts/testkit"
)

// TestSessionsWithoutMedia: a publisher token holder opens session after session on new
// stream names and never sends a packet (phase A), or sends a few and vanishes (phase B).
// Opened at POST and kept through the 5-minute grace, each would hold an MP3, an encoder, a
// decoder and an fsync goroutine, and only live sessions counted against --max-sessions, so
// the writers piled up. A session that never sent media must hold no file at all, and
// recordings waiting out their grace count against the limit. A real presenter streams
// beside the attack and loses nothing.
func TestSessionsWithoutMedia(t *testing.T) {
	length, waves, brief := 26*time.Second, 3, 20
	if full() {
		length, waves, brief = time.Minute, 10, 60
	}
	const perWave, maxSessions = 10, 12
	speech, in := speechFor(t, length)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok",
		"--idle-timeout", "2s", "--max-sessions", fmt.Sprint(maxSessions)) // --grace: the default 5 min
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	pid := srv.Cmd.Process.Pid
	pub, _, local := publishLive(t, speech, base, 15*time.Second)
	began := time.Now()

	// Phase A: waves of sessions that never send a packet. Each ends after --idle-timeout.
	offer := []byte(validOffer(t))
	tlA := &tally{}
	client := &http.Client{Timeout: 20 * time.Second}
	peakFDs, peakFiles := 0, 0
	look := func(pattern string) {
		peakFDs = max(peakFDs, openFilesIn(pid, dir)-1) // less the presenter's own
		files, _ := filepath.Glob(filepath.Join(dir, pattern))
		peakFiles = max(peakFiles, len(files))
	}
	for w := range waves {
		parallel(4, perWave, func(i int) {
			req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/whip/idle-%d-%d", base, w, i), strings.NewReader(string(offer)))
			req.Header.Set("Content-Type", "application/sdp")
			req.Header.Set("Authorization", "Bearer tok")
			tlA.do(client, "offer: never any media", 201, req)
		})
		look("idle-*")
		for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
			look("idle-*")
		}
	}
	waitSessions(t, base, 1, 10*time.Second)
	look("idle-*")
	mA := metrics(t, base)
	heldA := openFilesIn(pid, dir) - 1
	filesA, _ := filepath.Glob(filepath.Join(dir, "idle-*"))

	// Phase B: sessions that send half a second of media and vanish without DELETE: each
	// recording waits out its grace, and counts against --max-sessions while it does.
	var admitted, refused, failed atomic.Int32
	var firstErr atomic.Value
	parallel(4, brief, func(i int) {
		p, status, err := dialPub(base, fmt.Sprintf("brief-%02d", i))
		switch {
		case err != nil:
			failed.Add(1)
			firstErr.CompareAndSwap(nil, err.Error())
			return
		case status == http.StatusServiceUnavailable:
			refused.Add(1)
			return
		case status != http.StatusCreated:
			failed.Add(1)
			firstErr.CompareAndSwap(nil, fmt.Sprintf("POST answered %d", status))
			return
		}
		admitted.Add(1)
		if _, err := p.sendFor(500*time.Millisecond, 0); err != nil {
			firstErr.CompareAndSwap(nil, err.Error())
		}
		time.Sleep(300 * time.Millisecond) // the last packets through the server's reorder wait
		p.close()
	})
	waitSessions(t, base, 1, 10*time.Second)
	mB := metrics(t, base)
	heldB := openFilesIn(pid, dir) - 1
	attackTook := time.Since(began)

	waitExit(t, pub, length+30*time.Second)
	sum := parseSummary(t, pub.Log())
	m := metrics(t, base)
	stopServer(t, srv)

	tlA.report(t)
	if peakFDs > 0 || peakFiles > 0 || heldA > 0 || len(filesA) > 0 {
		t.Errorf("phase A: sessions that never sent media held up to %d open files and %d files in the folder (%d and %d once they ended; podium_recordings %.0f)",
			peakFDs, peakFiles, heldA, len(filesA), mA["podium_recordings"])
	}
	if n := failed.Load(); n > 0 {
		t.Errorf("phase B: %d sessions failed: %v", n, firstErr.Load())
	}
	if recs := mB["podium_recordings"]; recs > maxSessions || heldB >= maxSessions {
		t.Errorf("phase B: %.0f recordings open (%d files held) after %d brief sessions, with --max-sessions %d", recs, heldB, admitted.Load(), maxSessions)
	}
	if sum.reconnects != 0 || sum.dropped != 0 {
		t.Errorf("the presenter reconnected %d times and dropped %d packets during the attack", sum.reconnects, sum.dropped)
	}
	lost, recv := int(m["podium_packets_lost_total"]), int(m["podium_packets_received_total"])
	if lost > 0 {
		t.Errorf("server lost %d of %d packets during the attack", lost, recv+lost)
	}
	talk, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
	if len(talk) != 1 {
		t.Fatalf("presenter's recordings on the server: %v", talk)
	}
	a := analyse(t, in, checkLocal(t, local, in), serverCopy(t, dir, filepath.Base(talk[0])))
	if a.median < 0.9 || a.lengthErr > 0.01 {
		t.Errorf("presenter's server copy: correlation %.3f (median per 1 s), length off by %.2f %%", a.median, 100*a.lengthErr)
	}
	scenario(t, "A: %d sessions that never sent media (%d waves, --idle-timeout 2s, --grace 5m): at most %d open files and %d files in the folder, %d open and %d files once they ended (podium_recordings %.0f); "+
		"B: %d sessions that sent 0.5 s and vanished (--max-sessions %d): %d admitted, %d refused 503, %d recordings held open after (podium_recordings %.0f); "+
		"%v of attack beside a presenter: %d of %d packets lost, %d reconnects, server copy correlation %.3f, length off %.2f %%",
		waves*perWave, waves, peakFDs, peakFiles, heldA, len(filesA), mA["podium_recordings"]-1,
		brief, maxSessions, admitted.Load(), refused.Load(), heldB, mB["podium_recordings"]-1,
		attackTook.Round(100*time.Millisecond), lost, recv+lost, sum.reconnects, a.median, 100*a.lengthErr)
}

// waitSessions waits until the server has n publisher sessions left.
func waitSessions(t *testing.T, base string, n float64, d time.Duration) {
	t.Helper()
	testkit.WaitFor(t, d, fmt.Sprintf("%v sessions", n), func() bool { return metrics(t, base)["podium_sessions"] <= n })
}

// openFilesIn counts the files under dir that process pid holds open.
func openFilesIn(pid int, dir string) int {
	fds := fmt.Sprintf("/proc/%d/fd", pid)
	ents, _ := os.ReadDir(fds)
	n := 0
	for _, e := range ents {
		if l, err := os.Readlink(filepath.Join(fds, e.Name())); err == nil && strings.HasPrefix(l, dir+"/") {
			n++
		}
	}
	return n
}

// TestStalledDisk: the disk under the recordings stops answering writes for a while (an NFS
// hiccup, a USB stick's full queue; here fsfreeze) just as a publisher comes back after an
// absence and its recording must fill the gap. The server's lock on a recording was held
// across the sink's encoding and I/O, and the walk for GET /streams held the server's lock
// while waiting for each, so /streams, /metrics and new publishers all waited on the disk.
// None of them may wait on a sink; the presenter streaming beside loses nothing, and both
// recordings are complete once the disk is back.
func TestStalledDisk(t *testing.T) {
	length, away, stall := 26*time.Second, 3*time.Second, 3*time.Second
	if full() {
		length, away, stall = time.Minute, 30*time.Second, 20*time.Second
	}
	dir, freeze := mountExt4(t, "64M")
	speech, in := speechFor(t, length)
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	pub, _, local := publishLive(t, speech, base, 15*time.Second)

	// A second publisher streams a second, vanishes, and is away for a while.
	back, status, err := dialPub(base, "away")
	if err != nil || status != http.StatusCreated {
		t.Fatalf("publish away: %d %v", status, err)
	}
	firstAt := time.Now()
	if _, err := back.sendFor(time.Second, 0); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	back.close()
	time.Sleep(away)

	// The disk stalls; the publisher comes back (its gap fill waits on the disk), and a
	// client keeps asking the server what it always may.
	freeze(true)
	frozeAt := time.Now()
	var prober sync.WaitGroup
	stop := make(chan struct{})
	probes := map[string]*probeStats{"GET /streams": {}, "GET /metrics": {}, "POST /whip/new": {}}
	offer := validOffer(t)
	for what, st := range probes {
		prober.Go(func() { st.probe(base, what, offer, stop) })
	}
	var resumed sync.WaitGroup
	var resumeErr error
	var lastAt time.Time
	resumed.Go(func() {
		p, status, err := dialPub(base, "away")
		if err != nil || status != http.StatusCreated {
			resumeErr = fmt.Errorf("publish away again: %d %v", status, err)
			return
		}
		// A new session: the server places its first packet by the wall time away.
		if _, err := p.sendFor(stall+2*time.Second, 0); err != nil {
			resumeErr = err
		}
		lastAt = time.Now()
		if err := p.delete(); err != nil && resumeErr == nil {
			resumeErr = err
		}
	})
	time.Sleep(stall)
	freeze(false)
	stalled := time.Since(frozeAt)
	time.Sleep(time.Second) // the probes see the server after the disk, too
	close(stop)
	prober.Wait()
	resumed.Wait()
	if resumeErr != nil {
		t.Error(resumeErr)
	}

	waitExit(t, pub, length+30*time.Second)
	sum := parseSummary(t, pub.Log())
	m := metrics(t, base)
	stopServer(t, srv)

	var figures []string
	for _, what := range []string{"GET /streams", "GET /metrics", "POST /whip/new"} {
		st := probes[what]
		figures = append(figures, fmt.Sprintf("%s worst %v of %d", what, st.worst.Round(time.Millisecond), st.n))
		if st.failed > 0 || st.worst > 500*time.Millisecond {
			t.Errorf("%s during the stall: %d of %d failed (%s), slowest %v", what, st.failed, st.n, st.firstErr, st.worst)
		}
	}
	if sum.reconnects != 0 || sum.dropped != 0 {
		t.Errorf("the presenter reconnected %d times and dropped %d packets", sum.reconnects, sum.dropped)
	}
	lost, recv := int(m["podium_packets_lost_total"]), int(m["podium_packets_received_total"])
	if lost > 0 {
		t.Errorf("server lost %d of %d packets", lost, recv+lost)
	}
	talk, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
	aways, _ := liveMP3s(filepath.Join(dir, "away *.mp3"))
	if len(talk) != 1 || len(aways) != 1 {
		t.Fatalf("recordings: talk %v, away %v; want one of each", talk, aways)
	}
	a := analyse(t, in, checkLocal(t, local, in), serverCopy(t, dir, filepath.Base(talk[0])))
	if a.median < 0.9 || a.lengthErr > 0.01 {
		t.Errorf("presenter's server copy: correlation %.3f (median per 1 s), length off by %.2f %%", a.median, 100*a.lengthErr)
	}
	info := readMP3Info(t, aways[0])
	// From its first packet to its last, the absence filled.
	want := lastAt.Sub(firstAt)
	if d := info.Duration(); d < want-time.Second || d > want+time.Second {
		t.Errorf("the returning publisher's recording lasts %v, want about %v", d.Round(10*time.Millisecond), want)
	}
	scenario(t, "disk frozen %v as a publisher came back after %v away: %s; presenter %d of %d packets lost, %d reconnects, server copy correlation %.3f, length off %.2f %%; returning publisher's recording %v (gap filled)",
		stalled.Round(100*time.Millisecond), away, strings.Join(figures, ", "), lost, recv+lost, sum.reconnects, a.median, 100*a.lengthErr, info.Duration().Round(10*time.Millisecond))
}

// probeStats times one kind of request, made again and again.
type probeStats struct {
	n, failed int
	worst     time.Duration
	firstErr  string
}

// probe makes the request what names until stop closes: GETs every 50 ms, POSTs of an offer
// that never sends media every 250 ms (each is a session, and sessions are bounded).
func (st *probeStats) probe(base, what, offer string, stop <-chan struct{}) {
	client := &http.Client{Timeout: 60 * time.Second}
	method, path, _ := strings.Cut(what, " ")
	every := 50 * time.Millisecond
	if method == http.MethodPost {
		every = 250 * time.Millisecond
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(every):
		}
		var body io.Reader
		if method == http.MethodPost {
			path = fmt.Sprintf("/whip/new-%d", i)
			body = strings.NewReader(offer)
		}
		req, _ := http.NewRequest(method, base+path, body)
		req.Header.Set("Authorization", "Bearer tok")
		if body != nil {
			req.Header.Set("Content-Type", "application/sdp")
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 != 2 {
				err = fmt.Errorf("%s", resp.Status)
			}
		}
		st.n++
		st.worst = max(st.worst, time.Since(t0))
		if err != nil {
			if st.failed++; st.firstErr == "" {
				st.firstErr = err.Error()
			}
		}
	}
}

// mountExt4 mounts a fresh ext4 filesystem of size (a loop device over a file) and returns
// it with a switch that freezes it (writes block until thawed, as on a stalled disk) and thaws
// it. Cleanup thaws it before unmounting.
func mountExt4(t *testing.T, size string) (string, func(frozen bool)) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a filesystem needs root (CI runs as root)")
	}
	testkit.Need(t, "mkfs.ext4", "fsfreeze")
	img := filepath.Join(t.TempDir(), "disk.img")
	dir := t.TempDir()
	for _, cmd := range [][]string{
		{"truncate", "-s", size, img},
		{"mkfs.ext4", "-q", "-F", img},
		{"mount", "-o", "loop", img, dir},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v %s", strings.Join(cmd, " "), err, out)
		}
	}
	var frozen atomic.Bool
	t.Cleanup(func() {
		if frozen.Load() {
			exec.Command("fsfreeze", "-u", dir).Run()
		}
		exec.Command("umount", "-l", dir).Run()
	})
	// A fresh ext4 has lost+found: the server lists only its own names, but keep the folder
	// plain.
	os.Remove(filepath.Join(dir, "lost+found"))
	return dir, func(on bool) {
		flag := "-u"
		if on {
			flag = "-f"
		}
		if out, err := exec.Command("fsfreeze", flag, dir).CombinedOutput(); err != nil {
			t.Fatalf("fsfreeze %s: %v %s", flag, err, out)
		}
		frozen.Store(on)
	}
}
