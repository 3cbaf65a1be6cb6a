// Package audio turns a microphone (or a WAV file) into 20 ms frames and fans them out to an
// incremental MP3 file, an Opus encoder and a level meter. It knows nothing of networks or GUIs.
package audio

// The one format Podium records in: everything is converted to this at the edge.
const (
	SampleRate   = 48000
	FrameSamples = SampleRate / 50 // 20 ms, the Opus frame and the pipeline's unit of work
)

// Frame is 20 ms of mono 48 kHz audio. Pos is the sample position of its first sample on the
// recording's clock, which counts samples, never wall time. Samples is only valid during the
// WriteFrame call: a sink that keeps it must copy. The last frame of a stream may be shorter.
type Frame struct {
	Pos     int64
	Samples []int16
}

// FrameSink consumes frames in order from the pipeline's single consumer goroutine.
type FrameSink interface {
	WriteFrame(f Frame) error
}

// PacketWriter takes encoded Opus packets with the sample position of their first sample.
// The WHIP client is one; it must never block.
type PacketWriter interface {
	WritePacket(pos int64, payload []byte) error
}
