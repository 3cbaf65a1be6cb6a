package audio

import (
	"fmt"
	"sync/atomic"
)

// RingBuffer is a fixed-size single-producer single-consumer queue of samples between the
// capture callback and the one goroutine that consumes it.
//
// The producer side (Write) runs on miniaudio's real-time thread, so it only copies, publishes
// the new write position with an atomic store, and wakes the consumer with a non-blocking send.
// It never blocks, locks, allocates or logs. When the consumer has fallen behind, the samples
// that do not fit are dropped and counted: old audio already queued is never overwritten, so what
// reaches the MP3 is always a contiguous run with holes only where the count says.
type RingBuffer struct {
	buf  []int16
	mask uint64

	// write and read are free-running sample counters; write-read is the fill level.
	// They sit on separate cache lines from each other so the two threads don't contend.
	_       [64]byte
	write   atomic.Uint64
	_       [56]byte
	read    atomic.Uint64
	_       [56]byte
	dropped atomic.Uint64
	wake    chan struct{}
	// roomWant is the free space a producer waiting in WaitRoom needs (0: none waits); Read
	// signals room once that much is free, so the waiting costs one wake-up per batch.
	roomWant atomic.Uint64
	room     chan struct{}
}

// NewRingBuffer returns a ring holding at least size samples (rounded up to a power of two).
func NewRingBuffer(size int) (*RingBuffer, error) {
	if size <= 0 || size > 1<<30 {
		return nil, fmt.Errorf("ring buffer size %d out of range", size)
	}
	n := 1
	for n < size {
		n <<= 1
	}
	return &RingBuffer{buf: make([]int16, n), mask: uint64(n - 1), wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}, nil
}

// Cap is the number of samples the ring holds.
func (r *RingBuffer) Cap() int { return len(r.buf) }

// Write copies as much of p as fits and drops the rest, counting it. Producer side only.
func (r *RingBuffer) Write(p []int16) int {
	w, n := r.reserve(len(p))
	start := w & r.mask
	first := copy(r.buf[start:], p[:n])
	copy(r.buf, p[first:n])
	r.publish(w + n)
	return int(n)
}

// WriteBytes is Write for little-endian int16 bytes, as miniaudio hands them over, without
// converting into a temporary slice. Producer side only.
func (r *RingBuffer) WriteBytes(b []byte) int {
	w, n := r.reserve(len(b) / 2)
	for i := uint64(0); i < n; i++ {
		r.buf[(w+i)&r.mask] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	r.publish(w + n)
	return int(n)
}

// reserve returns the write position and how many of want samples fit, counting the rest as
// dropped: newest samples are the ones lost, so queued audio is never overwritten.
func (r *RingBuffer) reserve(want int) (w, n uint64) {
	w = r.write.Load()
	free := uint64(len(r.buf)) - (w - r.read.Load())
	n = uint64(want)
	if n > free {
		r.dropped.Add(n - free)
		n = free
	}
	return w, n
}

// publish makes samples up to w visible (the atomic store orders the copies before it for the
// consumer's load) and wakes the consumer without ever blocking: one pending token is enough.
func (r *RingBuffer) publish(w uint64) {
	r.write.Store(w)
	r.Signal()
}

// Read copies up to len(p) queued samples into p and returns how many. It does not wait.
// Consumer side only.
func (r *RingBuffer) Read(p []int16) int {
	rd := r.read.Load()
	avail := r.write.Load() - rd
	n := uint64(len(p))
	if n > avail {
		n = avail
	}
	start := rd & r.mask
	first := copy(p[:n], r.buf[start:])
	copy(p[first:n], r.buf)
	r.read.Store(rd + n)
	if want := r.roomWant.Load(); want != 0 && uint64(len(r.buf))-(r.write.Load()-rd-n) >= want && r.roomWant.CompareAndSwap(want, 0) {
		select {
		case r.room <- struct{}{}:
		default:
		}
	}
	return int(n)
}

// WaitRoom waits until want samples (at most Cap) fit, or stop is closed (false). It is for a
// producer that may wait, unlike the microphone: the unpaced WAV source. Producer side only.
func (r *RingBuffer) WaitRoom(want int, stop <-chan struct{}) bool {
	w := uint64(min(want, len(r.buf)))
	free := func() uint64 { return uint64(len(r.buf)) - (r.write.Load() - r.read.Load()) }
	for free() < w {
		r.roomWant.Store(w)
		if free() >= w { // the consumer read in between and may not have seen roomWant
			r.roomWant.Store(0)
			break
		}
		select {
		case <-r.room: // possibly a stale token: the loop checks again
		case <-stop:
			r.roomWant.Store(0)
			return false
		}
	}
	return true
}

// Len is the number of samples waiting to be read.
func (r *RingBuffer) Len() int { return int(r.write.Load() - r.read.Load()) }

// CountDropped counts n samples the producer lost before they reached the ring (its own
// buffer overran), so Dropped tells the whole loss. Producer side only.
func (r *RingBuffer) CountDropped(n uint64) { r.dropped.Add(n) }

// Dropped is the number of samples discarded because the ring was full.
func (r *RingBuffer) Dropped() uint64 { return r.dropped.Load() }

// Written is the number of samples accepted since the ring was made.
func (r *RingBuffer) Written() uint64 { return r.write.Load() }

// Wake is signalled after each Write; the consumer waits on it when the ring is empty.
func (r *RingBuffer) Wake() <-chan struct{} { return r.wake }

// Signal wakes the consumer without writing, e.g. to make it notice the end of the stream.
// It never blocks.
func (r *RingBuffer) Signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}
