//go:build linux

package faults

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"podium/app"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// kill -9 the headless app at random moments while it records: every file left behind
// decodes from start to end, lacks at most about a second of what was captured, and the
// next start repairs it and lists it as recovered.
func TestCrashHeadless(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	dir := t.TempDir()
	runs := 5
	if full() {
		runs = 20
	}
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	type crash struct {
		path     string
		captured time.Duration
	}
	var crashes []crash
	for i := range runs {
		out := filepath.Join(dir, fmt.Sprintf("crash %02d.mp3", i))
		p := start(t, nil, "podium", "record", "--input", speech, "--out", out)
		p.WaitLine(t, "recording to", 10*time.Second)
		began := time.Now()
		time.Sleep(time.Duration(300+rng.IntN(3700)) * time.Millisecond)
		p.Cmd.Process.Signal(syscall.SIGKILL)
		captured := time.Since(began)
		p.Wait(t, time.Minute)
		crashes = append(crashes, crash{out, captured})
	}

	var worst time.Duration
	for _, c := range crashes {
		// Before any repair: the file as the crash left it plays from start to end.
		got := audiotest.Decode(t, c.path)
		have := time.Duration(len(got)) * time.Second / pcm.SampleRate
		if lost := c.captured - have; lost > worst {
			worst = lost
		}
		if c.captured-have > time.Second {
			t.Errorf("%s: %v captured, %v on disk after kill -9", filepath.Base(c.path), c.captured, have)
		}
	}

	// The next start (any podium record in that folder) repairs them all.
	next := start(t, nil, "podium", "record", "--input", speech, "--duration", "1s", "--fast", "--out", filepath.Join(dir, "next.mp3"))
	if code := next.Wait(t, time.Minute); code != 0 {
		t.Fatalf("next start exited %d:\n%s", code, next.Log())
	}
	list, err := app.History{Dir: dir}.List()
	if err != nil {
		t.Fatal(err)
	}
	recovered := 0
	for _, e := range list {
		if filepath.Base(e.Path) == "next.mp3" {
			continue
		}
		if !e.Recovered {
			t.Errorf("%s not marked recovered", e.Title)
			continue
		}
		recovered++
		got := audiotest.Decode(t, e.Path)
		// Repaired, the encoder delay is trimmed again: the audio lines up with the input.
		if len(got) > pcm.SampleRate {
			if corr, lag, _ := audiotest.Correlate(in[:min(len(in), len(got))], got, 2000); corr < 0.95 || lag < -10 || lag > 10 {
				t.Errorf("%s: correlation %.3f at lag %d after repair", e.Title, corr, lag)
			}
		}
		if d := e.Duration - time.Duration(len(got))*time.Second/pcm.SampleRate; d > 30*time.Millisecond || d < -30*time.Millisecond {
			t.Errorf("%s: history says %v, audio lasts %v", e.Title, e.Duration, time.Duration(len(got))*time.Second/pcm.SampleRate)
		}
	}
	if recovered != runs {
		t.Errorf("%d of %d crashed recordings listed as recovered", recovered, runs)
	}
	scenario(t, "kill -9 of podium record %d times at random moments: all %d files played and were repaired; at most %v of captured audio lost", runs, recovered, worst.Round(time.Millisecond))
}

// kill -9 podium-server mid-session and start it again: the half-written MP3 is repaired on
// start, plays, and is listed.
func TestCrashServer(t *testing.T) {
	speech := audiotest.Speech(t, false)
	dir := t.TempDir()
	port := testkit.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	pub := start(t, nil, "podium", "record", "--input", speech, "--out", filepath.Join(t.TempDir(), "local.mp3"),
		"--server", "http://"+addr+"/whip/talk", "--token", "tok")
	pub.WaitLine(t, "live: live", 15*time.Second)
	time.Sleep(4 * time.Second)
	srv.Cmd.Process.Signal(syscall.SIGKILL)
	srv.Wait(t, time.Minute)
	pub.Cmd.Process.Signal(syscall.SIGTERM)
	pub.Wait(t, time.Minute)

	files, _ := liveMP3s(filepath.Join(dir, "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("server left %v", files)
	}
	if need, err := repair.Needed(files[0]); err != nil || !need {
		t.Fatalf("after kill -9 the server file needs no repair? %v %v", need, err)
	}
	again := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok")
	again.WaitLine(t, "recovered", 10*time.Second)
	again.WaitLine(t, "WHIP on", 10*time.Second)
	e, err := app.ReadEntry(files[0])
	if err != nil || !e.Recovered || e.Duration < 3*time.Second {
		t.Errorf("repaired server file: %+v, %v", e, err)
	}
	got := audiotest.Decode(t, files[0])
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("restarted server not healthy: %v", err)
	}
	os.Remove(files[0])
	scenario(t, "kill -9 of podium-server after ~4 s of a live session: on restart the MP3 was repaired, %v playable", (time.Duration(len(got)) * time.Second / pcm.SampleRate).Round(10*time.Millisecond))
}
