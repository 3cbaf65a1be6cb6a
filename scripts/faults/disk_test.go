//go:build linux

package faults

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"podium/app"
	"podium/app/recorder"
	"podium/audio/mp3"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// mountTmpfs mounts a tmpfs of size bytes: a disk that fills up for real.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("cannot mount tmpfs (root can, on this machine kind): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// Record into a filesystem that fills up: a warning while there is room, then a clear "disk
// full", and a file that holds everything up to that point and plays with its true length.
func TestDiskFull(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	dir := mountTmpfs(t, "64k") // about 8 s of audio at 64 kbps
	out := filepath.Join(dir, "talk.mp3")
	p := start(t, nil, "podium", "record", "--input", speech, "--out", out)
	warn := p.WaitLine(t, "Disk almost full", 5*time.Second)
	code := p.Wait(t, time.Minute)
	msg := p.Log()
	if code == 0 || !strings.Contains(msg, "The disk is full — recording stopped and kept") {
		t.Fatalf("exit %d, output:\n%s", code, msg)
	}
	got := audiotest.Decode(t, out)
	secs := float64(len(got)) / pcm.SampleRate
	// 64 KiB less the tag, at 8000 bytes a second; a frame or two of slack either way.
	if want := float64(64*1024-mp3.TagSize) / 8000; secs < want-0.3 || secs > want+0.1 {
		t.Errorf("%.2f s in a 64 KiB filesystem, want about %.2f", secs, want)
	}
	corr, lag, _ := audiotest.Correlate(in[:len(got)], got, 2000)
	if corr < 0.95 || lag < -10 || lag > 10 {
		t.Errorf("correlation %.3f at lag %d", corr, lag)
	}
	e, err := app.ReadEntry(out)
	if err != nil || e.Duration < time.Duration(secs*0.98*float64(time.Second)) {
		t.Errorf("history entry %+v (%v) for %.2f s of audio", e, err, secs)
	}
	scenario(t, "recorded into a 64 KiB tmpfs until it filled: warned (%q), stopped with 'disk full', %.2f s kept and playable, correlation %.3f", strings.TrimSpace(warn), secs, corr)
}

// TestServerDiskFull: podium-server records onto a disk with room for a few seconds. The
// recording the disk ran out under stops there, finalised at once (complete and playable with
// what was written, while its presenter is still live), counted in /metrics and said in the
// log; the server said how little room was left before it happened (a /metrics gauge it
// refreshes by itself, and a log warning). Its presenter stays live, and once there is room
// again the server records the next talk whole.
func TestServerDiskFull(t *testing.T) {
	// Room for a few seconds of audio beside the tag the server keeps for each recording.
	room, first, second := int64(40<<10+recorder.TagSize), 10*time.Second, 6*time.Second
	if full() {
		room, first, second = 400<<10+recorder.TagSize, 60*time.Second, 30*time.Second
	}
	dir := mountTmpfs(t, fmt.Sprint(room+1<<20))
	// Ballast leaves room free: someone else's file, that the operator removes later.
	ballast := filepath.Join(dir, "ballast.bin")
	if err := os.WriteFile(ballast, make([]byte, freeBytes(t, dir)-room), 0o644); err != nil {
		t.Fatal(err)
	}
	room = freeBytes(t, dir)
	speech, in := speechOf(t, first)
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)

	pub, _, _ := publishLiveAs(t, speech, base, "first", 15*time.Second)
	liveAt := time.Now()
	// The server says it stopped the recording; a server that does not is given a second
	// after the disk filled.
	var stopped testkit.Line
	var fullAt time.Time
	for end := time.Now().Add(first); ; time.Sleep(50 * time.Millisecond) {
		var ok bool
		if stopped, ok = findLine(srv, "recording stopped stream=first", 0); ok {
			break
		}
		if fullAt.IsZero() && freeBytes(t, dir) < 4<<10 {
			fullAt = time.Now()
		}
		if !fullAt.IsZero() && time.Since(fullAt) > time.Second || time.Now().After(end) {
			t.Errorf("no 'recording stopped' in the log (the disk filled %v after the talk went live)", fullAt.Sub(liveAt).Round(100*time.Millisecond))
			stopped = testkit.Line{At: time.Now()}
			break
		}
	}
	stoppedAfter := stopped.At.Sub(liveAt)
	files, _ := liveMP3s(filepath.Join(dir, "first *.mp3"))
	if len(files) != 1 {
		t.Fatalf("recordings of the first talk: %v", files)
	}
	// Finalised now, while its presenter is still streaming.
	needRepair, err := repair.Needed(files[0])
	if err != nil || needRepair {
		t.Errorf("the stopped recording needs repair (%v, %v) while its presenter is live", needRepair, err)
	}
	if pub.ExitCode() != -1 {
		t.Fatalf("the first talk (%v) ended before the disk filled: make the room smaller", first)
	}
	mFull := metrics(t, base)
	os.Remove(ballast)
	// The gauge is refreshed on the server's own clock: it sees the room made by itself.
	var mRoom map[string]float64
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if mRoom = metrics(t, base); mRoom["podium_disk_free_bytes"] > float64(room) {
			break
		}
	}
	if mRoom["podium_disk_free_bytes"] <= float64(room) {
		t.Errorf("podium_disk_free_bytes %v 10 s after %d bytes were freed", mRoom["podium_disk_free_bytes"], freeBytes(t, dir))
	}

	speech2, in2 := speechOf(t, second)
	pub2, _, local2 := publishLiveAs(t, speech2, base, "second", 15*time.Second)
	waitExit(t, pub2, second+30*time.Second)
	waitExit(t, pub, first+30*time.Second)
	sum := parseSummary(t, pub.Log())
	stopServer(t, srv)
	log := srv.Log()

	if !strings.Contains(log, "disk") || !strings.Contains(stopped.Text, "disk full") {
		t.Errorf("the log does not say the disk is full: %q", stopped.Text)
	}
	warned := ""
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "Disk almost full") {
			warned = l
			break
		}
	}
	if warned == "" {
		t.Errorf("no low-space warning in the log:\n%s", log)
	}
	if mFull["podium_recordings_failed_total"] != 1 {
		t.Errorf("podium_recordings_failed_total %v after the disk filled, want 1", mFull["podium_recordings_failed_total"])
	}
	if free := mFull["podium_disk_free_bytes"]; free > 16<<10 {
		t.Errorf("podium_disk_free_bytes %v on a full disk", free)
	}
	if sum.reconnects != 0 {
		t.Errorf("the first presenter reconnected %d times after its recording stopped", sum.reconnects)
	}
	got := audiotest.Decode(t, files[0])
	secsKept := float64(len(got)) / pcm.SampleRate
	// What fitted: the room less the tag, at 8000 bytes a second; a page of slack.
	if want := float64(room-recorder.TagSize) / 8000; secsKept < want-0.7 || secsKept > want+0.1 {
		t.Errorf("%.2f s kept in %d bytes of room, want about %.2f", secsKept, room, want)
	}
	// got[i-startAt] ≈ in[i]: the copy begins when the stream came up (a little below 0 is
	// the decoder's own delay).
	startAt := -audiotest.Align(in[:min(len(in), 8*pcm.SampleRate)], got[:min(len(got), 4*pcm.SampleRate)], 4*pcm.SampleRate)
	i0 := max(startAt, 0)
	n := min(len(in)-i0, len(got)-(i0-startAt))
	corr := audiotest.Pearson(in[i0:i0+n], got[i0-startAt:i0-startAt+n])
	if corr < 0.9 {
		t.Errorf("the stopped recording correlates %.3f with its input (starting %v in)", corr, secs(startAt))
	}
	seconds, _ := liveMP3s(filepath.Join(dir, "second *.mp3"))
	if len(seconds) != 1 {
		t.Fatalf("recordings of the second talk: %v", seconds)
	}
	a := analyse(t, in2, checkLocal(t, local2, in2), serverCopy(t, dir, filepath.Base(seconds[0])))
	if a.median < 0.9 || a.lengthErr > 0.01 {
		t.Errorf("second talk's server copy: correlation %.3f (median per 1 s), length off by %.2f %%", a.median, 100*a.lengthErr)
	}
	scenario(t, "%d bytes of room on a tmpfs: warned %q; recording stopped %v into the talk (%q), finalised while live (needs repair %v), %.2f s kept, correlation %.3f; podium_recordings_failed_total %v, podium_disk_free_bytes %v when full, %v after the ballast went; presenter %d reconnects; next talk %v recorded whole (%.2f %% off, correlation %.3f)",
		room, strings.TrimSpace(warned), stoppedAfter.Round(100*time.Millisecond), stopped.Text, needRepair, secsKept, corr,
		mFull["podium_recordings_failed_total"], mFull["podium_disk_free_bytes"], mRoom["podium_disk_free_bytes"], sum.reconnects, second, 100*a.lengthErr, a.median)
}

// freeBytes is the room left on dir's filesystem.
func freeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * st.Bsize
}

// speechOf is the speech fixture cut (or looped) to last d, as a temporary WAV.
func speechOf(t *testing.T, d time.Duration) (string, []int16) {
	t.Helper()
	path, in := speechFor(t, d)
	n := int(d.Seconds() * pcm.SampleRate)
	if len(in) <= n {
		return path, in
	}
	path = filepath.Join(t.TempDir(), "speech-cut.wav")
	audiotest.WriteWAV(t, path, in[:n])
	return path, in[:n]
}

// findLine waits up to d for a line of p's output containing s (any line so far counts); it
// does not fail the test, so a scenario can still report what it saw.
func findLine(p *testkit.Proc, s string, d time.Duration) (testkit.Line, bool) {
	deadline := time.After(d)
	for {
		changed := p.Changed()
		for _, l := range p.From(0) {
			if strings.Contains(l.Text, s) {
				return l, true
			}
		}
		select {
		case <-changed:
		case <-p.Done():
			return testkit.Line{}, false
		case <-deadline:
			return testkit.Line{At: time.Now()}, false
		}
	}
}
