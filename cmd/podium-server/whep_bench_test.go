package main_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// perListenerCount runs bench for 30 s (PODIUM_BENCH_SECONDS) at each listener count of
// $env, a comma-separated list (def without it), as sub-benchmarks "listeners=N".
func perListenerCount(b *testing.B, env, def string, bench func(b *testing.B, n int, d time.Duration)) {
	spec := os.Getenv(env)
	if spec == "" {
		spec = def
	}
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("%s: bad count %q", env, f)
		}
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			for range b.N {
				bench(b, n, benchDuration(30*time.Second))
			}
		})
	}
}

func benchDuration(def time.Duration) time.Duration {
	if v, err := strconv.ParseFloat(os.Getenv("PODIUM_BENCH_SECONDS"), 64); err == nil && v > 0 {
		return time.Duration(v * float64(time.Second))
	}
	return def
}

// BenchmarkWHEPListeners is BenchmarkHLSListeners for WHEP: the real binary with one
// presenter and N Pion WHEP listeners straight to it (PODIUM_BENCH_WHEP_LISTENERS, default
// "10,100,1000"), for PODIUM_BENCH_SECONDS each (default 30). Reported: origin-cpu-% (the
// podium-server process alone) and origin-packets/packet (what it sent per packet the
// presenter sent: one per listener, each encrypted on its own), and lost (packets the
// listeners missed, summed). Set beside the HLS figures: this curve grows with N, that one
// stays flat.
//
//	go test -run '^$' -bench BenchmarkWHEPListeners -benchtime 1x ./cmd/podium-server/
func BenchmarkWHEPListeners(b *testing.B) {
	perListenerCount(b, "PODIUM_BENCH_WHEP_LISTENERS", "10,100,1000", benchWHEP)
}

func benchWHEP(b *testing.B, n int, d time.Duration) {
	speech := audiotest.ReadWAV(b, audiotest.Speech(b, false))
	talk := speech
	for len(talk) < int(d/time.Second+60)*pcm.SampleRate {
		talk = append(talk, speech...)
	}
	proc := testkit.Start(b, nil, serverBin, "--listen", "127.0.0.1:0", "--dir", b.TempDir(), "--token", "op-secret",
		"--public-listen", "--max-listeners", strconv.Itoa(n+10))
	b.Cleanup(func() { proc.Stop(b, 30*time.Second) })
	origin := testkit.ServerBase(b, proc)

	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		b.Fatal(err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(me))
	got := make([]atomic.Int64, n)
	pcs := make([]*webrtc.PeerConnection, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range pcs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			pcs[i] = whepListen(b, api, origin+"/whep/lecture", &got[i])
		}()
	}
	wg.Wait()
	defer func() {
		for _, pc := range pcs {
			if pc != nil {
				_ = pc.Close()
			}
		}
	}()
	testkit.WaitFor(b, 60*time.Second, "every listener connected", func() bool {
		return testkit.Metrics(b, origin+"/metrics", "op-secret")["podium_listeners"] == float64(n)
	})
	pub := startPublisher(b, origin+"/whip/lecture", "op-secret", talk)
	time.Sleep(2 * time.Second) // every listener on the stream
	base := make([]int64, n)
	for i := range got {
		base[i] = got[i].Load()
	}
	pub.mu.Lock()
	f0 := pub.frames
	pub.mu.Unlock()
	t0, w0 := cpuTicks(b, proc.Cmd.Process.Pid), time.Now()
	time.Sleep(d)
	t1, w1 := cpuTicks(b, proc.Cmd.Process.Pid), time.Now()
	pub.close()
	sent := pub.frames - f0
	time.Sleep(time.Second) // the last packets in flight
	var lost, out int64
	for i := range got {
		g := got[i].Load() - base[i]
		out += g
		lost += max(0, int64(sent)-g)
	}
	cpu := float64(t1-t0) * 10 / float64(w1.Sub(w0).Milliseconds()) * 100
	b.ReportMetric(cpu, "origin-cpu-%")
	b.ReportMetric(cpu/float64(n), "origin-cpu-%/listener")
	b.ReportMetric(float64(out)/float64(max(sent, 1)), "origin-packets/packet")
	b.ReportMetric(float64(lost), "lost")
}

// whepListen joins url as a WHEP listener that counts the RTP packets it gets in got.
func whepListen(b *testing.B, api *webrtc.API, url string, got *atomic.Int64) *webrtc.PeerConnection {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Error(err)
		return nil
	}
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
			got.Add(1)
		}
	})
	offer := testkit.Offer(b, pc, webrtc.RTPTransceiverDirectionRecvonly)
	resp, err := http.Post(url, "application/sdp", strings.NewReader(offer))
	if err != nil {
		b.Error(err)
		return pc
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Errorf("WHEP: %d %s", resp.StatusCode, answer)
		return pc
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		b.Error(err)
	}
	return pc
}

// BenchmarkListenerDelay: how far behind live a listener hears the presenter, over WebRTC
// and over HLS: headless Chromium on the real listener page (the page's own figure, sampled
// every 250 ms while the presenter is live: WebRTC's jitter buffer plus half the round
// trip; HLS's wall clock against the playing segment's EXT-X-PROGRAM-DATE-TIME), for a talk
// of PODIUM_BENCH_SECONDS (default 20, at most 25: the speech fixture holds 28 s). Reported: delay-median-s, delay-p95-s and the
// median 1 s window correlation of what it played with what was said.
//
//	go test -run '^$' -bench BenchmarkListenerDelay -benchtime 1x ./cmd/podium-server/
func BenchmarkListenerDelay(b *testing.B) {
	for _, via := range []string{"whep", "hls"} {
		b.Run("via="+via, func(b *testing.B) {
			for range b.N {
				talk := min(benchDuration(20*time.Second), 25*time.Second).Truncate(time.Second)
				base := startListenServer(b, "--dir", b.TempDir(), "--token", "pub-tok", "--listener-token", "lis-tok")
				h := chromiumHears(b, base, "&via="+via, talk, nil)
				d := slices.Clone(h.report.Delays)
				if len(d) == 0 {
					b.Fatal("the page reported no delay")
				}
				slices.Sort(d)
				med, _, _ := audiotest.WindowCorrelation(h.in, h.got, pcm.SampleRate)
				b.ReportMetric(d[len(d)/2], "delay-median-s")
				b.ReportMetric(d[len(d)*95/100], "delay-p95-s")
				b.ReportMetric(med, "corr")
			}
		})
	}
}
