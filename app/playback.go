package app

import (
	"time"

	"podium/audio/playback"
)

// Player is a recording playing in the window, from a chapter, say.
type Player interface {
	// Position is where in the recording playing has got to.
	Position() time.Duration
	// Done is closed when the recording has played out, failed (Err) or was closed.
	Done() <-chan struct{}
	Err() error
	// Close stops it.
	Close() error
}

// PlayFrom plays the recording at path from position at on the default speakers. The system's
// player, which the history's play button opens, cannot be told where to start.
func PlayFrom(path string, at time.Duration) (Player, error) {
	r, err := playback.Open(path, at)
	if err != nil {
		return nil, err
	}
	p, err := playback.Play(r, playback.Config{})
	if err != nil {
		return nil, err // not a nil *playback.Player in a non-nil Player
	}
	return p, nil
}
