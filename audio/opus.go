package audio

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"

	"podium/audio/pcm"
)

// DefaultOpusBitrate carries speech at near-transparent quality with room for in-band FEC.
const DefaultOpusBitrate = 32000

// maxOpusPacket is RFC 6716's bound for one frame's packet.
const maxOpusPacket = 1275

// OpusEncoder turns 20 ms frames into Opus packets tuned for a live voice on a lossy network:
// VoIP mode, in-band FEC on, and the encoder told to expect some loss so FEC actually carries
// the previous frame.
type OpusEncoder struct {
	enc *opus.Encoder
	buf [maxOpusPacket]byte
	pcm [pcm.FrameSamples]int16
}

// NewOpusEncoder makes a 48 kHz mono encoder at bitrate bits per second (0: the default).
func NewOpusEncoder(bitrate int) (*OpusEncoder, error) {
	if bitrate == 0 {
		bitrate = DefaultOpusBitrate
	}
	if err := CheckOpusBitrate(bitrate); err != nil {
		return nil, err
	}
	enc, err := opus.NewEncoder(pcm.SampleRate, 1, opus.AppVoIP)
	if err != nil {
		return nil, fmt.Errorf("new opus encoder: %w", err)
	}
	for _, set := range []func() error{
		func() error { return enc.SetBitrate(bitrate) },
		func() error { return enc.SetInBandFEC(true) },
		func() error { return enc.SetPacketLossPerc(10) },
	} {
		if err := set(); err != nil {
			return nil, fmt.Errorf("configure opus encoder: %w", err)
		}
	}
	return &OpusEncoder{enc: enc}, nil
}

// Encode encodes one frame. A short final frame is padded with silence, since Opus only takes
// whole frames. The packet is only valid until the next call.
func (e *OpusEncoder) Encode(samples []int16) ([]byte, error) {
	if len(samples) > pcm.FrameSamples {
		return nil, fmt.Errorf("opus encode: %d samples, frames are %d", len(samples), pcm.FrameSamples)
	}
	if len(samples) < pcm.FrameSamples {
		n := copy(e.pcm[:], samples)
		clear(e.pcm[n:])
		samples = e.pcm[:]
	}
	n, err := e.enc.Encode(samples, e.buf[:])
	if err != nil {
		return nil, fmt.Errorf("opus encode: %w", err)
	}
	return e.buf[:n], nil
}

// CheckOpusBitrate says whether bitrate (b/s) is one Opus can encode at.
func CheckOpusBitrate(bitrate int) error {
	if bitrate < 6000 || bitrate > 510000 {
		return fmt.Errorf("opus bitrate %d b/s: must be 6000…510000", bitrate)
	}
	return nil
}

// OpusBranch is the pipeline's Opus branch: it encodes each frame and hands the packet on.
type OpusBranch struct {
	enc *OpusEncoder
	out PacketWriter
}

func NewOpusBranch(enc *OpusEncoder, out PacketWriter) *OpusBranch {
	return &OpusBranch{enc: enc, out: out}
}

func (b *OpusBranch) WriteFrame(f Frame) error {
	pkt, err := b.enc.Encode(f.Samples)
	if err != nil {
		return err
	}
	return b.out.WritePacket(f.Pos, pkt)
}

// SampleWriter takes decoded samples; mp3.Writer is one.
type SampleWriter interface {
	WriteSamples(p []int16) error
	Close() error
}

// maxPLC is how long packet-loss concealment may invent audio; past it a gap is silence,
// since a longer guess sounds worse than a clean hole.
const maxPLC = 5 * pcm.FrameSamples

// MaxGap is the longest absence (in samples) a PacketDecoder fills: an hour. A longer jump
// is a broken or hostile clock, not a presenter away; filling it would write without bound.
const MaxGap = 3600 * pcm.SampleRate

// plcStep is Opus's smallest frame (2.5 ms): PLC lengths must be multiples of it.
const plcStep = pcm.SampleRate / 400

// PacketDecoder decodes a stream of Opus packets placed on a sample clock into contiguous
// audio. A jump in position is audio that never arrived: the last lost frame is rebuilt from
// the next packet's in-band FEC, up to 100 ms before it is guessed by PLC, and anything
// longer (a presenter away) is silence, so the output stays aligned with the clock. Silence
// goes out a frame at a time, and a jump of more than MaxGap gets MaxGap of it and moves the
// clock to the packet: however positions jump, one packet never writes more than that.
type PacketDecoder struct {
	dec     *opus.Decoder
	out     SampleWriter
	next    int64
	pcm     [6 * pcm.FrameSamples]int16 // 120 ms, the longest Opus packet
	zeros   [pcm.FrameSamples]int16
	started bool

	Decoded, Concealed, Corrupt int64 // frames decoded; samples concealed; packets undecodable
}

func NewPacketDecoder(out SampleWriter) (*PacketDecoder, error) {
	dec, err := opus.NewDecoder(pcm.SampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("new opus decoder: %w", err)
	}
	return &PacketDecoder{dec: dec, out: out}, nil
}

// WritePacket decodes the packet at sample position pos, concealing any gap before it.
// Packets at positions already covered (duplicates, overlap) are skipped.
func (d *PacketDecoder) WritePacket(pos int64, payload []byte) error {
	if !d.started {
		d.started, d.next = true, pos
	}
	if pos < d.next {
		return nil
	}
	if pos > d.next {
		gap := pos - d.next
		if gap <= 0 || gap > MaxGap { // gap <= 0: the difference overflowed int64
			gap = MaxGap
		}
		if err := d.conceal(gap, payload); err != nil {
			return err
		}
		d.next = pos
	}
	n, err := d.dec.Decode(payload, d.pcm[:])
	if err != nil {
		// A damaged packet is one more lost frame: the stream goes on.
		d.Corrupt++
		return nil
	}
	d.Decoded++
	d.next += int64(n)
	return d.out.WriteSamples(d.pcm[:n])
}

func (d *PacketDecoder) conceal(gap int64, next []byte) error {
	d.Concealed += gap
	fec := int64(0)
	if gap >= pcm.FrameSamples && gap <= maxPLC {
		fec = pcm.FrameSamples
	}
	plc := min(gap-fec, maxPLC)
	plc -= plc % plcStep
	silence := gap - fec - plc
	for plc > 0 {
		n := min(plc, pcm.FrameSamples)
		if err := d.dec.DecodePLC(d.pcm[:n]); err != nil {
			silence += plc
			break
		}
		if err := d.out.WriteSamples(d.pcm[:n]); err != nil {
			return err
		}
		plc -= n
	}
	for silence > 0 {
		n := min(silence, pcm.FrameSamples)
		if err := d.out.WriteSamples(d.zeros[:n]); err != nil {
			return err
		}
		silence -= n
	}
	if fec > 0 {
		if err := d.dec.DecodeFEC(next, d.pcm[:fec]); err != nil {
			clear(d.pcm[:fec])
		}
		if err := d.out.WriteSamples(d.pcm[:fec]); err != nil {
			return err
		}
	}
	return nil
}

// Close finalises the output.
func (d *PacketDecoder) Close() error { return d.out.Close() }
