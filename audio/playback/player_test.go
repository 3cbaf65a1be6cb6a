package playback

import (
	"sync"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// Played from 9 s on the null device (a clock without sound hardware): it starts at 9 s, its
// position moves with the clock, what goes to the device is the file from 9 s on (the same
// samples as ffmpeg decodes there), and Close stops it.
func TestPlayerPlaysFromThePosition(t *testing.T) {
	path := speechMP3(t, 64)
	ref := audiotest.Decode(t, path)
	const at = 9 * time.Second
	r, err := Open(path, at)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tapped []int16
	began := time.Now()
	p, err := Play(r, Config{Null: true, Tap: func(s []int16) {
		mu.Lock()
		tapped = append(tapped, s...)
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	// The device may take its first periods at once, and a loaded machine may run it a while
	// before Play returns: what it played beyond that time is the error.
	if pos, since := p.Position(), time.Since(began); pos < at || pos-since > at+50*time.Millisecond {
		t.Errorf("position %v after starting at %v: want %v (within 50 ms)", pos, since, at)
	}
	time.Sleep(1500 * time.Millisecond)
	pos, wall := p.Position(), time.Since(began)
	// The device takes 20 ms periods, three queued at its start, and the null backend's
	// clock may start a period late: never more than the clock plus that. Less is a decoder
	// that fell behind (go-mp3 is many times slower under -race, on two loaded cores): the
	// device then plays silence and the position waits, which is what it should do, so the
	// lower bound is loose. (The window's test checks the pace on real speakers.)
	if d := pos - at - wall; d < -500*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("after %v of playing the position is %v: %v off", wall, pos, d)
	}
	t.Logf("after %v: position %v", wall, pos)
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Done is open after Close")
	}
	mu.Lock()
	defer mu.Unlock()
	want := ref[pcm.Samples(at):]
	n := min(len(tapped), len(want))
	if n < pcm.SampleRate {
		t.Fatalf("only %d samples went to the device", n)
	}
	corr, lag, _ := audiotest.Correlate(want[:n], tapped[:n], pcm.SampleRate/10)
	t.Logf("played %.2f s: lag %d, correlation %.4f against ffmpeg from %v", float64(n)/pcm.SampleRate, lag, corr, at)
	if lag != 0 || corr < 0.99 {
		t.Errorf("what was played is the file at lag %d (correlation %.4f), want 0 (≥ 0.99)", lag, corr)
	}
}

// Near the end it plays out and says so.
func TestPlayerEnds(t *testing.T) {
	path := speechMP3(t, 64)
	r, err := Open(path, 25500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Play(r, Config{Null: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	select {
	case <-p.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not end")
	}
	if p.Err() != nil {
		t.Fatal(p.Err())
	}
	if pos := p.Position(); pos < 25800*time.Millisecond {
		t.Errorf("ended at %v", pos)
	}
}
