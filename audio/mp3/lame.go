package mp3

/*
#cgo LDFLAGS: -lmp3lame
#include <lame/lame.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"

	"podium/audio/pcm"
)

// encoder is the little of libmp3lame a recording needs, called directly: mono 16-bit samples
// in from the Writer's own buffer, MP3 bytes out into one buffer kept for the whole recording.
// (go-lame, used before, wanted bytes, so every batch was converted from int16 first, and it
// allocated its output buffer on every call: the garbage collector ran all through a long
// --fast encode.) Not safe for concurrent use.
type encoder struct {
	gf  *C.lame_global_flags
	out []byte // sized for the largest call: LAME's worst case for maxSamples
}

// maxSamples is the most samples one encode call takes.
const maxSamples = mp3Batch

// newEncoder sets LAME up for mono 48 kHz at kbps, constant bitrate, with the Xing/LAME
// header frame. Everything else is LAME's default, which is what ffmpeg's libmp3lame wrapper
// leaves too (algorithmic quality 3, bit reservoir on, lowpass by bitrate, no ReplayGain
// analysis): the two write the same MP3 from the same samples.
func newEncoder(kbps int) (*encoder, error) {
	gf := C.lame_init()
	if gf == nil {
		return nil, errors.New("lame_init failed")
	}
	e := &encoder{gf: gf, out: make([]byte, maxSamples*5/4+7200)} // lame.h's worst case
	for _, set := range []struct {
		name string
		rc   C.int
	}{
		{"channels", C.lame_set_num_channels(gf, 1)},
		{"input rate", C.lame_set_in_samplerate(gf, pcm.SampleRate)},
		{"output rate", C.lame_set_out_samplerate(gf, pcm.SampleRate)},
		{"mode", C.lame_set_mode(gf, C.MONO)},
		{"vbr", C.lame_set_VBR(gf, C.vbr_off)},
		{"bitrate", C.lame_set_brate(gf, C.int(kbps))},
		{"header", C.lame_set_bWriteVbrTag(gf, 1)},
	} {
		if set.rc != 0 {
			e.close()
			return nil, fmt.Errorf("lame: set %s: error %d", set.name, int(set.rc))
		}
	}
	if rc := C.lame_init_params(gf); rc < 0 {
		e.close()
		return nil, fmt.Errorf("lame: init params: error %d", int(rc))
	}
	return e, nil
}

// encode takes up to maxSamples samples and returns the MP3 bytes LAME has ready, which are
// only valid until the next call.
func (e *encoder) encode(p []int16) ([]byte, error) {
	if len(p) == 0 {
		return nil, nil
	}
	if len(p) > maxSamples {
		return nil, fmt.Errorf("lame: %d samples in one call, at most %d", len(p), maxSamples)
	}
	n := C.lame_encode_buffer(e.gf, (*C.short)(unsafe.Pointer(&p[0])), nil, C.int(len(p)),
		(*C.uchar)(unsafe.Pointer(&e.out[0])), C.int(len(e.out)))
	if n < 0 {
		return nil, fmt.Errorf("lame: encode: error %d", int(n))
	}
	return e.out[:n], nil
}

// flush ends the stream: the samples LAME held for its lookahead, padded to a frame.
func (e *encoder) flush() ([]byte, error) {
	n := C.lame_encode_flush(e.gf, (*C.uchar)(unsafe.Pointer(&e.out[0])), C.int(len(e.out)))
	if n < 0 {
		return nil, fmt.Errorf("lame: flush: error %d", int(n))
	}
	return e.out[:n], nil
}

// tagFrame is the Xing/LAME header frame describing the whole stream, to write over the
// first frame once flush has run.
func (e *encoder) tagFrame() []byte {
	buf := make([]byte, 2880) // the largest MPEG-1 Layer III frame
	n := C.lame_get_lametag_frame(e.gf, (*C.uchar)(unsafe.Pointer(&buf[0])), C.size_t(len(buf)))
	if int(n) > len(buf) {
		return nil
	}
	return buf[:n]
}

// close frees LAME's state; the encoder is unusable afterwards.
func (e *encoder) close() {
	if e.gf != nil {
		C.lame_close(e.gf)
		e.gf = nil
	}
}
