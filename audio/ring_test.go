package audio

import (
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestRingBufferSizes(t *testing.T) {
	for _, tc := range []struct {
		size, want int
		bad        bool
	}{{1, 1, false}, {3, 4, false}, {4096, 4096, false}, {4097, 8192, false}, {0, 0, true}, {-5, 0, true}} {
		r, err := NewRingBuffer(tc.size)
		if tc.bad {
			if err == nil {
				t.Errorf("NewRingBuffer(%d): no error", tc.size)
			}
			continue
		}
		if err != nil || r.Cap() != tc.want {
			t.Errorf("NewRingBuffer(%d) = %v, %v; want cap %d", tc.size, r, err, tc.want)
		}
	}
}

// With room to spare, every sample comes out exactly once and in order, whatever the chunk
// sizes on either side, across many wraps of the buffer, with producer and consumer racing.
func TestRingBufferConcurrentNoLoss(t *testing.T) {
	for _, bytes := range []bool{false, true} {
		r, _ := NewRingBuffer(1 << 12)
		const total = 1_000_000
		var wg sync.WaitGroup
		wg.Add(1)
		produced := make(chan struct{})
		go func() {
			defer wg.Done()
			defer close(produced)
			rng := rand.New(rand.NewPCG(1, 2))
			buf := make([]int16, 1500)
			raw := make([]byte, 3000)
			for next := 0; next < total; {
				n := min(1+rng.IntN(len(buf)), total-next)
				for r.Cap()-r.Len() < n {
					runtime.Gosched()
				}
				for i := range n {
					buf[i] = int16(next + i)
					raw[2*i], raw[2*i+1] = byte(buf[i]), byte(uint16(buf[i])>>8)
				}
				var got int
				if bytes {
					got = r.WriteBytes(raw[:2*n])
				} else {
					got = r.Write(buf[:n])
				}
				if got != n {
					t.Errorf("write %d = %d with room", n, got)
					return
				}
				next += n
			}
		}()
		rng := rand.New(rand.NewPCG(3, 4))
		out := make([]int16, 2000)
		for seen := 0; seen < total; {
			n := r.Read(out[:1+rng.IntN(len(out))])
			if n == 0 {
				// A producer that gave up early (its error is reported) must end the
				// test, not leave it waiting for a wake that never comes.
				select {
				case <-r.Wake():
				case <-produced:
					if r.Len() == 0 {
						t.Fatalf("bytes=%v: producer stopped after %d of %d samples", bytes, seen, total)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("bytes=%v: no samples for 10 s after %d of %d", bytes, seen, total)
				}
				continue
			}
			for i := range n {
				if out[i] != int16(seen+i) {
					t.Fatalf("bytes=%v: sample %d = %d, want %d", bytes, seen+i, out[i], int16(seen+i))
				}
			}
			seen += n
		}
		wg.Wait()
		if r.Dropped() != 0 || r.Len() != 0 || r.Written() != total {
			t.Errorf("bytes=%v: dropped %d, left %d, written %d", bytes, r.Dropped(), r.Len(), r.Written())
		}
	}
}

// When the consumer is behind, the newest samples that don't fit are dropped and counted
// exactly; the queued ones are never overwritten.
func TestRingBufferOverrunCounted(t *testing.T) {
	r, _ := NewRingBuffer(1000) // 1024
	rng := rand.New(rand.NewPCG(5, 6))
	var model []int16 // what a perfect ring would hold
	var dropped uint64
	next := 0
	out := make([]int16, 4096)
	for step := 0; step < 5000; step++ {
		if rng.IntN(3) > 0 {
			n := rng.IntN(600)
			p := make([]int16, n)
			for i := range p {
				p[i] = int16(next + i)
			}
			next += n
			fit := min(n, r.Cap()-len(model))
			if got := r.Write(p); got != fit {
				t.Fatalf("step %d: Write(%d) = %d, want %d", step, n, got, fit)
			}
			model = append(model, p[:fit]...)
			dropped += uint64(n - fit)
		} else {
			n := r.Read(out[:rng.IntN(len(out))])
			want := model[:min(n, len(model))]
			for i := range want {
				if out[i] != want[i] {
					t.Fatalf("step %d: read[%d] = %d, want %d", step, i, out[i], want[i])
				}
			}
			model = model[n:]
		}
		if r.Dropped() != dropped || r.Len() != len(model) {
			t.Fatalf("step %d: dropped %d len %d, want %d and %d", step, r.Dropped(), r.Len(), dropped, len(model))
		}
	}
	if dropped == 0 {
		t.Fatal("test never overran the ring")
	}
}

// The producer path runs on miniaudio's real-time thread: it must never allocate.
func TestRingBufferProducerDoesNotAllocate(t *testing.T) {
	r, _ := NewRingBuffer(4096)
	p := make([]int16, 480)
	raw := make([]byte, 960)
	if a := testing.AllocsPerRun(1000, func() {
		r.Write(p)
		r.WriteBytes(raw)
		r.Read(p)
		r.Read(p)
	}); a != 0 {
		t.Errorf("producer/consumer allocate %v times per run", a)
	}
	full, _ := NewRingBuffer(16)
	full.Write(make([]int16, 16))
	if a := testing.AllocsPerRun(1000, func() { full.Write(p) }); a != 0 {
		t.Errorf("overrunning Write allocates %v times", a)
	}
}

func BenchmarkRingBufferWriteBytes(b *testing.B) {
	r, _ := NewRingBuffer(1 << 14)
	raw := make([]byte, 960)
	out := make([]int16, 480)
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		r.WriteBytes(raw)
		r.Read(out)
	}
}

// WaitRoom returns once the consumer has freed what the producer asked for, and false when
// told to stop while waiting.
func TestRingWaitRoom(t *testing.T) {
	r, _ := NewRingBuffer(1024)
	r.Write(make([]int16, 1024))
	if !r.WaitRoom(0, nil) {
		t.Fatal("WaitRoom(0) on a full ring: false")
	}
	got := make(chan bool)
	go func() { got <- r.WaitRoom(600, nil) }()
	buf := make([]int16, 100)
	for range 5 { // 500 free: not yet
		r.Read(buf)
	}
	select {
	case <-got:
		t.Fatal("WaitRoom(600) returned with 500 free")
	case <-time.After(50 * time.Millisecond):
	}
	r.Read(buf)
	select {
	case ok := <-got:
		if !ok || r.Cap()-r.Len() < 600 {
			t.Fatalf("WaitRoom(600) = %v with %d free", ok, r.Cap()-r.Len())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitRoom(600) still waiting with 600 free")
	}
	r.Write(make([]int16, r.Cap()-r.Len()))
	stop := make(chan struct{})
	go func() { got <- r.WaitRoom(10, stop) }()
	close(stop)
	if <-got {
		t.Error("WaitRoom on a full ring returned true after stop")
	}
}
