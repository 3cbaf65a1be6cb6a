// Package audiotest is the sound half of Podium's test kit (podium/scripts/testkit is the
// rest): the speech fixture, the virtual microphone, WAV files and tones, a real MP3 decoder
// (ffmpeg), ffprobe's reading of tags and alignment-aware correlation. It lives inside the
// kit it stands on, so every arrow from the packages under test points into scripts/testkit.
package audiotest

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/cmplx"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// Root is the repository's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

var fixtureMu sync.Mutex

// Speech returns the path of the ~26 s speech fixture (48 kHz mono 16-bit), making it first
// if needed. With bench set it returns the 10-minute one.
func Speech(t testing.TB, bench bool) string {
	t.Helper()
	fixtureMu.Lock()
	defer fixtureMu.Unlock()
	name, arg := "speech48.wav", ""
	if bench {
		name, arg = "speech10min.wav", "bench"
	}
	p := filepath.Join(Root(), "testdata", "gen", name)
	if st, err := os.Stat(p); err == nil && st.Size() > 0 {
		return p
	}
	cmd := exec.Command("bash", filepath.Join(Root(), "scripts", "fixtures.sh"), arg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make speech fixture (needs espeak-ng and sox: run make test): %v\n%s", err, out)
	}
	return p
}

// VirtualMic starts the user-mode PulseAudio with the virtual source "vmic" (scripts/vmic.sh)
// and points this process at it.
func VirtualMic(t testing.TB) {
	t.Helper()
	testkit.Need(t, "pulseaudio", "pactl", "paplay")
	if os.Getenv("XDG_RUNTIME_DIR") == "" {
		os.Setenv("XDG_RUNTIME_DIR", "/tmp/podium-pulse")
	}
	out, err := exec.Command("bash", filepath.Join(Root(), "scripts", "vmic.sh"), "start").CombinedOutput()
	if err != nil {
		t.Fatalf("start virtual microphone: %v\n%s", err, out)
	}
}

// Play plays a WAV file into the virtual microphone and returns when it has been played.
func Play(t testing.TB, wav string) {
	t.Helper()
	PlayFor(t, wav, 0)
}

// PlayFor plays at most d of a WAV file (all of it when d is 0) into the virtual microphone.
func PlayFor(t testing.TB, wav string, d time.Duration) {
	t.Helper()
	ctx := context.Background()
	if d > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	// A second of buffer in the server: with 200 ms, paplay starved by a busy machine (a
	// -race run beside the test) ran dry and the sink played silence into the middle of
	// the speech, which shifted everything after it.
	out, err := exec.CommandContext(ctx, "paplay", "--device=vspk", "--latency-msec=1000", wav).CombinedOutput()
	if err != nil && d == 0 {
		t.Errorf("paplay %s: %v\n%s", wav, err, out)
	}
}

// Decode decodes a recording (MP3, or Opus in MP4) with ffmpeg to 48 kHz mono samples.
func Decode(t testing.TB, path string) []int16 {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "48000", "-")
	cmd.Stderr = &stderr
	raw, err := cmd.Output()
	if err != nil {
		t.Fatalf("decode %s: %v\n%s", path, err, stderr.String())
	}
	if s := strings.TrimSpace(stderr.String()); s != "" {
		t.Errorf("ffmpeg complained decoding %s: %s", path, s)
	}
	pcm := make([]int16, len(raw)/2)
	binary.Read(bytes.NewReader(raw[:2*len(pcm)]), binary.LittleEndian, pcm)
	return pcm
}

// DecodeBytes decodes data, a file named name (its extension tells ffmpeg the format
// where the content does not), as Decode does.
func DecodeBytes(t testing.TB, data []byte, name string) []int16 {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return Decode(t, path)
}

// ProbeDuration is the duration ffprobe reports for a file, from its header.
func ProbeDuration(t testing.TB, path string) time.Duration {
	t.Helper()
	testkit.Need(t, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var secs float64
	if _, err := fmt.Sscan(strings.TrimSpace(string(out)), &secs); err != nil {
		t.Fatalf("ffprobe %s: duration %q: %v", path, out, err)
	}
	return time.Duration(secs * float64(time.Second))
}

// Align finds the lag (in samples) at which got best matches want, by FFT cross-correlation:
// got[i+lag] ≈ want[i]. maxLag bounds the search either way.
func Align(want, got []int16, maxLag int) int {
	n := 1
	for n < len(want)+len(got) {
		n <<= 1
	}
	a := make([]complex128, n)
	b := make([]complex128, n)
	for i, v := range want {
		a[i] = complex(float64(v), 0)
	}
	for i, v := range got {
		b[i] = complex(float64(v), 0)
	}
	fft(a, false)
	fft(b, false)
	for i := range a {
		a[i] = b[i] * cmplx.Conj(a[i])
	}
	fft(a, true)
	best, bestLag := math.Inf(-1), 0
	for lag := -maxLag; lag <= maxLag; lag++ {
		v := real(a[(lag+n)%n])
		if v > best {
			best, bestLag = v, lag
		}
	}
	return bestLag
}

// Correlate aligns got to want and returns the Pearson correlation over their overlap, the
// lag, and the overlap's length.
func Correlate(want, got []int16, maxLag int) (corr float64, lag, overlap int) {
	lag = Align(want, got, maxLag)
	w, g := want, got
	if lag >= 0 {
		g = g[min(lag, len(g)):]
	} else {
		w = w[min(-lag, len(w)):]
	}
	n := min(len(w), len(g))
	return Pearson(w[:n], g[:n]), lag, n
}

// Piece is one stretch of played speech found in a capture: it starts at sample At of what
// was played and at At+Lag of what was captured, and correlates Corr there.
type Piece struct {
	At, Lag int
	Corr    float64
}

// Follow walks a capture through the speech played into it 2 s at a time, starting from the
// lag of a whole-file alignment and finding each stretch again within ±0.5 s of the last,
// so that a shift in the middle (the player ran dry, or captured audio was lost) shows as a
// change of Lag from one piece to the next. Stretches quieter than -45 dBFS are skipped:
// there is nothing in them to align.
func Follow(want, got []int16, lag int) []Piece {
	const seg, slack = 2 * 48000, 48000 / 2
	var out []Piece
	for at := 0; at+seg <= len(want); at += seg {
		w := want[at : at+seg]
		if RMS(w) < -45 {
			continue
		}
		lo, hi := max(at+lag-slack, 0), min(at+lag+seg+slack, len(got))
		if hi-lo < seg {
			break
		}
		l := lo + Align(w, got[lo:hi], hi-lo-seg) - at
		if at+l < 0 || at+l+seg > len(got) {
			break
		}
		lag = l
		out = append(out, Piece{At: at, Lag: l, Corr: Pearson(w, got[at+l:at+l+seg])})
	}
	return out
}

// MatchCaptured checks that a capture of speech played into the virtual microphone holds
// that speech, correlating at least minCorr, and returns the lag. A capture can also be
// shifted in the middle by the test's own player: paplay starved by a busy machine runs dry
// and the sink plays silence for a moment, so everything after comes later (seen in CI at
// 0.83 over the whole file). That is allowed, and said; every stretch must still match at
// its own lag, and a lag that shrinks means captured audio was lost, which fails.
func MatchCaptured(t testing.TB, want, got []int16, minCorr float64) (lag int) {
	t.Helper()
	corr, lag, overlap := Correlate(want, got, 3*48000)
	t.Logf("captured audio correlates %.4f with the speech played, at lag %d ms, over %d samples", corr, lag/48, overlap)
	if corr >= minCorr {
		return lag
	}
	pieces := Follow(want, got, lag)
	if len(pieces) < len(want)/(4*48000) {
		t.Errorf("captured audio correlates %.3f with the speech played, want ≥ %.2f, and only %d stretches of it were found", corr, minCorr, len(pieces))
		return lag
	}
	for i, p := range pieces {
		switch {
		case p.Corr < minCorr:
			t.Errorf("the speech from %.1f s correlates %.3f with what was captured at lag %d ms, want ≥ %.2f", float64(p.At)/48000, p.Corr, p.Lag/48, minCorr)
		case i > 0 && p.Lag < pieces[i-1].Lag-48:
			t.Errorf("captured audio lost before %.1f s of the speech: the lag went from %d ms to %d ms", float64(p.At)/48000, pieces[i-1].Lag/48, p.Lag/48)
		case i > 0 && p.Lag > pieces[i-1].Lag+48:
			t.Logf("the player ran dry before %.1f s of the speech: it came %d ms later (lag %d ms), which the capture kept", float64(p.At)/48000, (p.Lag-pieces[i-1].Lag)/48, p.Lag/48)
		}
	}
	return lag
}

// Pearson is the correlation coefficient of two equally long signals.
func Pearson(a, b []int16) float64 {
	n := float64(len(a))
	if n == 0 {
		return 0
	}
	var sa, sb, saa, sbb, sab float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		sa += x
		sb += y
		saa += x * x
		sbb += y * y
		sab += x * y
	}
	cov := sab - sa*sb/n
	va := saa - sa*sa/n
	vb := sbb - sb*sb/n
	if va <= 0 || vb <= 0 {
		return 0
	}
	return cov / math.Sqrt(va*vb)
}

// RMS is the root mean square of p in dBFS.
func RMS(p []int16) float64 {
	var s float64
	for _, v := range p {
		s += float64(v) * float64(v)
	}
	if len(p) == 0 || s == 0 {
		return -120
	}
	return 20 * math.Log10(math.Sqrt(s/float64(len(p)))/32768)
}

// fft is an in-place radix-2 transform; len(x) must be a power of two.
func fft(x []complex128, inverse bool) {
	n := len(x)
	for i, j := 1, 0; i < n; i++ {
		bit := n >> 1
		for ; j&bit != 0; bit >>= 1 {
			j ^= bit
		}
		j ^= bit
		if i < j {
			x[i], x[j] = x[j], x[i]
		}
	}
	sign := -1.0
	if inverse {
		sign = 1
	}
	for size := 2; size <= n; size <<= 1 {
		w := cmplx.Exp(complex(0, sign*2*math.Pi/float64(size)))
		for start := 0; start < n; start += size {
			wk := complex(1, 0)
			for k := 0; k < size/2; k++ {
				u, v := x[start+k], x[start+k+size/2]*wk
				x[start+k], x[start+k+size/2] = u+v, u-v
				wk *= w
			}
		}
	}
	if inverse {
		for i := range x {
			x[i] /= complex(float64(n), 0)
		}
	}
}

// ReadWAV reads a whole 16-bit WAV file as mono samples.
func ReadWAV(t testing.TB, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := audio.NewWAVReader(f)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var all []int16
	buf := make([]int16, 8192)
	for {
		n, err := r.ReadSamples(buf)
		all = append(all, buf[:n]...)
		if err == io.EOF {
			return all
		}
		if err != nil {
			t.Fatalf("read %s: %v", path, err)
		}
	}
}

// WriteWAV writes samples to path as a 48 kHz mono 16-bit WAV file.
func WriteWAV(t testing.TB, path string, samples []int16) {
	t.Helper()
	var b bytes.Buffer
	if err := audio.WriteWAV(&b, pcm.SampleRate, samples); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
}

// Tone is d of a sine at hz with the given peak amplitude, at 48 kHz.
func Tone(d time.Duration, hz, peak float64) []int16 {
	out := make([]int16, pcm.Samples(d))
	for i := range out {
		out[i] = int16(peak * math.Sin(2*math.Pi*hz*float64(i)/pcm.SampleRate))
	}
	return out
}

// FFmpegLoudness is ffmpeg's own EBU R128 measurement of a file (its ebur128 filter, a
// separate implementation from libebur128): integrated loudness in LUFS and loudness range
// in LU, from the filter's summary.
func FFmpegLoudness(t testing.TB, path string) (integrated, lra float64) {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	out, err := exec.Command("ffmpeg", "-nostats", "-hide_banner", "-i", path, "-af", "ebur128", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg ebur128 %s: %v\n%s", path, err, testkit.Tail(string(out), 10))
	}
	s := string(out)
	i := strings.LastIndex(s, "Summary:")
	if i < 0 {
		t.Fatalf("ffmpeg ebur128 %s: no summary:\n%s", path, testkit.Tail(s, 10))
	}
	field := func(name string) float64 {
		j := strings.Index(s[i:], name)
		if j < 0 {
			t.Fatalf("ffmpeg ebur128 %s: no %q in the summary:\n%s", path, name, s[i:])
		}
		var v float64
		if _, err := fmt.Sscan(s[i+j+len(name):], &v); err != nil {
			t.Fatalf("ffmpeg ebur128 %s: %s: %v", path, name, err)
		}
		return v
	}
	return field("I:"), field("LRA:")
}

// MeterReading is one line of ffmpeg's ebur128 frame log: momentary and short-term loudness
// in LUFS at T seconds, every 100 ms.
type MeterReading struct{ T, M, S float64 }

// FFmpegMeter is ffmpeg's ebur128 filter's meter over a file, as it logs it every 100 ms.
func FFmpegMeter(t testing.TB, path string) []MeterReading {
	t.Helper()
	testkit.Need(t, "ffmpeg")
	out, err := exec.Command("ffmpeg", "-nostats", "-hide_banner", "-v", "verbose", "-i", path, "-af", "ebur128=framelog=verbose", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg ebur128 %s: %v\n%s", path, err, testkit.Tail(string(out), 10))
	}
	var rs []MeterReading
	for _, line := range strings.Split(string(out), "\n") {
		i := strings.Index(line, "] t: ")
		if i < 0 || !strings.Contains(line, "Parsed_ebur128") {
			continue
		}
		var r MeterReading
		for _, f := range []struct {
			name string
			v    *float64
		}{{"t:", &r.T}, {" M:", &r.M}, {" S:", &r.S}} {
			j := strings.Index(line[i:], f.name)
			if j < 0 {
				t.Fatalf("ffmpeg ebur128 %s: no %q in %q", path, f.name, line)
			}
			if _, err := fmt.Sscan(line[i+j+len(f.name):], f.v); err != nil {
				t.Fatalf("ffmpeg ebur128 %s: %q: %v", path, line, err)
			}
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		t.Fatalf("ffmpeg ebur128 %s: no frame log:\n%s", path, testkit.Tail(string(out), 10))
	}
	return rs
}

// WindowCorrelation aligns got with want as a whole, then walks want in windows of win samples,
// aligning each again within ±150 ms of where the previous one was found (so time
// stretching accumulates), and returns the median correlation over windows with speech
// in them, how many there were, and the overall lag.
func WindowCorrelation(want, got []int16, win int) (median float64, n, lag int) {
	lag = Align(want, got, len(got))
	// Short windows: one NetEq time-stretch (a few ms cut or added inside a window) spoils
	// only the window it falls in.
	const slack = 3 * pcm.SampleRate / 20
	var corrs []float64
	off := lag
	for a := 0; a+win <= len(want); a += win {
		w := want[a : a+win]
		if RMS(w) < -40 {
			continue // a pause: nothing to compare
		}
		s0 := a + off - slack
		if s0 < 0 || s0+win+2*slack > len(got) {
			continue
		}
		g := got[s0 : s0+win+2*slack]
		l := Align(w, g, 2*slack)
		if l < 0 {
			l = 0
		}
		corrs = append(corrs, Pearson(w, g[l:l+win]))
		off = s0 + l - a
	}
	if len(corrs) == 0 {
		return 0, 0, lag
	}
	slices.Sort(corrs)
	return corrs[len(corrs)/2], len(corrs), lag
}
