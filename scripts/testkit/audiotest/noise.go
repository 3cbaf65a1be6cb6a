package audiotest

import (
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"podium/audio/pcm"
)

// RoomNoise is a noise fixture as long as the speech fixture, made by sox the first time:
// pink noise (fans, air conditioning) with a 50 Hz mains hum and its second harmonic, the hum
// 6 dB under the pink noise.
func RoomNoise(t testing.TB) []int16 {
	t.Helper()
	speech := Speech(t, false)
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	dir := filepath.Join(Root(), "testdata", "gen")
	out, err := exec.Command("soxi", "-D", speech).Output()
	if err != nil {
		t.Fatalf("soxi %s (needs sox: run make test): %v", speech, err)
	}
	var secs float64
	fmt.Sscan(string(out), &secs)
	dur := fmt.Sprintf("%.3f", secs)
	part := func(name string, synth ...string) []int16 {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			// -R: the same noise on every run and every machine.
			args := append([]string{"-R", "-n", "-r", "48000", "-c", "1", "-b", "16", p + ".tmp.wav", "synth", dur}, synth...)
			if out, err := exec.Command("sox", args...).CombinedOutput(); err != nil {
				t.Fatalf("make noise fixture: sox %v: %v\n%s", args, err, out)
			}
			if err := os.Rename(p+".tmp.wav", p); err != nil {
				t.Fatal(err)
			}
		}
		return ReadWAV(t, p)
	}
	pink := part("pink48.wav", "pinknoise")
	hum := part("hum50.wav", "sine", "50")
	harm := part("hum100.wav", "sine", "100")
	n := min(len(pink), len(hum), len(harm))
	humSum := make([]float64, n)
	var hp float64
	for i := range humSum {
		humSum[i] = float64(hum[i]) + float64(harm[i])/2
		hp += humSum[i] * humSum[i]
	}
	g := math.Sqrt(power(pink) / (hp / float64(n)) / 4) // hum 6 dB under the pink noise
	mix := make([]int16, n)
	for i := range mix {
		mix[i] = clip((float64(pink[i]) + g*humSum[i]) / 2)
	}
	return mix
}

func power(p []int16) float64 {
	var s float64
	for _, v := range p {
		s += float64(v) * float64(v)
	}
	return s / float64(max(1, len(p)))
}

// NoisySpeech is the speech fixture with RoomNoise mixed in at snr dB (the speech's RMS while
// it is speaking against the noise's), returned with the clean speech it was made from.
func NoisySpeech(t testing.TB, snr float64) (clean, noisy []int16) {
	t.Helper()
	clean = ReadWAV(t, Speech(t, false))
	noise := RoomNoise(t)
	var sp float64
	var n int
	for i, on := range Speaking(clean) {
		if on {
			sp += power(clean[i*pcm.FrameSamples : (i+1)*pcm.FrameSamples])
			n++
		}
	}
	sp /= float64(n)
	np := power(noise)
	g := math.Sqrt(sp / np / math.Pow(10, snr/10))
	noisy = make([]int16, len(clean))
	for i, v := range clean {
		var x float64
		if i < len(noise) {
			x = float64(noise[i])
		}
		noisy[i] = clip(float64(v) + g*x)
	}
	return clean, noisy
}

// Speaking marks each 20 ms frame of clean speech in which someone speaks: louder than
// -50 dBFS. espeak-ng's pauses between words and sentences are digital silence.
func Speaking(clean []int16) []bool {
	out := make([]bool, len(clean)/pcm.FrameSamples)
	for i := range out {
		out[i] = RMS(clean[i*pcm.FrameSamples:(i+1)*pcm.FrameSamples]) > -50
	}
	return out
}

// NoiseFloor is the level of got in the pauses of the clean speech it was made from (aligned:
// got[i+lag] is clean's sample i), over the 20 ms frames at least 100 ms from any speech: the
// median frame level in dBFS (the floor a listener hears between words; a suppressor's brief
// bursts do not move it), the level of all their power together (which they do), and how many
// frames there are.
func NoiseFloor(clean, got []int16, lag int) (median, all float64, frames int) {
	speaking := Speaking(clean)
	var levels []float64
	var p float64
	for i := range speaking {
		quiet := true
		for j := max(0, i-5); j <= min(len(speaking)-1, i+5); j++ {
			quiet = quiet && !speaking[j]
		}
		lo := i*pcm.FrameSamples + lag
		if !quiet || lo < 0 || lo+pcm.FrameSamples > len(got) {
			continue
		}
		f := got[lo : lo+pcm.FrameSamples]
		levels = append(levels, RMS(f))
		p += power(f)
	}
	if len(levels) == 0 {
		return -120, -120, 0
	}
	slices.Sort(levels)
	all = -120.0
	if p > 0 {
		all = 10 * math.Log10(p/float64(len(levels))/(32768*32768))
	}
	return levels[len(levels)/2], all, len(levels)
}

func clip(x float64) int16 {
	return int16(max(-32768, min(32767, math.Round(x))))
}
