package main_test

// A real listener: headless Chromium opens the real podium-server's /listen/{stream} page
// while the real `podium record` publishes the speech fixture to it, and sends back what it
// played.

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/pcm"
	"podium/rtc"
	"podium/scripts/testkit"
)

// startListenServer runs the binary with a publisher and a listener token.
func startListenServer(t testing.TB, args ...string) (base string) {
	t.Helper()
	p := testkit.Start(t, nil, serverBin, append([]string{"--listen", "127.0.0.1:0"}, args...)...)
	t.Cleanup(func() { p.Stop(t, 10*time.Second) })
	return testkit.ServerBase(t, p)
}

func buildPodium(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "podium")
	if out, err := exec.Command("go", "build", "-o", bin, "podium/cmd/podium").CombinedOutput(); err != nil {
		t.Fatalf("build podium: %v\n%s", err, out)
	}
	return bin
}

func streamInfo(t testing.TB, base, token, stream string) rtc.StreamInfo {
	t.Helper()
	var info rtc.StreamInfo
	testkit.GetJSON(t, base+"/streams/"+stream, token, &info)
	return info
}

// TestChromiumListens: the listener page, opened in headless Chromium before the presenter
// starts, plays the talk that `podium record --input speech.wav --server ...` publishes in
// real time; a capture script that testkit.ListenerPage adds to the page records what it
// plays (MediaRecorder on the played stream) and posts it back when the stream goes offline.
// Decoded, it correlates with the speech window by window (Chromium's NetEq stretches time
// while it settles its delay, so each short window is aligned on its own).
func TestChromiumListens(t *testing.T) {
	testkit.Need(t, "ffmpeg")
	speech := audiotest.Speech(t, false)
	const talk = 12 * time.Second
	in := audiotest.ReadWAV(t, speech)[:int(talk.Seconds())*pcm.SampleRate]
	podium := buildPodium(t)
	dir := t.TempDir()
	base := startListenServer(t, "--dir", filepath.Join(dir, "server"), "--token", "pub-tok",
		"--listener-token", "lis-tok", "--listener-timeout", "3s")

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	page := testkit.ListenerPage(t, base, "talk", "lis-tok", 40)
	chrome := testkit.Chromium(t, page.URL, "--autoplay-policy=no-user-gesture-required")

	// The listener is there before the presenter.
	deadline := time.Now().Add(20 * time.Second)
	for streamInfo(t, base, "lis-tok", "talk").Listeners != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the page never joined; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	// ... and records what it plays before the presenter starts.
	select {
	case <-page.Started:
	case <-ctx.Done():
		t.Fatalf("the page never began recording; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
	}
	time.Sleep(300 * time.Millisecond)

	local := filepath.Join(dir, "local.mp3")
	out, err := exec.CommandContext(ctx, podium, "record", "--input", speech, "--duration", talk.String(),
		"--out", local, "--server", base+"/whip/talk", "--token", "pub-tok").CombinedOutput()
	if err != nil {
		t.Fatalf("podium record: %v\n%s", err, out)
	}
	t.Logf("podium record: %s", strings.TrimSpace(string(out[max(0, len(out)-200):])))

	var st testkit.PageReport
	select {
	case st = <-page.Report:
	case <-ctx.Done():
		t.Fatalf("no report from the page; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
	}
	var webm []byte
	select {
	case webm = <-page.Audio:
	case <-ctx.Done():
		t.Fatal("no audio from the page")
	}
	if !st.EverLive || !strings.Contains(st.State, "offline") {
		t.Errorf("page state %q (ever live %v): want it to follow the presenter on and off", st.State, st.EverLive)
	}
	got := decodeWebM(t, webm, filepath.Join(dir, "played.webm"))
	med, n, lag := windowCorrelation(in, got)
	delay := 0.0
	if len(st.Delays) > 0 {
		d := slices.Clone(st.Delays)
		slices.Sort(d)
		delay = d[len(d)/2]
	}
	t.Logf("page played %.2f s (%d bytes webm); speech starts %.2f s in; median window correlation %.3f over %d windows; page's delay behind live: median %.3f s; final %+v",
		float64(len(got))/pcm.SampleRate, len(webm), float64(lag)/pcm.SampleRate, med, n, delay, st.Final)
	if n < 12 || med < 0.8 {
		t.Errorf("median window correlation %.3f over %d windows, want >= 0.8", med, n)
	}
	// The page records from before the presenter until after: all of the talk is in it, and
	// a listener hears it close behind live (a stalled output shows as a shorter recording
	// and a delay that builds up).
	if played := time.Duration(len(got)) * time.Second / pcm.SampleRate; played < talk {
		t.Errorf("page played %v of a %v talk", played, talk)
	}
	if delay > 0.25 {
		t.Errorf("page's median delay behind live %.3f s, want under 0.25 s", delay)
	}
	if info := streamInfo(t, base, "lis-tok", "talk"); info.Live {
		t.Errorf("stream still live after the presenter stopped: %+v", info)
	}
}

func decodeWebM(t *testing.T, b []byte, path string) []int16 {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	raw, err := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "48000", "-").Output()
	if err != nil {
		t.Fatalf("decode the page's recording: %v", err)
	}
	out := make([]int16, len(raw)/2)
	for i := range out {
		out[i] = int16(uint16(raw[2*i]) | uint16(raw[2*i+1])<<8)
	}
	return out
}

// windowCorrelation aligns got with want as a whole, then walks want in 0.5 s windows,
// aligning each again within ±150 ms of where the previous one was found (so time
// stretching accumulates), and returns the median correlation over windows with speech
// in them, how many there were, and the overall lag.
func windowCorrelation(want, got []int16) (median float64, n, lag int) {
	lag = audiotest.Align(want, got, len(got))
	// Short windows: one NetEq time-stretch (a few ms cut or added inside a window) spoils
	// only the window it falls in.
	const win, slack = pcm.SampleRate / 2, 3 * pcm.SampleRate / 20
	var corrs []float64
	off := lag
	for a := 0; a+win <= len(want); a += win {
		w := want[a : a+win]
		if audiotest.RMS(w) < -40 {
			continue // a pause: nothing to compare
		}
		s0 := a + off - slack
		if s0 < 0 || s0+win+2*slack > len(got) {
			continue
		}
		g := got[s0 : s0+win+2*slack]
		l := audiotest.Align(w, g, 2*slack)
		if l < 0 {
			l = 0
		}
		corrs = append(corrs, audiotest.Pearson(w, g[l:l+win]))
		off = s0 + l - a
	}
	if len(corrs) == 0 {
		return 0, 0, lag
	}
	slices.Sort(corrs)
	return corrs[len(corrs)/2], len(corrs), lag
}
