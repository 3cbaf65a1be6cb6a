package loudness_test

import (
	"math"
	"path/filepath"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/loudness"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// measure runs samples through a meter frame by frame, as the pipeline does.
func measure(t *testing.T, samples []int16) (loudness.Result, *loudness.Meter) {
	t.Helper()
	m, err := loudness.NewMeter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for pos := 0; pos < len(samples); pos += pcm.FrameSamples {
		end := min(pos+pcm.FrameSamples, len(samples))
		if err := m.WriteFrame(audio.Frame{Pos: int64(pos), Samples: samples[pos:end]}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := m.Result()
	if err != nil {
		t.Fatal(err)
	}
	return r, m
}

// The meter agrees with ffmpeg's ebur128 filter, another implementation, on speech and tones.
func TestMeterAgreesWithFFmpeg(t *testing.T) {
	dir := t.TempDir()
	quiet := audiotest.Tone(10*time.Second, 997, 1000)
	loud := audiotest.Tone(10*time.Second, 997, 16000)
	for _, tc := range []struct {
		name    string
		samples []int16
	}{
		{"speech", audiotest.ReadWAV(t, audiotest.Speech(t, false))},
		{"tone-30dBFS", quiet},
		{"tone-6dBFS", loud},
		{"tone-then-silence", append(append([]int16{}, loud...), make([]int16, pcm.Samples(10*time.Second))...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wav := filepath.Join(dir, tc.name+".wav")
			audiotest.WriteWAV(t, wav, tc.samples)
			wantI, wantLRA := audiotest.FFmpegLoudness(t, wav)
			got, _ := measure(t, tc.samples)
			t.Logf("integrated %.2f LUFS (ffmpeg %.1f), range %.2f LU (ffmpeg %.1f), peak %.4f", got.Integrated, wantI, got.Range, wantLRA, got.Peak)
			if math.Abs(got.Integrated-wantI) > 0.2 {
				t.Errorf("integrated %.2f LUFS, ffmpeg says %.1f", got.Integrated, wantI)
			}
			var peak int
			for _, s := range tc.samples {
				peak = max(peak, int(math.Abs(float64(s))))
			}
			if want := float64(peak) / 32768; math.Abs(got.Peak-want) > 1e-4 {
				t.Errorf("peak %.5f, the samples' is %.5f", got.Peak, want)
			}
		})
	}
}

// Momentary and short-term loudness, as the window shows them every 100 ms, agree with
// ffmpeg's ebur128 meter at each of its 100 ms readings of the same speech.
func TestMeterFollowsFFmpeg(t *testing.T) {
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	wav := filepath.Join(t.TempDir(), "speech.wav")
	audiotest.WriteWAV(t, wav, speech)
	want := audiotest.FFmpegMeter(t, wav)
	m, err := loudness.NewMeter()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var worstM, worstS float64
	compared := 0
	for _, r := range want {
		end := int(math.Round(r.T*10)) * pcm.SampleRate / 10
		if end > len(speech) {
			break
		}
		for pos := end - pcm.SampleRate/10; pos < end; pos += pcm.FrameSamples {
			m.WriteFrame(audio.Frame{Pos: int64(pos), Samples: speech[pos : pos+pcm.FrameSamples]})
		}
		if r.M > loudness.Silent+10 {
			worstM = max(worstM, math.Abs(m.Momentary()-r.M))
		}
		if r.S > loudness.Silent+10 {
			worstS = max(worstS, math.Abs(m.ShortTerm()-r.S))
			compared++
		}
	}
	t.Logf("%d readings of %d: worst momentary %.2f LU, short-term %.2f LU off ffmpeg's", compared, len(want), worstM, worstS)
	if compared < len(want)/2 || worstM > 0.15 || worstS > 0.15 {
		t.Errorf("%d readings compared: momentary up to %.2f LU, short-term up to %.2f LU off ffmpeg's (ffmpeg rounds to 0.1)", compared, worstM, worstS)
	}
}

// EBU Tech 3342's first case: 20 s of a tone, then 20 s of it 10 dB quieter, has a
// loudness range of 10 LU (±1). The range is checked against Tech 3342, not ffmpeg: the two
// implementations gate short-term windows differently (a tone that stops: ffmpeg 4.8 LU,
// libebur128 1.7 LU), while they agree on integrated loudness to 0.1 LU.
func TestMeterRangeTech3342(t *testing.T) {
	a := audiotest.Tone(20*time.Second, 1000, 3277)
	b := audiotest.Tone(20*time.Second, 1000, 3277/math.Sqrt(10))
	r, _ := measure(t, append(a, b...))
	if math.Abs(r.Range-10) > 1 {
		t.Errorf("loudness range %.2f LU, want 10 ± 1", r.Range)
	}
}

// A tone 24 dB louder measures 24 LU louder; silence measures nothing at all.
func TestMeterScale(t *testing.T) {
	quiet, _ := measure(t, audiotest.Tone(5*time.Second, 997, 1000))
	loud, m := measure(t, audiotest.Tone(5*time.Second, 997, 1000*math.Pow(10, 24.0/20)))
	if d := loud.Integrated - quiet.Integrated; math.Abs(d-24) > 0.05 {
		t.Errorf("24 dB louder measured %.2f LU louder (%.2f vs %.2f LUFS)", d, loud.Integrated, quiet.Integrated)
	}
	if math.Abs(m.Momentary()-loud.Integrated) > 0.1 || math.Abs(m.ShortTerm()-loud.Integrated) > 0.1 {
		t.Errorf("steady tone: momentary %.2f and short-term %.2f, integrated %.2f", m.Momentary(), m.ShortTerm(), loud.Integrated)
	}
	silent, m := measure(t, make([]int16, pcm.Samples(5*time.Second)))
	if silent.Measured() || silent.Integrated != loudness.Silent || m.Momentary() != loudness.Silent || silent.Peak != 0 {
		t.Errorf("silence: %+v, momentary %v", silent, m.Momentary())
	}
}

// The meter runs on the pipeline's consumer for every frame: it must not allocate.
func TestMeterAllocatesNothing(t *testing.T) {
	m, err := loudness.NewMeter()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f := audio.Frame{Samples: audiotest.Tone(20*time.Millisecond, 440, 8000)}
	if n := testing.AllocsPerRun(500, func() { m.WriteFrame(f) }); n != 0 {
		t.Errorf("%.1f allocations per frame", n)
	}
}
