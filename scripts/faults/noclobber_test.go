//go:build linux

package faults

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/scripts/testkit"
)

// TestNoFileWrittenOver attacks the real binaries where a new recording is created: an
// existing file of someone else's at `podium record --out`, a dangling symlink there
// (pointing where the attacker wants a file made), two `podium record` racing for one name,
// and symlinks planted under the names podium-server will give the next recordings. Podium
// makes every recording a new file (O_EXCL): nothing is overwritten, nothing is made
// through a link.
func TestNoFileWrittenOver(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	speech, _ := speechFor(t, 10*time.Second)
	record := func(out string) *testkit.Proc {
		return start(t, nil, "podium", "record", "--input", speech, "--duration", "2s", "--out", out)
	}
	var report []string

	// Someone else's file at --out.
	foreign := filepath.Join(dir, "notes.mp3")
	theirs := []byte("ID3 not Podium's: a file the user made with another program")
	if err := os.WriteFile(foreign, theirs, 0o644); err != nil {
		t.Fatal(err)
	}
	code := record(foreign).Wait(t, 30*time.Second)
	after, _ := os.ReadFile(foreign)
	if code == 0 || !bytes.Equal(after, theirs) {
		t.Errorf("--out at an existing file: exit %d, file %d→%d bytes (identical %v)", code, len(theirs), len(after), bytes.Equal(after, theirs))
	}
	report = append(report, fmt.Sprintf("existing file: exit %d, identical %v", code, bytes.Equal(after, theirs)))

	// A dangling symlink at --out, aimed outside.
	victim := filepath.Join(outside, "made-through-the-link.mp3")
	link := filepath.Join(dir, "link.mp3")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	code = record(link).Wait(t, 30*time.Second)
	_, err := os.Stat(victim)
	if code == 0 || err == nil {
		t.Errorf("--out at a dangling symlink: exit %d, file made through it: %v", code, err == nil)
	}
	report = append(report, fmt.Sprintf("dangling symlink: exit %d, target made %v", code, err == nil))

	// Two recorders race for one name: one records, the other is refused.
	same := filepath.Join(dir, "same.mp3")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() { codes[i] = record(same).Wait(t, 30*time.Second) })
	}
	wg.Wait()
	info := readMP3Info(t, same)
	if (codes[0] == 0) == (codes[1] == 0) || info.Duration() < 1900*time.Millisecond || info.Duration() > 2100*time.Millisecond {
		t.Errorf("two recorders on one name: exits %v, the file holds %v (want one recorder's 2 s)", codes, info.Duration())
	}
	report = append(report, fmt.Sprintf("two recorders on one name: exits %v, file %v", codes, info.Duration().Round(time.Millisecond)))

	// podium-server: links planted under the names of the next minute's recordings.
	sdir := t.TempDir()
	begin := time.Now()
	planted := 0
	for s := range 60 {
		name := fmt.Sprintf("talk %s.mp3", begin.Add(time.Duration(s)*time.Second).Format("2006-01-02 15-04-05"))
		if err := os.Symlink(filepath.Join(outside, "srv-"+strconv.Itoa(s)+".mp3"), filepath.Join(sdir, name)); err != nil {
			t.Fatal(err)
		}
		planted++
	}
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", sdir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	pub := start(t, nil, "podium", "record", "--input", speech, "--duration", "3s", "--out", filepath.Join(t.TempDir(), "local.mp3"),
		"--server", "http://"+addr+"/whip/talk", "--token", "tok")
	waitExit(t, pub, 30*time.Second)
	stopServer(t, srv)
	made, _ := filepath.Glob(filepath.Join(outside, "srv-*"))
	var recs []string
	entries, _ := os.ReadDir(sdir)
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasSuffix(e.Name(), filename.StudioSuffix) {
			recs = append(recs, e.Name())
		}
	}
	if len(made) != 0 || len(recs) != 1 {
		t.Errorf("server with %d planted links: %d files made through them, recordings %q (want one)", planted, len(made), recs)
	} else if got := readMP3Info(t, filepath.Join(sdir, recs[0])); got.Duration() < 2500*time.Millisecond {
		t.Errorf("server's recording %q holds %v of a 3 s talk", recs[0], got.Duration())
	}
	report = append(report, fmt.Sprintf("server with %d planted links: %d files made through them, recording %q", planted, len(made), recs))
	scenario(t, "%v", report)
}
