// Package studioproto is what the studio uploader (package studio, in the app and `podium
// record`) and the studio server (package studioserver, in podium-server) agree on: where the
// uploads go, the metadata an upload carries, and the header that names the copy placed. It
// imports nothing, so that neither side links the other.
//
// The protocol is tus 1.0 (tus.io) with its creation, creation-defer-length and
// concatenation extensions: the body of the MP3 (whole frames, which only grow) goes up as a
// partial upload of deferred length while the talk goes on; at the end the head (ID3 tag and
// Xing/LAME frame, rewritten at Stop or by a repair) goes up as a second partial, and a final
// upload joins the two, carrying the whole file's SHA-256, which the server checks before it
// places the copy beside the recordings.
package studioproto

// BasePath is where a podium-server takes uploads.
const BasePath = "/studio/"

// TusVersion is the tus protocol version both sides speak (the Tus-Resumable header).
const TusVersion = "1.0.0"

// Metadata keys a client sends (Upload-Metadata).
const (
	MetaStream  = "stream"
	MetaName    = "filename" // the MP3's name on the presenter's computer
	MetaKind    = "kind"     // KindBody, KindHead or KindFile
	MetaSHA     = "sha256"   // hex, of the whole file: the final upload's
	MetaStarted = "started"  // RFC 3339: when the recording began
)

// The kinds of upload (MetaKind).
const (
	KindBody = "body" // the MP3's frames, of deferred length, sent while it grows
	KindHead = "head" // its ID3 tag and Xing/LAME frame, sent at the end
	KindFile = "file" // the final upload joining head and body
)

// HeaderCopy answers a final upload with the name of the studio copy the server placed.
const HeaderCopy = "Podium-Studio-Copy"
