package audio

import (
	"math"
	"sync/atomic"
)

// LevelMeter measures each frame's peak and RMS. The pipeline writes, the GUI reads from another
// goroutine; the values are float bits in atomics so neither side ever waits for the other.
type LevelMeter struct {
	peak, rms atomic.Uint64
	clipped   atomic.Bool
	frames    atomic.Uint64
}

// Silence is the level reported for digital silence, instead of -Inf.
const Silence = -120.0

func NewLevelMeter() *LevelMeter {
	m := &LevelMeter{}
	m.peak.Store(math.Float64bits(Silence))
	m.rms.Store(math.Float64bits(Silence))
	return m
}

// WriteFrame records the frame's level; a sample at either end of the int16 range counts as clipping.
func (m *LevelMeter) WriteFrame(f Frame) error {
	// Integers: a frame's squares sum exactly in an int64, and the loop stays free of
	// conversions and of branches.
	var peak int32
	var sum int64
	for _, s := range f.Samples {
		v := int32(s)
		sum += int64(v * v)
		peak = max(peak, v, -v)
	}
	clip := peak >= 32767
	rms := 0.0
	if len(f.Samples) > 0 {
		rms = math.Sqrt(float64(sum) / float64(len(f.Samples)))
	}
	m.peak.Store(math.Float64bits(dBFS(float64(peak))))
	m.rms.Store(math.Float64bits(dBFS(rms)))
	if clip {
		m.clipped.Store(true)
	}
	m.frames.Add(1)
	return nil
}

func dBFS(v float64) float64 {
	if v <= 0 {
		return Silence
	}
	return math.Max(Silence, 20*math.Log10(v/32768))
}

// Peak is the last frame's peak level in dBFS.
func (m *LevelMeter) Peak() float64 { return math.Float64frombits(m.peak.Load()) }

// RMS is the last frame's RMS level in dBFS (a full-scale sine reads about -3).
func (m *LevelMeter) RMS() float64 { return math.Float64frombits(m.rms.Load()) }

// Clipped reports whether any frame clipped since the last ResetClip.
func (m *LevelMeter) Clipped() bool { return m.clipped.Load() }

// ResetClip clears the clipping flag, e.g. when the presenter has seen the warning.
func (m *LevelMeter) ResetClip() { m.clipped.Store(false) }

// Frames counts the frames measured.
func (m *LevelMeter) Frames() uint64 { return m.frames.Load() }
