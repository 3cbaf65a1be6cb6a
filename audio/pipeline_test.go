package audio_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/pcm"
)

// slowSink stands for a network that has stalled: each frame takes far longer than 20 ms.
type slowSink struct {
	n     atomic.Int64
	delay time.Duration
}

func (s *slowSink) WriteFrame(audio.Frame) error { time.Sleep(s.delay); s.n.Add(1); return nil }

type failingSink struct{ n int }

func (s *failingSink) WriteFrame(audio.Frame) error { s.n++; return errors.New("network is down") }

// positions records the frame positions and sizes the recording sink sees.
type positions struct {
	pos   []int64
	sizes []int
	fail  int // fail on this frame (1-based), 0 never
}

func (p *positions) WriteFrame(f audio.Frame) error {
	p.pos = append(p.pos, f.Pos)
	p.sizes = append(p.sizes, len(f.Samples))
	if p.fail == len(p.pos) {
		return errors.New("disk full")
	}
	return nil
}

// A stalled and a failing sink beside the recording cost it nothing: every frame reaches the
// recording in order, the stalled queue drops and counts, the failures are counted.
func TestPipelineSlowSinksDoNotStallRecording(t *testing.T) {
	ring, _ := audio.NewRingBuffer(4096)
	rec := &positions{}
	slow := &slowSink{delay: 50 * time.Millisecond}
	queued := audio.NewQueuedSink(slow, 4)
	fail := &failingSink{}
	p := audio.NewPipeline(ring, rec, queued, fail)
	done := make(chan error, 1)
	go func() { done <- p.Run() }()

	const total = 100*pcm.FrameSamples + 123
	chunk := make([]int16, 441)
	for sent := 0; sent < total; {
		n := min(len(chunk), total-sent)
		for ring.Cap()-ring.Len() < n {
			time.Sleep(100 * time.Microsecond)
		}
		ring.Write(chunk[:n])
		sent += n
	}
	p.Stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(rec.pos) != 101 || rec.sizes[len(rec.sizes)-1] != 123 {
		t.Fatalf("recording got %d frames (sizes %v), want 101 with 123 last", len(rec.pos), rec.sizes[max(len(rec.sizes)-3, 0):])
	}
	for i, pos := range rec.pos {
		if pos != int64(i*pcm.FrameSamples) {
			t.Fatalf("frame %d at %d", i, pos)
		}
	}
	queued.Close()
	if got := slow.n.Load() + queued.Dropped(); got != 101 {
		t.Errorf("slow sink: %d written + %d dropped = %d, want 101", slow.n.Load(), queued.Dropped(), got)
	}
	if queued.Dropped() == 0 {
		t.Error("a stalled sink dropped nothing: the test did not stall it")
	}
	if n, err := p.SinkErrors(); n != 101 || err == nil || fail.n != 101 {
		t.Errorf("failing sink: %d errors counted (%v), %d calls; want 101", n, err, fail.n)
	}
	if p.Frames() != 101 {
		t.Errorf("Frames() = %d", p.Frames())
	}
}

// The recording's own error ends the pipeline at once and is returned.
func TestPipelineStopsOnRecordingError(t *testing.T) {
	ring, _ := audio.NewRingBuffer(1 << 16)
	rec := &positions{fail: 3}
	p := audio.NewPipeline(ring, rec)
	ring.Write(make([]int16, 10*pcm.FrameSamples))
	err := p.Run()
	if err == nil || len(rec.pos) != 3 {
		t.Errorf("Run = %v after %d frames; want the disk-full error after 3", err, len(rec.pos))
	}
}

func TestQueuedSinkDoesNotAllocate(t *testing.T) {
	q := audio.NewQueuedSink(&slowSink{}, 8)
	defer q.Close()
	f := audio.Frame{Samples: make([]int16, pcm.FrameSamples)}
	if a := testing.AllocsPerRun(100, func() { q.WriteFrame(f) }); a != 0 {
		t.Errorf("WriteFrame allocates %v times", a)
	}
}

// A limit is counted in samples: exactly that many reach the recording, the last frame cut
// where the limit ends, Full is closed then, and whatever the source writes after it is
// drained into nothing (the ring never overruns while the caller gets round to Stop).
func TestPipelineLimit(t *testing.T) {
	for _, tc := range []struct {
		name          string
		limit         int64
		frames, lastN int
	}{
		{"whole frames", 10 * pcm.FrameSamples, 10, pcm.FrameSamples},
		{"inside a frame", 10*pcm.FrameSamples + 7, 11, 7},
		{"one sample", 1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ring, _ := audio.NewRingBuffer(4096)
			rec := &positions{}
			p := audio.NewPipeline(ring, rec)
			p.SetLimit(tc.limit)
			done := make(chan error, 1)
			go func() { done <- p.Run() }()
			chunk := make([]int16, 441)
			// Five times the limit, written without waiting: only a pipeline that keeps
			// draining after the limit lets this through without overrun.
			for sent := int64(0); sent < 5*tc.limit+int64(len(chunk)); sent += int64(len(chunk)) {
				for ring.Cap()-ring.Len() < len(chunk) {
					time.Sleep(100 * time.Microsecond)
				}
				ring.Write(chunk)
			}
			select {
			case <-p.Full():
			case <-time.After(5 * time.Second):
				t.Fatal("Full never closed")
			}
			p.Stop()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var total int64
			for _, n := range rec.sizes {
				total += int64(n)
			}
			if total != tc.limit || len(rec.sizes) != tc.frames || rec.sizes[len(rec.sizes)-1] != tc.lastN {
				t.Errorf("recorded %d samples in %d frames (last %d); want %d in %d (last %d)",
					total, len(rec.sizes), rec.sizes[len(rec.sizes)-1], tc.limit, tc.frames, tc.lastN)
			}
			if ring.Dropped() != 0 {
				t.Errorf("%d samples dropped after the limit", ring.Dropped())
			}
		})
	}
}
