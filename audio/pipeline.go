package audio

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"podium/audio/pcm"
)

// Pipeline is the ring's one consumer: it cuts the stream into 20 ms frames on the sample
// clock and hands each frame to the sinks in order. The first sink is the recording (the MP3):
// its error ends the pipeline, since a recording that cannot be written must say so at once.
// The others (Opus, meter) are best effort: their errors are counted and the first kept, and
// anything slow sits behind a QueuedSink so it can never hold up the recording.
type Pipeline struct {
	ring   *RingBuffer
	record FrameSink
	others []FrameSink
	proc   Processor // nil: the sinks get the microphone's samples as they are
	limit  int64     // samples to emit at most (0: no limit); see SetLimit

	stopping atomic.Bool
	muted    atomic.Bool
	calls    chan call
	done     chan struct{}
	first    chan struct{}
	full     chan struct{} // closed once limit samples have been emitted
	err      error

	frames    atomic.Int64
	sinkFails atomic.Int64
	sinkMu    sync.Mutex
	sinkErr   error
}

func NewPipeline(ring *RingBuffer, record FrameSink, others ...FrameSink) *Pipeline {
	return &Pipeline{ring: ring, record: record, others: others, calls: make(chan call), done: make(chan struct{}), first: make(chan struct{}), full: make(chan struct{})}
}

type call struct {
	fn   func() error
	done chan error
}

// Call runs fn on the consumer goroutine, between frames, once the ring is drained: the way to
// touch the sinks (which are not safe for concurrent use) while the pipeline runs.
func (p *Pipeline) Call(fn func() error) error {
	c := call{fn: fn, done: make(chan error, 1)}
	select {
	case p.calls <- c:
		return <-c.done
	case <-p.done:
		return errors.New("pipeline has stopped")
	}
}

// Run consumes the ring until Stop is called and the ring is empty, then emits the last
// partial frame. With a limit (SetLimit) it emits exactly that many samples, closes Full and
// from then on drains the ring into nothing, so the source neither blocks nor overruns while
// the caller stops it. It returns the recording sink's first error, if any.
func (p *Pipeline) Run() error {
	defer close(p.done)
	var buf [pcm.FrameSamples]int16
	var pos int64
	fill := 0
	// want is the size of the frame being filled: a whole one, or what is left of the limit.
	want := func() int {
		if p.limit > 0 && p.limit-pos < pcm.FrameSamples {
			return int(p.limit - pos)
		}
		return pcm.FrameSamples
	}
	full := false
	slice := time.Now() // when the consumer last waited or yielded
	for {
		if full {
			for p.ring.Read(buf[:]) > 0 {
			}
		} else {
			fill += p.ring.Read(buf[fill:want()])
			if fill == want() {
				if err := p.emit(Frame{Pos: pos, Samples: buf[:fill]}); err != nil {
					p.err = err
					return err
				}
				pos += int64(fill)
				fill = 0
				if p.limit > 0 && pos >= p.limit {
					full = true
					close(p.full)
				}
				if time.Since(slice) > yieldAfter {
					runtime.Gosched()
					slice = time.Now()
				}
				continue
			}
		}
		if p.stopping.Load() {
			if full {
				return nil
			}
			// Stop is only called once the producer has stopped, so one more read after
			// seeing the flag is guaranteed to find everything it wrote.
			fill += p.ring.Read(buf[fill:want()])
			if fill == want() {
				continue
			}
			if fill > 0 {
				if err := p.emit(Frame{Pos: pos, Samples: buf[:fill]}); err != nil {
					p.err = err
					return err
				}
			}
			return nil
		}
		select {
		case <-p.ring.Wake():
		case c := <-p.calls:
			c.done <- c.fn()
		}
		slice = time.Now()
	}
}

// yieldAfter is how long the consumer works without waiting (catching up, or an unpaced
// source) before it yields. Its sinks call C (LAME) back to back, and the runtime's monitor
// takes the P away from a goroutine that has run 10 ms without yielding whenever it finds it
// in a C call, then polls every 20 us for a millisecond after: a --fast encode paid that
// about a hundred times a second. Yielding first starts a new time slice instead, at the
// price of one trip through the scheduler (which wakes a second thread to look for work, so
// not every frame). 8 ms is inside the 10 ms the monitor allows.
const yieldAfter = 8 * time.Millisecond

func (p *Pipeline) emit(f Frame) error {
	if p.muted.Load() {
		clear(f.Samples)
	}
	if p.proc != nil {
		p.proc.Process(f.Samples)
	}
	if err := p.record.WriteFrame(f); err != nil {
		return fmt.Errorf("recording: %w", err)
	}
	for _, s := range p.others {
		if err := s.WriteFrame(f); err != nil {
			p.sinkFails.Add(1)
			p.sinkMu.Lock()
			if p.sinkErr == nil {
				p.sinkErr = err
			}
			p.sinkMu.Unlock()
		}
	}
	if p.frames.Add(1) == 1 {
		close(p.first)
	}
	return nil
}

// SetLimit makes the pipeline emit n samples at most (n ≤ 0: no limit), the last frame cut
// short where n ends inside it: a recording of a given length is counted in samples, never
// on a clock. Call it before Run.
func (p *Pipeline) SetLimit(n int64) { p.limit = max(n, 0) }

// Full is closed once the limit's samples have all been emitted (never without a limit).
func (p *Pipeline) Full() <-chan struct{} { return p.full }

// SetProcessor puts proc (voice processing) in front of every sink, the recording's too.
// Call it before Run.
func (p *Pipeline) SetProcessor(proc Processor) { p.proc = proc }

// Stop asks Run to drain the ring and return. Call it after the producer has stopped writing.
func (p *Pipeline) Stop() {
	p.stopping.Store(true)
	p.ring.Signal()
}

// SetMute replaces the audio with silence from the next frame on, or stops doing so. Time
// goes on either way, so the recording stays aligned with the talk.
func (p *Pipeline) SetMute(m bool) { p.muted.Store(m) }

// Done is closed when Run has returned.
func (p *Pipeline) Done() <-chan struct{} { return p.done }

// FirstFrame is closed once the first frame has reached the sinks: from then on the
// microphone's samples are flowing.
func (p *Pipeline) FirstFrame() <-chan struct{} { return p.first }

// Frames counts the frames emitted so far.
func (p *Pipeline) Frames() int64 { return p.frames.Load() }

// SinkErrors returns how many best-effort sink writes failed, and the first such error.
func (p *Pipeline) SinkErrors() (int64, error) {
	p.sinkMu.Lock()
	defer p.sinkMu.Unlock()
	return p.sinkFails.Load(), p.sinkErr
}

// QueuedSink runs a slow sink (the Opus encoder and network) on its own goroutine behind a
// bounded queue. When the queue is full the frame is dropped and counted: losing a live packet
// is better than delaying the recording. Frames are copied into a fixed pool, so a running
// queue allocates nothing.
type QueuedSink struct {
	inner   FrameSink
	queue   chan int // indices into slots
	free    chan int
	slots   []queuedFrame
	dropped atomic.Int64
	fails   atomic.Int64
	errMu   sync.Mutex
	err     error
	done    chan struct{}
	closed  bool
}

type queuedFrame struct {
	pos     int64
	n       int
	samples [pcm.FrameSamples]int16
}

// NewQueuedSink starts inner behind a queue of depth frames.
func NewQueuedSink(inner FrameSink, depth int) *QueuedSink {
	if depth < 1 {
		depth = 1
	}
	q := &QueuedSink{
		inner: inner,
		queue: make(chan int, depth),
		free:  make(chan int, depth),
		slots: make([]queuedFrame, depth),
		done:  make(chan struct{}),
	}
	for i := range depth {
		q.free <- i
	}
	go q.run()
	return q
}

func (q *QueuedSink) run() {
	defer close(q.done)
	for i := range q.queue {
		s := &q.slots[i]
		if err := q.inner.WriteFrame(Frame{Pos: s.pos, Samples: s.samples[:s.n]}); err != nil {
			q.fails.Add(1)
			q.errMu.Lock()
			if q.err == nil {
				q.err = err
			}
			q.errMu.Unlock()
		}
		q.free <- i
	}
}

// WriteFrame queues a copy of f, or drops it if the queue is full. It never blocks.
func (q *QueuedSink) WriteFrame(f Frame) error {
	select {
	case i := <-q.free:
		s := &q.slots[i]
		s.pos, s.n = f.Pos, copy(s.samples[:], f.Samples)
		q.queue <- i
	default:
		q.dropped.Add(1)
	}
	return nil
}

// Dropped counts frames that found the queue full.
func (q *QueuedSink) Dropped() int64 { return q.dropped.Load() }

// Err returns the number of failed writes of the inner sink, and the first error.
func (q *QueuedSink) Err() (int64, error) {
	q.errMu.Lock()
	defer q.errMu.Unlock()
	return q.fails.Load(), q.err
}

// Close lets the queued frames through and waits for the inner sink to finish them.
// Not safe to call concurrently with WriteFrame.
func (q *QueuedSink) Close() error {
	if !q.closed {
		q.closed = true
		close(q.queue)
	}
	<-q.done
	_, err := q.Err()
	return err
}
