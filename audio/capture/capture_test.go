package capture_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/capture"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// drain reads the ring until stop, counting samples, as the pipeline would.
func drain(ring *audio.RingBuffer, stop <-chan struct{}) <-chan int64 {
	total := make(chan int64, 1)
	go func() {
		var n int64
		buf := make([]int16, 4096)
		for {
			select {
			case <-ring.Wake():
				n += int64(ring.Read(buf))
			case <-stop:
				for k := ring.Read(buf); k > 0; k = ring.Read(buf) {
					n += int64(k)
				}
				total <- n
				return
			}
		}
	}()
	return total
}

// The null backend is a clock with no hardware: every frame miniaudio delivers reaches the
// consumer, and start/stop cycles leave no goroutine behind.
func TestNullCaptureCountsAndCycles(t *testing.T) {
	before := runtime.NumGoroutine()
	for cycle := range 3 {
		ring, _ := audio.NewRingBuffer(pcm.SampleRate)
		c, err := capture.Open(capture.NullDevice, ring)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := c.Direct(); !ok {
			t.Errorf("samples come through malgo's Go callback: %v", err)
		}
		stop := make(chan struct{})
		total := drain(ring, stop)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, 5*time.Second, fmt.Sprintf("cycle %d: the null device to deliver 10 frames", cycle),
			func() bool { return c.Frames() >= 10*pcm.FrameSamples })
		if err := c.Stop(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		got := <-total
		if uint64(got) != c.Frames() || ring.Dropped() != 0 {
			t.Errorf("cycle %d: consumer read %d samples, device delivered %d, dropped %d", cycle, got, c.Frames(), ring.Dropped())
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-c.Lost():
			t.Errorf("cycle %d: a requested stop was reported as a lost device", cycle)
		default:
		}
	}
	var after int
	for range 50 {
		if after = runtime.NumGoroutine(); after <= before {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if after > before {
		t.Errorf("%d goroutines before, %d after three capture cycles", before, after)
	}
}

func TestOpenCaptureErrors(t *testing.T) {
	audiotest.VirtualMic(t)
	ring, _ := audio.NewRingBuffer(1024)
	for _, tc := range []struct{ spec, want string }{
		{"no-such-microphone", `"no-such-microphone" not found`},
		{"Output", "matches 2 devices"},
	} {
		c, err := capture.Open(tc.spec, ring)
		if err == nil {
			c.Close()
			t.Errorf("Open(%q): no error", tc.spec)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(%q) = %q, want it to say %q", tc.spec, err, tc.want)
		}
	}
}

func TestListDevicesFindsVirtualMic(t *testing.T) {
	audiotest.VirtualMic(t)
	devs, err := capture.List()
	if err != nil {
		t.Fatal(err)
	}
	var def []string
	for _, d := range devs {
		if d.Default {
			def = append(def, d.Name)
		}
		if d.Name == "null" {
			t.Errorf("ALSA's null plugin offered as a microphone")
		}
	}
	if len(def) != 1 || !strings.Contains(def[0], "Remapped") {
		t.Errorf("devices %+v: want exactly one default, the virtual mic", devs)
	}
}

// With no sound server (and, as on the test machines, no sound card), opening the default
// microphone fails with an error that is ErrNoDevice, so callers can say so in their words.
func TestOpenDefaultWithoutSoundServerIsNoDevice(t *testing.T) {
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv("PULSE_SERVER", "unix:/nonexistent/podium-test")
	ring, _ := audio.NewRingBuffer(1024)
	c, err := capture.Open("", ring)
	if err == nil {
		c.Close()
		t.Fatal("opened a microphone with no sound server: this test needs a machine without a sound card")
	}
	if !errors.Is(err, capture.ErrNoDevice) {
		t.Errorf("Open(\"\") = %v, want an error that is ErrNoDevice", err)
	}
}

// Through PulseAudio, as on a presenter's machine, samples come through the callback that
// never enters Go, and every one delivered reaches the ring.
func TestVirtualMicIsDirect(t *testing.T) {
	audiotest.VirtualMic(t)
	ring, _ := audio.NewRingBuffer(4 * pcm.SampleRate)
	c, err := capture.Open("", ring)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ok, err := c.Direct(); !ok {
		t.Fatalf("samples come through malgo's Go callback: %v", err)
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 10*time.Second, "the microphone to deliver 20 frames", func() bool { return c.Frames() >= 20*pcm.FrameSamples })
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := uint64(ring.Len()); got != c.Frames() || ring.Dropped() != 0 {
		t.Errorf("ring holds %d samples, the device delivered %d, dropped %d", got, c.Frames(), ring.Dropped())
	}
}
