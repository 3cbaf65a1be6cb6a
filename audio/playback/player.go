package playback

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gen2brain/malgo"

	"podium/audio"
)

// Config sets up a Player.
type Config struct {
	// Null plays to miniaudio's null backend, a clock with no sound hardware: for tests.
	Null bool
	// Tap, when set, gets every sample as it is queued for the device, in order (from the
	// Player's decoding goroutine): what the device plays.
	Tap func([]int16)
}

// malgo's BackendNull constant is off by one against miniaudio's enum (ma_backend_null is 14).
const backendNull = malgo.Backend(14)

// queue is how much decoded audio waits for the device: enough to ride out a busy machine.
const queue = 500 * time.Millisecond

// Player plays a Reader on the default output device until it ends or is closed.
type Player struct {
	r      *Reader
	cfg    Config
	ctx    *malgo.AllocatedContext
	dev    *malgo.Device
	ring   *audio.RingBuffer
	played atomic.Int64 // samples the device has taken from the ring
	eof    atomic.Bool  // the decoder has queued its last sample
	out    []int16      // the device callback's scratch, sized at start

	stop      chan struct{}
	done      chan struct{}
	wg        sync.WaitGroup
	errMu     sync.Mutex
	err       error
	closeOnce sync.Once
}

// Play starts playing r, and owns it from now on (Close closes it).
func Play(r *Reader, cfg Config) (*Player, error) {
	ring, err := audio.NewRingBuffer(int(int64(r.SampleRate()) * int64(queue) / int64(time.Second)))
	if err != nil {
		r.Close()
		return nil, err
	}
	var backends []malgo.Backend
	if cfg.Null {
		backends = []malgo.Backend{backendNull}
	}
	ctx, err := malgo.InitContext(backends, malgo.ContextConfig{}, nil)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("open audio system: %w", err)
	}
	p := &Player{r: r, cfg: cfg, ctx: ctx, ring: ring, stop: make(chan struct{}), done: make(chan struct{}),
		out: make([]int16, 1<<16)}
	dc := malgo.DefaultDeviceConfig(malgo.Playback)
	dc.Playback.Format = malgo.FormatS16
	dc.Playback.Channels = 1
	dc.SampleRate = uint32(r.SampleRate())
	dc.PeriodSizeInMilliseconds = 20
	dc.Periods = 3
	dev, err := malgo.InitDevice(ctx.Context, dc, malgo.DeviceCallbacks{Data: p.onData})
	if err != nil {
		p.freeContext()
		r.Close()
		return nil, fmt.Errorf("open the speakers: %w", err)
	}
	p.dev = dev
	p.feed(ring.Cap()) // the first half second is there before the device asks
	if err := dev.Start(); err != nil {
		dev.Uninit()
		p.freeContext()
		r.Close()
		return nil, fmt.Errorf("start the speakers: %w", err)
	}
	p.wg.Add(1)
	go p.run()
	return p, nil
}

// onData is the device's callback: it copies queued samples out and never waits. An empty
// queue plays silence and does not move the position on.
func (p *Player) onData(out, _ []byte, frames uint32) {
	want := min(int(frames), len(out)/2, len(p.out))
	n := p.ring.Read(p.out[:want])
	for i, s := range p.out[:n] {
		binary.LittleEndian.PutUint16(out[2*i:], uint16(s))
	}
	clear(out[2*n:])
	p.played.Add(int64(n))
}

// feed decodes up to room samples into the ring; it returns false once the file has ended
// or failed.
func (p *Player) feed(room int) bool {
	var buf [4096]byte
	var s [2048]int16
	for room > 0 && !p.eof.Load() {
		k, err := p.r.Read(buf[:2*min(room, len(s))])
		n := k / 2
		for i := range n {
			s[i] = int16(binary.LittleEndian.Uint16(buf[2*i:]))
		}
		if n > 0 {
			if p.cfg.Tap != nil {
				p.cfg.Tap(s[:n])
			}
			p.ring.Write(s[:n])
			room -= n
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				p.setErr(fmt.Errorf("decode: %w", err))
			}
			p.eof.Store(true)
		}
	}
	return !p.eof.Load()
}

// run keeps the queue full, then waits for the device to play it out.
func (p *Player) run() {
	defer p.wg.Done()
	defer close(p.done)
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		if !p.eof.Load() {
			p.feed(p.ring.Cap() - p.ring.Len())
		} else if p.ring.Len() == 0 {
			return
		}
	}
}

func (p *Player) setErr(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	if p.err == nil {
		p.err = err
	}
}

// Position is where in the file the device has got to: the start plus what it has taken.
// (The sound leaves the speaker one device buffer, at most 60 ms, later.)
func (p *Player) Position() time.Duration {
	return p.r.Start() + time.Duration(p.played.Load())*time.Second/time.Duration(p.r.SampleRate())
}

// Done is closed when the file has played out (or failed: Err), or the Player is closed.
func (p *Player) Done() <-chan struct{} { return p.done }

// Err is why playing stopped early, if it did.
func (p *Player) Err() error {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	return p.err
}

// Close stops playing and frees the device; safe to call more than once.
func (p *Player) Close() error {
	p.closeOnce.Do(func() {
		close(p.stop)
		p.wg.Wait()
		_ = p.dev.Stop()
		p.dev.Uninit()
		p.freeContext()
		p.r.Close()
	})
	return nil
}

func (p *Player) freeContext() {
	_ = p.ctx.Uninit()
	p.ctx.Free()
}
