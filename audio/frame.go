// Package audio turns a microphone (or a WAV file) into 20 ms frames and fans them out to an
// incremental MP3 file, an Opus encoder and a level meter. It knows nothing of networks or GUIs,
// nor of the microphone itself (audio/capture) or the MP3 format (audio/mp3).
package audio

import "podium/audio/pcm"

// Frame is 20 ms (pcm.FrameSamples) of mono 48 kHz audio. Pos is the sample position of its
// first sample on the recording's clock, which counts samples, never wall time. Samples is only
// valid during the WriteFrame call: a sink that keeps it must copy. The last frame of a stream
// may be shorter.
type Frame struct {
	Pos     int64
	Samples []int16
}

// FrameSink consumes frames in order from the pipeline's single consumer goroutine.
type FrameSink interface {
	WriteFrame(f Frame) error
}

// PacketWriter takes encoded Opus packets at pos, the 48 kHz sample position of the packet's
// first sample. The WHIP client is one; it must never block.
type PacketWriter interface {
	WritePacket(pos int64, payload []byte) error
}

// Processor changes a frame's samples in place: voice processing (podium/audio/voice). It
// never fails the stream: a processor in trouble leaves the samples as they were and says so
// its own way.
type Processor interface {
	Process(samples []int16)
}

// ProcessedSink passes each frame through a Processor on its way to next, in a copy of its
// own, so the frame the pipeline's other sinks see stays as it was: how the live stream is
// cleaned up while the recording keeps what the microphone heard.
type ProcessedSink struct {
	proc Processor
	next FrameSink
	buf  [pcm.FrameSamples]int16
}

func NewProcessedSink(proc Processor, next FrameSink) *ProcessedSink {
	return &ProcessedSink{proc: proc, next: next}
}

func (s *ProcessedSink) WriteFrame(f Frame) error {
	n := copy(s.buf[:], f.Samples)
	s.proc.Process(s.buf[:n])
	return s.next.WriteFrame(Frame{Pos: f.Pos, Samples: s.buf[:n]})
}
