//go:build linux

package faults

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio/filename"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// TestBadNetwork streams speech to a server in its own namespace through 100 ms ± 100 ms of
// delay jitter (the test's relay) and, once live, 20 % random packet loss (nftables, both
// directions):
// the stream stays up, the server's copy has the full length with the losses concealed and
// still sounds like the input, and the local copy is untouched.
func TestBadNetwork(t *testing.T) {
	needNetAdmin(t, true)
	lab := newNetLab(t)
	rl := lab.startRelay(t, 200*time.Millisecond)
	srvDir := t.TempDir()
	srv, url := lab.startServer(t, srvDir)
	defer func() {
		if t.Failed() && srv.ExitCode() != -1 { // stopped: its log is complete
			t.Logf("server log:\n%s", srv.Log())
		}
	}()

	length := 26 * time.Second // the fixture
	if full() {
		length = time.Minute
	}
	speech, in := speechFor(t, length)
	pub, lw, local := publishLive(t, speech, url, 20*time.Second)
	// The loss starts once the talk is live, as when a venue's network degrades mid-talk: the
	// promise is about an established stream, and a connection set up through 20 % loss
	// sometimes needs a retry, which is not what this scenario measures. Live at both ends:
	// the client says live when its side of DTLS is done, while the server's can still wait
	// for the client's last flight, which lost to the 20 % comes again only after 1, 2, 4 s
	// (seen in CI: the server's recording began 8 s into the talk).
	testkit.WaitFor(t, 10*time.Second, "the server receiving the talk", func() bool {
		return metrics(t, url)["podium_packets_received_total"] >= 25
	})
	dropped := lab.loss(t, 20)
	waitExit(t, pub, length+30*time.Second)
	sum := parseSummary(t, pub.Log())
	m := metrics(t, url)
	stopServer(t, srv)

	if sum.reconnects != 0 {
		t.Errorf("the stream needed %d reconnects through loss and jitter; live lines:\n%s", sum.reconnects, lw.text())
	}
	if n := strings.Count(lw.text(), "live: reconnecting"); n > 0 {
		t.Logf("note: %d brief 'reconnecting' reports (ICE disconnected) that recovered by themselves", n)
	}
	loc := checkLocal(t, local, in)
	got := serverCopy(t, srvDir)
	a := analyse(t, in, loc, got)
	// Within 1 %, plus the relay's longest delay: what was still in the relay when the
	// presenter hung up (DELETE) never reached the server.
	if slack := 0.01 + 0.2*pcm.SampleRate/float64(len(loc)); a.lengthErr > slack {
		t.Errorf("server copy lasts %v, want %v (local %v less the %v before the stream was up): off by %.2f %%, allowed %.2f %%",
			secs(len(got)), secs(a.wantLen), secs(len(loc)), secs(a.start), 100*a.lengthErr, 100*slack)
	}
	if a.median < 0.8 {
		t.Errorf("server copy correlates %.3f (median of 1 s windows; whole file %.3f) with the input, want ≥ 0.8", a.median, a.whole)
	}
	if rl.toServer.Load() < 100 || rl.toClient.Load() < 10 {
		t.Errorf("relay carried %d packets to the server and %d back: media went around it", rl.toServer.Load(), rl.toClient.Load())
	}
	scenario(t, "%v of speech through 20 %% loss (nftables dropped %d) and 0-200 ms jitter (relay: %d→server, %d→client): %d reconnects, stream up %v in, server lost %d of %d packets, server copy %v (%.2f %% off the rest), correlation %.3f median per 1 s (whole %.3f, %d windows ≥ 0.8 of %d), local %v correlation %.3f",
		secs(len(in)), dropped(), rl.toServer.Load(), rl.toClient.Load(), sum.reconnects, secs(a.start), int(m["podium_packets_lost_total"]), int(m["podium_packets_lost_total"]+m["podium_packets_received_total"]),
		secs(len(got)), 100*a.lengthErr, a.median, a.whole, a.good, a.windows, secs(len(loc)), a.localCorr)
}

// TestNetworkCut takes the server's link down mid-stream and brings it back: the client says
// it is reconnecting and then live again by itself, the local copy has no gap, the server
// has one file with the gap filled, its audio after the gap still in place, and the studio
// copy is the presenter's file byte for byte. The link is down 30 s (and 5 min, below).
func TestNetworkCut(t *testing.T) {
	length, before := 45*time.Second, 5*time.Second
	if full() {
		length, before = time.Minute, 10*time.Second
	}
	networkCut(t, length, before, 30*time.Second)
}

// TestNetworkCutFiveMinutes is the same with the link down for five minutes mid-talk: the
// issue's long cut, a soak for make faults (PODIUM_FAULTS=full) only.
func TestNetworkCutFiveMinutes(t *testing.T) {
	if !full() {
		t.Skip("a 6-minute soak: make faults runs it")
	}
	// the server keeps the recording open for the presenter longer than the cut
	networkCut(t, 6*time.Minute+30*time.Second, 10*time.Second, 5*time.Minute, "--grace", "10m")
}

// networkCut runs a talk of length with the link down for cut after before, against a
// podium-server started with extra flags.
func networkCut(t *testing.T, length, before, cut time.Duration, extra ...string) {
	needNetAdmin(t, false)
	lab := newNetLab(t)
	lab.startRelay(t, 0)
	srvDir := t.TempDir()
	srv, url := lab.startServer(t, srvDir, extra...)
	speech, in := speechFor(t, length)
	pub, lw, local := publishLive(t, speech, url, 20*time.Second)
	time.Sleep(before)
	lab.link(t, false)
	cutAt := time.Now()
	if !lw.wait("live: reconnecting", cut) {
		t.Errorf("no 'reconnecting' within %v of the cut:\n%s", cut, lw.text())
	}
	noticed := time.Since(cutAt)
	time.Sleep(time.Until(cutAt.Add(cut)))
	lab.link(t, true)
	upAt := time.Now()
	if !lw.wait("live: live", 30*time.Second) {
		t.Fatalf("not live again within 30 s of the link coming back:\n%s", lw.text())
	}
	back := time.Since(upAt)
	t.Logf("cut at %.1fs, up at %.1fs; live lines:\n%s", cutAt.Sub(lw.begin).Seconds(), upAt.Sub(lw.begin).Seconds(), lw.text())
	waitExit(t, pub, length+30*time.Second)
	sum := parseSummary(t, pub.Log())
	// The studio copy went on through the cut: the server has the presenter's exact bytes,
	// having taken no more than the file and what one resume per interruption repeats.
	took := metrics(t, url)["podium_studio_bytes_received_total"]
	stopServer(t, srv)
	studioCopies, _ := filepath.Glob(filepath.Join(srvDir, "*"+filename.StudioSuffix))
	mine, _ := os.ReadFile(local)
	if len(studioCopies) != 1 {
		t.Fatalf("studio copies on the server: %v, want one\n%s", studioCopies, testkit.Tail(pub.Log(), 2000))
	}
	theirs, _ := os.ReadFile(studioCopies[0])
	if !bytes.Equal(mine, theirs) {
		t.Errorf("studio copy after the cut: %d bytes, not the presenter's %d", len(theirs), len(mine))
	}
	if took < float64(len(mine)) || took > float64(len(mine)+(1<<20)) {
		t.Errorf("server took %.0f upload bytes for a %d-byte file, want its size plus at most one chunk", took, len(mine))
	}

	// The status said what happened, in order: live, reconnecting (while cut), live again.
	steps := lw.states()
	if i := slices.Index(steps, "live"); i < 0 || !slices.Contains(steps[i:], "reconnecting") ||
		!slices.Contains(steps[i+slices.Index(steps[i:], "reconnecting"):], "live") {
		t.Errorf("live states %v, want live → reconnecting → live", steps)
	}
	if sum.reconnects < 1 {
		t.Errorf("summary shows %d reconnects after a %v cut", sum.reconnects, cut)
	}
	loc := checkLocal(t, local, in)
	files, _ := liveMP3s(filepath.Join(srvDir, "*.mp3"))
	if len(files) != 1 {
		t.Fatalf("server left %d files, want one: %v", len(files), files)
	}
	got := serverCopy(t, srvDir)
	a := analyse(t, in, loc, got)
	if a.lengthErr > 0.01 {
		t.Errorf("server copy lasts %v, want %v (local %v less the %v before the stream was up): off by %.2f %%",
			secs(len(got)), secs(a.wantLen), secs(len(loc)), secs(a.start), 100*a.lengthErr)
	}
	// After the gap the server's audio is where the input's is: the last 5 s line up at the
	// alignment found at the start.
	tail := 5 * pcm.SampleRate
	want := in[len(in)-tail:]
	at := len(in) - tail - a.start // where that audio should be in the server copy
	if at < 0 || at+tail > len(got)+pcm.SampleRate/10 {
		t.Fatalf("server copy too short for its last 5 s: %d samples, the tail starts at %d", len(got), at)
	}
	seg := got[max(at-pcm.SampleRate/5, 0):min(at+tail+pcm.SampleRate/5, len(got))]
	corr, lag, _ := audiotest.Correlate(want, seg, 2*pcm.SampleRate/5)
	drift := lag - (at - max(at-pcm.SampleRate/5, 0))
	if corr < 0.8 || drift < -pcm.SampleRate/20 || drift > pcm.SampleRate/20 {
		t.Errorf("last 5 s of the server copy: correlation %.3f, %v off the alignment at the start (want ≥ 0.8 within 50 ms)", corr, secs(drift))
	}
	scenario(t, "studio copy after the cut: identical %v, %d bytes, server took %.0f upload bytes", bytes.Equal(mine, theirs), len(mine), took)
	scenario(t, "link down %v after %v live, up again: client said reconnecting after %v, live again %v after the link came back (%d reconnects; states %s); local %v with no gap (correlation %.3f); server one file of %v (%.2f %% off), its last 5 s %+.1f ms off the start's alignment, correlation %.3f",
		cut, before, noticed.Round(100*time.Millisecond), back.Round(10*time.Millisecond), sum.reconnects, strings.Join(steps, "→"),
		secs(len(loc)), a.localCorr, secs(len(got)), 100*a.lengthErr, float64(drift)*1000/pcm.SampleRate, corr)
}

// speechFor is the speech fixture, looped to last d if it is shorter (as a temporary WAV).
func speechFor(t *testing.T, d time.Duration) (string, []int16) {
	t.Helper()
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech)
	n := int(d.Seconds() * pcm.SampleRate)
	if len(in) >= n {
		return speech, in
	}
	long := make([]int16, 0, n)
	for len(long) < n {
		long = append(long, in[:min(len(in), n-len(long))]...)
	}
	path := filepath.Join(t.TempDir(), "speech-long.wav")
	audiotest.WriteWAV(t, path, long)
	return path, long
}

// publishLive starts podium record publishing speech to base's stream "talk" (token "tok")
// while it records to a local MP3, and waits up to d for the link to be live.
func publishLive(t *testing.T, speech, base string, d time.Duration) (pub *testkit.Proc, lw *liveWatch, local string) {
	t.Helper()
	return publishLiveAs(t, speech, base, "talk", d)
}

// publishLiveAs is publishLive to another stream.
func publishLiveAs(t *testing.T, speech, base, stream string, d time.Duration) (pub *testkit.Proc, lw *liveWatch, local string) {
	t.Helper()
	local = filepath.Join(t.TempDir(), "local.mp3")
	pub = start(t, nil, "podium", "record", "--input", speech, "--out", local,
		"--server", base+"/whip/"+stream, "--token", "tok")
	lw = watchLive(pub)
	if !lw.wait("live: live", d) {
		t.Fatalf("publisher never live within %v:\n%s", d, lw.text())
	}
	return pub, lw, local
}

// liveWatch follows a publisher's stderr for its "live:" lines.
type liveWatch struct {
	p     *testkit.Proc
	begin time.Time
	seen  int // lines already looked at by wait
}

func watchLive(p *testkit.Proc) *liveWatch { return &liveWatch{p: p, begin: time.Now()} }

// lines are the "live:" lines so far, each after the seconds since the watch began.
func (w *liveWatch) lines() []string {
	var out []string
	for _, l := range w.p.From(0) {
		if strings.HasPrefix(l.Text, "live:") {
			out = append(out, fmt.Sprintf("%6.1fs %s", l.At.Sub(w.begin).Seconds(), l.Text))
		}
	}
	return out
}

// wait waits for a new line (after those an earlier wait matched) starting with prefix.
func (w *liveWatch) wait(prefix string, d time.Duration) bool {
	deadline := time.After(d)
	for {
		changed := w.p.Changed()
		for _, l := range w.p.From(w.seen) {
			w.seen++
			if strings.HasPrefix(l.Text, prefix) {
				return true
			}
		}
		select {
		case <-changed:
		case <-w.p.Done():
			return false
		case <-deadline:
			return false
		}
	}
}

func (w *liveWatch) text() string { return strings.Join(w.lines(), "\n") }

// states is the sequence of distinct states the client reported (live, reconnecting, ...).
func (w *liveWatch) states() []string {
	var out []string
	for _, l := range w.lines() {
		s := strings.TrimPrefix(l[8:], "live: ")
		s, _, _ = strings.Cut(s, " ")
		s = strings.TrimSuffix(s, ":")
		if _, err := strconv.Atoi(s); err == nil {
			continue // the summary
		}
		if len(out) == 0 || out[len(out)-1] != s {
			out = append(out, s)
		}
	}
	return out
}

// waitExit waits for p to end by itself within d, and fails if it did not or failed.
func waitExit(t *testing.T, p *testkit.Proc, d time.Duration) {
	t.Helper()
	if code := p.Wait(t, d); code != 0 {
		t.Fatalf("%s exited %d:\n%s", p.Cmd.Path, code, p.Log())
	}
}

// stopServer ends the server with SIGTERM, which finalises every open recording.
func stopServer(t *testing.T, p *testkit.Proc) {
	t.Helper()
	if code := p.Stop(t, 20*time.Second); code != 0 {
		t.Errorf("podium-server exited %d:\n%s", code, p.Log())
	}
}

type summary struct{ sent, dropped, reconnects int }

var summaryRE = regexp.MustCompile(`live: (\d+) packets sent, (\d+) dropped, (\d+) reconnects`)

func parseSummary(t *testing.T, log string) summary {
	t.Helper()
	m := summaryRE.FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no live summary in:\n%s", log)
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	c, _ := strconv.Atoi(m[3])
	return summary{a, b, c}
}

// metrics reads the server's Prometheus counters.
func metrics(t *testing.T, base string) map[string]float64 {
	t.Helper()
	return testkit.Metrics(t, base+"/metrics", "tok") // every fault server's operator token
}

// checkLocal: the local MP3 is the input, whole, at lag 0.
func checkLocal(t *testing.T, path string, in []int16) []int16 {
	t.Helper()
	loc := audiotest.Decode(t, path)
	if d := len(loc) - len(in); d < -pcm.SampleRate/50 || d > pcm.SampleRate/50 {
		t.Errorf("local copy lasts %v, the input %v", secs(len(loc)), secs(len(in)))
	}
	return loc
}

// serverCopy decodes the one recording in dir (or the file name in dir), which must be
// finalised.
func serverCopy(t *testing.T, dir string, name ...string) []int16 {
	t.Helper()
	files, _ := liveMP3s(filepath.Join(dir, "*.mp3"))
	if len(name) > 0 {
		files = []string{filepath.Join(dir, name[0])}
	}
	if len(files) == 0 {
		t.Fatal("the server recorded nothing")
	}
	if need, err := repair.Needed(files[0]); err != nil || need {
		t.Errorf("server copy %s not finalised (needs repair %v, %v)", filepath.Base(files[0]), need, err)
	}
	return audiotest.Decode(t, files[0])
}

type analysis struct {
	localCorr float64
	start     int     // input samples before the server's copy begins
	wantLen   int     // what the server copy should last: the local one less start
	lengthErr float64 // |server - wantLen| / local
	whole     float64 // correlation of the whole server copy at its alignment
	median    float64 // median correlation of the voiced 1 s windows, each aligned within ±50 ms
	good      int     // windows ≥ 0.8
	windows   int
}

func analyse(t *testing.T, in, loc, got []int16) analysis {
	t.Helper()
	var a analysis
	corr, lag, _ := audiotest.Correlate(in[:min(len(in), len(loc))], loc, 2000)
	a.localCorr = corr
	if corr < 0.95 || lag < -10 || lag > 10 {
		t.Errorf("local copy: correlation %.3f at lag %d, want ≥ 0.95 at 0", corr, lag)
	}
	// The server's copy starts when the stream came up: find where in the input that is.
	sr := pcm.SampleRate
	head := got[:min(len(got), 8*sr)]
	lag = audiotest.Align(in[:min(len(in), 16*sr)], head, 8*sr)
	a.start = -lag // got[i-start] ≈ in[i]; a little below 0 is the decoder's own delay
	if a.start < -sr/10 || a.start > 8*sr {
		t.Fatalf("server copy starts %v into the input?", secs(a.start))
	}
	a.wantLen = len(loc) - a.start
	a.lengthErr = float64(abs(len(got)-a.wantLen)) / float64(len(loc))
	i0 := max(a.start, 0)
	n := min(len(in)-i0, len(got)-(i0-a.start))
	a.whole = audiotest.Pearson(in[i0:i0+n], got[i0-a.start:i0-a.start+n])
	var cs []float64
	for i := i0; i+sr <= i0+n; i += sr {
		want := in[i : i+sr]
		if audiotest.RMS(want) < -40 {
			continue // a pause: nothing to compare
		}
		j := i - a.start
		lo, hi := max(j-sr/20, 0), min(j+sr+sr/20, len(got))
		c, _, _ := audiotest.Correlate(want, got[lo:hi], sr/10)
		cs = append(cs, c)
		if c >= 0.8 {
			a.good++
		}
	}
	a.windows = len(cs)
	if len(cs) == 0 {
		t.Fatal("no voiced windows to compare")
	}
	slices.Sort(cs)
	a.median = cs[len(cs)/2]
	return a
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func secs(samples int) time.Duration {
	return (time.Duration(samples) * time.Second / pcm.SampleRate).Round(10 * time.Millisecond)
}
