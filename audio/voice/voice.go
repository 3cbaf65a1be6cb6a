// Package voice cleans up a presenter's voice: SpeexDSP's preprocessor suppresses steady
// background noise (fans, air conditioning, mains hum) and the gain control of WebRTC's audio
// processing module keeps the level steady at a loudness target, with a limiter. Each library
// does the job it was measured best at (README, "Voice processing"): Speex's suppressor leaves
// speech as it was, WebRTC's splits 48 kHz audio into bands in a way that alone costs a clean
// voice 2 % of its correlation; Speex's gain control cannot bring speech above about
// -21.7 LUFS, WebRTC's reaches a podcast's -16 and limits the peaks.
package voice

/*
#cgo pkg-config: speexdsp webrtc-audio-processing
#cgo CXXFLAGS: -std=c++11
#cgo LDFLAGS: -lstdc++
#include <speex/speex_preprocess.h>
#include "agc.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"podium/audio/pcm"
)

// DefaultTarget is where the level control aims when the presenter has picked no loudness
// target: the loudness ReplayGain players play every file at (mp3.ReplayGainReference), so
// a talk needs no correction there.
const DefaultTarget = -18.0

// MinTarget and MaxTarget bound the loudness the level control can aim at, in LUFS: what
// WebRTC's target levels reach.
const (
	MinTarget = agcLUFS0 - 31
	MaxTarget = agcLUFS0
)

// Options are the presenter's choices.
type Options struct {
	Denoise bool    // "Clean up background noise"
	Level   bool    // "Keep my level steady"
	Target  float64 // LUFS the level control aims at; 0 means DefaultTarget
}

// Off says whether these options change nothing, so no processor is needed.
func (o Options) Off() bool { return !o.Denoise && !o.Level }

const (
	// noiseSuppressDB is how far Speex may pull noise down. Its default, -15 dB, leaves a
	// fan audible at 10 dB SNR; below -30 dB the floor goes no lower (measured: -30 → 12.0 dB
	// of power off the pauses, -60 → 12.9) while speech stays as it was.
	noiseSuppressDB = -30
	// compressionGainDB is WebRTC's digital AGC's headroom for quiet voices, its own default.
	compressionGainDB = 9
	// agcLUFS0 calibrates WebRTC's target, a level in dBFS below full scale, against BS.1770
	// loudness: measured on speech, the AGC brings it to agcLUFS0 - target LUFS (target 1:
	// -16.3, 3: -18.4, 6: -21.4, with the gain above).
	agcLUFS0 = -15.4
	// agcFrame is WebRTC's 10 ms.
	agcFrame = pcm.SampleRate / 100
)

// Processor runs the voice processing on one goroutine's frames (the pipeline's consumer, or
// the live branch's queue). It never fails a frame: if a library reports an error, the frame
// goes on exactly as it came, the failure is counted, and Failures says why.
type Processor struct {
	ns   *C.SpeexPreprocessState // nil unless Denoise
	agc  *C.podium_agc           // nil unless Level
	work [pcm.FrameSamples]int16

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
	if o.Level && o.Target != 0 && (o.Target < MinTarget || o.Target > MaxTarget) {
		p.Close()
		return nil, fmt.Errorf("voice: a loudness target of %g LUFS is outside %g…%g", o.Target, MinTarget, MaxTarget)
	}
	if o.Level {
		p.agc = C.podium_agc_new(C.int(agcTargetDBFS(o.Target)), compressionGainDB)
		if p.agc == nil {
			p.Close()
			return nil, errors.New("voice: WebRTC's gain control would not start")
		}
	}
	return p, nil
}

// agcTargetDBFS is WebRTC's target level (0…31 dB below full scale) for a loudness in LUFS.
func agcTargetDBFS(lufs float64) int {
	if lufs == 0 {
		lufs = DefaultTarget
	}
	return int(max(0, min(31, math.Round(agcLUFS0-lufs))))
}

// Process cleans up samples in place, at most pcm.FrameSamples of them (a shorter last frame
// is processed padded with silence). The noise suppressor delays the voice by one frame,
// 20 ms. It allocates nothing.
func (p *Processor) Process(samples []int16) {
	if len(samples) == 0 || (p.ns == nil && p.agc == nil) {
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
	if p.agc != nil {
		for i := 0; i < len(p.work); i += agcFrame {
			if rc := C.podium_agc_process(p.agc, (*C.int16_t)(unsafe.Pointer(&p.work[i]))); rc != 0 {
				p.fail(fmt.Errorf("voice: WebRTC's gain control: error %d", int(rc)))
				return
			}
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
	if p.agc != nil {
		C.podium_agc_free(p.agc)
		p.agc = nil
	}
	return nil
}
