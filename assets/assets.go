// Package assets holds the files the app carries inside its binary: the icon.
package assets

import _ "embed"

// Icon is Podium's icon, a white microphone on red (256×256 PNG).
//
//go:embed icon.png
var Icon []byte
