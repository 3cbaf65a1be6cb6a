// Package voice cleans up a presenter's voice: SpeexDSP's preprocessor suppresses steady
// background noise (fans, air conditioning, mains hum), and a level control of Podium's own
// (level.go) keeps the level steady at a loudness target, with a look-ahead limiter. Speex's
// suppressor was measured best at its job (README, "Voice processing": WebRTC's splits 48 kHz
// audio into bands in a way that alone costs a clean voice 2 % of its correlation). For the
// level, Speex's gain control cannot bring speech above about -21.7 LUFS, and WebRTC's, which
// reaches a podcast's -16, has no Windows build; Podium's own steers by the loudness
// libebur128 measures (audio/loudness), is the same Go code on every platform, and reaches
// each target at least as closely.
package voice

/*
#cgo pkg-config: speexdsp
#include <speex/speex_preprocess.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"podium/audio/pcm"
)

// DefaultTarget is where the level control aims when the presenter has picked no loudness
// target: the loudness ReplayGain players play every file at (mp3.ReplayGainReference), so
// a talk needs no correction there.
const DefaultTarget = -18.0

// MinTarget and MaxTarget bound the loudness the level control can aim at, in LUFS: from
// well below broadcast's -23 to a podcast's -16. Louder targets leave the limiter doing the
// work: -14 (what music streaming plays at) came out at -14.5 with speech's peaks squashed
// (correlation 0.959 against 0.983 at -16), so it is refused rather than missed.
const (
	MinTarget = -36.0
	MaxTarget = -16.0
)

// Options are the presenter's choices.
type Options struct {
	Denoise bool    // "Clean up background noise"
	Level   bool    // "Keep my level steady"
	Target  float64 // LUFS the level control aims at; 0 means DefaultTarget
}

// Check refuses options the processing cannot honour, rather than quietly change them.
func (o Options) Check() error {
	if o.Level && o.Target != 0 && (o.Target < MinTarget || o.Target > MaxTarget) {
		return fmt.Errorf("voice: a loudness target of %g LUFS is outside %g…%g", o.Target, MinTarget, MaxTarget)
	}
	return nil
}

// Off says whether these options change nothing, so no processor is needed.
func (o Options) Off() bool { return !o.Denoise && !o.Level }

const (
	// noiseSuppressDB is how far Speex may pull noise down. Its default, -15 dB, leaves a
	// fan audible at 10 dB SNR; below -30 dB the floor goes no lower (measured: -30 → 12.0 dB
	// of power off the pauses, -60 → 12.9) while speech stays as it was.
	noiseSuppressDB = -30
)

// Processor runs the voice processing on one goroutine's frames (the pipeline's consumer, or
// the live branch's queue). It never fails a frame: if a library reports an error, the frame
// goes on exactly as it came, the failure is counted, and Failures says why.
type Processor struct {
	ns    *C.SpeexPreprocessState // nil unless Denoise
	level *levelControl           // nil unless Level
	work  [pcm.FrameSamples]int16

	fails atomic.Int64
	mu    sync.Mutex
	err   error
}

// New starts the libraries the options need.
func New(o Options) (*Processor, error) {
	p := &Processor{}
	if o.Denoise {
		p.ns = C.speex_preprocess_state_init(C.int(pcm.FrameSamples), C.int(pcm.SampleRate))
		if p.ns == nil {
			return nil, errors.New("voice: SpeexDSP's preprocessor would not start")
		}
		for _, c := range []struct {
			req C.int
			v   C.spx_int32_t
		}{
			{C.SPEEX_PREPROCESS_SET_DENOISE, 1},
			{C.SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, noiseSuppressDB},
			{C.SPEEX_PREPROCESS_SET_AGC, 0},
			{C.SPEEX_PREPROCESS_SET_DEREVERB, 0},
		} {
			v := c.v
			if C.speex_preprocess_ctl(p.ns, c.req, unsafe.Pointer(&v)) != 0 {
				p.Close()
				return nil, fmt.Errorf("voice: SpeexDSP's preprocessor refused setting %d", int(c.req))
			}
		}
	}
	if err := o.Check(); err != nil {
		p.Close()
		return nil, err
	}
	if o.Level {
		var err error
		target := o.Target
		if target == 0 {
			target = DefaultTarget
		}
		if p.level, err = newLevelControl(target); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// Process cleans up samples in place, at most pcm.FrameSamples of them (a shorter last frame
// is processed padded with silence). The noise suppressor delays the voice by one frame,
// 20 ms, the level control's limiter by 5 ms. It allocates nothing.
func (p *Processor) Process(samples []int16) {
	if len(samples) == 0 || (p.ns == nil && p.level == nil) {
		return
	}
	if len(samples) > len(p.work) {
		p.fail(fmt.Errorf("voice: %d samples in one frame, at most %d", len(samples), len(p.work)))
		return
	}
	n := copy(p.work[:], samples)
	clear(p.work[n:])
	if p.ns != nil {
		// The return value is Speex's voice activity guess, not an error: it has none.
		C.speex_preprocess_run(p.ns, (*C.spx_int16_t)(unsafe.Pointer(&p.work[0])))
	}
	if p.level != nil {
		if err := p.level.process(p.work[:]); err != nil {
			p.fail(err)
			return
		}
	}
	copy(samples, p.work[:n])
}

// fail keeps the first error before counting, so Failures never sees a count without it.
func (p *Processor) fail(err error) {
	if p.fails.Load() == 0 {
		p.mu.Lock()
		if p.err == nil {
			p.err = err
		}
		p.mu.Unlock()
	}
	p.fails.Add(1)
}

// Failures is how many frames went on unprocessed because of an error, and the first error.
// Safe to call from any goroutine.
func (p *Processor) Failures() (int64, error) {
	n := p.fails.Load()
	if n == 0 {
		return 0, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return n, p.err
}

// Close frees the libraries' state. Not safe to call concurrently with Process.
func (p *Processor) Close() error {
	if p.ns != nil {
		C.speex_preprocess_state_destroy(p.ns)
		p.ns = nil
	}
	if p.level != nil {
		p.level.free()
		p.level = nil
	}
	return nil
}
