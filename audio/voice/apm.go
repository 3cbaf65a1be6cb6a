package voice

/*
#cgo pkg-config: webrtc-audio-processing
#cgo CXXFLAGS: -std=c++11
#cgo LDFLAGS: -lstdc++
#include "apm.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

type apmEngine struct{ a *C.apm }

func newAPM(o Options) (engine, error) {
	b := func(v bool) C.int {
		if v {
			return 1
		}
		return 0
	}
	a := C.apm_new(b(o.Denoise), b(o.Level), C.int(apmTarget), C.int(apmGain), C.int(apmHPF), C.int(apmNS))
	if a == nil {
		return nil, errors.New("webrtc audio processing would not start")
	}
	return &apmEngine{a: a}, nil
}

var apmTarget, apmGain, apmHPF, apmNS = 3, 9, 1, 2

func (e *apmEngine) process(s []int16) error {
	for i := 0; i+480 <= len(s); i += 480 {
		if rc := C.apm_process(e.a, (*C.int16_t)(unsafe.Pointer(&s[i]))); rc != 0 {
			return fmt.Errorf("webrtc audio processing: error %d", int(rc))
		}
	}
	return nil
}

func (e *apmEngine) close() { C.apm_free(e.a) }
