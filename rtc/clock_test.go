package rtc

import (
	"encoding/binary"
	"testing"
	"time"

	"podium/audio/pcm"
)

// FuzzSampleClock: whatever RTP timestamps a publisher sends and however its packets arrive
// (bursts, pauses, a publisher that goes and comes back with a new clock), the positions the
// recording is written at only increase, start at 0, and never run more than maxAhead past
// the wall time since the first packet; and whatever came before, a sender that then goes on
// honestly (20 ms packets, 20 ms apart) has no more than its first few packets refused, so a
// clock that once ran ahead, or a sender whose clock is a little fast, is never cut off for
// good. Each packet is 7 bytes: a byte of flags (bit 0: a new
// session takes the recording over, with its own clock; bit 1: the sequence number jumps;
// bit 2: the arrival gap is in seconds, not milliseconds), the timestamp step (int32), and the
// arrival gap (uint16).
func FuzzSampleClock(f *testing.F) {
	// Up to 120 ms: after a run of 120 ms packets, a resumed clock steps 120 ms at a time
	// until the sender's own 20 ms steps are seen.
	const honestRefusals = 0
	pkt := func(flags byte, step int32, gap uint16) []byte {
		b := []byte{flags, 0, 0, 0, 0, 0, 0}
		binary.BigEndian.PutUint32(b[1:], uint32(step))
		binary.BigEndian.PutUint16(b[5:], gap)
		return b
	}
	var honest, leaps, fast, back, returns []byte
	for range 50 {
		honest = append(honest, pkt(0, pcm.FrameSamples, 20)...)
		leaps = append(leaps, pkt(0, 4*pcm.SampleRate+43200, 20)...)
		fast = append(fast, pkt(0, pcm.FrameSamples, 1)...)
		back = append(back, pkt(2, -pcm.SampleRate, 20)...)
	}
	returns = append(append(append(returns, honest...), pkt(1|4, 12345, 30)...), honest...)
	for _, seed := range [][]byte{honest, leaps, fast, back, returns, pkt(4, 1<<31-1, 0xffff)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		t0 := time.Unix(1_000_000, 0)
		at := t0
		rec := &recording{lastDur: pcm.FrameSamples}
		clk := &sampleClock{}
		var ts uint32
		var seq uint16
		write := func(i int, at time.Time, p rtpIn) bool {
			pos, ok := clk.position(p, rec)
			if !ok {
				return false // not written: counted as ahead
			}
			switch limit := pcm.Samples(at.Sub(t0)) + maxAhead; {
			case !rec.fed() && pos != 0:
				t.Fatalf("packet %d: the first written at %d, not 0", i, pos)
			case rec.fed() && pos <= rec.lastPos:
				t.Fatalf("packet %d: written at %d, after one at %d", i, pos, rec.lastPos)
			case pos > limit:
				t.Fatalf("packet %d: written at %d, %d samples past the wall time since the first plus maxAhead", i, pos, pos-limit)
			}
			rec.state, rec.lastPos, rec.lastWall = recLive, pos, at // what deliver does with a written packet
			return true
		}
		i := 0
		for ; len(data) >= 7; i++ {
			flags, step, gap := data[0], int32(binary.BigEndian.Uint32(data[1:])), time.Duration(binary.BigEndian.Uint16(data[5:]))
			data = data[7:]
			if flags&1 != 0 {
				clk = &sampleClock{}
			}
			if seq++; flags&2 != 0 {
				seq += uint16(step)
			}
			if flags&4 != 0 {
				at = at.Add(gap * time.Second)
			} else {
				at = at.Add(gap * time.Millisecond)
			}
			ts += uint32(step)
			write(i, at, rtpIn{seq: seq, ts: ts, at: at})
		}
		// Then 10 s of an honest sender on the same clock.
		refused := 0
		for range 500 {
			seq, ts, at = seq+1, ts+pcm.FrameSamples, at.Add(20*time.Millisecond)
			if !write(i, at, rtpIn{seq: seq, ts: ts, at: at}) {
				refused++
			}
			i++
		}
		if refused > honestRefusals {
			t.Fatalf("%d of 500 honest packets after the others refused", refused)
		}
	})
}

// A sender whose sample clock runs 0.2% fast (a cheap microphone) reaches the maxAhead bound
// 42 minutes into a talk. From then on only what must go is refused: the 0.2% its packets are
// ahead (470 of the 360,000 packets of two hours), never the rest of the talk. Before, every
// packet after the bound was refused (234,998 of them).
func TestSampleClockFastSender(t *testing.T) {
	t0 := time.Unix(1000, 0)
	rec := &recording{lastDur: pcm.FrameSamples}
	var c sampleClock
	const n = 2 * 3600 * 50
	refused := 0
	for i := range n {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond * 998 / 1000)
		pos, ok := c.position(rtpIn{seq: uint16(i), ts: uint32(i) * pcm.FrameSamples, at: at}, rec)
		if !ok {
			refused++
			continue
		}
		if limit := pcm.Samples(at.Sub(t0)) + maxAhead; pos > limit || rec.fed() && pos <= rec.lastPos {
			t.Fatalf("packet %d at %d (last %d, limit %d)", i, pos, rec.lastPos, limit)
		}
		rec.state, rec.lastPos, rec.lastWall = recLive, pos, at
	}
	// The excess: what 0.2% of the time after the bound is, in packets (plus one for rounding).
	if excess := (n - int(maxAhead/pcm.FrameSamples*500)) / 500; refused > excess+1 {
		t.Errorf("%d of %d packets refused, want at most %d", refused, n, excess+1)
	}
	t.Logf("%d of %d packets refused", refused, n)
}
