package audiotest

import (
	"testing"

	"podium/audio/id3"
)

// TinyFrameHeader is an MPEG-2 layer III frame header (24 kHz, 8 kb/s, stereo, no CRC) whose
// frames are 24 bytes (72×8000/24000): too short to hold the Info header a repair writes,
// which starts after the 4-byte header and 17 bytes of side info and needs 40 bytes more.
var TinyFrameHeader = [4]byte{0xFF, 0xF3, 0x14, 0x00}

// TinyFrameLen is the length of a TinyFrameHeader frame.
const TinyFrameLen = 24

// InterruptedMP3 is a file that looks like a Podium recording whose writer died: a tag Podium
// wrote (it carries Podium's mark, so repair looks at it), the header placeholder LAME leaves
// (hdr, then zeros to frameLen), then frames audio frames (hdr, then bytes that are not zero).
// With TinyFrameHeader it is the crafted file that once crashed every start.
func InterruptedMP3(t testing.TB, hdr [4]byte, frameLen, frames int) []byte {
	t.Helper()
	tag, err := id3.Encode(id3.Tags{Title: "Crafted"}, 1024)
	if err != nil {
		t.Fatalf("encode tag: %v", err)
	}
	b := append(tag, hdr[:]...)
	b = append(b, make([]byte, frameLen-4)...)
	for i := range frames {
		b = append(b, hdr[:]...)
		for j := 4; j < frameLen; j++ {
			b = append(b, 0x11+byte((i+j)%0x60)) // never zero, never a sync byte
		}
	}
	return b
}
