package voice

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/audiotest"
	"podium/audio/loudness"
	"podium/audio/mp3"
	"podium/audio/pcm"
)

func run(t *testing.T, o Options, in []int16) []int16 {
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	out := append([]int16(nil), in...)
	for i := 0; i < len(out); i += pcm.FrameSamples {
		if err := p.Process(out[i:min(len(out), i+pcm.FrameSamples)]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func lufs(t *testing.T, s []int16) float64 {
	m, err := loudness.NewMeter()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 0; i+pcm.FrameSamples <= len(s); i += pcm.FrameSamples {
		m.WriteFrame(audio.Frame{Samples: s[i : i+pcm.FrameSamples]})
	}
	r, _ := m.Result()
	return r.Integrated
}

func TestSpeexVariants(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	fl, _ := audiotest.Gaps(clean, noisy, 0)
	for _, v := range []int{-30, -60, -30 + 1000, -60 + 1000, -30 + 2000, -60 + 2000} {
		speexFrame = []int{960, 480, 240}[(v+100)/1000]
		v = (v+100)%1000 - 100
		speexSuppress = v
		out := run(t, Options{Denoise: true}, noisy)
		c, lag, _ := audiotest.Correlate(clean, out, 2000)
		f, _ := audiotest.Gaps(clean, out, lag)
		audiotest.WriteWAV(t, fmt.Sprintf("/tmp/speex%d.wav", -v), out)
		out = run(t, Options{Denoise: true}, clean)
		cc, _, _ := audiotest.Correlate(clean, out, 2000)
		t.Logf("frame %d suppress %d: drop %.1f corr %.3f clean corr %.3f", speexFrame, v, fl-f, c, cc)
	}
}

func TestNoiseKinds(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	for _, name := range []string{"pink48.wav", "hum50.wav", "hum100.wav"} {
		noise := audiotest.ReadWAV(t, audiotest.Root()+"/testdata/gen/"+name)
		g := 0.03
		noisy := make([]int16, min(len(clean), len(noise)))
		for i := range noisy {
			noisy[i] = clean[i] + int16(g*float64(noise[i]))
		}
		fl, _ := audiotest.Gaps(clean, noisy, 0)
		for _, b := range []string{"speex", "apm"} {
			for _, h := range []int{0, 1} {
				apmHPF = h
				out := run(t, Options{Denoise: true, Backend: b}, noisy)
				c, lag, _ := audiotest.Correlate(clean, out, 2000)
				f, _ := audiotest.Gaps(clean, out, lag)
				t.Logf("%s %s hpf %d: floor %.1f drop %.1f corr %.3f", name, b, h, fl, fl-f, c)
			}
		}
	}
}

func TestAPMVariants(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	fl, _ := audiotest.Gaps(clean, noisy, 0)
	for _, v := range [][2]int{{1, 2}, {0, 2}, {0, 1}, {0, 0}, {0, 3}, {1, 1}} {
		apmHPF, apmNS = v[0], v[1]
		out := run(t, Options{Denoise: true, Backend: "apm"}, noisy)
		c, lag, _ := audiotest.Correlate(clean, out, 2000)
		f, _ := audiotest.Gaps(clean, out, lag)
		out = run(t, Options{Denoise: true, Backend: "apm"}, clean)
		cc, _, _ := audiotest.Correlate(clean, out, 2000)
		t.Logf("hpf %d ns %d: drop %.1f corr %.3f clean corr %.3f", v[0], v[1], fl-f, c, cc)
	}
	apmHPF, apmNS = 0, 2
	for _, v := range [][2]int{{3, 9}, {1, 9}, {0, 9}, {3, 15}, {1, 3}, {0, 0}, {6, 9}} {
		apmTarget, apmGain = v[0], v[1]
		quiet := make([]int16, len(clean))
		for i, x := range clean {
			quiet[i] = int16(float64(x) / 10)
		}
		out := run(t, Options{Level: true, Backend: "apm"}, quiet)
		o2 := run(t, Options{Level: true, Backend: "apm"}, clean)
		cc, _, _ := audiotest.Correlate(clean, o2, 2000)
		t.Logf("target %d gain %d: quiet -> %.1f, clean -> %.1f corr %.3f", v[0], v[1], lufs(t, out), lufs(t, o2), cc)
	}
	apmTarget, apmGain = 3, 9
	for _, lv := range []float64{32000, 64000, 128000} {
		speexTarget = int(lv)
		quiet := make([]int16, len(clean))
		for i, x := range clean {
			quiet[i] = int16(float64(x) / 10)
		}
		out := run(t, Options{Level: true}, quiet)
		o2 := run(t, Options{Level: true}, clean)
		cc, _, _ := audiotest.Correlate(clean, o2, 2000)
		t.Logf("speex level %.0f: quiet -> %.1f, clean -> %.1f corr %.3f", lv, lufs(t, out), lufs(t, o2), cc)
	}
}

func TestCompare(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	audiotest.WriteWAV(t, "/tmp/noisy.wav", noisy)
	fl, _ := audiotest.Gaps(clean, noisy, 0)
	c0, _, _ := audiotest.Correlate(clean, noisy, 2000)
	t.Logf("raw: floor %.1f corr %.3f lufs %.1f", fl, c0, lufs(t, noisy))
	quiet := make([]int16, len(clean))
	for i, v := range clean {
		quiet[i] = int16(float64(v) / 10)
	}
	t.Logf("clean lufs %.1f quiet lufs %.1f", lufs(t, clean), lufs(t, quiet))
	for _, b := range []string{"speex", "apm"} {
		out := run(t, Options{Denoise: true, Backend: b}, noisy)
		audiotest.WriteWAV(t, fmt.Sprintf("/tmp/ns_%s.wav", b), out)
		c, lag, _ := audiotest.Correlate(clean, out, 2000)
		f, n := audiotest.Gaps(clean, out, lag)
		t.Logf("%s NS: floor %.1f (drop %.1f, %d frames) corr %.3f lag %d", b, f, fl-f, n, c, lag)
		out = run(t, Options{Denoise: true, Level: true, Backend: b}, clean)
		c, lag, _ = audiotest.Correlate(clean, out, 2000)
		t.Logf("%s clean NS+AGC: corr %.3f lag %d lufs %.1f", b, c, lag, lufs(t, out))
		out = run(t, Options{Denoise: true, Backend: b}, clean)
		c, lag, _ = audiotest.Correlate(clean, out, 2000)
		t.Logf("%s clean NS: corr %.3f lag %d", b, c, lag)
		out = run(t, Options{Level: true, Backend: b}, quiet)
		audiotest.WriteWAV(t, fmt.Sprintf("/tmp/agc_%s.wav", b), out)
		t.Logf("%s quiet AGC: lufs %.1f", b, lufs(t, out))
	}
	_ = os.Stdout
}

func TestBands(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	speexFrame, speexSuppress = 960, -30
	out := run(t, Options{Denoise: true}, noisy)
	audiotest.WriteWAV(t, "/tmp/b_raw.wav", noisy)
	audiotest.WriteWAV(t, "/tmp/b_sp.wav", out)
	apmHPF, apmNS = 1, 2
	audiotest.WriteWAV(t, "/tmp/b_apm.wav", run(t, Options{Denoise: true, Backend: "apm"}, noisy))
	for _, band := range [][2]string{{"sinc", "-100"}, {"sinc", "100-1000"}, {"sinc", "1000-4000"}, {"sinc", "4000-24000"}} {
		for _, f := range []string{"raw", "sp", "apm"} {
			exec.Command("sox", "/tmp/b_"+f+".wav", "/tmp/bb.wav", band[0], band[1]).Run()
			x := audiotest.ReadWAV(t, "/tmp/bb.wav")
			lag := map[string]int{"raw": 0, "sp": 960, "apm": 335}[f]
			db, _ := audiotest.Gaps(clean, x, lag)
			t.Logf("%s %s gap %.1f", band[1], f, db)
		}
	}
}

func TestAPMClean(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	audiotest.WriteWAV(t, "/tmp/c_clean.wav", clean)
	for _, v := range [][3]int{{1, 2, 1}, {0, 2, 1}, {0, 0, 1}, {1, 2, 0}} {
		apmHPF, apmNS = v[0], v[1]
		out := run(t, Options{Denoise: v[2] == 1, Backend: "apm"}, clean)
		c, lag, _ := audiotest.Correlate(clean, out, 2000)
		audiotest.WriteWAV(t, "/tmp/c_apm.wav", out)
		exec.Command("sox", "/tmp/c_apm.wav", "/tmp/c_apm8.wav", "sinc", "-7000").Run()
		exec.Command("sox", "/tmp/c_clean.wav", "/tmp/c_clean8.wav", "sinc", "-7000").Run()
		exec.Command("sox", "/tmp/c_apm.wav", "/tmp/c_apmh.wav", "sinc", "300").Run()
		exec.Command("sox", "/tmp/c_clean.wav", "/tmp/c_cleanh.wav", "sinc", "300").Run()
		c8, _, _ := audiotest.Correlate(audiotest.ReadWAV(t, "/tmp/c_clean8.wav"), audiotest.ReadWAV(t, "/tmp/c_apm8.wav"), 2000)
		ch, _, _ := audiotest.Correlate(audiotest.ReadWAV(t, "/tmp/c_cleanh.wav"), audiotest.ReadWAV(t, "/tmp/c_apmh.wav"), 2000)
		t.Logf("%v: corr %.3f lag %d, below 7k %.3f above 300 %.3f", v, c, lag, c8, ch)
	}
}

func TestSpeexCascade(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	fl, _ := audiotest.Gaps(clean, noisy, 0)
	speexFrame = 960
	for _, v := range []int{-15, -20, -30} {
		speexSuppress = v
		out := run(t, Options{Denoise: true}, run(t, Options{Denoise: true}, noisy))
		c, lag, _ := audiotest.Correlate(clean, out, 4000)
		f, _ := audiotest.Gaps(clean, out, lag)
		audiotest.WriteWAV(t, "/tmp/cascade.wav", out)
		out = run(t, Options{Denoise: true}, run(t, Options{Denoise: true}, clean))
		cc, _, _ := audiotest.Correlate(clean, out, 4000)
		t.Logf("cascade %d: drop %.1f corr %.3f clean %.3f lag %d", v, fl-f, c, cc, lag)
	}
}

func TestGapTimes(t *testing.T) {
	clean, noisy := audiotest.NoisySpeech(t, 10)
	speexFrame, speexSuppress = 960, -30
	out := run(t, Options{Denoise: true}, noisy)
	apmHPF, apmNS = 1, 2
	apm := run(t, Options{Denoise: true, Backend: "apm"}, noisy)
	sp := audiotest.Speaking(clean)
	for i := range sp {
		quiet := true
		for j := max(0, i-5); j <= min(len(sp)-1, i+5); j++ {
			quiet = quiet && !sp[j]
		}
		if !quiet {
			continue
		}
		lo := i * 960
		t.Logf("%.2fs raw %.1f speex %.1f apm %.1f", float64(i)*0.02, audiotest.RMS(noisy[lo:lo+960]), audiotest.RMS(out[lo+960:lo+1920]), audiotest.RMS(apm[lo+335:lo+335+960]))
	}
}

func BenchmarkEngines(b *testing.B) {
	clean, noisy := audiotest.NoisySpeech(b, 10)
	_ = clean
	for _, c := range []struct {
		name string
		o    Options
	}{{"speexNS", Options{Denoise: true}}, {"speexNS480", Options{Denoise: true, Backend: "speex480"}}, {"speexNSAGC", Options{Denoise: true, Level: true}}, {"apmAGC", Options{Level: true, Backend: "apm"}}, {"apmNSAGC", Options{Denoise: true, Level: true, Backend: "apm"}}} {
		b.Run(c.name, func(b *testing.B) {
			apmHPF = 0
			if c.o.Denoise {
				apmHPF = 1
			}
			speexFrame = 960
			if c.o.Backend == "speex480" {
				speexFrame = 480
			}
			p, _ := New(c.o)
			defer p.Close()
			buf := make([]int16, 960)
			b.SetBytes(960 * 2)
			i := 0
			for b.Loop() {
				copy(buf, noisy[i:i+960])
				p.Process(buf)
				i += 960
				if i+960 > len(noisy) {
					i = 0
				}
			}
		})
	}
}

type hybrid struct{ a, b *Processor }

func (h hybrid) WriteFrame(f audio.Frame) error {
	h.a.Process(f.Samples)
	if h.b != nil {
		h.b.Process(f.Samples)
	}
	return nil
}

func BenchmarkRatio(b *testing.B) {
	_, speech := audiotest.NoisySpeech(b, 10)
	frames := func(sink audio.FrameSink) time.Duration {
		buf := make([]int16, 960)
		start := time.Now()
		for pos := 0; pos+pcm.FrameSamples <= len(speech); pos += pcm.FrameSamples {
			copy(buf, speech[pos:pos+960])
			sink.WriteFrame(audio.Frame{Pos: int64(pos), Samples: buf})
		}
		return time.Since(start)
	}
	var sp, hy, ap, loud, enc time.Duration
	for i := 0; i < b.N; i++ {
		p1, _ := New(Options{Denoise: true, Level: true})
		sp += frames(hybrid{p1, nil})
		p1.Close()
		p1, _ = New(Options{Denoise: true})
		apmHPF = 0
		p2, _ := New(Options{Level: true, Backend: "apm"})
		hy += frames(hybrid{p1, p2})
		p1.Close()
		p2.Close()
		apmHPF = 1
		p2, _ = New(Options{Denoise: true, Level: true, Backend: "apm"})
		ap += frames(hybrid{p2, nil})
		p2.Close()
		m, _ := loudness.NewMeter()
		loud += frames(m)
		m.Close()
		w, _ := mp3.Create(filepath.Join(b.TempDir(), "bench.mp3"), mp3.Options{})
		enc += frames(w)
		w.Close()
	}
	b.ReportMetric(sp.Seconds()/enc.Seconds(), "speex/mp3")
	b.ReportMetric(hy.Seconds()/enc.Seconds(), "hybrid/mp3")
	b.ReportMetric(ap.Seconds()/enc.Seconds(), "apm/mp3")
	b.ReportMetric(loud.Seconds()/enc.Seconds(), "loud/mp3")
}

func TestAPMUnity(t *testing.T) {
	clean := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	apmHPF, apmGain = 0, -1
	out := run(t, Options{Level: true, Backend: "apm"}, clean)
	c, lag, _ := audiotest.Correlate(clean, out, 2000)
	t.Logf("unity: corr %.4f lag %d lufs %.2f vs %.2f", c, lag, lufs(t, out), lufs(t, clean))
	apmGain = 9
}
