package audio_test

import (
	"testing"
	"time"

	"podium/audio"
	"podium/audio/pcm"
)

// FirstFrame opens with the first whole frame, not before (a partial one is still in the
// ring), and stays open through the frames after it.
func TestPipelineFirstFrame(t *testing.T) {
	ring, _ := audio.NewRingBuffer(1 << 16)
	p := audio.NewPipeline(ring, &positions{})
	done := make(chan error, 1)
	go func() { done <- p.Run() }()
	ring.Write(make([]int16, pcm.FrameSamples-1))
	// Call returns from inside the running consumer: the loop is going, with no frame yet.
	if err := p.Call(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.FirstFrame():
		t.Fatalf("FirstFrame closed with %d frames emitted", p.Frames())
	default:
	}
	ring.Write(make([]int16, 1+3*pcm.FrameSamples))
	select {
	case <-p.FirstFrame():
	case <-time.After(5 * time.Second):
		t.Fatalf("FirstFrame not closed after a whole frame (%d emitted)", p.Frames())
	}
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if p.Frames() != 4 {
		t.Errorf("Frames() = %d, want 4", p.Frames())
	}
}
