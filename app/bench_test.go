package app_test

// Issue 3's benchmarks: Podium's pipeline against ffmpeg on the same speech, memory over a long
// recording, and how long Stop takes to leave a complete MP3. They are benchmarks, not timed
// tests: run them with
//
//	go test -run '^$' -bench . -benchtime 1x -v ./app/
//
// (scripts/bench.sh does, after making the 10-minute fixture). The figures are printed with
// b.Logf and reported as metrics. -benchtime Nx repeats the speed measurements and keeps the
// best of each, which is what a machine shared with other work needs.

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/app"
	"podium/audio"
	"podium/audio/mp3"
	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// The bitrates of issue 3, used on both sides of every comparison.
const (
	benchMP3Kbps  = 64
	benchOpusBits = 32000
	benchOpusK    = "32k"
	benchMP3K     = "64k"
)

// benchRing is StartRecording's ring size (2 s), so the hand-built chains below behave the same.
const benchRing = 2 * pcm.SampleRate

// discardPackets is the live link of a benchmark: it sends nothing, but counts packets so a
// benchmark can tell how many frames Opus really encoded. Only the Opus goroutine writes it,
// and it is read after that goroutine is done.
type discardPackets struct{ packets int64 }

func (d *discardPackets) WritePacket(int64, []byte) error { d.packets++; return nil }

// measured is one timed run: wall time, and CPU time (user+system), which a loaded machine
// disturbs far less than wall time.
type measured struct{ wall, cpu time.Duration }

// best keeps the smaller of each figure over repeated runs.
func (m *measured) best(n measured) {
	if m.wall == 0 || n.wall < m.wall {
		m.wall = n.wall
	}
	if m.cpu == 0 || n.cpu < m.cpu {
		m.cpu = n.cpu
	}
}

// runFFmpeg times one ffmpeg process from start to exit, as a user running it would see it.
func runFFmpeg(b *testing.B, args ...string) measured {
	b.Helper()
	cmd := exec.Command("ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("ffmpeg %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return measured{time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
}

// podiumRun is one StartRecording → source ended → Stop, with what it reports.
type podiumRun struct {
	measured
	stop    time.Duration // Stop alone: drain the ring, close the Opus queue, finalise the MP3
	sum     app.Summary
	packets int64 // Opus packets that reached the live link
}

// runPodium records wav unpaced to out exactly as the app does; live nil records MP3 only.
func runPodium(b *testing.B, wav, out string, live bool) podiumRun {
	b.Helper()
	runtime.GC() // start every run from a clean heap, outside the timing
	cfg := app.RecordingConfig{Input: wav, Out: out, Bitrate: benchMP3Kbps, OpusBitrate: benchOpusBits}
	var sink *discardPackets
	if live {
		sink = &discardPackets{}
		cfg.Live = sink // only set when live: a nil *discardPackets would still be a non-nil Live
	}
	cpu0, start := testkit.CPUTime(), time.Now()
	rec, err := app.StartRecording(cfg)
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-rec.Ended():
	case <-rec.Broken():
	}
	stopAt := time.Now()
	sum, err := rec.Stop()
	r := podiumRun{measured: measured{time.Since(start), testkit.CPUTime() - cpu0}, stop: time.Since(stopAt), sum: sum}
	if err != nil {
		b.Fatalf("recording: %v", err)
	}
	if sink != nil {
		r.packets = sink.packets
	}
	return r
}

// waitQueue is QueuedSink without the drop: WriteFrame waits for the Opus goroutine instead
// of discarding, so both encoders still run in parallel but every frame is encoded. Nothing in
// the app needs it (a microphone is never faster than real time); it exists so an unpaced
// benchmark can compare Podium's layout with ffmpeg on equal work.
type waitQueue struct {
	inner  audio.FrameSink
	frames chan audio.Frame
	free   chan []int16
	done   chan struct{}
}

func newWaitQueue(inner audio.FrameSink, depth int) *waitQueue {
	q := &waitQueue{inner: inner, frames: make(chan audio.Frame, depth), free: make(chan []int16, depth), done: make(chan struct{})}
	for range depth {
		q.free <- make([]int16, pcm.FrameSamples)
	}
	go func() {
		defer close(q.done)
		for f := range q.frames {
			q.inner.WriteFrame(f) // the packet count tells whether every frame made it
			q.free <- f.Samples[:cap(f.Samples)]
		}
	}()
	return q
}

func (q *waitQueue) WriteFrame(f audio.Frame) error {
	buf := <-q.free
	n := copy(buf, f.Samples)
	q.frames <- audio.Frame{Pos: f.Pos, Samples: buf[:n]}
	return nil
}

func (q *waitQueue) Close() error { close(q.frames); <-q.done; return nil }

// chain is StartRecording's chain built by hand, so a benchmark can change one part of it:
// ring, MP3 file, meter and an Opus branch to a discarding link, run by a pipeline.
type chain struct {
	ring   *audio.RingBuffer
	mp3    *mp3.Writer
	live   *discardPackets
	queue  opusQueue // nil when the Opus branch is inline
	p      *audio.Pipeline
	runErr chan error
}

// opusQueue is what the Opus branch may sit behind: the app's QueuedSink or a waitQueue.
type opusQueue interface {
	audio.FrameSink
	Close() error
}

// startChain builds a chain recording to out and runs its pipeline. queue, when not nil, puts
// the Opus branch behind the queue it returns.
func startChain(b *testing.B, out string, queue func(audio.FrameSink) opusQueue) *chain {
	b.Helper()
	ring, err := audio.NewRingBuffer(benchRing)
	if err != nil {
		b.Fatal(err)
	}
	w, err := mp3.Create(out, mp3.Options{Bitrate: benchMP3Kbps})
	if err != nil {
		b.Fatal(err)
	}
	enc, err := audio.NewOpusEncoder(benchOpusBits)
	if err != nil {
		b.Fatal(err)
	}
	c := &chain{ring: ring, mp3: w, live: &discardPackets{}, runErr: make(chan error, 1)}
	var opus audio.FrameSink = audio.NewOpusBranch(enc, c.live)
	if queue != nil {
		c.queue = queue(opus)
		opus = c.queue
	}
	c.p = audio.NewPipeline(ring, w, audio.NewLevelMeter(), opus)
	go func() { c.runErr <- c.p.Run() }()
	return c
}

// stop ends the pipeline, then the queue and the MP3, and returns the first error.
func (c *chain) stop() error {
	c.p.Stop()
	err := <-c.runErr
	if c.queue != nil {
		_ = c.queue.Close() // the link never fails, and an encoder error shows in the packet count
	}
	if cerr := c.mp3.Close(); err == nil {
		err = cerr
	}
	return err
}

// runLossless records wav like StartRecording (same source, ring, MP3, meter) but with an Opus
// branch that encodes every frame: inline in the pipeline (serial, one goroutine) or behind a
// waitQueue (parallel). It returns the timing and the number of Opus packets.
func runLossless(b *testing.B, wav, out string, parallel bool) (measured, int64) {
	b.Helper()
	runtime.GC()
	cpu0, start := testkit.CPUTime(), time.Now()
	var queue func(audio.FrameSink) opusQueue
	if parallel {
		queue = func(opus audio.FrameSink) opusQueue { return newWaitQueue(opus, 10) }
	}
	c := startChain(b, out, queue)
	src, err := audio.OpenWAVSource(wav, c.ring, false)
	if err != nil {
		b.Fatal(err)
	}
	src.Start()
	select {
	case <-src.Done():
	case <-c.p.Done():
	}
	src.Stop()
	err = c.stop()
	src.Close()
	m := measured{time.Since(start), testkit.CPUTime() - cpu0}
	if err != nil {
		b.Fatal(err)
	}
	return m, c.live.packets
}

// mp3Samples is the length the MP3's Xing/LAME header promises, in samples.
func mp3Samples(b *testing.B, path string) int64 {
	b.Helper()
	info, err := frames.ReadFileInfo(path)
	if err != nil {
		b.Fatal(err)
	}
	if !info.HasXing {
		b.Fatalf("%s: no Xing/Info header", path)
	}
	return info.Samples()
}

func fileMB(path string) float64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return float64(st.Size()) / 1e6
}

// openWAV opens a WAV file to stream from; the caller closes the file.
func openWAV(b *testing.B, path string) (*audio.WAVReader, io.Closer) {
	b.Helper()
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	r, err := audio.NewWAVReader(f)
	if err != nil {
		f.Close()
		b.Fatal(err)
	}
	return r, f
}

// wavSamples counts the fixture's samples from its header, without loading it.
func wavSamples(b *testing.B, path string) int64 {
	b.Helper()
	r, f := openWAV(b, path)
	defer f.Close()
	return r.Samples()
}

// reportVs prints and reports one Podium-against-ffmpeg row. Ratios are ffmpeg / Podium:
// above 1 Podium is faster.
func reportVs(b *testing.B, row string, podium, ffmpeg measured, audioDur time.Duration) {
	b.Helper()
	ratio := ffmpeg.wall.Seconds() / podium.wall.Seconds()
	cpuRatio := ffmpeg.cpu.Seconds() / podium.cpu.Seconds()
	b.Logf("%-22s podium %6.2f s (cpu %6.2f s, %4.0f× real time)   ffmpeg %6.2f s (cpu %6.2f s)   ffmpeg/podium wall %.2f×, cpu %.2f×",
		row, podium.wall.Seconds(), podium.cpu.Seconds(), audioDur.Seconds()/podium.wall.Seconds(),
		ffmpeg.wall.Seconds(), ffmpeg.cpu.Seconds(), ratio, cpuRatio)
	b.ReportMetric(podium.wall.Seconds(), "podium-s")
	b.ReportMetric(ffmpeg.wall.Seconds(), "ffmpeg-s")
	b.ReportMetric(ratio, "ffmpeg/podium")
	b.ReportMetric(podium.cpu.Seconds(), "podium-cpu-s")
	b.ReportMetric(ffmpeg.cpu.Seconds(), "ffmpeg-cpu-s")
	b.ReportMetric(cpuRatio, "cpu-ffmpeg/podium")
}

// BenchmarkPipelineVsFFmpeg runs Podium's unpaced WAV source through the app's own pipeline and
// one ffmpeg command doing the same encodings, on the same 10-minute speech, in this process.
// Goals: MP3 alone ≥ 0.9×, MP3 + Opus ≥ 1.3× (ffmpeg time / Podium time).
//
// The app's Opus branch sits behind a QueuedSink that drops frames when full, and an unpaced
// source outruns it if Opus is the slower encoder: then Podium did less work than ffmpeg. The
// rows say how many frames were dropped, and the lossless rows measure Podium encoding every
// frame, which is the comparison that counts.
func BenchmarkPipelineVsFFmpeg(b *testing.B) {
	testkit.Need(b, "ffmpeg")
	wav := audiotest.Speech(b, true)
	total := wavSamples(b, wav)
	frames := (total + pcm.FrameSamples - 1) / pcm.FrameSamples
	audioDur := time.Duration(total) * time.Second / pcm.SampleRate
	ffIn := []string{"-y", "-v", "error", "-i", wav}
	ffMP3 := []string{"-c:a", "libmp3lame", "-b:a", benchMP3K}
	ffOpus := []string{"-c:a", "libopus", "-b:a", benchOpusK}
	// Podium's Opus settings (audio.NewOpusEncoder): VoIP, in-band FEC, 10 % expected loss.
	ffOpusVoIP := slices.Concat(ffOpus, []string{"-application", "voip", "-fec", "1", "-packet_loss", "10"})
	cat := slices.Concat[[]string]

	// checkPodium fails the run if the MP3 is not the whole input, or if the ring lost samples
	// (an unpaced source waits for room, so it never should).
	checkPodium := func(b *testing.B, r podiumRun, out string) {
		b.Helper()
		if r.sum.DroppedSamples != 0 {
			b.Errorf("ring dropped %d samples", r.sum.DroppedSamples)
		}
		if r.sum.Frames != frames {
			b.Errorf("pipeline emitted %d frames, want %d", r.sum.Frames, frames)
		}
		if n := mp3Samples(b, out); n != total {
			b.Errorf("MP3 holds %d samples, the input %d", n, total)
		}
	}

	b.Run("mp3", func(b *testing.B) {
		dir := b.TempDir()
		out, ffOut := filepath.Join(dir, "podium.mp3"), filepath.Join(dir, "ffmpeg.mp3")
		var podium, ff measured
		var stop time.Duration
		b.ResetTimer()
		for range b.N {
			r := runPodium(b, wav, out, false)
			podium.best(r.measured)
			stop = r.stop
			checkPodium(b, r, out)
			b.StopTimer()
			ff.best(runFFmpeg(b, cat(ffIn, ffMP3, []string{ffOut})...))
			b.StartTimer()
		}
		reportVs(b, "mp3", podium, ff, audioDur)
		b.Logf("mp3: Stop took %v; MP3 %.2f MB (ffmpeg's %.2f MB)", stop.Round(time.Microsecond), fileMB(out), fileMB(ffOut))
		b.ReportMetric(float64(stop.Microseconds())/1000, "stop-ms")
	})

	// The app's path with the live branch on: what a user gets from podium record --fast.
	liveRow := func(name string, ffOpusArgs []string) func(b *testing.B) {
		return func(b *testing.B) {
			dir := b.TempDir()
			out := filepath.Join(dir, "podium.mp3")
			ffOut, ffOpusOut := filepath.Join(dir, "ffmpeg.mp3"), filepath.Join(dir, "ffmpeg.opus")
			var podium, ff measured
			var last podiumRun
			b.ResetTimer()
			for range b.N {
				last = runPodium(b, wav, out, true)
				podium.best(last.measured)
				checkPodium(b, last, out)
				b.StopTimer()
				ff.best(runFFmpeg(b, cat(ffIn, ffMP3, []string{ffOut}, ffOpusArgs, []string{ffOpusOut})...))
				b.StartTimer()
			}
			reportVs(b, name, podium, ff, audioDur)
			encoded := last.packets
			b.Logf("%s: Opus encoded %d of %d frames, dropped %d (%.1f %%); Stop took %v",
				name, encoded, frames, last.sum.DroppedFrames, 100*float64(last.sum.DroppedFrames)/float64(frames), last.stop.Round(time.Microsecond))
			if last.sum.DroppedFrames > 0 {
				b.Logf("%s: NOT A FAIR COMPARISON: Podium skipped %d Opus frames that ffmpeg encoded; see the lossless rows", name, last.sum.DroppedFrames)
			}
			if encoded+last.sum.DroppedFrames != frames {
				b.Errorf("%d packets + %d dropped frames ≠ %d frames", encoded, last.sum.DroppedFrames, frames)
			}
			b.ReportMetric(float64(last.sum.DroppedFrames), "dropped-frames")
			b.ReportMetric(float64(last.stop.Microseconds())/1000, "stop-ms")
		}
	}
	b.Run("mp3+opus", liveRow("mp3+opus", ffOpus))
	b.Run("mp3+opus-voip", liveRow("mp3+opus-voip", ffOpusVoIP))

	// Podium encoding every Opus frame, against ffmpeg with Podium's Opus settings: serial (the
	// Opus sink inline in the pipeline) and parallel (behind a queue that waits, not drops).
	lossless := func(parallel bool) func(b *testing.B) {
		return func(b *testing.B) {
			dir := b.TempDir()
			out := filepath.Join(dir, "podium.mp3")
			ffOut, ffOpusOut := filepath.Join(dir, "ffmpeg.mp3"), filepath.Join(dir, "ffmpeg.opus")
			var podium, ff measured
			b.ResetTimer()
			for range b.N {
				m, packets := runLossless(b, wav, out, parallel)
				podium.best(m)
				if packets != frames {
					b.Errorf("Opus encoded %d of %d frames", packets, frames)
				}
				if n := mp3Samples(b, out); n != total {
					b.Errorf("MP3 holds %d samples, the input %d", n, total)
				}
				b.StopTimer()
				ff.best(runFFmpeg(b, cat(ffIn, ffMP3, []string{ffOut}, ffOpusVoIP, []string{ffOpusOut})...))
				b.StartTimer()
			}
			name := "lossless-serial"
			if parallel {
				name = "lossless-parallel"
			}
			reportVs(b, name, podium, ff, audioDur)
		}
	}
	b.Run("lossless-serial", lossless(false))
	b.Run("lossless-parallel", lossless(true))

	// Each encoder alone on the same samples in memory, without ring, frames or file reading:
	// where Podium's time goes, and the ceiling for the pipeline.
	b.Run("encoders", func(b *testing.B) {
		samples := audiotest.ReadWAV(b, wav)
		out := filepath.Join(b.TempDir(), "raw.mp3")
		var opusT, mp3T measured
		b.ResetTimer()
		for range b.N {
			runtime.GC()
			enc, err := audio.NewOpusEncoder(benchOpusBits)
			if err != nil {
				b.Fatal(err)
			}
			cpu0, start := testkit.CPUTime(), time.Now()
			for i := 0; i < len(samples); i += pcm.FrameSamples {
				if _, err := enc.Encode(samples[i:min(i+pcm.FrameSamples, len(samples))]); err != nil {
					b.Fatal(err)
				}
			}
			opusT.best(measured{time.Since(start), testkit.CPUTime() - cpu0})

			runtime.GC()
			cpu0, start = testkit.CPUTime(), time.Now()
			w, err := mp3.Create(out, mp3.Options{Bitrate: benchMP3Kbps})
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < len(samples); i += pcm.FrameSamples {
				if err := w.WriteSamples(samples[i:min(i+pcm.FrameSamples, len(samples))]); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			mp3T.best(measured{time.Since(start), testkit.CPUTime() - cpu0})
		}
		b.Logf("encoders alone: Opus (VoIP, FEC) %.2f s (cpu %.2f s, %.0f× real time); mp3.Writer %.2f s (cpu %.2f s, %.0f× real time)",
			opusT.wall.Seconds(), opusT.cpu.Seconds(), audioDur.Seconds()/opusT.wall.Seconds(),
			mp3T.wall.Seconds(), mp3T.cpu.Seconds(), audioDur.Seconds()/mp3T.wall.Seconds())
		b.ReportMetric(opusT.wall.Seconds(), "opus-s")
		b.ReportMetric(mp3T.wall.Seconds(), "mp3-s")
		b.ReportMetric(audioDur.Seconds()/opusT.wall.Seconds(), "opus-x-realtime")
		b.ReportMetric(audioDur.Seconds()/mp3T.wall.Seconds(), "mp3-x-realtime")
	})
}

// vmRSS is this process's resident set in bytes.
func vmRSS(b *testing.B) int64 {
	b.Helper()
	v, err := testkit.RSS(os.Getpid())
	if err != nil {
		b.Fatal(err)
	}
	return v
}

// heapStats is the Go heap in use and the bytes allocated since the process started.
func heapStats() (inuse, total int64) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse), int64(ms.TotalAlloc)
}

// feedWAV plays the WAV file at path into ring once, as fast as the pipeline takes it, waiting
// for room like the unpaced WAVSource. It streams from the file so the fixture never sits in
// memory and the RSS seen is the pipeline's. It stops early if the pipeline has ended.
func feedWAV(b *testing.B, path string, ring *audio.RingBuffer, chunk []int16, ended <-chan struct{}) int64 {
	b.Helper()
	r, f := openWAV(b, path)
	defer f.Close()
	var sent int64
	for {
		n, err := r.ReadSamples(chunk)
		for ring.Cap()-ring.Len() < n {
			select {
			case <-ended:
				return sent
			default:
				time.Sleep(200 * time.Microsecond)
			}
		}
		ring.Write(chunk[:n])
		sent += int64(n)
		if err == io.EOF {
			return sent
		}
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLongRecordingMemory pushes PODIUM_BENCH_HOURS (default 2) of speech through the
// whole pipeline at full speed — ring, frames, MP3 on disk, Opus behind its queue to a
// discarding link, meter — and samples the RSS every 10 minutes of audio. PODIUM_BENCH_OUT, when
// set, is where the MP3 is written (and left), so scripts/faults can check its header. A recording that
// grows in memory with its length fails a lecturer an hour in; the goal is under 1 MB growth.
func BenchmarkLongRecordingMemory(b *testing.B) {
	hours := 2.0
	if s := os.Getenv("PODIUM_BENCH_HOURS"); s != "" {
		h, err := strconv.ParseFloat(s, 64)
		if err != nil || h <= 0 {
			b.Fatalf("PODIUM_BENCH_HOURS=%q: want a positive number of hours", s)
		}
		hours = h
	}
	wav := audiotest.Speech(b, true)
	fixture := time.Duration(wavSamples(b, wav)) * time.Second / pcm.SampleRate
	reps := int(math.Ceil(hours * float64(time.Hour) / float64(fixture)))
	b.StopTimer() // ns/op is the feeding and Stop only, not the set-up
	for range b.N {
		// Leave what earlier benchmarks allocated out of the baseline.
		runtime.GC()
		debug.FreeOSMemory()
		goroutines0 := runtime.NumGoroutine()

		out := filepath.Join(b.TempDir(), "long.mp3")
		if keep := os.Getenv("PODIUM_BENCH_OUT"); keep != "" {
			out = keep // the fault suite reads the header again with ffprobe
		}
		var opus *audio.QueuedSink
		c := startChain(b, out, func(branch audio.FrameSink) opusQueue {
			opus = audio.NewQueuedSink(branch, 10) // the app's depth
			return opus
		})
		ring, p := c.ring, c.p
		chunk := make([]int16, pcm.SampleRate/100)

		rss0 := vmRSS(b)
		heap0, alloc0 := heapStats()
		// Sized up front, so the sampling itself adds nothing to what it measures.
		rss, heap := make([]int64, 1, reps+1), make([]int64, 1, reps+1)
		rss[0], heap[0] = rss0, heap0
		maxRSS := rss0
		var sent int64
		start := time.Now()
		b.StartTimer()
		for range reps {
			sent += feedWAV(b, wav, ring, chunk, p.Done())
			v := vmRSS(b)
			h, _ := heapStats()
			rss, heap = append(rss, v), append(heap, h)
			maxRSS = max(maxRSS, v)
		}
		heapRec, alloc1 := heapStats()
		if err := c.stop(); err != nil {
			b.Fatal(err)
		}
		wall := time.Since(start)
		b.StopTimer()
		rssEnd := vmRSS(b)
		heapEnd, _ := heapStats()
		maxRSS = max(maxRSS, rssEnd)
		runtime.GC()
		heapLive, _ := heapStats()

		audioDur := time.Duration(sent) * time.Second / pcm.SampleRate
		hdr := mp3Samples(b, out)
		if hdr != sent {
			b.Errorf("MP3 holds %d samples, %d were fed", hdr, sent)
		}
		b.Logf("Xing/LAME header: %d samples (%v), %d fed", hdr, time.Duration(hdr)*time.Second/pcm.SampleRate, sent)
		if ring.Dropped() != 0 {
			b.Errorf("ring dropped %d samples", ring.Dropped())
		}
		mb := func(v int64) float64 { return float64(v) / (1 << 20) } // MiB, as /proc counts kB in KiB
		var series strings.Builder
		for i, v := range rss {
			fmt.Fprintf(&series, " %s:%.1f/%.1f", time.Duration(i)*fixture, mb(v), mb(heap[i]))
		}
		// Growth once warmed up: from the first 10-minute sample to the last one while recording.
		steady := rss[len(rss)-1] - rss[min(1, len(rss)-1)]
		allocPerHour := float64(alloc1-alloc0) / (1 << 20) / audioDur.Hours()
		b.Logf("%v of audio in %v (%.0f× real time); %d frames, Opus queue dropped %d (%.1f %%), ring dropped %d samples; MP3 %.0f MB",
			audioDur, wall.Round(time.Millisecond), audioDur.Seconds()/wall.Seconds(), p.Frames(), opus.Dropped(),
			100*float64(opus.Dropped())/float64(p.Frames()), ring.Dropped(), fileMB(out))
		b.Logf("RSS/heap in use, MB, at each 10 min of audio:%s", series.String())
		b.Logf("RSS start %.2f MB, end %.2f MB (after Stop), max growth %.2f MB, growth after the first 10 min %.2f MB; heap in use %.2f → %.2f MB while recording, %.2f MB after Stop, %.2f MB live after GC; %.0f MB allocated per hour of audio; goroutines %d → %d",
			mb(rss0), mb(rssEnd), mb(maxRSS-rss0), mb(steady),
			mb(heap0), mb(heapRec), mb(heapEnd), mb(heapLive), allocPerHour, goroutines0, runtime.NumGoroutine())
		b.ReportMetric(audioDur.Hours(), "audio-h")
		b.ReportMetric(mb(rss0), "rss-start-MB")
		b.ReportMetric(mb(rssEnd), "rss-end-MB")
		b.ReportMetric(mb(maxRSS-rss0), "rss-growth-MB")
		b.ReportMetric(mb(steady), "rss-steady-growth-MB")
		b.ReportMetric(allocPerHour, "alloc-MB/h")
		b.ReportMetric(mb(heapRec), "heap-inuse-MB")
		b.ReportMetric(float64(opus.Dropped()), "dropped-frames")
		b.ReportMetric(audioDur.Seconds()/wall.Seconds(), "x-realtime")
	}
}

// BenchmarkStopToComplete times mp3.Writer.Close — the part of Stop that turns a growing file
// into a complete MP3 — after an hour of audio, and checks the Xing/LAME header it writes
// promises exactly the samples written. The README says a few milliseconds whatever the
// length; a 10-second recording is closed too, for comparison.
func BenchmarkStopToComplete(b *testing.B) {
	wav := audiotest.Speech(b, true)
	samples := audiotest.ReadWAV(b, wav)
	// record writes d of audio to path and closes it; ns/op is the hour's Close only.
	record := func(path string, d time.Duration) (closeT time.Duration, written int64) {
		b.Helper()
		w, err := mp3.Create(path, mp3.Options{Bitrate: benchMP3Kbps})
		if err != nil {
			b.Fatal(err)
		}
		want := int64(d.Seconds() * pcm.SampleRate)
		for written < want {
			// Frames as the pipeline hands them over, looping the fixture.
			i := int(written % int64(len(samples)))
			n := int(min(int64(pcm.FrameSamples), want-written, int64(len(samples)-i)))
			if err := w.WriteSamples(samples[i : i+n]); err != nil {
				b.Fatal(err)
			}
			written += int64(n)
		}
		timed := d == time.Hour
		if timed {
			b.StartTimer()
		}
		start := time.Now()
		err = w.Close()
		closeT = time.Since(start)
		if timed {
			b.StopTimer()
		}
		if err != nil {
			b.Fatal(err)
		}
		if n := mp3Samples(b, path); n != written {
			b.Errorf("%v recording: Xing/LAME header promises %d samples, %d were written", d, n, written)
		}
		return closeT, written
	}
	dir := b.TempDir()
	var long, short time.Duration
	var written int64
	b.StopTimer() // only Close is timed: encoding the hour is the setup
	b.ResetTimer()
	for range b.N {
		c, n := record(filepath.Join(dir, "hour.mp3"), time.Hour)
		if long == 0 || c < long {
			long = c
		}
		written = n
		c, _ = record(filepath.Join(dir, "short.mp3"), 10*time.Second)
		if short == 0 || c < short {
			short = c
		}
	}
	b.Logf("Close after 1 h (%d samples, %.1f MB): %.2f ms; after 10 s: %.2f ms; Xing header checked",
		written, fileMB(filepath.Join(dir, "hour.mp3")), float64(long.Microseconds())/1000, float64(short.Microseconds())/1000)
	b.ReportMetric(float64(long.Microseconds())/1000, "close-1h-ms")
	b.ReportMetric(float64(short.Microseconds())/1000, "close-10s-ms")
}
