package audio_test

import (
	"encoding/binary"
	"math"
	"testing"

	"podium/audio"
	"podium/audio/pcm"
)

// pieceCounter is a SampleWriter that keeps nothing: it counts what it is given and the
// largest piece, so any jump can be fuzzed without the test's own memory growing.
type pieceCounter struct{ total, largest int64 }

func (c *pieceCounter) WriteSamples(p []int16) error {
	c.total += int64(len(p))
	c.largest = max(c.largest, int64(len(p)))
	return nil
}
func (c *pieceCounter) Close() error { return nil }

// decoderOps turns fuzz bytes into packets: a byte choosing how the position moves (the
// next frame, a jump of up to 65 s forward, to any int64 at all, or back), then a payload of
// up to 255 bytes. Only the first four jumps to any int64 are taken (later ones are the next
// frame): each may cost a fill of MaxGap, and hundreds of them would make each run slow
// without finding more.
func decoderOps(data []byte, each func(pos int64, payload []byte)) {
	var pos int64
	far := 0
	for len(data) >= 2 {
		op, n := data[0], int(data[1])
		data = data[2:]
		switch op % 4 {
		case 0:
			pos += pcm.FrameSamples
		case 1:
			if len(data) < 2 {
				return
			}
			pos += int64(binary.BigEndian.Uint16(data)) * pcm.SampleRate / 1000
			data = data[2:]
		case 2:
			if len(data) < 8 {
				return
			}
			if far++; far <= 4 {
				pos = int64(binary.BigEndian.Uint64(data))
			} else {
				pos += pcm.FrameSamples
			}
			data = data[8:]
		case 3:
			pos -= int64(op) * pcm.FrameSamples
		}
		n = min(n, len(data))
		each(pos, data[:n])
		data = data[n:]
	}
}

// FuzzPacketDecoder: whatever the payloads and however the positions jump, the decoder never
// panics, never hands on a piece longer than the longest Opus packet (silence is written a
// frame at a time), and never writes more for one packet than MaxGap of fill and the packet
// itself, so neither memory nor the recording grows without bound.
func FuzzPacketDecoder(f *testing.F) {
	enc, err := audio.NewOpusEncoder(6000) // small packets keep the inputs short to minimise
	if err != nil {
		f.Fatal(err)
	}
	tone := make([]int16, pcm.FrameSamples)
	for i := range tone {
		tone[i] = int16(8000 * math.Sin(float64(i)/8))
	}
	pkt, err := enc.Encode(tone)
	if err != nil {
		f.Fatal(err)
	}
	frame := func(op byte, extra ...byte) []byte {
		b := append([]byte{op, byte(len(pkt))}, extra...)
		return append(b, pkt...)
	}
	var honest, hole, leap []byte
	for range 3 {
		honest = append(honest, frame(0)...)
	}
	hole = append(append(append(hole, honest...), frame(1, 0x07, 0xd0)...), honest...)                                  // a 2 s hole
	leap = append(append(append(leap, honest...), frame(2, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0)...), honest...) // to the end of int64
	f.Add(honest)
	f.Add(hole)
	f.Add(leap)
	f.Add([]byte{3, 3, 0xff, 0xff, 0xff, 0, 4, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, data []byte) {
		out := &pieceCounter{}
		dec, err := audio.NewPacketDecoder(out)
		if err != nil {
			t.Fatal(err)
		}
		decoderOps(data, func(pos int64, payload []byte) {
			before := out.total
			if err := dec.WritePacket(pos, payload); err != nil {
				t.Fatalf("WritePacket(%d): %v", pos, err)
			}
			if wrote := out.total - before; wrote > audio.MaxGap+6*pcm.FrameSamples {
				t.Fatalf("one packet at %d wrote %d samples, more than MaxGap %d and a packet", pos, wrote, audio.MaxGap)
			}
		})
		if out.largest > 6*pcm.FrameSamples {
			t.Fatalf("a piece of %d samples", out.largest)
		}
	})
}
