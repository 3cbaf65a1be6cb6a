package loudness_test

import (
	"path/filepath"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/audiotest"
	"podium/audio/loudness"
	"podium/audio/mp3"
	"podium/audio/pcm"
)

// BenchmarkLoudnessVsMP3: what measuring loudness costs per second of audio, as a fraction
// of what the MP3 encoder costs on the same speech, frame by frame as the pipeline feeds
// both (issue 13's goal: voice processing and loudness together below the encoder).
func BenchmarkLoudnessVsMP3(b *testing.B) {
	speech := audiotest.ReadWAV(b, audiotest.Speech(b, false))
	frames := func(sink audio.FrameSink) time.Duration {
		start := time.Now()
		for pos := 0; pos+pcm.FrameSamples <= len(speech); pos += pcm.FrameSamples {
			sink.WriteFrame(audio.Frame{Pos: int64(pos), Samples: speech[pos : pos+pcm.FrameSamples]})
		}
		return time.Since(start)
	}
	var loud, enc time.Duration
	for i := 0; i < b.N; i++ {
		m, err := loudness.NewMeter()
		if err != nil {
			b.Fatal(err)
		}
		loud += frames(m)
		m.Close()
		w, err := mp3.Create(filepath.Join(b.TempDir(), "bench.mp3"), mp3.Options{})
		if err != nil {
			b.Fatal(err)
		}
		enc += frames(w)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	secs := float64(b.N) * float64(len(speech)) / pcm.SampleRate
	b.ReportMetric(100*loud.Seconds()/secs, "loudness-cpu-%")
	b.ReportMetric(100*enc.Seconds()/secs, "mp3-cpu-%")
	b.ReportMetric(loud.Seconds()/enc.Seconds(), "loudness/mp3")
}
