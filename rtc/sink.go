package rtc

import "time"

// Sink receives one published stream's Opus packets on the recording's own sample clock.
// pos is the 48 kHz sample position of the packet's first sample, counted from the start of the
// recording; it only increases. A jump in pos means audio is missing there (loss, or the presenter
// was away): the sink conceals or fills it. Every call comes from the recording's own
// writer goroutine, so a slow one (a long fill, a stalled disk) delays only that recording. An
// error from WritePacket is final: Close follows at once, and the session goes on unrecorded.
type Sink interface {
	WritePacket(pos int64, payload []byte) error
	Close() error
}

// SinkFunc opens the Sink for a new recording of stream, begun at start (the arrival of its
// first packet), on the recording's writer goroutine.
type SinkFunc func(stream string, start time.Time) (Sink, error)

// NamedSink is an optional extension of Sink: a Sink that writes a file in
// ServerConfig.RecordingsDir names it, so GET /recordings can mark that file live.
type NamedSink interface {
	Sink
	Name() string // the file's name or path; only its base name is used
}
