package voice

/*
#cgo pkg-config: speexdsp
#include <speex/speex_preprocess.h>
*/
import "C"

import (
	"errors"
	"unsafe"

	"podium/audio/pcm"
)

type speexEngine struct {
	st *C.SpeexPreprocessState
	n  int
}

var speexTarget = 0

var speexSuppress, speexLevel, speexMaxGain, speexFrame = -30, 8000.0, 30, pcm.FrameSamples

func newSpeex(o Options) (engine, error) {
	st := C.speex_preprocess_state_init(C.int(speexFrame), C.int(pcm.SampleRate))
	if st == nil {
		return nil, errors.New("speexdsp preprocessor would not start")
	}
	e := &speexEngine{st: st, n: speexFrame}
	seti := func(req C.int, v int) {
		x := C.spx_int32_t(v)
		C.speex_preprocess_ctl(st, req, unsafe.Pointer(&x))
	}
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	seti(C.SPEEX_PREPROCESS_SET_DENOISE, b(o.Denoise))
	seti(C.SPEEX_PREPROCESS_SET_NOISE_SUPPRESS, speexSuppress)
	seti(C.SPEEX_PREPROCESS_SET_AGC, b(o.Level))
	lvl := C.float(speexLevel)
	C.speex_preprocess_ctl(st, C.SPEEX_PREPROCESS_SET_AGC_LEVEL, unsafe.Pointer(&lvl))
	seti(C.SPEEX_PREPROCESS_SET_AGC_MAX_GAIN, speexMaxGain)
	if speexTarget > 0 {
		seti(C.SPEEX_PREPROCESS_SET_AGC_TARGET, speexTarget)
	}
	return e, nil
}

func (e *speexEngine) process(s []int16) error {
	for i := 0; i+e.n <= len(s); i += e.n {
		C.speex_preprocess_run(e.st, (*C.spx_int16_t)(unsafe.Pointer(&s[i])))
	}
	return nil
}

func (e *speexEngine) close() { C.speex_preprocess_state_destroy(e.st) }
