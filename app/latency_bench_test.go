package app_test

// BenchmarkLiveLatency measures mouth-to-server latency on loopback: from a 20 ms frame
// entering the client's Opus branch to the same samples leaving the server's Opus decoder,
// the point where podium-server hands them to the MP3. Run it with
//
//	go test -run '^$' -bench LiveLatency -benchtime 1x -v ./app/

import (
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/pcm"
	"podium/rtc"
	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// latencyClip is how much real-time audio one iteration sends: long enough for a stable
// p99 (500 frames), short enough to run often.
const latencyClip = 10 * time.Second

// latencyGoal is the median the live path must stay under: a listener hears the presenter
// about a video frame late, not a sentence late.
const latencyGoal = 60 * time.Millisecond

// arrivalClock stamps the moment each frame's last sample leaves the server's decoder. It
// is the SampleWriter under an audio.PacketDecoder, so "position" is the decoded sample
// count, concealment included: frame k is there once (k+1)*960 samples have come out.
type arrivalClock struct {
	mu      sync.Mutex
	samples int64
	arrived []time.Time
}

func (a *arrivalClock) WriteSamples(p []int16) error {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.samples += int64(len(p))
	for int64(len(a.arrived)+1)*pcm.FrameSamples <= a.samples {
		a.arrived = append(a.arrived, now)
	}
	return nil
}

func (a *arrivalClock) Close() error { return nil }

func (a *arrivalClock) snapshot() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.arrived)
}

// latencySink is the server side of one recording: podium-server's decoder, timed.
type latencySink struct {
	dec *audio.PacketDecoder
}

func (s *latencySink) WritePacket(pos int64, payload []byte) error {
	return s.dec.WritePacket(pos, payload)
}
func (s *latencySink) Close() error { return s.dec.Close() }

func BenchmarkLiveLatency(b *testing.B) {
	speech := audiotest.ReadWAV(b, audiotest.Speech(b, false))
	frames := int(latencyClip / (20 * time.Millisecond))
	if len(speech) < frames*pcm.FrameSamples {
		b.Fatalf("speech fixture %d samples, need %d", len(speech), frames*pcm.FrameSamples)
	}

	var (
		mu     sync.Mutex
		clocks []*arrivalClock
	)
	srv, err := rtc.NewServer(rtc.ServerConfig{
		Tokens:   []string{"bench"},
		IPFilter: proto.LoopbackOnly,
		Logger:   slog.New(slog.DiscardHandler),
		Record: func(string, time.Time) (rtc.Sink, error) {
			c := &arrivalClock{}
			dec, err := audio.NewPacketDecoder(c)
			if err != nil {
				return nil, err
			}
			mu.Lock()
			clocks = append(clocks, c)
			mu.Unlock()
			return &latencySink{dec: dec}, nil
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	base := testkit.Serve(b, srv)
	defer func() { _ = srv.Shutdown(b.Context()) }()

	var all []time.Duration
	stream := 0
	for b.Loop() {
		stream++
		all = append(all, runLatency(b, base+"/whip/lat"+strconv.Itoa(stream), speech, frames, func() *arrivalClock {
			mu.Lock()
			defer mu.Unlock()
			if len(clocks) < stream {
				return nil
			}
			return clocks[stream-1]
		})...)
	}
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	median, p99 := pct(0.5), pct(0.99)
	b.ReportMetric(0, "ns/op") // one op is 10 s of real time: meaningless
	b.ReportMetric(median, "ms-median")
	b.ReportMetric(p99, "ms-p99")
	b.ReportMetric(pct(0), "ms-min")
	b.ReportMetric(pct(1), "ms-max")
	b.Logf("%d frames: median %.2f ms, p99 %.2f ms, min %.2f ms, max %.2f ms", len(all), median, p99, pct(0), pct(1))
	if median > float64(latencyGoal)/float64(time.Millisecond) {
		b.Errorf("median latency %.1f ms, goal <= %v", median, latencyGoal)
	}
}

// runLatency publishes frames of speech in real time on a fresh stream and returns each
// frame's latency.
func runLatency(b *testing.B, url string, speech []int16, frames int, clock func() *arrivalClock) []time.Duration {
	c, err := whip.NewClient(whip.Config{URL: url, Token: "bench", IPFilter: proto.LoopbackOnly, Logf: b.Logf})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	// Only once live: the client drops what it is given before, and the server's position 0
	// must be our frame 0 for positions to match.
	for deadline := time.Now().Add(10 * time.Second); c.Status().State != whip.Live; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatalf("client not live: %+v", c.Status())
		}
	}
	enc, err := audio.NewOpusEncoder(0)
	if err != nil {
		b.Fatal(err)
	}
	sink := audio.NewOpusBranch(enc, c)

	sent := make([]time.Time, frames)
	start := time.Now()
	for k := range frames {
		// Paced on the wall clock from the start, like a sound card: no drift, no bursts.
		time.Sleep(time.Until(start.Add(time.Duration(k) * 20 * time.Millisecond)))
		sent[k] = time.Now()
		if err := sink.WriteFrame(audio.Frame{Pos: int64(k * pcm.FrameSamples), Samples: speech[k*pcm.FrameSamples : (k+1)*pcm.FrameSamples]}); err != nil {
			b.Fatal(err)
		}
	}
	var arrived []time.Time
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cl := clock(); cl != nil {
			if arrived = cl.snapshot(); len(arrived) >= frames {
				break
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("server decoded %d of %d frames; client %+v", len(arrived), frames, c.Stats())
		}
	}
	// Every frame sent arrived and none was concealed, or positions would not match.
	if st := c.Stats(); st.PacketsSent != uint64(frames) || st.PacketsDropped != 0 || len(arrived) != frames {
		b.Fatalf("client sent %d, dropped %d; server decoded %d frames; want %d, 0, %d", st.PacketsSent, st.PacketsDropped, len(arrived), frames, frames)
	}
	lat := make([]time.Duration, frames)
	for k := range frames {
		lat[k] = arrived[k].Sub(sent[k])
		if lat[k] <= 0 {
			b.Fatalf("frame %d arrived %v before it was sent: positions do not match", k, -lat[k])
		}
	}
	return lat
}
