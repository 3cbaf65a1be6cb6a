package pcm

import (
	"testing"
	"time"
)

func TestConversions(t *testing.T) {
	for _, c := range []struct {
		d       time.Duration
		samples int64
	}{
		{-time.Second, 0},
		{0, 0},
		{FrameDuration, FrameSamples},
		{time.Second, SampleRate},
		{90 * time.Minute, 90 * 60 * SampleRate},
	} {
		if got := Samples(c.d); got != c.samples {
			t.Errorf("Samples(%v) = %d, want %d", c.d, got, c.samples)
		}
		if c.d >= 0 {
			if got := Duration(c.samples); got != c.d {
				t.Errorf("Duration(%d) = %v, want %v", c.samples, got, c.d)
			}
		}
	}
	if FrameDuration != 20*time.Millisecond {
		t.Fatalf("FrameDuration = %v", FrameDuration)
	}
}
