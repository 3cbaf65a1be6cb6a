// Package loudness measures what is recorded as EBU R128 / ITU-R BS.1770 loudness, through
// libebur128 (the library ffmpeg's and most players' loudness scanners share): momentary
// (400 ms) and short-term (3 s) loudness for the meter, integrated loudness, loudness range and
// sample peak for the talk. It measures while the talk is recorded, so the figures (and the
// ReplayGain tags audio/mp3 makes of them) are ready at Stop without a second pass over the file.
package loudness

/*
#cgo pkg-config: libebur128
#include <stdlib.h>
#include <ebur128.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

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

// shortTermBlocks is how many updateEvery blocks make BS.1770's 3 s short-term window.
const shortTermBlocks = 30

// momentaryBlocks is how many make the 400 ms momentary window.
const momentaryBlocks = 4

// Meter is a FrameSink for the pipeline's consumer goroutine. The momentary and short-term
// values are published in atomics after each frame, so the window reads them at its own pace
// and never waits for the pipeline. Its memory is fixed: the integrated loudness and range
// come from libebur128's histogram mode, not from a list of every block of the talk.
type Meter struct {
	mu  sync.Mutex // st: WriteFrame against Result and Close
	st  *C.ebur128_state
	err error
	out [2]C.double // the library's results land here: locals passed to C would be allocated
	// pending holds the samples since the last update, given to the library every
	// updateEvery in one call: one cgo call per 100 ms instead of five, each of which would
	// wake the Go runtime's monitor.
	pending [updateEvery]int16
	held    int
	// blocks holds the mean square of each of the last 3 s's 100 ms blocks, so that the
	// short-term loudness is their mean: the library would sum 3 s of samples ten times a
	// second for it, which was 60 % of the meter's cost.
	blocks [shortTermBlocks]float64
	block  int

	momentary, shortTerm atomic.Uint64 // float64 bits, LUFS
}

// NewMeter makes a meter for 48 kHz mono.
func NewMeter() (*Meter, error) {
	mode := C.EBUR128_MODE_M | C.EBUR128_MODE_S | C.EBUR128_MODE_I | C.EBUR128_MODE_LRA |
		C.EBUR128_MODE_SAMPLE_PEAK | C.EBUR128_MODE_HISTOGRAM
	st := C.ebur128_init(1, C.ulong(pcm.SampleRate), C.int(mode))
	if st == nil {
		return nil, errors.New("loudness meter: ebur128_init failed")
	}
	m := &Meter{st: st}
	m.momentary.Store(math.Float64bits(Silent))
	m.shortTerm.Store(math.Float64bits(Silent))
	return m, nil
}

// WriteFrame measures one frame. An error from the library stops the measuring (the meter
// then reads Silent and the result says why); it is never passed on, since a meter must not
// stop the recording.
func (m *Meter) WriteFrame(f audio.Frame) error {
	if len(f.Samples) == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil || m.err != nil {
		return nil
	}
	for p := f.Samples; len(p) > 0; {
		n := copy(m.pending[m.held:], p)
		m.held += n
		p = p[n:]
		if m.held == updateEvery {
			if !m.flush() {
				return nil
			}
			m.update()
		}
	}
	return nil
}

// flush gives the library the samples held; false if it failed (m.err says why).
func (m *Meter) flush() bool {
	if m.held == 0 {
		return true
	}
	if rc := C.ebur128_add_frames_short(m.st, (*C.short)(unsafe.Pointer(&m.pending[0])), C.size_t(m.held)); rc != C.EBUR128_SUCCESS {
		m.err = fmt.Errorf("loudness: add frames: libebur128 error %d", int(rc))
		return false
	}
	m.held = 0
	return true
}

// update reads momentary and short-term loudness after each updateEvery of audio. The library
// gives the last 100 ms block's loudness (one pass over it); momentary (400 ms) and short-term
// (3 s) are the means of the last 4 and 30 blocks' mean squares, since asking the library for
// them would re-sum 400 ms and 3 s of samples ten times a second (for the 400 ms, 4 additions
// per sample: a third of libebur128's cost in a --fast encode). The blocks are aligned with the
// library's own, so the figures are the same.
func (m *Meter) update() {
	C.ebur128_loudness_window(m.st, C.ulong(1000*updateEvery/pcm.SampleRate), &m.out[1])
	m.blocks[m.block] = meanSquare(float64(m.out[1]))
	var sum, last float64
	for i, e := range m.blocks {
		sum += e
		if (m.block-i+shortTermBlocks)%shortTermBlocks < momentaryBlocks {
			last += e
		}
	}
	m.block = (m.block + 1) % shortTermBlocks
	m.momentary.Store(math.Float64bits(lufs(fromMeanSquare(last / momentaryBlocks))))
	m.shortTerm.Store(math.Float64bits(lufs(fromMeanSquare(sum / shortTermBlocks))))
}

// meanSquare and fromMeanSquare convert between loudness and the K-weighted mean square it is
// made of (BS.1770: L = -0.691 + 10 log10 z), so that blocks can be averaged.
func meanSquare(l float64) float64 {
	if math.IsInf(l, -1) || math.IsNaN(l) {
		return 0
	}
	return math.Pow(10, (l+0.691)/10)
}

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

// Result measures everything so far; the meter goes on measuring.
func (m *Meter) Result() (Result, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return Result{}, errors.New("loudness: meter closed")
	}
	if m.err != nil || !m.flush() {
		return Result{}, m.err
	}
	var i, lra C.double
	if rc := C.ebur128_loudness_global(m.st, &i); rc != C.EBUR128_SUCCESS {
		return Result{}, fmt.Errorf("loudness: integrated: libebur128 error %d", int(rc))
	}
	if rc := C.ebur128_loudness_range(m.st, &lra); rc != C.EBUR128_SUCCESS {
		return Result{}, fmt.Errorf("loudness: range: libebur128 error %d", int(rc))
	}
	var peak C.double
	if rc := C.ebur128_sample_peak(m.st, 0, &peak); rc != C.EBUR128_SUCCESS {
		return Result{}, fmt.Errorf("loudness: peak: libebur128 error %d", int(rc))
	}
	r := Result{Integrated: lufs(float64(i)), Range: float64(lra), Peak: float64(peak)}
	if math.IsNaN(r.Range) || r.Range < 0 {
		r.Range = 0
	}
	return r, nil
}

// Close frees the library's state. Result afterwards is an error.
func (m *Meter) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st != nil {
		C.ebur128_destroy(&m.st)
		m.st = nil
	}
	return nil
}

// lufs maps the library's -Inf (and anything below it, or NaN) to Silent.
func lufs(v float64) float64 {
	if math.IsNaN(v) || v < Silent {
		return Silent
	}
	return v
}
