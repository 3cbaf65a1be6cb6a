//go:build linux

package faults

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// TestCraftedFrameRepair: the recordings folder holds a crafted file that carries Podium's
// mark and looks interrupted (its first frame is an empty header placeholder), but whose
// frames are MPEG-2 at 8 kb/s: 24 bytes, too short for the header a repair writes, with a
// torn frame at the end. podium-server (its --dir) and podium record (the folder of its
// --out) repair such a folder at every start. Each is started twice: each start must come
// up (no crash), leave the file byte for byte and with its modification time, and say so
// in a plain line naming the file.
func TestCraftedFrameRepair(t *testing.T) {
	speech := audiotest.Speech(t, false)
	crafted := audiotest.InterruptedMP3(t, audiotest.TinyFrameHeader, audiotest.TinyFrameLen, 400)
	crafted = append(crafted, audiotest.TinyFrameHeader[:]...)
	crafted = append(crafted, 1, 2, 3, 4, 5, 6) // a torn last frame, which a repair would cut
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

	type run struct {
		code  int
		bytes int64
		mtime time.Time
		same  bool   // byte for byte as before
		said  string // the line about the file, if any
	}
	records := 0 // each start records a new file: --out never writes over one
	programs := []struct {
		name  string
		start func(t *testing.T, dir string) (code int, log string)
	}{
		{"podium-server", func(t *testing.T, dir string) (int, string) {
			srv := start(t, nil, "podium-server", "--listen", "127.0.0.1:0", "--dir", dir, "--token", "tok")
			testkit.WaitFor(t, 20*time.Second, "podium-server up or gone", func() bool {
				return strings.Contains(srv.Log(), "WHIP on") || srv.ExitCode() >= 0
			})
			if srv.ExitCode() >= 0 {
				return srv.ExitCode(), srv.Log()
			}
			return srv.Stop(t, 20*time.Second), srv.Log()
		}},
		{"podium record", func(t *testing.T, dir string) (int, string) {
			records++
			out := filepath.Join(dir, fmt.Sprintf("x%d.mp3", records))
			rec := start(t, nil, "podium", "record", "--input", speech, "--duration", "1s", "--fast", "--out", out)
			return rec.Wait(t, time.Minute), rec.Log()
		}},
	}
	var figures []string
	for _, prog := range programs {
		dir := t.TempDir()
		path := filepath.Join(dir, "crafted.mp3")
		if err := os.WriteFile(path, crafted, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		var runs []run
		for i := range 2 {
			code, log := prog.start(t, dir)
			r := run{code: code}
			if st, err := os.Stat(path); err == nil {
				r.bytes, r.mtime = st.Size(), st.ModTime().UTC()
			}
			b, _ := os.ReadFile(path)
			r.same = bytes.Equal(b, crafted)
			for _, l := range strings.Split(log, "\n") {
				if strings.Contains(l, "crafted.mp3") {
					r.said = strings.TrimSpace(l)
					break
				}
			}
			runs = append(runs, r)
			switch {
			case code != 0:
				t.Errorf("%s start %d: exit status %d:\n%s", prog.name, i+1, code, testkit.Tail(log, 3000))
			case strings.Contains(log, "panic"):
				t.Errorf("%s start %d: panicked:\n%s", prog.name, i+1, testkit.Tail(log, 3000))
			case !r.same || !r.mtime.Equal(mtime):
				t.Errorf("%s start %d: crafted file changed: %d bytes (was %d), modified %v (was %v)", prog.name, i+1, r.bytes, len(crafted), r.mtime, mtime)
			case !strings.Contains(r.said, "left as it was"):
				t.Errorf("%s start %d: no plain line saying the file was left as it was (got %q)", prog.name, i+1, r.said)
			}
		}
		var each []string
		for _, r := range runs {
			each = append(each, fmt.Sprintf("exit %d, %d→%d bytes, mtime %s→%s, identical %v",
				r.code, len(crafted), r.bytes, mtime.Format(time.DateTime), r.mtime.Format(time.DateTime), r.same))
		}
		figures = append(figures, fmt.Sprintf("%s [%s]", prog.name, strings.Join(each, "; ")))
		if runs[0].said != "" {
			t.Logf("%s said: %s", prog.name, runs[0].said)
		}
	}
	scenario(t, "a crafted MPEG-2 8 kb/s file with Podium's mark (24-byte frames, too short for a header) in the folder, each program started twice: %s",
		strings.Join(figures, "; "))
}
