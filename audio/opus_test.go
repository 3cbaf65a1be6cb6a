package audio_test

import (
	"testing"

	"podium/audio"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// packetLog keeps every packet the Opus branch hands on, as the WHIP client would get them.
type packetLog struct {
	pos     []int64
	packets [][]byte
}

func (l *packetLog) WritePacket(pos int64, payload []byte) error {
	l.pos = append(l.pos, pos)
	l.packets = append(l.packets, append([]byte(nil), payload...))
	return nil
}

// pcmBuffer is a SampleWriter that keeps everything.
type pcmBuffer struct {
	pcm    []int16
	closed bool
}

func (b *pcmBuffer) WriteSamples(p []int16) error { b.pcm = append(b.pcm, p...); return nil }
func (b *pcmBuffer) Close() error                 { b.closed = true; return nil }

func encodeSpeech(t *testing.T) ([]int16, *packetLog) {
	t.Helper()
	in := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	enc, err := audio.NewOpusEncoder(0)
	if err != nil {
		t.Fatal(err)
	}
	log := &packetLog{}
	sink := audio.NewOpusBranch(enc, log)
	for pos := 0; pos < len(in); pos += pcm.FrameSamples {
		if err := sink.WriteFrame(audio.Frame{Pos: int64(pos), Samples: in[pos:min(pos+pcm.FrameSamples, len(in))]}); err != nil {
			t.Fatal(err)
		}
	}
	return in, log
}

func TestOpusRoundTrip(t *testing.T) {
	in, log := encodeSpeech(t)
	if want := (len(in) + pcm.FrameSamples - 1) / pcm.FrameSamples; len(log.packets) != want {
		t.Fatalf("%d packets for %d samples, want %d", len(log.packets), len(in), want)
	}
	for i, p := range log.pos {
		if p != int64(i*pcm.FrameSamples) {
			t.Fatalf("packet %d at %d, want %d", i, p, i*pcm.FrameSamples)
		}
	}
	out := &pcmBuffer{}
	dec, err := audio.NewPacketDecoder(out)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range log.packets {
		if err := dec.WritePacket(log.pos[i], p); err != nil {
			t.Fatal(err)
		}
	}
	dec.Close()
	if len(out.pcm) != len(log.packets)*pcm.FrameSamples || !out.closed {
		t.Errorf("decoded %d samples (closed %v), want %d", len(out.pcm), out.closed, len(log.packets)*pcm.FrameSamples)
	}
	corr, lag, _ := audiotest.Correlate(in, out.pcm, 2000)
	if corr < 0.9 {
		t.Errorf("Opus round trip correlates %.3f (lag %d), want ≥ 0.9", corr, lag)
	}
	t.Logf("opus: %d packets, %.1f kb/s, correlation %.3f at lag %d", len(log.packets),
		float64(total(log.packets))*8/(float64(len(in))/pcm.SampleRate)/1000, corr, lag)
}

func total(p [][]byte) (n int) {
	for _, b := range p {
		n += len(b)
	}
	return n
}

// Lost packets and long gaps keep the output aligned with the sample clock: the decoded
// stream is exactly as long as the positions say, and the audio around the losses still
// matches the input.
func TestPacketDecoderConceals(t *testing.T) {
	in, log := encodeSpeech(t)
	for _, tc := range []struct {
		name string
		drop func(i int) bool
		min  float64
	}{
		{"every 10th lost", func(i int) bool { return i%10 == 5 }, 0.8},
		{"bursts of 3", func(i int) bool { return i%50 >= 20 && i%50 < 23 }, 0.8},
		{"a 2 s hole", func(i int) bool { return i >= 300 && i < 400 }, 0.7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := &pcmBuffer{}
			dec, _ := audio.NewPacketDecoder(out)
			lost := 0
			for i, p := range log.packets {
				if tc.drop(i) {
					lost++
					continue
				}
				dec.WritePacket(log.pos[i], p)
			}
			last := len(log.packets) - 1
			if want := int(log.pos[last]) + pcm.FrameSamples; len(out.pcm) != want {
				t.Errorf("decoded %d samples, clock says %d", len(out.pcm), want)
			}
			if dec.Concealed != int64(lost*pcm.FrameSamples) {
				t.Errorf("concealed %d samples, %d packets were lost", dec.Concealed, lost)
			}
			corr, _, _ := audiotest.Correlate(in, out.pcm, 2000)
			if corr < tc.min {
				t.Errorf("correlation %.3f with losses, want ≥ %.2f", corr, tc.min)
			}
		})
	}
	// A duplicate or late packet is skipped, and garbage counts as corrupt, not as an error.
	out := &pcmBuffer{}
	dec, _ := audio.NewPacketDecoder(out)
	dec.WritePacket(0, log.packets[0])
	dec.WritePacket(0, log.packets[0])
	if err := dec.WritePacket(960, []byte{0xff, 0xff, 0xff}); err != nil || dec.Corrupt != 1 {
		t.Errorf("garbage packet: err %v, corrupt %d", err, dec.Corrupt)
	}
	if len(out.pcm) != pcm.FrameSamples {
		t.Errorf("duplicate packet decoded twice: %d samples", len(out.pcm))
	}
}

func TestOpusEncoderErrors(t *testing.T) {
	for _, b := range []int{-1, 100, 600000} {
		if _, err := audio.NewOpusEncoder(b); err == nil {
			t.Errorf("NewOpusEncoder(%d): no error", b)
		}
	}
	enc, _ := audio.NewOpusEncoder(0)
	if _, err := enc.Encode(make([]int16, pcm.FrameSamples+1)); err == nil {
		t.Error("Encode of an oversized frame: no error")
	}
	if p, err := enc.Encode(make([]int16, 100)); err != nil || len(p) == 0 {
		t.Errorf("Encode of a short last frame: %v", err)
	}
}
