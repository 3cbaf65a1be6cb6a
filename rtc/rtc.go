// Package rtc is podium-server's WebRTC side, with Pion: it takes presenters' Opus streams
// over WHIP (RFC 9725) and records them on each recording's own sample clock, fans them out
// to listeners over WHEP, signs listening links, lists recordings, counts what it does for
// /metrics, and hardens the HTTP server it is mounted on. The presenter's side, the WHIP
// client, is package rtc/whip; what both speak is package rtc/proto.
//
// The package knows no codec and no file: payloads are opaque bytes and positions are
// counted in 48 kHz samples. Where it meets audio it uses Recorder and RecorderFunc.
package rtc

import "time"

// Recorder receives one published stream's Opus packets on the recording's own sample clock.
// pos is the 48 kHz sample position of the packet's first sample, counted from the start of the
// recording; it only increases. A jump in pos means audio is missing there (loss, or the presenter
// was away): the recorder conceals or fills it. Every call comes from the recording's own
// writer goroutine, so a slow one (a long fill, a stalled disk) delays only that recording. An
// error from WritePacket is final: Close follows at once, and the session goes on unrecorded.
type Recorder interface {
	WritePacket(pos int64, payload []byte) error
	Close() error
}

// RecorderFunc opens the Recorder for a new recording of stream, begun at start (the arrival
// of its first packet), on the recording's writer goroutine.
type RecorderFunc func(stream string, start time.Time) (Recorder, error)
