package frames

import (
	"fmt"
	"os"
)

// Layout is where a Podium recording's parts lie. The head (the ID3 tag and the frame that
// holds the Xing/LAME header) is rewritten at every checkpoint, at Close and by a repair; the
// body (whole frames of the same length, CBR) only grows, and only a repair cuts it, and then
// only a torn last frame. So a copy elsewhere can follow the body as it grows and take the
// head once, at the end.
type Layout struct {
	Head     int64 // the body starts here
	FrameLen int   // every frame's length in bytes
}

// ReadLayout reads the layout of the recording at path; it fails until LAME has written the
// first frame.
func ReadLayout(path string) (Layout, error) {
	f, err := os.Open(path)
	if err != nil {
		return Layout{}, err
	}
	defer f.Close()
	start, h, _, err := First(f)
	if err != nil {
		return Layout{}, fmt.Errorf("layout of %q: %w", path, err)
	}
	if h.Len <= 0 {
		return Layout{}, fmt.Errorf("layout of %q: frames of %d bytes", path, h.Len)
	}
	return Layout{Head: start + int64(h.Len), FrameLen: h.Len}, nil
}

// WholeFrames is the end of the last whole frame of a file of size bytes: never past a frame
// being written, so never past what a repair would keep.
func (l Layout) WholeFrames(size int64) int64 {
	if size <= l.Head {
		return l.Head
	}
	return l.Head + (size-l.Head)/int64(l.FrameLen)*int64(l.FrameLen)
}
