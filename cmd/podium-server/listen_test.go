package main_test

// A real listener: headless Chromium opens the real podium-server's /listen/{stream} page
// while the real `podium record` publishes the speech fixture to it, and sends back what it
// played.

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/rtc"
	"podium/rtc/hls"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
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
	if err := testkit.Build(bin, "podium/cmd/podium"); err != nil {
		t.Fatal(err)
	}
	return bin
}

func streamInfo(t testing.TB, base, token, stream string) rtc.StreamInfo {
	t.Helper()
	var info rtc.StreamInfo
	testkit.GetJSON(t, base+"/streams/"+stream, token, &info)
	return info
}

// heard is what a listener page in Chromium played of a talk.
type heard struct {
	report testkit.PageReport
	in     []int16 // what was said
	got    []int16 // what the page played
	delay  float64 // the page's median delay behind live (s)
}

// chromiumHears opens the listener page for stream "talk" of base in headless Chromium (frag
// added to its link's fragment), calls ready with it, then has the real `podium record
// --input speech.wav --server ...` publish talk of speech in real time, and returns what the
// page played, which a capture script testkit.ListenerPage adds to the page records
// (MediaRecorder on the played stream) and posts back when the page has played the end.
func chromiumHears(t testing.TB, base, frag string, talk time.Duration, ready func(*testkit.ListenerCapture, *testkit.Proc)) heard {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	speech := audiotest.Speech(t, false)
	all := audiotest.ReadWAV(t, speech)
	if n := int(talk.Seconds()) * pcm.SampleRate; n > len(all) {
		t.Fatalf("a %v talk: the speech fixture holds only %.1f s", talk, float64(len(all))/pcm.SampleRate)
	}
	h := heard{in: all[:int(talk.Seconds())*pcm.SampleRate]}
	podium := buildPodium(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	page := testkit.ListenerPage(t, base, "talk", "lis-tok", 60)
	page.URL += frag
	chrome := testkit.Chromium(t, page.URL, "--autoplay-policy=no-user-gesture-required")
	if ready != nil {
		ready(page, chrome)
	}

	local := filepath.Join(dir, "local.mp3")
	out, err := exec.CommandContext(ctx, podium, "record", "--input", speech, "--duration", talk.String(),
		"--out", local, "--server", base+"/whip/talk", "--token", "pub-tok").CombinedOutput()
	if err != nil {
		t.Fatalf("podium record: %v\n%s", err, out)
	}
	t.Logf("podium record: %s", strings.TrimSpace(string(out[max(0, len(out)-200):])))

	select {
	case h.report = <-page.Report:
	case <-ctx.Done():
		t.Fatalf("no report from the page; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
	}
	var webm []byte
	select {
	case webm = <-page.Audio:
	case <-ctx.Done():
		t.Fatal("no audio from the page")
	}
	h.got = audiotest.DecodeBytes(t, webm, "played.webm")
	if d := slices.Clone(h.report.Delays); len(d) > 0 {
		slices.Sort(d)
		h.delay = d[len(d)/2]
	}
	t.Logf("page played %.2f s (%d bytes webm) via %q; page's delay behind live: median %.3f s over %d samples; final %+v",
		float64(len(h.got))/pcm.SampleRate, len(webm), h.report.Via, h.delay, len(h.report.Delays), h.report.Final)
	if !h.report.EverLive || !strings.Contains(h.report.State, "offline") {
		t.Errorf("page state %q (ever live %v): want it to follow the presenter on and off", h.report.State, h.report.EverLive)
	}
	if info := streamInfo(t, base, "lis-tok", "talk"); info.Live {
		t.Errorf("stream still live after the presenter stopped: %+v", info)
	}
	return h
}

// TestChromiumListens: the listener page, opened in headless Chromium before the presenter
// starts, plays the talk over WebRTC; decoded, what it played correlates with the speech
// window by window (Chromium's NetEq stretches time while it settles its delay, so each
// short window is aligned on its own).
func TestChromiumListens(t *testing.T) {
	const talk = 12 * time.Second
	base := startListenServer(t, "--dir", t.TempDir(), "--token", "pub-tok",
		"--listener-token", "lis-tok", "--listener-timeout", "3s")
	h := chromiumHears(t, base, "", talk, func(page *testkit.ListenerCapture, chrome *testkit.Proc) {
		// The listener is there before the presenter...
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
		case <-time.After(20 * time.Second):
			t.Fatalf("the page never began recording; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
		}
		time.Sleep(300 * time.Millisecond)
	})
	med, n, lag := audiotest.WindowCorrelation(h.in, h.got, pcm.SampleRate/2)
	t.Logf("speech starts %.2f s in; median window correlation %.3f over %d windows", float64(lag)/pcm.SampleRate, med, n)
	if n < 12 || med < 0.8 {
		t.Errorf("median window correlation %.3f over %d windows, want >= 0.8", med, n)
	}
	if h.report.Via != "via WebRTC" {
		t.Errorf("the page said it played %q, want via WebRTC", h.report.Via)
	}
	// The page records from before the presenter until after: all of the talk is in it, and
	// a listener hears it close behind live (a stalled output shows as a shorter recording
	// and a delay that builds up).
	if played := time.Duration(len(h.got)) * time.Second / pcm.SampleRate; played < talk {
		t.Errorf("page played %v of a %v talk", played, talk)
	}
	if h.delay > 0.25 {
		t.Errorf("page's median delay behind live %.3f s, want under 0.25 s", h.delay)
	}
}

// TestChromiumListensOverHLS: where the server says so (--prefer-hls), the listener page
// plays the talk through HLS with hls.js instead, says so, and shows its delay behind live;
// what it played correlates with what was said, each 1 s window aligned on its own.
func TestChromiumListensOverHLS(t *testing.T) {
	const talk = 16 * time.Second
	base := startListenServer(t, "--dir", t.TempDir(), "--token", "pub-tok",
		"--listener-token", "lis-tok", "--prefer-hls")
	h := chromiumHears(t, base, "", talk, nil)
	med, n, lag := audiotest.WindowCorrelation(h.in, h.got, pcm.SampleRate)
	t.Logf("speech starts %.2f s in; median window correlation %.3f over %d 1 s windows", float64(lag)/pcm.SampleRate, med, n)
	if !strings.HasPrefix(h.report.Via, "via HLS (hls.js): the server sends listeners to HLS") {
		t.Errorf("the page said it played %q, want via HLS (hls.js) because the server said so", h.report.Via)
	}
	if n < 8 || med < 0.9 {
		t.Errorf("median window correlation %.3f over %d windows, want >= 0.9", med, n)
	}
	// HLS publishes whole segments: all but the last (unfinished) one of the talk reaches
	// the listener, a few segments behind live.
	if played := time.Duration(len(h.got)) * time.Second / pcm.SampleRate; played < talk-2*hls.SegmentDuration {
		t.Errorf("page played %v of a %v talk", played, talk)
	}
	if h.delay < hls.SegmentDuration.Seconds() || h.delay > 5*hls.SegmentDuration.Seconds() {
		t.Errorf("page's median delay behind live %.2f s: want a few %v segments", h.delay, hls.SegmentDuration)
	}
}
