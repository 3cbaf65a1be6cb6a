package faults

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/app"
	"podium/audio/audiotest"
	"podium/audio/pcm"
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
	got := audiotest.DecodeMP3(t, out)
	secs := float64(len(got)) / pcm.SampleRate
	// 64 KiB less the 1 KiB tag, at 8000 bytes a second; a frame or two of slack either way.
	if want := float64(63*1024) / 8000; secs < want-0.3 || secs > want+0.1 {
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
