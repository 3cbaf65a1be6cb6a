package voice

import (
	"fmt"
	"math"
	"slices"

	"podium/audio"
	"podium/audio/loudness"
	"podium/audio/pcm"
)

// The level control is Podium's own, the same Go code on every platform: a gain that brings
// the speech's loudness, as libebur128 measures it (audio/loudness), to the target, and a
// look-ahead limiter that keeps the peaks under ceiling. WebRTC's gain control did this on
// Linux until issue 22; it has no Windows build, and this one reaches the targets at least as
// closely, with fewer changes to the voice (README, "Voice processing", has both sets of
// figures).
const (
	// maxGainDB and minGainDB bound the gain: +30 dB brings a voice 20 dB too quiet to any
	// target with room to spare, and lifts a silent room's hiss no further than that.
	maxGainDB = 30
	minGainDB = -20
	// gateLUFS: momentary loudness below it is silence, whatever the speech's level. It is
	// BS.1770's absolute gate raised by 10 LU: a microphone's own noise in a quiet room
	// reads about -70…-65 LUFS, and nobody speaks that quietly.
	gateLUFS = -60
	// relativeGateLU: a 400 ms block more than this below the speech's level is a pause
	// (breath, room noise) and leaves the level and the gain as they were: that is what keeps
	// the gain from creeping up in the pauses. BS.1770 gates the integrated loudness by the
	// same 10 LU.
	relativeGateLU = 10
	// speechSwingLU: sound under the relative gate for speechBlocks whose momentary loudness
	// swings by this much is a voice that got quieter for good (more than relativeGateLU),
	// and the level starts again from it. A fan, hum or hiss swings by 1…2 LU; speech's
	// syllables and gaps by 10 and more.
	speechSwingLU = 6
	// tailBlocks: the first second under the gate is the speech before it fading out.
	tailBlocks = 10
	// speechBlocks is how many 100 ms steps of speech the level is averaged over: 3 s, the
	// short-term window, counting only blocks that passed the gates.
	speechBlocks = 30
	// riseDBPerS and fallDBPerS bound how fast the gain moves once it is set: slower up
	// than down, so a loud word is caught and a soft one is not blown up.
	riseDBPerS = 6
	fallDBPerS = 12
	// maxMakeUpDB bounds the gain added back for what the limiter takes off (limited).
	maxMakeUpDB = 3
	// ceiling is the limiter's, -1 dBFS of sample peak: EBU R128 and the streaming services
	// ask for -1 dBTP of true peak; this kept the MP3s' true peak at -0.9…-1.0 dBTP
	// (ffmpeg's ebur128) at -16 and -18 LUFS.
	ceiling = 0.891 * 32768
	// lookahead is how far the limiter sees ahead, and so the level control's delay: 5 ms,
	// long enough to turn the gain down smoothly before a peak (no click), too short to hear.
	lookahead = pcm.SampleRate / 200
	// releasePerSample lets the limiter's gain back up with a 50 ms time constant.
	releasePerSample = 1.0 / (0.050 * pcm.SampleRate)
)

// levelControl keeps speech at a loudness target. It measures the voice as it comes in
// (feed-forward: the gain never chases its own output, so it cannot oscillate), keeps the
// speech's level over its last few seconds, and moves the gain toward target - level, within
// rate limits, in small ramps. Blocks of silence or pauses change nothing. Nothing here
// allocates after newLevelControl.
type levelControl struct {
	meter  *loudness.Meter // the input's loudness, before the gain
	target float64         // LUFS
	fed    int             // samples given to the meter since its last update

	speech    [speechBlocks]float64 // mean squares of the last blocks of speech (BS.1770's z)
	nSpeech   int                   // how many of speech are filled
	nextBlock int
	// What the limiter took: the power of the samples going out before and after it, over
	// the block now going out (in, out) and over each of the speech blocks (before, after).
	// The gain makes up for it, so a target that needs limiting is still reached.
	in, out       float64
	before, after [speechBlocks]float64

	// under counts the blocks of sound under the relative gate since the last block of
	// speech; underM holds the last speechBlocks of their momentary loudness.
	under  int
	underM [speechBlocks]float64

	set      bool    // whether the gain has been set from any speech yet
	gainDB   float64 // where the gain is heading
	gain     float64 // linear gain now, per sample
	gainStep float64 // added to gain each sample until the ramp's end
	rampLeft int

	// The limiter: need is min(1, ceiling/|x|) for each of the last lookahead samples, held
	// in a ring with its running minimum found by a monotonic queue; hold is that minimum
	// with release; smooth is the average of the last lookahead holds, so the gain is a
	// smooth ramp that is at or below every need it covers.
	x        [lookahead]float64 // the gained samples waiting to go out
	need     [lookahead]float64
	queue    [lookahead]int // sample numbers of the monotonic queue (increasing need)
	qHead    int
	qLen     int
	hold     float64
	smooth   [lookahead]float64
	smoothed float64 // sum of smooth
	n        int     // samples seen
}

func newLevelControl(target float64) (*levelControl, error) {
	m, err := loudness.NewMeter()
	if err != nil {
		return nil, fmt.Errorf("voice: level control: %w", err)
	}
	l := &levelControl{meter: m, target: target, gain: 1, hold: 1, smoothed: lookahead}
	for i := range l.smooth {
		l.smooth[i], l.need[i] = 1, 1
	}
	return l, nil
}

// process runs one frame in place; frames may be any length. The output is the input of
// lookahead samples before.
func (l *levelControl) process(frame []int16) error {
	for p := frame; len(p) > 0; {
		// Measure up to the meter's next update, then gain and limit those samples.
		n := min(len(p), loudness.Block-l.fed)
		if err := l.meter.WriteFrame(audio.Frame{Samples: p[:n]}); err != nil {
			return fmt.Errorf("voice: level control: %w", err)
		}
		if l.fed += n; l.fed == loudness.Block {
			l.fed = 0
			l.steer(l.meter.Momentary())
		}
		for i, v := range p[:n] {
			p[i] = l.limit(float64(v) * l.step())
		}
		p = p[n:]
	}
	return nil
}

// steer updates the speech's level with the last 400 ms's loudness m and sets the gain's
// next ramp, over the coming block.
func (l *levelControl) steer(m float64) {
	defer func() { l.in, l.out = 0, 0 }()
	if m < gateLUFS {
		return // silence: hold
	}
	if l.nSpeech > 0 && m < l.level()-relativeGateLU {
		// Under the gate: a pause's noise, unless it goes on and rises and falls as speech
		// does, when it is the voice itself, quieter now (the presenter stepped back).
		// Judged over its last speechBlocks, after the first second, whose blocks still hold
		// the fading speech before and would make any noise look as if it swings.
		l.underM[l.under%speechBlocks] = m
		l.under++
		if l.under < speechBlocks+tailBlocks || slices.Max(l.underM[:])-slices.Min(l.underM[:]) < speechSwingLU {
			return // hold
		}
		l.nSpeech, l.nextBlock = 0, 0 // start the level again from this voice
	}
	l.under = 0
	l.speech[l.nextBlock] = math.Pow(10, (m+0.691)/10)
	l.before[l.nextBlock], l.after[l.nextBlock] = l.in, l.out
	l.nextBlock = (l.nextBlock + 1) % speechBlocks
	l.nSpeech = min(l.nSpeech+1, speechBlocks)
	want := max(minGainDB, min(maxGainDB, l.target-l.level()+l.limited()))
	if !l.set {
		l.set = true // the first speech: straight there, in one block's ramp
	} else {
		const block = float64(loudness.Block) / pcm.SampleRate
		want = max(l.gainDB-fallDBPerS*block, min(l.gainDB+riseDBPerS*block, want))
	}
	l.gainDB = want
	l.rampLeft = loudness.Block
	l.gainStep = (math.Pow(10, want/20) - l.gain) / float64(l.rampLeft)
}

// level is the speech's loudness over its last speechBlocks blocks, in LUFS.
func (l *levelControl) level() float64 {
	var z float64
	for _, v := range l.speech[:l.nSpeech] {
		z += v
	}
	return -0.691 + 10*math.Log10(z/float64(l.nSpeech))
}

// limited is how much the limiter has taken off the speech's loudness, in dB, at most
// maxMakeUpDB: a target so loud that the voice's peaks need more is not chased.
func (l *levelControl) limited() float64 {
	var in, out float64
	for i := range l.nSpeech {
		in += l.before[i]
		out += l.after[i]
	}
	if in == 0 || out == 0 {
		return 0
	}
	return min(maxMakeUpDB, 10*math.Log10(in/out))
}

// step is the gain for the next sample.
func (l *levelControl) step() float64 {
	if l.rampLeft > 0 {
		l.rampLeft--
		l.gain += l.gainStep
	}
	return l.gain
}

// limit takes one gained sample and returns the one lookahead-1 samples older, limited.
func (l *levelControl) limit(x float64) int16 {
	i := l.n % lookahead
	need := 1.0
	if a := math.Abs(x); a > ceiling {
		need = ceiling / a
	}
	l.x[i], l.need[i] = x, need
	// The running minimum of need over the last lookahead samples.
	for l.qLen > 0 && l.need[l.queue[(l.qHead+l.qLen-1)%lookahead]%lookahead] >= need {
		l.qLen--
	}
	l.queue[(l.qHead+l.qLen)%lookahead] = l.n
	l.qLen++
	if l.queue[l.qHead] <= l.n-lookahead {
		l.qHead = (l.qHead + 1) % lookahead
		l.qLen--
	}
	low := l.need[l.queue[l.qHead]%lookahead]
	if low < l.hold {
		l.hold = low
	} else {
		l.hold = min(low, l.hold+(1-l.hold)*releasePerSample)
	}
	l.smoothed += l.hold - l.smooth[i]
	l.smooth[i] = l.hold
	l.n++
	// The oldest sample covered by every hold in smooth: the one after x[i]'s slot.
	x = l.x[(i+1)%lookahead]
	y := x * l.smoothed / lookahead
	l.in += x * x
	l.out += y * y
	return int16(max(-ceiling, min(ceiling, math.Round(y))))
}

func (l *levelControl) free() { l.meter.Close() }
