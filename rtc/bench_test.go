//go:build unix

package rtc

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// countingSink counts packets; it is as cheap as a sink can be, so the benchmark measures rtc.
type countingSink struct{ n *atomic.Uint64 }

func (s countingSink) WritePacket(int64, []byte) error { s.n.Add(1); return nil }
func (s countingSink) Close() error                    { return nil }

// BenchmarkPublishers runs N Pion publishers into one Server in this process, streaming
// real-time 20 ms packets for PODIUM_BENCH_SECONDS (default 3). N comes from
// PODIUM_BENCH_PUBLISHERS (default "10,50,100"). Both ends run here, so cpu and heap per
// session include the publisher's side: they bound the server's cost from above.
//
//	go test -run '^$' -bench BenchmarkPublishers -benchtime 1x ./rtc/
func BenchmarkPublishers(b *testing.B) {
	spec := os.Getenv("PODIUM_BENCH_PUBLISHERS")
	if spec == "" {
		spec = "10,50,100"
	}
	secs := 3.0
	if v, err := strconv.ParseFloat(os.Getenv("PODIUM_BENCH_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("PODIUM_BENCH_PUBLISHERS: bad count %q", f)
		}
		b.Run(fmt.Sprintf("publishers=%d", n), func(b *testing.B) {
			for range b.N {
				benchPublishers(b, n, time.Duration(secs*float64(time.Second)))
			}
		})
	}
}

func benchPublishers(b *testing.B, n int, d time.Duration) {
	var received atomic.Uint64
	srv, err := NewServer(ServerConfig{
		Record:      func(string, time.Time) (Sink, error) { return countingSink{&received}, nil },
		IPFilter:    proto.LoopbackOnly,
		MaxSessions: n + 10,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)

	clients := make([]*whip.Client, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range clients {
		c, err := whip.NewClient(whip.Config{
			URL: fmt.Sprintf("%s/whip/bench-%d", ts.URL, i), IPFilter: proto.LoopbackOnly,
			Logf: func(string, ...any) {}, ConnectTimeout: 60 * time.Second,
		})
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Start(context.Background()); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range clients {
		for c.Status().State != whip.Live {
			if time.Now().After(deadline) {
				b.Fatalf("publisher not live: %+v", c.Status())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	ru0 := testkit.CPUTime()
	start := time.Now()
	tick := time.NewTicker(20 * time.Millisecond)
	payload := make([]byte, 80) // ~32 kbit/s Opus
	var pos int64
	for time.Since(start) < d {
		<-tick.C
		for _, c := range clients {
			c.WritePacket(pos, payload)
		}
		pos += 960
	}
	tick.Stop()
	time.Sleep(300 * time.Millisecond) // let the reorder buffers drain
	cpu := testkit.CPUTime() - ru0
	wall := time.Since(start)

	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)

	var sent, dropped uint64
	for _, c := range clients {
		st := c.Stats()
		sent += st.PacketsSent
		dropped += st.PacketsDropped
		_ = c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	ss := srv.Stats()
	b.ReportMetric(float64(ss.PacketsLost), "lost")
	b.ReportMetric(float64(sent-min(sent, received.Load())), "missing")
	b.ReportMetric(float64(dropped), "dropped")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu%/session")
	b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/float64(n), "heapB/session")
	b.ReportMetric(float64(received.Load())/float64(n), "packets/session")
}
