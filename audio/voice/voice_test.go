package voice_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/loudness"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/audio/voice"
	"podium/scripts/testkit/audiotest"
)

// process runs samples through a new processor frame by frame, as the pipeline does.
func process(t testing.TB, o voice.Options, in []int16) []int16 {
	t.Helper()
	p, err := voice.New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := append([]int16(nil), in...)
	for pos := 0; pos < len(out); pos += pcm.FrameSamples {
		p.Process(out[pos:min(len(out), pos+pcm.FrameSamples)])
	}
	if n, err := p.Failures(); n > 0 {
		t.Fatalf("%d frames failed: %v", n, err)
	}
	return out
}

func integrated(t testing.TB, s []int16) float64 {
	t.Helper()
	m, err := loudness.NewMeter()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for pos := 0; pos < len(s); pos += pcm.FrameSamples {
		m.WriteFrame(audio.Frame{Samples: s[pos:min(len(s), pos+pcm.FrameSamples)]})
	}
	r, err := m.Result()
	if err != nil {
		t.Fatal(err)
	}
	return r.Integrated
}

// maxLag bounds the alignment search: the suppressor delays by one frame.
const maxLag = 2 * pcm.FrameSamples

// Speech with room noise at 10 dB SNR: cleaning it up lowers the floor between words by at
// least 15 dB and brings the result closer to the clean speech than the noisy input is.
func TestDenoiseLowersTheFloor(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	rawFloor, rawAll, frames := audiotest.NoiseFloor(clean, noisy, 0)
	rawCorr, _, _ := audiotest.Correlate(clean, noisy, maxLag)
	out := process(t, voice.Options{Denoise: true}, noisy)
	corr, lag, _ := audiotest.Correlate(clean, out, maxLag)
	floor, all, _ := audiotest.NoiseFloor(clean, out, lag)
	t.Logf("noise floor %.1f → %.1f dBFS (%.1f dB lower; all the pauses' power %.1f → %.1f, %.1f dB) over %d frames; correlation with the clean speech %.3f → %.3f; delay %d samples",
		rawFloor, floor, rawFloor-floor, rawAll, all, rawAll-all, frames, rawCorr, corr, lag)
	if frames < 25 {
		t.Fatalf("only %d frames of pauses to measure", frames)
	}
	if rawFloor-floor < 15 {
		t.Errorf("noise floor only %.1f dB lower, want 15", rawFloor-floor)
	}
	if corr <= rawCorr {
		t.Errorf("correlation with the clean speech %.3f, no better than the noisy input's %.3f", corr, rawCorr)
	}
}

// On a clean voice, everything on must not damage it.
func TestCleanSpeechKept(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	for _, o := range []voice.Options{{Denoise: true}, {Level: true}, {Denoise: true, Level: true}} {
		corr, lag, _ := audiotest.Correlate(clean, process(t, o, clean), maxLag)
		t.Logf("%+v: correlation %.3f at %d samples", o, corr, lag)
		if corr < 0.95 {
			t.Errorf("%+v: correlation with the clean input %.3f, want ≥ 0.95", o, corr)
		}
	}
}

// quieter is samples scaled to the loudness lufs, given that they measure at from.
func quieter(s []int16, from, lufs float64) []int16 {
	g := math.Pow(10, (lufs-from)/20)
	out := make([]int16, len(s))
	for i, v := range s {
		out[i] = int16(math.Round(float64(v) * g))
	}
	return out
}

// peakDBFS is the sample peak of s in dB below full scale.
func peakDBFS(s []int16) float64 {
	var p float64
	for _, v := range s {
		p = max(p, math.Abs(float64(v)))
	}
	return 20 * math.Log10(p/32768)
}

// Speech 20 dB too quiet comes out at the target, within 0.4 LU over the whole talk (the
// first seconds, while the gain finds its level, included), whichever target; no peak goes
// above -1 dBFS; and the voice's shape is kept (correlation with the quiet input).
func TestLevelReachesTarget(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	in := integrated(t, clean)
	for _, target := range []float64{-16, -23, 0, voice.MinTarget} {
		want := target
		if want == 0 {
			want = voice.DefaultTarget
		}
		quiet := quieter(clean, in, want-20)
		out := process(t, voice.Options{Level: true, Target: target}, quiet)
		got, peak := integrated(t, out), peakDBFS(out)
		corr, _, _ := audiotest.Correlate(quiet, out, maxLag)
		t.Logf("target %.0f: %.1f → %.2f LUFS, sample peak %.2f dBFS, correlation %.3f", want, integrated(t, quiet), got, peak, corr)
		if math.Abs(got-want) > 0.4 {
			t.Errorf("target %.0f LUFS: came out at %.2f", want, got)
		}
		if peak > -1+0.01 {
			t.Errorf("target %.0f LUFS: sample peak %.2f dBFS, want ≤ -1", want, peak)
		}
		if corr < 0.95 {
			t.Errorf("target %.0f LUFS: correlation with the input %.3f, want ≥ 0.95", want, corr)
		}
	}
}

// A long pause (room noise 15 dB under the voice: over the absolute gate, under the relative
// one, and steady) leaves the gain where it was: the noise
// is not lifted as the pause goes on, and the voice after it is as loud as before it.
func TestLevelHoldsInPauses(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	noise := audiotest.RoomNoise(t)
	in := integrated(t, clean)
	speech := quieter(clean, in, voice.DefaultTarget-20)
	const pause = 8 * pcm.SampleRate
	hiss := quieter(noise[:pause], integrated(t, noise[:pause]), voice.DefaultTarget-20-15)
	x := append(append(append([]int16(nil), speech...), hiss...), speech...)
	out := process(t, voice.Options{Level: true}, x)
	const sec = pcm.SampleRate
	a := len(speech) // where the pause starts, give or take the limiter's 5 ms
	first, last := audiotest.RMS(out[a+sec/2:a+3*sec/2]), audiotest.RMS(out[a+pause-sec:a+pause])
	// The same words, the talk's first 3 s, at its start and after the pause.
	start, after := integrated(t, out[:3*sec]), integrated(t, out[a+pause:a+pause+3*sec])
	t.Logf("the pause's noise: %.1f dBFS in its first second, %.1f in its last; the same words %.2f LUFS at the start, %.2f after the pause",
		first, last, start, after)
	if last-first > 1 {
		t.Errorf("the noise rose %.1f dB during the pause", last-first)
	}
	if math.Abs(after-start) > 1 {
		t.Errorf("the same words %.2f LUFS at the start, %.2f after the pause", start, after)
	}
}

// A frame the libraries cannot take goes on as it came, and the processor says so.
func TestFailurePassesThrough(t *testing.T) {
	p, err := voice.New(voice.Options{Denoise: true, Level: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	in := audiotest.Tone(50*time.Millisecond, 440, 8000)
	got := append([]int16(nil), in...)
	p.Process(got)
	if n, err := p.Failures(); n != 1 || err == nil || !strings.Contains(err.Error(), "at most 960") {
		t.Errorf("failures %d, %v", n, err)
	}
	for i := range in {
		if got[i] != in[i] {
			t.Fatalf("sample %d changed: %d → %d", i, in[i], got[i])
		}
	}
}

// Processing runs for every frame: it must not allocate.
func TestProcessAllocatesNothing(t *testing.T) {
	p, err := voice.New(voice.Options{Denoise: true, Level: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := audiotest.Tone(20*time.Millisecond, 440, 8000)
	if n := testing.AllocsPerRun(200, func() { p.Process(f) }); n != 0 {
		t.Errorf("%.1f allocations per frame", n)
	}
}

// BenchmarkVoiceVsMP3: what voice processing (both on) and loudness measurement cost per
// second of audio, as fractions of what the MP3 encoder costs on the same noisy speech, frame
// by frame as the pipeline feeds them (issue 13's goal: the two together below the encoder),
// and the slowest frame voice processing took (each has 20 ms).
func BenchmarkVoiceVsMP3(b *testing.B) {
	_, speech := audiotest.NoisySpeech(b, 10)
	buf := make([]int16, pcm.FrameSamples)
	var slowest time.Duration // the longest one frame took, for any sink
	frames := func(sink func(audio.Frame)) time.Duration {
		var d time.Duration
		for pos := 0; pos+pcm.FrameSamples <= len(speech); pos += pcm.FrameSamples {
			copy(buf, speech[pos:])
			start := time.Now()
			sink(audio.Frame{Pos: int64(pos), Samples: buf})
			took := time.Since(start)
			d += took
			slowest = max(slowest, took)
		}
		return d
	}
	var vo, loud, enc, voiceSlowest time.Duration
	for i := 0; i < b.N; i++ {
		p, err := voice.New(voice.Options{Denoise: true, Level: true})
		if err != nil {
			b.Fatal(err)
		}
		slowest = 0
		vo += frames(func(f audio.Frame) { p.Process(f.Samples) })
		voiceSlowest = max(voiceSlowest, slowest)
		p.Close()
		m, err := loudness.NewMeter()
		if err != nil {
			b.Fatal(err)
		}
		loud += frames(func(f audio.Frame) { m.WriteFrame(f) })
		m.Close()
		w, err := mp3.Create(filepath.Join(b.TempDir(), "bench.mp3"), mp3.Options{})
		if err != nil {
			b.Fatal(err)
		}
		enc += frames(func(f audio.Frame) { w.WriteFrame(f) })
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	secs := float64(b.N) * float64(len(speech)) / pcm.SampleRate
	b.ReportMetric(100*vo.Seconds()/secs, "voice-cpu-%")
	b.ReportMetric(100*loud.Seconds()/secs, "loudness-cpu-%")
	b.ReportMetric(100*enc.Seconds()/secs, "mp3-cpu-%")
	b.ReportMetric(vo.Seconds()/enc.Seconds(), "voice/mp3")
	b.ReportMetric(loud.Seconds()/enc.Seconds(), "loudness/mp3")
	b.ReportMetric((vo+loud).Seconds()/enc.Seconds(), "both/mp3")
	// Within the frame clock: the slowest frame against the 20 ms each one lasts.
	b.ReportMetric(float64(voiceSlowest.Microseconds()), "voice-slowest-frame-us")
}

// A voice that gets quieter for good (the presenter steps back, 16 dB: more than the pauses'
// gate) is followed: the gain finds the target again. Steady noise is not followed
// (TestLevelHoldsInPauses).
func TestLevelFollowsAQuieterVoice(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	in := integrated(t, clean)
	near, far := quieter(clean, in, voice.DefaultTarget-10), quieter(clean, in, voice.DefaultTarget-26)
	out := process(t, voice.Options{Level: true}, append(append([]int16(nil), near...), far...))
	const sec = pcm.SampleRate
	got := integrated(t, out[len(out)-15*sec:])
	t.Logf("the voice 16 dB quieter after %d s: its last 15 s at %.2f LUFS", len(near)/sec, got)
	if math.Abs(got-voice.DefaultTarget) > 1 {
		t.Errorf("the quieter voice's last 15 s at %.2f LUFS, want %.0f ± 1", got, voice.DefaultTarget)
	}
}

// BenchmarkLevel: what the level control alone costs per second of audio, frame by frame on
// noisy speech, as Process runs in the pipeline.
func BenchmarkLevel(b *testing.B) {
	_, speech := audiotest.NoisySpeech(b, 10)
	buf := make([]int16, pcm.FrameSamples)
	p, err := voice.New(voice.Options{Level: true})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	b.ResetTimer()
	for range b.N {
		for pos := 0; pos+pcm.FrameSamples <= len(speech); pos += pcm.FrameSamples {
			copy(buf, speech[pos:])
			p.Process(buf)
		}
	}
	secs := float64(b.N) * float64(len(speech)) / pcm.SampleRate
	b.ReportMetric(100*b.Elapsed().Seconds()/secs, "level-cpu-%")
}

// Options the level control cannot honour are refused, not quietly changed.
func TestRefusesUnreachableTarget(t *testing.T) {
	for _, target := range []float64{-60, voice.MinTarget - 1, voice.MaxTarget + 1, -5} {
		if _, err := voice.New(voice.Options{Level: true, Target: target}); err == nil {
			t.Errorf("target %v LUFS accepted", target)
		}
	}
}
