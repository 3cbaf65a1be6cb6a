//go:build unix

package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"

	"podium/audio"
	"podium/audio/pcm"
	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// livePresenter publishes stream "talk" to the server at base and waits until it is live.
func livePresenter(b *testing.B, base string) *whip.Client {
	b.Helper()
	c, err := whip.NewClient(whip.Config{URL: base + "/whip/talk", IPFilter: proto.LoopbackOnly, Logf: func(string, ...any) {}})
	if err != nil {
		b.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	waitState(b, c, whip.Live, 30*time.Second)
	return c
}

func benchSeconds(def float64) time.Duration {
	secs := def
	if v, err := strconv.ParseFloat(os.Getenv("PODIUM_BENCH_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	return time.Duration(secs * float64(time.Second))
}

// lagSink is the presenter's recording in the listener benchmark: it notes how long after
// the presenter sent each packet the recording got it, to tell whether it fell behind.
type lagSink struct {
	mu     sync.Mutex
	sentAt map[int64]time.Time // by pos, filled by the publisher
	n      int
	maxLag time.Duration
}

func (s *lagSink) WritePacket(pos int64, _ []byte) error {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	if at, ok := s.sentAt[pos]; ok {
		s.maxLag = max(s.maxLag, now.Sub(at))
	}
	return nil
}
func (s *lagSink) Close() error { return nil }

// BenchmarkListeners runs one presenter and N Pion listeners in this process, streaming
// real-time 20 ms packets for PODIUM_BENCH_SECONDS (default 5). N comes from
// PODIUM_BENCH_LISTENERS (default "100,250,500"). Both ends run here, so CPU and heap per
// listener include the listener's own side (decryption, its PeerConnection): they bound
// the server's cost from above.
//
//	go test -run '^$' -bench BenchmarkListeners -benchtime 1x ./rtc/
//
// Reported: lost (packets any listener missed, summed), lossy (listeners that missed any),
// dropped (server queue drops), cpu%/listener, heapB/listener, sink-lag-ms (worst delay
// from the presenter's send to the recording's write) and sink-behind (1 if the recording
// missed packets or lagged more than 200 ms).
func BenchmarkListeners(b *testing.B) {
	spec := os.Getenv("PODIUM_BENCH_LISTENERS")
	if spec == "" {
		spec = "100,250,500"
	}
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("PODIUM_BENCH_LISTENERS: bad count %q", f)
		}
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			for range b.N {
				benchListeners(b, n, benchSeconds(5))
			}
		})
	}
}

func benchListeners(b *testing.B, n int, d time.Duration) {
	sink := &lagSink{sentAt: map[int64]time.Time{}}
	srv, err := NewServer(ServerConfig{
		Record:         func(string, time.Time) (Sink, error) { return sink, nil },
		IPFilter:       proto.LoopbackOnly,
		ListenerTokens: []string{"lis"},
		MaxListeners:   n + 10,
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}()

	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)

	// Listeners count what they get and the holes in the sequence.
	type tally struct {
		got, gaps atomic.Int64
		next      uint16
		started   bool
	}
	api, err := proto.NewAPI(proto.NetOptions{IPFilter: proto.LoopbackOnly})
	if err != nil {
		b.Fatal(err)
	}
	tallies := make([]*tally, n)
	ls := make([]*testListener, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range ls {
		tl := &tally{}
		tallies[i] = tl
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ls[i] = mustListener(b, ts.URL, "talk", "lis", listenerOpts{api: api, onPacket: func(p *rtp.Packet, _ time.Time) {
				if tl.started && p.SequenceNumber != tl.next {
					tl.gaps.Add(int64(uint16(p.SequenceNumber - tl.next)))
				}
				tl.started, tl.next = true, p.SequenceNumber+1
				tl.got.Add(1)
			}})
		}()
	}
	wg.Wait()
	defer func() {
		for _, l := range ls {
			l.close(false)
		}
	}()
	serverConnected(b, srv, n)

	c := livePresenter(b, ts.URL)
	defer c.Close()
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)

	ru0 := testkit.CPUTime()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	payload := make([]byte, 80) // ~32 kbit/s Opus
	var pos int64
	sent := 0
	for time.Since(start) < d {
		<-tick.C
		sink.mu.Lock()
		sink.sentAt[pos] = time.Now()
		sink.mu.Unlock()
		c.WritePacket(pos, payload)
		pos += 960
		sent++
	}
	tick.Stop()
	time.Sleep(500 * time.Millisecond) // let the queues drain
	cpu := testkit.CPUTime() - ru0
	wall := time.Since(start)

	var lost, lossy int64
	for _, tl := range tallies {
		miss := int64(sent) - tl.got.Load()
		if miss > 0 {
			lost += miss
			lossy++
		}
	}
	st := srv.Stats()
	sink.mu.Lock()
	behind := sink.n < sent || sink.maxLag > 200*time.Millisecond
	lag := sink.maxLag
	recorded := sink.n
	sink.mu.Unlock()
	b.Logf("N=%d: sent %d packets; listeners lost %d in total (%d listeners lossy); server dropped %d; recording got %d, worst lag %v; cpu %.1f%% of one core; heap %.1f MB",
		n, sent, lost, lossy, st.ListenerPacketsDropped, recorded, lag.Round(time.Millisecond),
		100*cpu.Seconds()/wall.Seconds(), float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/1e6)
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(lossy), "lossy")
	b.ReportMetric(float64(st.ListenerPacketsDropped), "dropped")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu%/listener")
	b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/float64(n), "heapB/listener")
	b.ReportMetric(float64(lag.Microseconds())/1000, "sink-lag-ms")
	behindV := 0.0
	if behind {
		behindV = 1
	}
	b.ReportMetric(behindV, "sink-behind")
}

// discardPCM is where the listener's decoder plays to.
type discardPCM struct{ samples int64 }

func (d *discardPCM) WriteSamples(p []int16) error { d.samples += int64(len(p)); return nil }
func (d *discardPCM) Close() error                 { return nil }

// BenchmarkMouthToEar measures, on loopback, the delay from the presenter's mouth to the
// listener's ear through the whole live path: a 20 ms capture frame (its first sample was
// spoken 20 ms before the frame is complete), real Opus encoding, the WHIP client's queue,
// the server's fan-out, a Pion listener, real Opus decoding, and a playout model: a fixed
// jitter buffer of PODIUM_BENCH_JITTER_MS (default 40, about what a browser's NetEq holds on
// a clean network) anchored at the first packet's arrival; a packet later than its slot
// re-anchors the playout (as NetEq stretches) and is counted as late. The sound card's own
// output buffer (device-dependent, typically 10-20 ms) is not included.
//
//	go test -run '^$' -bench BenchmarkMouthToEar -benchtime 1x ./rtc/
func BenchmarkMouthToEar(b *testing.B) {
	target := 40 * time.Millisecond
	if v, err := strconv.Atoi(os.Getenv("PODIUM_BENCH_JITTER_MS")); err == nil && v >= 0 {
		target = time.Duration(v) * time.Millisecond
	}
	for range b.N {
		benchMouthToEar(b, benchSeconds(10), target)
	}
}

func benchMouthToEar(b *testing.B, d, target time.Duration) {
	srv, err := NewServer(ServerConfig{
		Record:         func(string, time.Time) (Sink, error) { return countingSink{&atomic.Uint64{}}, nil },
		IPFilter:       proto.LoopbackOnly,
		ListenerTokens: []string{"lis"},
		Logger:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer func() { _ = srv.Shutdown(context.Background()) }()

	var (
		mu      sync.Mutex
		mouth   = map[string]time.Time{} // payload -> when its first sample was spoken
		posOfP  = map[string]int64{}
		delays  []time.Duration
		transit []time.Duration // mouth to decoded, before the playout buffer
		late    int
		anchor  time.Time // playout time of sample position base
		base    int64
		ts0     uint32
		started bool
	)
	out := &discardPCM{}
	dec, err := audio.NewPacketDecoder(out)
	if err != nil {
		b.Fatal(err)
	}
	l := mustListener(b, ts.URL, "talk", "lis", listenerOpts{onPacket: func(p *rtp.Packet, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		key := string(p.Payload)
		m, ok := mouth[key]
		if !started {
			if !ok {
				return
			}
			started, ts0, base = true, p.Timestamp, posOfP[key]
			anchor = at.Add(target)
		}
		pos := base + int64(p.Timestamp-ts0)
		if err := dec.WritePacket(pos, p.Payload); err != nil {
			b.Error(err)
		}
		decoded := time.Now()
		if ok {
			transit = append(transit, decoded.Sub(m))
		}
		slot := anchor.Add(time.Duration(pos-base) * time.Second / pcm.SampleRate)
		if decoded.After(slot) { // too late for its slot: the buffer grows to take it
			late++
			anchor = anchor.Add(decoded.Sub(slot))
			slot = decoded
		}
		if ok {
			delays = append(delays, slot.Sub(m))
		}
	}})
	defer l.close(true)
	waitConnected(b, l.pc)

	c := livePresenter(b, ts.URL)
	defer c.Close()
	serverConnected(b, srv, 1)
	enc, err := audio.NewOpusEncoder(0)
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, 960)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var pos int64
	for time.Since(start) < d {
		captured := <-tick.C // the capture callback: a frame is complete
		for i := range frame {
			t := float64(pos+int64(i)) / pcm.SampleRate
			frame[i] = int16(8000 * math.Sin(2*math.Pi*220*t) * (0.6 + 0.4*math.Sin(2*math.Pi*3*t)))
		}
		payload, err := enc.Encode(frame)
		if err != nil {
			b.Fatal(err)
		}
		mu.Lock()
		mouth[string(payload)] = captured.Add(-20 * time.Millisecond)
		posOfP[string(payload)] = pos
		mu.Unlock()
		c.WritePacket(pos, payload)
		pos += 960
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	ds := slices.Clone(delays)
	tr := slices.Clone(transit)
	lateN := late
	mu.Unlock()
	if len(ds) == 0 {
		b.Fatal("no packet reached the listener")
	}
	slices.Sort(ds)
	slices.Sort(tr)
	med, p99 := ds[len(ds)/2], ds[min(len(ds)-1, len(ds)*99/100)]
	tmed, tp99 := tr[len(tr)/2], tr[min(len(tr)-1, len(tr)*99/100)]
	r := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
	b.Logf("mouth-to-ear over %d frames (jitter buffer %v): median %v, p99 %v, max %v; %d late packets; "+
		"mouth to decoded at the listener (before the buffer): median %v, p99 %v, max %v",
		len(ds), target, r(med), r(p99), r(ds[len(ds)-1]), lateN, r(tmed), r(tp99), r(tr[len(tr)-1]))
	b.ReportMetric(float64(tmed.Microseconds())/1000, "transit-median-ms")
	b.ReportMetric(float64(tp99.Microseconds())/1000, "transit-p99-ms")
	b.ReportMetric(float64(med.Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lateN), "late")
}
