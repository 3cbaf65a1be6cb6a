package main_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
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
// "10,100,1000"), set beside a floor the benchmark builds and runs the same way: whepfloor
// (scripts/whepfloor), the barest Pion relay with Pion's defaults, what any Pion server,
// MediaMTX included, pays per listener.
//
// Both processes run side by side with N listeners each (the same Pion load clients, in this
// process). In rounds, interleaved (podium, floor, podium, floor...), a presenter publishes
// the same speech to one of them while its CPU is read over a window: first with no
// listener (the presenter alone: receiving, and for podium-server recording), then with the
// N listeners connected. PODIUM_BENCH_SECONDS (default 30) is each process's measured time
// per phase, split over whepRounds windows; each figure is the median of its windows.
//
// The cost of one listener is (CPU with N listeners - CPU with none) / N: everything the
// listeners add (the writes, SRTP, the sends, their RTCP and keepalives), nothing of the
// presenter. Reported: origin-cpu-% (podium-server with N listeners), origin-cpu-%/listener
// and floor-cpu-%/listener (the cost of one listener), podium/floor (their ratio: the
// issue's goal is <= 0.8), origin-packets/packet (what the listeners got per packet the
// presenter sent), lost and floor-lost (packets the listeners missed, summed).
//
//	go test -run '^$' -bench BenchmarkWHEPListeners -benchtime 1x ./cmd/podium-server/
func BenchmarkWHEPListeners(b *testing.B) {
	perListenerCount(b, "PODIUM_BENCH_WHEP_LISTENERS", "10,100,1000", benchWHEP)
}

// whepRounds is how many windows each process is measured in per phase.
const whepRounds = 3

var floorBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "podium-whepfloor")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "whepfloor")
	return bin, testkit.Build(bin, "podium/scripts/whepfloor")
})

// whepTarget is one process under the load: podium-server or the floor, its listeners'
// packet counts and their connection count.
type whepTarget struct {
	proc      *testkit.Proc
	base      string
	token     string
	pcs       []*webrtc.PeerConnection
	got       []heardCount
	connected atomic.Int64
}

// whepWindow is one measured window: the process's CPU in % of a core, the packets the
// presenter sent in it, and what its listeners got and missed (sequence gaps) in it.
type whepWindow struct {
	cpu             float64
	sent, out, lost int64
}

func benchWHEP(b *testing.B, n int, d time.Duration) {
	speech := audiotest.ReadWAV(b, audiotest.Speech(b, false))
	window := d / whepRounds
	talk := speech
	for len(talk) < int(window/time.Second+10)*pcm.SampleRate {
		talk = append(talk, speech...)
	}
	fbin, err := floorBin()
	if err != nil {
		b.Fatal(err)
	}
	podium := &whepTarget{token: "op-secret", proc: testkit.Start(b, nil, serverBin, "--listen", "127.0.0.1:0", "--dir", b.TempDir(),
		"--token", "op-secret", "--public-listen", "--max-listeners", strconv.Itoa(n+10))}
	floor := &whepTarget{token: "none", proc: testkit.Start(b, nil, fbin, "--listen", "127.0.0.1:0")}
	targets := []*whepTarget{podium, floor}
	for _, t := range targets {
		b.Cleanup(func() { t.proc.Stop(b, 30*time.Second) })
		t.base = testkit.ServerBase(b, t.proc)
	}

	// The presenter alone, interleaved.
	idle := whepPhase(b, targets, talk, window)

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
	for _, t := range targets {
		t.got = make([]heardCount, n)
		t.pcs = make([]*webrtc.PeerConnection, n)
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		for i := range t.pcs {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				t.pcs[i] = whepListen(b, api, t.base+"/whep/lecture", &t.got[i], &t.connected)
			}()
		}
		wg.Wait()
		defer func() {
			for _, pc := range t.pcs {
				if pc != nil {
					_ = pc.Close()
				}
			}
		}()
	}
	testkit.WaitFor(b, 120*time.Second, "every listener connected", func() bool {
		return podium.connected.Load() == int64(n) && floor.connected.Load() == int64(n)
	})
	time.Sleep(2 * time.Second) // the handshakes' tail
	busy := whepPhase(b, targets, talk, window)

	per := func(i int) float64 { return (busy[i].cpu - idle[i].cpu) / float64(n) }
	b.ReportMetric(busy[0].cpu, "origin-cpu-%")
	b.ReportMetric(idle[0].cpu, "origin-idle-cpu-%")
	b.ReportMetric(busy[1].cpu, "floor-cpu-%")
	b.ReportMetric(idle[1].cpu, "floor-idle-cpu-%")
	b.ReportMetric(per(0), "origin-cpu-%/listener")
	b.ReportMetric(per(1), "floor-cpu-%/listener")
	if per(1) > 0 {
		b.ReportMetric(per(0)/per(1), "podium/floor")
	}
	b.ReportMetric(float64(busy[0].out)/float64(max(busy[0].sent, 1)), "origin-packets/packet")
	b.ReportMetric(float64(busy[0].lost), "lost")
	b.ReportMetric(float64(busy[1].lost), "floor-lost")
	b.Logf("load average %s", loadAvg())
}

// whepPhase measures each target in whepRounds windows, interleaved, and gives each its
// median CPU and its summed packets.
func whepPhase(b *testing.B, targets []*whepTarget, talk []int16, window time.Duration) []whepWindow {
	cpus := make([][]float64, len(targets))
	sum := make([]whepWindow, len(targets))
	for range whepRounds {
		for i, t := range targets {
			w := t.measure(b, talk, window)
			cpus[i] = append(cpus[i], w.cpu)
			sum[i].sent += w.sent
			sum[i].out += w.out
			sum[i].lost += w.lost
		}
	}
	for i := range sum {
		slices.Sort(cpus[i])
		sum[i].cpu = cpus[i][len(cpus[i])/2]
		b.Logf("%s: cpu %v %%, sent %d, got %d, lost %d", filepath.Base(targets[i].proc.Cmd.Path), cpus[i], sum[i].sent, sum[i].out, sum[i].lost)
	}
	return sum
}

// measure publishes talk to t and reads t's CPU over window once every listener hears it.
func (t *whepTarget) measure(b *testing.B, talk []int16, window time.Duration) whepWindow {
	pub := startPublisher(b, t.base+"/whip/lecture", t.token, talk)
	time.Sleep(2 * time.Second) // every listener on the stream
	base := make([]heardCount, len(t.got))
	for i := range t.got {
		base[i].got.Store(t.got[i].got.Load())
		base[i].lost.Store(t.got[i].lost.Load())
	}
	pub.mu.Lock()
	f0 := pub.frames
	pub.mu.Unlock()
	pid := t.proc.Cmd.Process.Pid
	t0, w0 := cpuTicks(b, pid), time.Now()
	time.Sleep(window)
	t1, w1 := cpuTicks(b, pid), time.Now()
	pub.close()
	w := whepWindow{sent: int64(pub.frames - f0)}
	time.Sleep(time.Second) // the last packets in flight
	for i := range t.got {
		w.out += t.got[i].got.Load() - base[i].got.Load()
		w.lost += t.got[i].lost.Load() - base[i].lost.Load()
	}
	w.cpu = float64(t1-t0) * 10 / float64(w1.Sub(w0).Milliseconds()) * 100
	return w
}

func loadAvg() string {
	raw, _ := os.ReadFile("/proc/loadavg")
	return strings.Join(strings.Fields(string(raw))[:min(3, len(strings.Fields(string(raw))))], " ")
}

// heardCount is what one listener got: packets, and packets missing between them (gaps in the
// sequence numbers; a jump of more than maxGap is a new presenter's numbering, not loss).
type heardCount struct{ got, lost atomic.Int64 }

const maxGap = 500

// whepListen joins url as a WHEP listener that counts what it hears in got, and itself in
// connected while connected.
func whepListen(b *testing.B, api *webrtc.API, url string, got *heardCount, connected *atomic.Int64) *webrtc.PeerConnection {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Error(err)
		return nil
	}
	var up atomic.Bool
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if now := st == webrtc.PeerConnectionStateConnected; up.Swap(now) != now {
			connected.Add(map[bool]int64{true: 1, false: -1}[now])
		}
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		var last uint16
		for n := 0; ; n++ {
			k, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			got.got.Add(1)
			if k < 4 {
				continue
			}
			seq := binary.BigEndian.Uint16(buf[2:4])
			if d := seq - last; n > 0 && d > 1 && d < maxGap {
				got.lost.Add(int64(d - 1))
			}
			last = seq
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
