// Package rtc is podium-server's WebRTC side, with Pion: it takes presenters' Opus streams
// over WHIP (RFC 9725) and records them on each recording's own sample clock, fans them out
// to listeners over WHEP, signs listening links, counts what it does for /metrics, and
// hardens the HTTP server it is mounted on. The presenter's side, the WHIP client, is package
// rtc/whip; what both speak is package rtc/proto.
//
// The package knows no codec and writes no file: payloads are opaque bytes and positions are
// counted in 48 kHz samples. Where it meets audio it hands each recording's packets to a Sink
// (sink.go) that SinkFunc opens; listing and serving the recorded files is package
// rtc/recordings' job, behind the server's access checks.
package rtc
