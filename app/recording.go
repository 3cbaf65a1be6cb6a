// Package app wires the audio pipeline and the live link into the sessions a presenter runs.
package app

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"podium/audio"
	"podium/audio/capture"
	"podium/audio/id3"
	"podium/audio/loudness"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/audio/voice"
)

// ringSeconds is how much audio the ring holds while the consumer is busy: far more than any
// pause a healthy machine shows, and only 256 KiB.
const ringSamples = 2 * pcm.SampleRate

// opusQueue is how many frames may wait for the Opus encoder and network (200 ms) before
// live frames are dropped in favour of the recording.
const opusQueue = 10

// Source is where samples come from: the microphone, or a WAV file in tests.
type Source interface {
	Start() error
	Stop() error
	Close() error
}

// RecordingConfig describes one recording.
type RecordingConfig struct {
	Device string // microphone spec (see capture.Open); ignored when Input is set
	Input  string // WAV file to record instead of a microphone
	Paced  bool   // play Input in real time, as a microphone would deliver it
	// MaxSamples ends the audio after exactly this many samples (0: when stopped): Full is
	// closed then, and Stop finishes the file.
	MaxSamples  int64
	Out         string // MP3 path; with Folder set, only the file name wished for in it
	Folder      string // if set, the MP3 is a new file in it: Out, or "Out (2).mp3"… (mp3.CreateNew)
	Bitrate     int    // MP3 kbps
	OpusBitrate int    // Opus b/s
	Tags        id3.Tags
	Live        audio.PacketWriter // where Opus packets go; nil records without encoding Opus
	// Listened, if set, says whether anyone hears Live now (the built-in server knows): while
	// nobody does, the voice is neither processed nor encoded for it (aloneGate).
	Listened func() bool
	// Voice is the voice processing asked for (none when Off); it cleans up the live stream,
	// and with VoiceOnRecording the recording (and so its meters) too.
	Voice            voice.Options
	VoiceOnRecording bool
}

// Recording runs one capture → ring → frames → {MP3, Opus, meter} pipeline.
type Recording struct {
	cfg      RecordingConfig
	ring     *audio.RingBuffer
	source   Source
	mp3      *mp3.Writer
	opus     *audio.QueuedSink
	meter    *audio.LevelMeter
	loud     *loudness.Meter  // nil if libebur128 could not start: the recording goes on unmeasured
	voice    *voice.Processor // nil when none is asked for, or it could not start (voiceErr)
	voiceErr error
	pipeline *audio.Pipeline
	runErr   chan error
	started  time.Time
	lost     <-chan struct{}
	stopped  bool
	summary  Summary
	book     chapterBook // chapters.go
}

// Summary is what a finished recording reports.
type Summary struct {
	Path           string
	Duration       time.Duration
	Frames         int64
	DroppedSamples uint64 // lost to ring overruns
	DroppedFrames  int64  // live frames dropped because the Opus queue was full
	Bytes          int64
	Loudness       *loudness.Result // the talk's, as tagged (ReplayGain); nil if nothing was measured
}

// StartRecording opens the source and the MP3 and starts the pipeline.
func StartRecording(cfg RecordingConfig) (*Recording, error) {
	ring, err := audio.NewRingBuffer(ringSamples)
	if err != nil {
		return nil, err
	}
	r := &Recording{cfg: cfg, ring: ring, meter: audio.NewLevelMeter(), runErr: make(chan error, 1)}
	if cfg.Input != "" {
		src, err := audio.OpenWAVSource(cfg.Input, ring, cfg.Paced)
		if err != nil {
			return nil, err
		}
		r.source = src
		r.lost = src.Done()
	} else {
		c, err := capture.Open(cfg.Device, ring)
		if err != nil {
			return nil, err
		}
		r.source = c
		r.lost = c.Lost()
	}
	if cfg.Tags.Date.IsZero() {
		cfg.Tags.Date = time.Now()
	}
	opt := mp3.Options{Bitrate: cfg.Bitrate, Tags: cfg.Tags}
	if cfg.Folder != "" {
		r.mp3, err = mp3.CreateNew(cfg.Folder, cfg.Out, opt)
	} else {
		r.mp3, err = mp3.Create(cfg.Out, opt)
	}
	if err != nil {
		r.source.Close()
		return nil, err
	}
	r.cfg.Out = r.mp3.Path()
	r.book.path = r.cfg.Out
	sinks := []audio.FrameSink{r.meter}
	if r.loud, err = loudness.NewMeter(); err == nil {
		sinks = append(sinks, r.loud)
	}
	if !cfg.Voice.Off() && (cfg.Live != nil || cfg.VoiceOnRecording) {
		// Without it the talk goes on as the microphone hears it, and the window says so.
		r.voice, r.voiceErr = voice.New(cfg.Voice)
	}
	// abandon undoes what is open so far when the live branch cannot be built.
	abandon := func(err error) (*Recording, error) {
		r.source.Close()
		r.mp3.Close()
		if r.loud != nil {
			r.loud.Close()
		}
		r.closeVoice()
		return nil, err
	}
	if cfg.Live != nil {
		enc, err := audio.NewOpusEncoder(cfg.OpusBitrate)
		if err != nil {
			return abandon(err)
		}
		var live audio.FrameSink = audio.NewOpusBranch(enc, cfg.Live)
		if r.voice != nil && !cfg.VoiceOnRecording {
			// On the live queue's goroutine: however long it takes, the recording never waits.
			live = audio.NewProcessedSink(r.voice, live)
		}
		if cfg.Listened != nil {
			if live, err = newAloneGate(live, enc, cfg.Live, cfg.Listened); err != nil {
				return abandon(err)
			}
		}
		r.opus = audio.NewQueuedSink(live, opusQueue)
		sinks = append(sinks, r.opus)
	}
	r.pipeline = audio.NewPipeline(ring, r.mp3, sinks...)
	r.pipeline.SetLimit(cfg.MaxSamples)
	if r.voice != nil && cfg.VoiceOnRecording {
		r.pipeline.SetProcessor(r.voice)
	}
	go func() { r.runErr <- r.pipeline.Run() }()
	r.started = time.Now()
	if err := r.source.Start(); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// Ended is closed when the source ends by itself: the WAV file played out, or the microphone
// went away. The recording is still open: call Stop to finish it.
func (r *Recording) Ended() <-chan struct{} { return r.lost }

// Broken is closed if the pipeline stops by itself, which only a failing MP3 write does
// (a full disk, say); Stop then reports the error.
func (r *Recording) Broken() <-chan struct{} { return r.pipeline.Done() }

// Full is closed once MaxSamples have been recorded (never without MaxSamples). The
// recording is still open: call Stop to finish it.
func (r *Recording) Full() <-chan struct{} { return r.pipeline.Full() }

// Path is the MP3 being written.
func (r *Recording) Path() string { return r.cfg.Out }

// Meter is the live level meter.
func (r *Recording) Meter() *audio.LevelMeter { return r.meter }

// Elapsed is the audio recorded so far, counted in samples.
func (r *Recording) Elapsed() time.Duration {
	return time.Duration(r.pipeline.Frames()) * 20 * time.Millisecond
}

// Checkpoint makes the MP3 complete and synced as it stands, while the recording stays open.
func (r *Recording) Checkpoint() error {
	return r.pipeline.Call(func() error {
		r.tagLoudness()
		r.book.tag(r.mp3)
		return r.mp3.Checkpoint()
	})
}

// tagLoudness gives the MP3's tag the talk's loudness so far as ReplayGain, if it has any;
// on the pipeline's goroutine or after it stopped.
func (r *Recording) tagLoudness() (loudness.Result, bool) {
	if r.loud == nil {
		return loudness.Result{}, false
	}
	res, err := r.loud.Result()
	if err != nil || !res.Measured() {
		return res, false
	}
	r.mp3.SetReplayGain(id3.NewReplayGain(res.Integrated, res.Peak, res.Range))
	return res, true
}

// Loudness is the meter's momentary and short-term loudness now, in LUFS
// (loudness.Silent before there is any, or without a meter).
func (r *Recording) Loudness() (momentary, shortTerm float64) {
	if r.loud == nil {
		return loudness.Silent, loudness.Silent
	}
	return r.loud.Momentary(), r.loud.ShortTerm()
}

// aloneGate stands before the live branch when the built-in server carries it: while nobody
// listens, the voice is neither cleaned up nor encoded (a third of the app's audio work spent
// for no one), and the server gets one packet of silence a second so that it does not take
// the presenter for gone. The first frame after someone joins goes out as usual.
type aloneGate struct {
	live     audio.FrameSink
	out      audio.PacketWriter
	listened func() bool
	silence  []byte
	last     int64 // position of the last packet sent while alone
	alone    bool
}

func newAloneGate(live audio.FrameSink, enc *audio.OpusEncoder, out audio.PacketWriter, listened func() bool) (*aloneGate, error) {
	var zeros [pcm.FrameSamples]int16
	pkt, err := enc.Encode(zeros[:])
	if err != nil {
		return nil, fmt.Errorf("encode silence: %w", err)
	}
	return &aloneGate{live: live, out: out, listened: listened, silence: slices.Clone(pkt)}, nil
}

func (g *aloneGate) WriteFrame(f audio.Frame) error {
	if g.listened() {
		g.alone = false
		return g.live.WriteFrame(f)
	}
	if g.alone && f.Pos-g.last < pcm.SampleRate {
		return nil
	}
	g.alone, g.last = true, f.Pos
	return g.out.WritePacket(f.Pos, g.silence)
}

// VoiceProblem is, in the presenter's words, why the voice processing asked for is not
// happening (it could not start, or frames failed and went on unprocessed); "" if it is.
func (r *Recording) VoiceProblem() string {
	if r.voiceErr != nil {
		return fmt.Sprintf("Voice processing could not start (%v): your voice goes on as the microphone hears it.", r.voiceErr)
	}
	if r.voice == nil {
		return ""
	}
	if n, err := r.voice.Failures(); n > 0 {
		return fmt.Sprintf("Voice processing failed for %v of the talk (%v): that went on as the microphone heard it.", time.Duration(n)*pcm.FrameDuration, err)
	}
	return ""
}

func (r *Recording) closeVoice() {
	if r.voice != nil {
		r.voice.Close()
	}
}

// SwitchDevice moves the recording to another microphone (spec as for capture.Open),
// continuing in the same file: used when the first one was unplugged.
func (r *Recording) SwitchDevice(spec string) error {
	if r.cfg.Input != "" {
		return errors.New("a file recording has no microphone to switch")
	}
	// The old device is gone or stopped: stop and free it before the new one writes, so the
	// ring keeps its single producer.
	r.source.Stop()
	r.source.Close()
	r.source = noSource{}
	c, err := capture.Open(spec, r.ring)
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		c.Close()
		return err
	}
	r.source, r.lost = c, c.Lost()
	return nil
}

// noSource stands in between an unplugged microphone and the next one.
type noSource struct{}

func (noSource) Start() error { return nil }
func (noSource) Stop() error  { return nil }
func (noSource) Close() error { return nil }

// Device is the microphone's name ("" for a file).
func (r *Recording) Device() string {
	if c, ok := r.source.(*capture.Capture); ok {
		return c.Name()
	}
	return ""
}

// SetMute silences every frame from now on (or not), keeping the clock running.
func (r *Recording) SetMute(m bool) { r.pipeline.SetMute(m) }

// DroppedSamples is the ring's overrun count so far.
func (r *Recording) DroppedSamples() uint64 { return r.ring.Dropped() }

// Stop stops the source, drains the ring, finalises the MP3 and reports. It is safe to call
// more than once; the MP3 is complete when it returns.
func (r *Recording) Stop() (Summary, error) {
	if r.stopped {
		return r.summary, nil
	}
	r.stopped = true
	srcErr := r.source.Stop()
	r.pipeline.Stop()
	<-r.runErr // the pipeline's only error is the MP3's, which Close reports again
	var opusErr error
	if r.opus != nil {
		opusErr = r.opus.Close()
	}
	loud, measured := r.tagLoudness()
	r.book.tag(r.mp3)
	mp3Err := r.mp3.Close()
	// Its tag holds the chapters now; after a failed write the log stays for the repair.
	bookErr := r.book.close(mp3Err == nil)
	closeErr := r.source.Close()
	if r.loud != nil {
		r.loud.Close()
	}
	r.closeVoice() // the pipeline and the live queue, its only users, have stopped
	r.summary = Summary{
		Path:           r.cfg.Out,
		Duration:       r.mp3.Duration(),
		Frames:         r.pipeline.Frames(),
		DroppedSamples: r.ring.Dropped(),
	}
	if measured {
		r.summary.Loudness = &loud
	}
	if r.opus != nil {
		r.summary.DroppedFrames = r.opus.Dropped()
	}
	if st, err := statSize(r.cfg.Out); err == nil {
		r.summary.Bytes = st
	}
	if opusErr != nil {
		opusErr = fmt.Errorf("live encoding: %w", opusErr)
	}
	return r.summary, errors.Join(mp3Err, srcErr, closeErr, opusErr, bookErr)
}
