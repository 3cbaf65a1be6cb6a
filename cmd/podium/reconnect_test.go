package main_test

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// freeUDPRange finds n consecutive UDP ports free on both loopback addresses, below the
// kernel's ephemeral range (32768+) so that the client's own sockets cannot land in it and
// be blocked by mistake. Another process may still take one later; Pion then uses another.
func freeUDPRange(t *testing.T, n int) (lo, hi uint16) {
	t.Helper()
	for try := 0; try < 50; try++ {
		base := 20000 + rand.IntN(12000-n)
		ok := true
		for p := base; p < base+n && ok; p++ {
			for _, host := range []string{"127.0.0.1", "::1"} {
				c, err := net.ListenPacket("udp", net.JoinHostPort(host, strconv.Itoa(p)))
				if err != nil {
					ok = false
					break
				}
				c.Close()
			}
		}
		if ok {
			return uint16(base), uint16(base + n - 1)
		}
	}
	t.Fatal("no free UDP port range on loopback")
	return 0, 0
}

// firewall makes the server unreachable on loopback with an nftables table of its own:
// media both ways on the server's UDP ports, and new HTTP requests to it.
type firewall struct {
	table  string
	script string
}

func newFirewall(t *testing.T, udpMin, udpMax uint16, httpPort string) *firewall {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the reconnect test blocks loopback traffic with nftables, which needs root (CI runs as root)")
	}
	testkit.Need(t, "nft")
	f := &firewall{table: fmt.Sprintf("podium_test_%d", os.Getpid())}
	// Priority -10 runs before any filter chain the machine has; iif lo keeps it to loopback.
	f.script = fmt.Sprintf(`table inet %s {
  chain input {
    type filter hook input priority -10; policy accept;
    iif "lo" udp dport %d-%d drop
    iif "lo" udp sport %d-%d drop
    iif "lo" tcp dport %s drop
  }
}
`, f.table, udpMin, udpMax, udpMin, udpMax, httpPort)
	t.Cleanup(func() {
		// Never leave the machine's loopback cut, whatever happened to the test.
		_ = exec.Command("nft", "delete", "table", "inet", f.table).Run()
	})
	return f
}

func (f *firewall) block(t *testing.T) {
	t.Helper()
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(f.script)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v\n%s", err, out)
	}
}

func (f *firewall) unblock(t *testing.T) {
	t.Helper()
	if out, err := exec.Command("nft", "delete", "table", "inet", f.table).CombinedOutput(); err != nil {
		t.Errorf("nft delete table: %v\n%s", err, out)
	}
}

var (
	liveSummary = regexp.MustCompile(`live: (\d+) packets sent, (\d+) dropped, (\d+) reconnects`)
	liveLine    = regexp.MustCompile(`^live: live`)
)

// The network to the server goes away for 10 s in the middle of a talk and comes back. The
// presenter's MP3 does not notice; the client reconnects by itself; the server keeps one
// recording whose gap is silence of the right length, so what follows stays in place.
func TestLiveReconnectsAfterOutage(t *testing.T) {
	speech := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, speech) // all ~26 s: the outage and the recovery fit inside
	dir := t.TempDir()
	serverDir := filepath.Join(dir, "server")
	udpMin, udpMax := freeUDPRange(t, 1)
	base, srv := startServer(t, serverDir, int(udpMin))
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	fw := newFirewall(t, udpMin, udpMax, u.Port())
	local := filepath.Join(dir, "local.mp3")

	p := testkit.Start(t, nil, podium, "record", "--input", speech, "--out", local,
		"--server", base+"/whip/talk", "--token", "s3cret")
	// The paced source starts just before this line: it is the recording's time zero.
	t0 := p.NextLine(t, regexp.MustCompile(`^recording to `), 10*time.Second).At
	// The live stream starts first and may be up before the recording's line is written (a
	// busy machine opened it in CI): look from the first line, then wait if it has not come.
	if !slices.ContainsFunc(p.From(0), func(l testkit.Line) bool { return liveLine.MatchString(l.Text) }) {
		p.NextLine(t, liveLine, 10*time.Second)
	}

	time.Sleep(time.Until(t0.Add(4 * time.Second)))
	fw.block(t)
	blocked := time.Now()
	duringOutage := p.Skip()
	time.Sleep(10 * time.Second)
	fw.unblock(t)
	unblocked := time.Now()
	var reconnecting testkit.Line
	for _, l := range p.From(duringOutage) {
		if strings.HasPrefix(l.Text, "live: reconnecting") {
			reconnecting = l
			break
		}
	}
	if reconnecting.Text == "" {
		t.Errorf("podium never said it was reconnecting during the 10 s outage:\n%s", p.Log())
	}
	back := p.NextLine(t, liveLine, 15*time.Second)
	t.Logf("cut at %.2f s, restored at %.2f s; client reconnecting at %.2f s (%s), live again at %.2f s",
		blocked.Sub(t0).Seconds(), unblocked.Sub(t0).Seconds(), reconnecting.At.Sub(t0).Seconds(),
		reconnecting.Text, back.At.Sub(t0).Seconds())

	if code := p.Wait(t, 40*time.Second); code != 0 {
		t.Fatalf("podium record: exit %d\n%s", code, p.Log())
	}
	msg := p.Log()
	m := liveSummary.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no live summary:\n%s", msg)
	}
	if n, _ := strconv.Atoi(m[3]); n < 1 {
		t.Errorf("summary says %s reconnects after a 10 s outage:\n%s", m[3], msg)
	}
	if err := srv.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	t.Logf("client: %s; server: %d packets received, %d lost, %d late, %d sessions",
		m[0], st.PacketsReceived, st.PacketsLost, st.PacketsLate, st.SessionsTotal)

	// The presenter's copy: whole and unharmed.
	mine := audiotest.Decode(t, local)
	if len(mine) != len(in) {
		t.Errorf("local MP3 decodes to %d samples, the input has %d", len(mine), len(in))
	}
	// At lag 0 directly: speech correlates with itself shifted by even a few samples far
	// less, and a 26 s cross-correlation is seconds of CPU under -race.
	cLocal := audiotest.Pearson(in[:min(len(in), len(mine))], mine[:min(len(in), len(mine))])
	if cLocal < 0.95 {
		t.Errorf("local MP3 correlates %.3f with the input at lag 0; want >= 0.95", cLocal)
	}

	// The server's copy: one file, as long as the talk.
	theirs := audiotest.Decode(t, onlyMP3(t, serverDir))
	if d := float64(len(theirs)-len(mine)) / float64(len(mine)); d > 0.01 || d < -0.01 {
		t.Errorf("server copy %.3f s, local %.3f s: %.2f%% apart, want within 1%%",
			float64(len(theirs))/pcm.SampleRate, float64(len(mine))/pcm.SampleRate, 100*d)
	}

	// Before the cut the server copy sits at lag0 from the input (Opus's look-ahead, and any
	// packets sent before the client was live).
	at := func(tm time.Time) int { return int(tm.Sub(t0).Seconds() * pcm.SampleRate) }
	preEnd := at(blocked) - pcm.SampleRate/5
	c0, lag0, _ := audiotest.Correlate(in[:preEnd], theirs[:preEnd], pcm.SampleRate/10)
	if c0 < 0.9 {
		t.Errorf("server copy before the cut correlates %.3f (lag %d)", c0, lag0)
	}

	// The outage is silence: from the cut (plus 100 ms of packet-loss concealment and a
	// margin for packets in flight) until the client was live again (less a margin). The
	// input there is speech, so silence there can only be the gap.
	const margin = pcm.SampleRate * 3 / 10
	gapFrom, gapTo := at(blocked)+lag0+margin, at(back.At)+lag0-margin
	if gapTo-gapFrom < 8*pcm.SampleRate || gapTo > len(theirs) {
		t.Fatalf("gap window %.2f–%.2f s is not a plausible outage (file %.2f s)", float64(gapFrom)/pcm.SampleRate,
			float64(gapTo)/pcm.SampleRate, float64(len(theirs))/pcm.SampleRate)
	}
	gapRMS, speechRMS := audiotest.RMS(theirs[gapFrom:gapTo]), audiotest.RMS(in[gapFrom-lag0:gapTo-lag0])
	peak := 0
	for _, v := range theirs[gapFrom:gapTo] {
		peak = max(peak, abs(int(v)))
	}
	if gapRMS > -60 || peak > 300 || speechRMS < -40 {
		t.Errorf("outage %.2f–%.2f s: server %.1f dBFS (peak %d), input %.1f dBFS; want silence where there was speech",
			float64(gapFrom)/pcm.SampleRate, float64(gapTo)/pcm.SampleRate, gapRMS, peak, speechRMS)
	}

	// After the outage the speech is where it belongs: same lag as before the cut, so the
	// silence filled exactly the time away.
	afterFrom := at(back.At) + pcm.SampleRate/2
	afterTo := min(len(theirs), len(in)) - pcm.SampleRate/10
	const search = pcm.SampleRate / 2
	window := in[afterFrom-search : min(afterTo+search, len(in))]
	c1, lag, _ := audiotest.Correlate(window, theirs[afterFrom:afterTo], 2*search)
	lag1 := lag + search
	if c1 < 0.9 || abs(lag1-lag0) > alignTolerance {
		t.Errorf("after the outage the server copy correlates %.3f at lag %d (%.1f ms), before it %d: want >= 0.9 within %.0f ms",
			c1, lag1, float64(lag1)*1000/pcm.SampleRate, lag0, float64(alignTolerance)*1000/pcm.SampleRate)
	}
	t.Logf("local %d samples (input %d), correlation %.3f at lag 0; server %d; server before the cut %.3f at lag %d, after %.3f at lag %d (%+.1f ms); outage %.2f–%.2f s at %.1f dBFS (peak %d) where the input is %.1f dBFS",
		len(mine), len(in), cLocal, len(theirs), c0, lag0, c1, lag1, float64(lag1-lag0)*1000/pcm.SampleRate,
		float64(gapFrom)/pcm.SampleRate, float64(gapTo)/pcm.SampleRate, gapRMS, peak, speechRMS)
}

// alignTolerance is how far the audio after an outage may slip. An ICE restart keeps the RTP
// clock, so it is exact; a fresh session is placed by the wall time away, off by the
// difference in delivery delay of the packets either side of the gap (loopback: a few ms)
// and the pacing of the source (10 ms chunks). 20 ms, one Opus frame, covers both.
const alignTolerance = pcm.FrameSamples

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
