package audio

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"podium/audio/pcm"
)

// WAVSource plays a WAV file into a RingBuffer, standing in for the microphone in tests and
// benchmarks so that exactly the same ring, frames and sinks run. Paced, it writes 10 ms
// chunks on the wall clock like a sound card; unpaced, it goes as fast as the consumer takes
// samples, waiting for room instead of dropping.
type WAVSource struct {
	file  *os.File
	wav   *WAVReader
	ring  *RingBuffer
	paced bool

	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
	started bool
	err     error
	sent    int64
}

// OpenWAVSource opens a 48 kHz 16-bit PCM WAV file (multi-channel input is mixed to mono).
func OpenWAVSource(path string, ring *RingBuffer, paced bool) (*WAVSource, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open input %q: %w", path, err)
	}
	w, err := NewWAVReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("input %q: %w", path, err)
	}
	if w.SampleRate() != pcm.SampleRate {
		f.Close()
		return nil, fmt.Errorf("input %q: %d Hz; Podium reads %d Hz (convert with: sox in.wav -r 48000 -c 1 out.wav)", path, w.SampleRate(), pcm.SampleRate)
	}
	return &WAVSource{file: f, wav: w, ring: ring, paced: paced, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// Start begins feeding the ring on a goroutine of its own.
func (s *WAVSource) Start() error {
	if s.started {
		return fmt.Errorf("wav source started twice")
	}
	s.started = true
	go s.run()
	return nil
}

func (s *WAVSource) run() {
	defer close(s.done)
	chunk := make([]int16, pcm.SampleRate/100) // paced: 10 ms, as a sound card delivers
	if !s.paced {
		// As fast as possible: 100 ms at a time (if the ring has room for four), so the file
		// is read in a few large reads, not 100 small ones per second of audio.
		chunk = make([]int16, max(min(pcm.SampleRate/10, s.ring.Cap()/4), 1))
	}
	start := time.Now()
	for {
		n, err := s.wav.ReadSamples(chunk)
		if n > 0 {
			if !s.write(chunk[:n], start) {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			s.err = err
			return
		}
	}
}

// write hands p to the ring, on time when paced and without loss when not. It reports false
// once Stop was called.
func (s *WAVSource) write(p []int16, start time.Time) bool {
	if s.paced {
		due := start.Add(pcm.Duration(s.sent))
		select {
		case <-s.stop:
			return false
		case <-time.After(time.Until(due)):
		}
		s.ring.Write(p)
		s.sent += int64(len(p))
		return true
	}
	// Waiting for half the ring at once, not just for this chunk, wakes this goroutine about
	// once a second of audio instead of on every frame the consumer takes (polling on a
	// timer, as before, woke the runtime 5,000 times a second for the whole encode).
	if s.ring.Cap()-s.ring.Len() < len(p) && !s.ring.WaitRoom(max(len(p), s.ring.Cap()/2), s.stop) {
		return false
	}
	s.ring.Write(p)
	s.sent += int64(len(p))
	return true
}

// Done is closed when the file has been played to its end (or Stop was called).
func (s *WAVSource) Done() <-chan struct{} { return s.done }

// Stop ends playback; once it returns nothing more reaches the ring.
func (s *WAVSource) Stop() error {
	s.once.Do(func() {
		close(s.stop)
		if !s.started {
			close(s.done)
		}
	})
	<-s.done
	return s.err
}

// Close stops and closes the file.
func (s *WAVSource) Close() error {
	err := s.Stop()
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	return err
}

// Samples is the number of samples handed to the ring so far. Valid after Done.
func (s *WAVSource) Samples() int64 { return s.sent }
