package main_test

import (
	"testing"
	"time"
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
	perListenerCount(b, "PODIUM_BENCH_HLS_LISTENERS", "10,100,1000", benchHLS)
}

func benchHLS(b *testing.B, n int, d time.Duration) {
	load := runHLSLoad(b, n, d)
	segments, missed := load.segments()
	b.ReportMetric(load.cpu, "origin-cpu-%")
	b.ReportMetric(load.served("segment")/float64(max(segments, 1)), "origin-req/segment")
	b.ReportMetric(float64(missed), "missed")
	b.ReportMetric(float64(segments), "segments")
}
