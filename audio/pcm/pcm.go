// Package pcm holds the one sample format Podium records and carries: 48 kHz mono int16,
// cut into 20 ms frames, with positions counted in samples. It imports nothing, so the
// audio pipeline, the codecs, the network code and the window can all share one definition.
package pcm

import "time"

const (
	// SampleRate is the rate of every sample in Podium, and the RTP clock of Opus.
	SampleRate = 48000
	// FrameSamples is 20 ms: the Opus frame and the pipeline's unit of work.
	FrameSamples = SampleRate / 50
	// FrameDuration is FrameSamples on the wall clock.
	FrameDuration = time.Second * FrameSamples / SampleRate
)

// Samples converts a wall-clock duration to a number of samples (0 for d <= 0).
func Samples(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64(d / time.Microsecond * SampleRate / 1e6)
}

// Duration converts a number of samples to wall-clock time.
func Duration(samples int64) time.Duration {
	return time.Duration(samples) * time.Second / SampleRate
}
