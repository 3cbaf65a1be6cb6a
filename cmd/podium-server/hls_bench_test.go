package main_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// BenchmarkHLSListeners: the real binary with one presenter, nginx caching in front of it, and
// N live-edge HLS listeners through nginx (PODIUM_BENCH_HLS_LISTENERS, default
// "10,100,1000") for PODIUM_BENCH_SECONDS each (default 30). Reported: origin-cpu-% (the
// podium-server process alone, recording and packaging included), origin-req/segment
// (segment requests the origin served per segment published) and missed (segments a
// listener lacked from the one it joined at). The curve is flat when the origin's figures do
// not grow with N; rtc's BenchmarkListeners has the same for WHEP, where each listener
// costs the origin its own packets.
//
//	go test -run '^$' -bench BenchmarkHLSListeners -benchtime 1x ./cmd/podium-server/
func BenchmarkHLSListeners(b *testing.B) {
	spec := os.Getenv("PODIUM_BENCH_HLS_LISTENERS")
	if spec == "" {
		spec = "10,100,1000"
	}
	secs := 30.0
	if v, err := strconv.ParseFloat(os.Getenv("PODIUM_BENCH_SECONDS"), 64); err == nil && v > 0 {
		secs = v
	}
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("PODIUM_BENCH_HLS_LISTENERS: bad count %q", f)
		}
		b.Run(fmt.Sprintf("listeners=%d", n), func(b *testing.B) {
			for range b.N {
				benchHLS(b, n, time.Duration(secs*float64(time.Second)))
			}
		})
	}
}

// cpuTicks is the CPU time (user and system, in clock ticks of 10 ms) process pid has used.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func benchHLS(b *testing.B, n int, d time.Duration) {
	speech := audiotest.ReadWAV(b, audiotest.Speech(b, false))
	talk := speech
	for len(talk) < int(d/time.Second+20)*pcm.SampleRate {
		talk = append(talk, speech...)
	}
	proc := testkit.Start(b, nil, serverBin, "--listen", "127.0.0.1:0", "--dir", b.TempDir(), "--token", "op-secret", "--public-listen")
	b.Cleanup(func() { proc.Stop(b, 10*time.Second) })
	origin := testkit.ServerBase(b, proc)
	startPublisher(b, origin+"/whip/lecture", "op-secret", talk)
	var media string
	testkit.WaitFor(b, 15*time.Second, "the stream's HLS playlist", func() bool {
		status, body := testkit.Get(b, origin+"/hls/lecture/index.m3u8", "")
		media = regexp.MustCompile(`(?m)^[^#\s]\S*\.m3u8\S*$`).FindString(body)
		return status == http.StatusOK && media != ""
	})
	proxy := startNginx(b, strings.TrimPrefix(origin, "http://"), "")

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConns: n, MaxIdleConnsPerHost: n}}
	ctx, cancel := context.WithTimeout(b.Context(), d)
	defer cancel()
	before := testkit.Metrics(b, origin+"/metrics", "op-secret")
	t0, w0 := cpuTicks(b, proc.Cmd.Process.Pid), time.Now()
	ls := make([]hlsListener, n)
	var wg sync.WaitGroup
	for i := range ls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ls[i].run(ctx, c, proxy+"/hls/lecture/", media)
		}()
	}
	wg.Wait()
	t1, w1 := cpuTicks(b, proc.Cmd.Process.Pid), time.Now()
	after := testkit.Metrics(b, origin+"/metrics", "op-secret")

	segments, missed := 0, 0
	for _, l := range ls {
		segments = max(segments, len(l.got))
	}
	for _, l := range ls {
		first, last := -1, -1
		for s := range l.got {
			if first < 0 || s < first {
				first = s
			}
			last = max(last, s)
		}
		missed += (last - first + 1) - len(l.got)
	}
	key := `podium_hls_requests_total{kind="segment"}`
	b.ReportMetric(float64(t1-t0)*10/float64(w1.Sub(w0).Milliseconds())*100, "origin-cpu-%")
	b.ReportMetric((after[key]-before[key])/float64(max(segments, 1)), "origin-req/segment")
	b.ReportMetric(float64(missed), "missed")
	b.ReportMetric(float64(segments), "segments")
}
