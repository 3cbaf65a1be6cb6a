// Package capture records from a microphone through miniaudio (malgo) into an audio.RingBuffer.
// It is the only package that links miniaudio, so a program that never records from a
// microphone (podium-server) does not.
package capture

// #include <stdlib.h>
import "C"

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gen2brain/malgo"

	"podium/audio"
	"podium/audio/pcm"
)

// NullDevice names miniaudio's null backend: a clock with no sound hardware (silence every
// 20 ms). It is only ever used when asked for by this name, never as a fallback.
const NullDevice = "null"

// malgo's BackendNull constant is off by one against miniaudio's enum (ma_backend_null is 14).
const backendNull = malgo.Backend(14)

// ErrNoDevice means there is no capture device to record from.
var ErrNoDevice = errors.New("no microphone found")

// Device describes a capture device.
type Device struct {
	ID      string // miniaudio's id, stable while the device stays plugged in
	Name    string
	Default bool
}

// alsaPlugins are ALSA PCM names that are not microphones; they appear only when miniaudio
// falls back to ALSA and would record silence or fail.
var alsaPlugins = map[string]bool{"null": true}

// List returns the capture devices of the system's default backend.
func List() ([]Device, error) {
	ctx, err := malgo.InitContext(nil, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("open audio system: %w", err)
	}
	defer func() { _ = ctx.Uninit(); ctx.Free() }()
	infos, err := ctx.Devices(malgo.Capture)
	if err != nil {
		return nil, fmt.Errorf("list capture devices: %w", err)
	}
	return devicesOf(infos), nil
}

func devicesOf(infos []malgo.DeviceInfo) []Device {
	var out []Device
	for _, in := range infos {
		name := in.Name()
		if alsaPlugins[strings.ToLower(name)] {
			continue
		}
		out = append(out, Device{ID: in.ID.String(), Name: name, Default: in.IsDefault != 0})
	}
	return out
}

// Capture records from one device into a RingBuffer.
type Capture struct {
	ctx       *malgo.AllocatedContext
	dev       *malgo.Device
	ring      *audio.RingBuffer
	name      string
	id        string        // "" for the null device
	frames    atomic.Uint64 // with malgo's callback
	direct    *direct       // nil: malgo's callback delivers (directErr says why)
	directErr error
	watch     chan struct{} // closed to end the presence watcher
	wg        sync.WaitGroup

	stopOnce  sync.Once
	lost      chan struct{} // closed when the device stops without being asked to
	stopping  atomic.Bool
	closeOnce sync.Once
}

// Open opens the device named by spec — its ID, its exact name, a unique part of its
// name, "" for the default, or NullDevice — for 48 kHz mono int16 capture into ring.
// miniaudio converts whatever the device delivers.
func Open(spec string, ring *audio.RingBuffer) (*Capture, error) {
	var backends []malgo.Backend
	if spec == NullDevice {
		backends = []malgo.Backend{backendNull}
	}
	ctx, err := malgo.InitContext(backends, malgo.ContextConfig{}, nil)
	if err != nil {
		return nil, fmt.Errorf("open audio system: %w", err)
	}
	c := &Capture{ctx: ctx, ring: ring, lost: make(chan struct{}), name: spec}
	cfg := malgo.DefaultDeviceConfig(malgo.Capture)
	cfg.Capture.Format = malgo.FormatS16
	cfg.Capture.Channels = 1
	cfg.SampleRate = pcm.SampleRate
	// 20 ms periods, 3 of them: a sound server that finds our thread late (a loaded machine)
	// still has 60 ms of room before it drops audio, and latency stays well under a frame or two.
	cfg.PeriodSizeInMilliseconds = 20
	cfg.Periods = 3
	if spec != NullDevice {
		infos, err := ctx.Devices(malgo.Capture)
		if err != nil {
			c.freeContext()
			return nil, fmt.Errorf("list capture devices: %w", err)
		}
		info, err := pickDevice(spec, infos)
		if err != nil {
			c.freeContext()
			return nil, err
		}
		c.name, c.id = info.Name(), info.ID.String()
		if spec != "" {
			// malgo hands the id to C as C memory it never frees; free it once the device is open.
			id := info.ID.Pointer()
			defer C.free(id)
			cfg.Capture.DeviceID = id
		}
	}
	dev, err := malgo.InitDevice(ctx.Context, cfg, malgo.DeviceCallbacks{
		Data: c.onData,
		Stop: c.onStop,
	})
	if err != nil {
		c.freeContext()
		if spec == "" {
			return nil, fmt.Errorf("open default microphone: %w (%w)", err, ErrNoDevice)
		}
		return nil, fmt.Errorf("open microphone %q: %w", c.name, err)
	}
	c.dev = dev
	c.direct, c.directErr = takeOver(ctx, dev, ring)
	return c, nil
}

func pickDevice(spec string, infos []malgo.DeviceInfo) (malgo.DeviceInfo, error) {
	devs := devicesOf(infos)
	if len(devs) == 0 {
		return malgo.DeviceInfo{}, ErrNoDevice
	}
	find := func(match func(Device) bool) []int {
		var idx []int
		for i, d := range devs {
			if match(d) {
				idx = append(idx, i)
			}
		}
		return idx
	}
	byIndex := func(i int) malgo.DeviceInfo {
		for _, in := range infos {
			if in.ID.String() == devs[i].ID {
				return in
			}
		}
		panic("device vanished from its own list")
	}
	if spec == "" {
		if idx := find(func(d Device) bool { return d.Default }); len(idx) > 0 {
			return byIndex(idx[0]), nil
		}
		return byIndex(0), nil
	}
	for _, match := range []func(Device) bool{
		func(d Device) bool { return d.ID == spec },
		func(d Device) bool { return d.Name == spec },
		func(d Device) bool { return strings.Contains(strings.ToLower(d.Name), strings.ToLower(spec)) },
	} {
		switch idx := find(match); len(idx) {
		case 0:
		case 1:
			return byIndex(idx[0]), nil
		default:
			names := make([]string, len(idx))
			for j, i := range idx {
				names[j] = fmt.Sprintf("%q", devs[i].Name)
			}
			return malgo.DeviceInfo{}, fmt.Errorf("microphone %q matches %d devices (%s): give its ID or full name", spec, len(idx), strings.Join(names, ", "))
		}
	}
	return malgo.DeviceInfo{}, fmt.Errorf("microphone %q not found: run 'podium devices' to list them", spec)
}

// onData runs on miniaudio's real-time thread when the device could not be taken over by
// podium_on_data (callback.go), which does the same without entering Go. It does three
// things: copy the samples into the ring, publish the new position with an atomic store, wake
// the consumer without blocking (all inside WriteBytes). Nothing here blocks, locks,
// allocates or logs.
func (c *Capture) onData(_, in []byte, frames uint32) {
	c.ring.WriteBytes(in)
	c.frames.Add(uint64(frames))
}

// onStop runs when the device stops, asked or not; unasked means it was unplugged or failed.
func (c *Capture) onStop() {
	if !c.stopping.Load() {
		c.markLost()
	}
}

func (c *Capture) markLost() { c.stopOnce.Do(func() { close(c.lost) }) }

// presenceInterval is how often a running capture checks that its device is still listed.
const presenceInterval = time.Second

// watchPresence notices a device that vanished without stopping the stream: PulseAudio and
// PipeWire move the stream to another source (often a silent monitor) when a microphone is
// unplugged, so no stop callback comes, and the recording would go on in silence unsaid.
func (c *Capture) watchPresence(stop <-chan struct{}) {
	defer c.wg.Done()
	t := time.NewTicker(presenceInterval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			devs, err := List()
			if err != nil {
				continue // cannot tell; the stop callback still covers a dead device
			}
			if !slices.ContainsFunc(devs, func(d Device) bool { return d.ID == c.id }) {
				// Stop the stream the sound server moved elsewhere: once Lost is closed,
				// no more samples reach the ring.
				c.stopping.Store(true)
				_ = c.dev.Stop()
				c.markLost()
				return
			}
		}
	}
}

// Start begins capturing.
func (c *Capture) Start() error {
	c.stopping.Store(false)
	if err := c.dev.Start(); err != nil {
		return fmt.Errorf("start microphone %q: %w", c.name, err)
	}
	if c.id != "" && c.watch == nil {
		c.watch = make(chan struct{})
		c.wg.Add(1)
		go c.watchPresence(c.watch)
	}
	return nil
}

// Stop stops capturing; once it returns no more samples reach the ring.
func (c *Capture) Stop() error {
	c.stopping.Store(true)
	c.stopWatch()
	var err error
	if c.dev.IsStarted() { // else stopped by itself (unplugged)
		if err = c.dev.Stop(); err != nil {
			err = fmt.Errorf("stop microphone %q: %w", c.name, err)
		}
	}
	if c.direct != nil {
		c.direct.drain()
	}
	return err
}

func (c *Capture) stopWatch() {
	if c.watch != nil {
		close(c.watch)
		c.wg.Wait()
		c.watch = nil
	}
}

// Lost is closed if the device stops by itself or disappears from the system's list
// (unplugged, or the sound server went away).
func (c *Capture) Lost() <-chan struct{} { return c.lost }

// Name is the device's name.
func (c *Capture) Name() string { return c.name }

// Frames counts the sample frames miniaudio has delivered.
func (c *Capture) Frames() uint64 {
	if c.direct != nil {
		return c.direct.frames()
	}
	return c.frames.Load()
}

// Direct says whether samples arrive through podium_on_data, the callback that never enters
// Go, or else why not.
func (c *Capture) Direct() (bool, error) { return c.direct != nil, c.directErr }

// Close stops the device if needed and frees it; the context goes last, as miniaudio requires.
func (c *Capture) Close() error {
	var err error
	c.closeOnce.Do(func() {
		if c.dev.IsStarted() {
			err = c.Stop()
		}
		c.stopWatch()
		c.dev.Uninit()
		if c.direct != nil {
			c.direct.release()
		}
		c.freeContext()
	})
	return err
}

func (c *Capture) freeContext() {
	_ = c.ctx.Uninit()
	c.ctx.Free()
}
