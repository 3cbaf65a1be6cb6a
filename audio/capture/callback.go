package capture

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// podium_ring is a single-producer single-consumer ring in C memory, between miniaudio's
// real-time thread (which never enters Go) and the pump goroutine. Positions are free-running
// sample counters, read and written with atomic builtins on both sides.
typedef struct {
	int16_t *buf;
	uint64_t mask;
	uint64_t w;       // written by the callback
	uint64_t pad1[7]; // keep w and r on separate cache lines
	uint64_t r;       // written by the pump
	uint64_t pad2[7];
	uint64_t dropped; // samples that found the ring full
	uint64_t frames;  // samples delivered by miniaudio
	intptr_t wake;    // what podium_wake signals: an eventfd, a pipe, a Windows event
} podium_ring;

// podium_wake tells the pump that samples are waiting, without blocking or allocating. One
// per platform, beside the pump's side of it (wake_linux.go, wake_windows.go, wake_darwin.go).
void podium_wake(intptr_t wake);

enum { podium_slots = 16 };
static void *podium_devs[podium_slots];
static podium_ring *podium_rings[podium_slots];

// podium_on_data is miniaudio's data callback, in place of malgo's, which would enter Go
// from this thread every period. It does three things: copy the samples into the ring,
// publish the new position with an atomic store, wake the pump (podium_wake).
// It never blocks, locks, allocates or logs.
static void podium_on_data(void *dev, void *out, const void *in, uint32_t frames) {
	podium_ring *r = 0;
	for (int i = 0; i < podium_slots; i++) {
		if (__atomic_load_n(&podium_devs[i], __ATOMIC_ACQUIRE) == dev) {
			r = __atomic_load_n(&podium_rings[i], __ATOMIC_ACQUIRE);
			break;
		}
	}
	if (!r || !in) return;
	const int16_t *s = in;
	uint64_t w = r->w;
	uint64_t room = r->mask + 1 - (w - __atomic_load_n(&r->r, __ATOMIC_ACQUIRE));
	uint64_t n = frames < room ? frames : room;
	uint64_t start = w & r->mask, first = r->mask + 1 - start;
	if (first > n) first = n;
	memcpy(r->buf + start, s, first * sizeof *s);
	memcpy(r->buf, s + first, (n - first) * sizeof *s);
	if (n < frames) __atomic_fetch_add(&r->dropped, frames - n, __ATOMIC_RELAXED);
	__atomic_fetch_add(&r->frames, frames, __ATOMIC_RELAXED);
	__atomic_store_n(&r->w, w + n, __ATOMIC_RELEASE);
	podium_wake(r->wake);
}

// podium_take_over points the device's data callback at podium_on_data, after checking that
// the device is laid out as miniaudio 0.11 lays it out (pContext, type, sampleRate, state,
// onData), so a malgo built on another layout keeps its own callback. The device must not
// be running. Returns 0 on success.
static int podium_take_over(void *dev, void *ctx, uint32_t rate, podium_ring *r) {
	unsigned char *d = dev;
	void *pctx, *ondata;
	int32_t type;
	uint32_t sr;
	memcpy(&pctx, d, sizeof pctx);
	memcpy(&type, d + 8, sizeof type);
	memcpy(&sr, d + 12, sizeof sr);
	memcpy(&ondata, d + 24, sizeof ondata);
	if (pctx != ctx || type != 2 || sr != rate || ondata == 0) return -1;
	for (int i = 0; i < podium_slots; i++) {
		// Claim the slot first, then fill it: two devices opened at once never share a
		// ring. The device has not started, so its callback cannot look here before the
		// ring is in place.
		void *none = 0;
		if (!__atomic_compare_exchange_n(&podium_devs[i], &none, dev, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) continue;
		__atomic_store_n(&podium_rings[i], r, __ATOMIC_RELEASE);
		void (*fn)(void *, void *, const void *, uint32_t) = podium_on_data;
		memcpy(d + 24, &fn, sizeof fn);
		return 0;
	}
	return -2;
}

// podium_release forgets a device taken over, once miniaudio's thread for it has ended.
static void podium_release(void *dev) {
	for (int i = 0; i < podium_slots; i++) {
		if (__atomic_load_n(&podium_devs[i], __ATOMIC_ACQUIRE) == dev) {
			__atomic_store_n(&podium_devs[i], (void *)0, __ATOMIC_RELEASE);
		}
	}
}

static uint64_t podium_load(uint64_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static void podium_store(uint64_t *p, uint64_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
*/
import "C"

import (
	"errors"
	"fmt"
	"sync"
	"unsafe"

	"github.com/gen2brain/malgo"

	"podium/audio"
	"podium/audio/pcm"
)

// directSamples is the C ring's size: a second of audio, far more than the pump ever lags.
const directSamples = 1 << 16

// direct carries samples from miniaudio's thread to the RingBuffer without that thread ever
// entering Go. Entering Go 50 times a second from a foreign thread leaves a P parked in a
// system call each time until the runtime's monitor retakes it, and keeps that monitor
// polling every 20 µs: measured, that was a third of the window's CPU while recording. The
// pump goroutine sleeps on a wake instead (on Linux an eventfd, in the netpoller).
type direct struct {
	dev   unsafe.Pointer // the ma_device, C memory
	r     *C.podium_ring
	wake  *wake
	ring  *audio.RingBuffer
	mu    sync.Mutex // pump against drain: the RingBuffer has one producer at a time
	seenD uint64
	done  chan struct{}
}

// takeOver makes dev deliver through a direct ring, or says why it cannot (the device then
// keeps malgo's callback). dev must be initialised and not started.
func takeOver(ctx *malgo.AllocatedContext, dev *malgo.Device, ring *audio.RingBuffer) (*direct, error) {
	w, handle, err := newWake()
	if err != nil {
		return nil, err
	}
	r := (*C.podium_ring)(C.calloc(1, C.sizeof_podium_ring))
	if r == nil {
		w.close()
		return nil, errors.New("out of memory for the capture ring")
	}
	if r.buf = (*C.int16_t)(C.calloc(directSamples, 2)); r.buf == nil {
		C.free(unsafe.Pointer(r))
		w.close()
		return nil, errors.New("out of memory for the capture ring")
	}
	r.mask = directSamples - 1
	r.wake = C.intptr_t(handle)
	d := &direct{dev: devicePtr(dev), r: r, wake: w, ring: ring, done: make(chan struct{})}
	if rc := C.podium_take_over(d.dev, contextPtr(ctx), C.uint32_t(pcm.SampleRate), r); rc != 0 {
		w.close()
		C.free(unsafe.Pointer(r.buf))
		C.free(unsafe.Pointer(r))
		return nil, fmt.Errorf("miniaudio device layout not recognised (%d)", int(rc))
	}
	go d.pump()
	return d, nil
}

// devicePtr and contextPtr read the C pointers malgo keeps private: its Device and Context
// are each a pointer to the C object's address (malgo v0.11; podium_take_over checks what it
// finds there before using it).
func devicePtr(dev *malgo.Device) unsafe.Pointer {
	return *(*(**unsafe.Pointer)(unsafe.Pointer(dev)))
}

func contextPtr(ctx *malgo.AllocatedContext) unsafe.Pointer {
	return *(*(**unsafe.Pointer)(unsafe.Pointer(&ctx.Context)))
}

func (d *direct) pump() {
	defer close(d.done)
	for d.wake.wait() {
		d.drain()
	}
}

// drain moves everything the callback has published into the RingBuffer and wakes its
// consumer. Called by the pump on each wake, and by Stop so that nothing captured is left
// behind once Stop returns.
func (d *direct) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	mask := uint64(d.r.mask)
	buf := unsafe.Slice((*int16)(unsafe.Pointer(d.r.buf)), mask+1)
	rd := uint64(C.podium_load(&d.r.r))
	w := uint64(C.podium_load(&d.r.w))
	for rd < w {
		start := rd & mask
		end := min(mask+1, start+(w-rd))
		d.ring.Write(buf[start:end])
		rd += end - start
	}
	C.podium_store(&d.r.r, C.uint64_t(rd))
	if dropped := uint64(C.podium_load(&d.r.dropped)); dropped > d.seenD {
		d.ring.CountDropped(dropped - d.seenD)
		d.seenD = dropped
	}
}

// frames is how many samples miniaudio has delivered.
func (d *direct) frames() uint64 { return uint64(C.podium_load(&d.r.frames)) }

// release ends the pump and frees the ring; the device must be uninitialised already, so
// its thread can no longer call back.
func (d *direct) release() {
	C.podium_release(d.dev)
	d.drain()
	d.wake.stop()
	<-d.done
	d.wake.close()
	C.free(unsafe.Pointer(d.r.buf))
	C.free(unsafe.Pointer(d.r))
}
