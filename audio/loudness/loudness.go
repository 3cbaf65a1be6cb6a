// Package loudness measures what is recorded as EBU R128 / ITU-R BS.1770 loudness: momentary
// (400 ms) and short-term (3 s) loudness for the meter, integrated loudness, loudness range and
// sample peak for the talk. It measures while the talk is recorded, so the figures (and the
// ReplayGain tags audio/mp3 makes of them) are ready at Stop without a second pass over the file.
//
// It is libebur128's histogram mode (the library ffmpeg's and most players' loudness scanners
// share, which Podium called through cgo before) redone in Go for mono: the same K-weighting
// filter, 100 ms blocks, gating and 0.1 LU histogram, so it gives the library's figures. In Go
// the filter is the only per-sample work: every longer window (400 ms, 3 s) is a mean of the
// 100 ms blocks' mean squares, where the library summed each window's samples again, up to
// twelve times per sample, and that made it a tenth of a --fast encode's CPU.
package loudness

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"podium/audio"
	"podium/audio/pcm"
)

// Silent is what a measurement reads before there is enough audio or while there is only
// silence (BS.1770 gates it away), instead of -Inf.
const Silent = -70.0

// updateEvery is how often the meter's values change: every 100 ms, the rate EBU R128
// asks of a loudness meter (at least 10 Hz), and the window's.
const updateEvery = pcm.SampleRate / 10

// Block is how many samples the meter takes between updates of Momentary and ShortTerm
// (updateEvery): the level control steers once per block.
const Block = updateEvery

// shortTermBlocks is how many updateEvery blocks make BS.1770's 3 s short-term window, and
// momentaryBlocks its 400 ms gating block (and momentary window).
const (
	shortTermBlocks = 30
	momentaryBlocks = 4
	// rangeHop is how often (in blocks) a short-term window goes into the loudness range's
	// histogram: every second, as libebur128 does.
	rangeHop = 10
)

// Meter is a FrameSink for the pipeline's consumer goroutine. The momentary and short-term
// values are published in atomics after each block, so the window reads them at its own pace
// and never waits for the pipeline. Its memory is fixed: the integrated loudness and range
// come from histograms of 0.1 LU bins, as libebur128's histogram mode, not from a list of
// every block of the talk.
type Meter struct {
	mu     sync.Mutex // everything below: WriteFrame against Result and Close
	closed bool
	k      kWeighting
	sum    float64 // K-weighted squares of the block so far
	held   int     // samples in the block so far
	// blocks holds the mean square of each of the last 3 s's 100 ms blocks (zeros before the
	// talk, as the library's buffer), so the momentary and short-term loudness are their means.
	blocks  [shortTermBlocks]float64
	block   int       // where the next block goes in blocks
	nblocks int64     // blocks so far
	peak    int32     // largest magnitude so far
	gating  histogram // 400 ms blocks, every 100 ms: integrated loudness
	ranges  histogram // 3 s windows, every second: loudness range

	momentary, shortTerm atomic.Uint64 // float64 bits, LUFS
}

// NewMeter makes a meter for 48 kHz mono. It cannot fail; the error is for callers that
// measured through a library that could.
func NewMeter() (*Meter, error) {
	m := &Meter{k: newKWeighting(pcm.SampleRate)}
	m.momentary.Store(math.Float64bits(Silent))
	m.shortTerm.Store(math.Float64bits(Silent))
	return m, nil
}

// WriteFrame measures one frame. It never fails: a meter must not stop the recording.
func (m *Meter) WriteFrame(f audio.Frame) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	for p := f.Samples; len(p) > 0; {
		n := min(len(p), updateEvery-m.held)
		m.measure(p[:n])
		p = p[n:]
		if m.held += n; m.held == updateEvery {
			m.endBlock()
		}
	}
	return nil
}

// measure filters p and adds its squares to the block, and its peak to the talk's.
func (m *Meter) measure(p []int16) {
	// Locals, not m.k's fields: the compiler keeps a struct this big in memory, and every
	// sample would then wait on its own stores of the last one.
	b0, b1, b2, a1, a2, c1, c2 := m.k.b0, m.k.b1, m.k.b2, m.k.a1, m.k.a2, m.k.c1, m.k.c2
	x1, x2, y1, y2, z1, z2 := m.k.x1, m.k.x2, m.k.y1, m.k.y2, m.k.z1, m.k.z2
	sum, peak := m.sum, m.peak
	for _, s := range p {
		v := int32(s)
		peak = max(peak, v, -v)
		x := float64(s) / 32768
		// the pre-filter (a high shelf for the head), then the RLB high-pass, each a biquad
		// in direct form I: each output waits on the last only through one multiply and add
		y := b0*x + b1*x1 + b2*x2 - a2*y2 - a1*y1
		z := y - 2*y1 + y2 - c2*z2 - c1*z1 // the high-pass's b are 1, -2, 1
		x2, x1 = x1, x
		y2, y1 = y1, y
		z2, z1 = z1, z
		sum += z * z
	}
	m.k.x1, m.k.x2, m.k.y1, m.k.y2, m.k.z1, m.k.z2 = x1, x2, y1, y2, z1, z2
	m.sum, m.peak = sum, peak
}

// endBlock closes a 100 ms block: the meter's two readings, a gating block for the integrated
// loudness and, every second once there are 3 s, a short-term window for the range.
func (m *Meter) endBlock() {
	m.blocks[m.block] = m.sum / updateEvery
	m.block = (m.block + 1) % shortTermBlocks
	m.nblocks++
	m.sum, m.held = 0, 0
	m.k.flushDenormals()
	var mom, st float64
	for i := range shortTermBlocks {
		e := m.blocks[(m.block+shortTermBlocks-1-i)%shortTermBlocks] // newest first
		if i < momentaryBlocks {
			mom += e
		}
		st += e
	}
	mom /= momentaryBlocks
	st /= shortTermBlocks
	if m.nblocks >= momentaryBlocks {
		m.gating.add(mom)
	}
	if m.nblocks >= shortTermBlocks && (m.nblocks-shortTermBlocks)%rangeHop == 0 {
		m.ranges.add(st)
	}
	m.momentary.Store(math.Float64bits(lufs(fromMeanSquare(mom))))
	m.shortTerm.Store(math.Float64bits(lufs(fromMeanSquare(st))))
}

// meanSquare and fromMeanSquare convert between loudness and the K-weighted mean square it is
// made of (BS.1770: L = -0.691 + 10 log10 z).
func meanSquare(l float64) float64 { return math.Pow(10, (l+0.691)/10) }

func fromMeanSquare(z float64) float64 {
	if z <= 0 {
		return math.Inf(-1)
	}
	return -0.691 + 10*math.Log10(z)
}

// Momentary is the loudness of the last 400 ms, in LUFS (Silent when there is none).
func (m *Meter) Momentary() float64 { return math.Float64frombits(m.momentary.Load()) }

// ShortTerm is the loudness of the last 3 s, in LUFS (Silent when there is none).
func (m *Meter) ShortTerm() float64 { return math.Float64frombits(m.shortTerm.Load()) }

// Result is a whole talk's loudness.
type Result struct {
	Integrated float64 // LUFS, gated as BS.1770-4 says; Silent when nothing passed the gate
	Range      float64 // LU (EBU Tech 3342)
	Peak       float64 // sample peak, 1.0 = full scale
}

// Measured says whether any audio passed the gate, so that a gain can be derived from it.
func (r Result) Measured() bool { return r.Integrated > Silent }

// Result measures everything so far; the meter goes on measuring. Samples of a block not yet
// complete count in the peak only, as in libebur128.
func (m *Meter) Result() (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return Result{}, errors.New("loudness: meter closed")
	}
	return Result{
		Integrated: lufs(m.gating.gated(0.1)), // BS.1770-4: relative gate 10 LU down
		Range:      m.ranges.spread(),
		Peak:       float64(m.peak) / 32768,
	}, nil
}

// Close ends the meter. Result afterwards is an error.
func (m *Meter) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// lufs maps the library's -Inf (and anything below it, or NaN) to Silent.
func lufs(v float64) float64 {
	if math.IsNaN(v) || v < Silent {
		return Silent
	}
	return v
}
