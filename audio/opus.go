package audio

import (
	"fmt"

	"gopkg.in/hraban/opus.v2"
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
	pcm [FrameSamples]int16
}

// NewOpusEncoder makes a 48 kHz mono encoder at bitrate bits per second (0: the default).
func NewOpusEncoder(bitrate int) (*OpusEncoder, error) {
	if bitrate == 0 {
		bitrate = DefaultOpusBitrate
	}
	if err := CheckOpusBitrate(bitrate); err != nil {
		return nil, err
	}
	enc, err := opus.NewEncoder(SampleRate, 1, opus.AppVoIP)
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
func (e *OpusEncoder) Encode(pcm []int16) ([]byte, error) {
	if len(pcm) > FrameSamples {
		return nil, fmt.Errorf("opus encode: %d samples, frames are %d", len(pcm), FrameSamples)
	}
	if len(pcm) < FrameSamples {
		n := copy(e.pcm[:], pcm)
		clear(e.pcm[n:])
		pcm = e.pcm[:]
	}
	n, err := e.enc.Encode(pcm, e.buf[:])
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

// OpusSink is the pipeline's Opus branch: it encodes each frame and hands the packet on.
type OpusSink struct {
	enc *OpusEncoder
	out PacketWriter
}

func NewOpusSink(enc *OpusEncoder, out PacketWriter) *OpusSink {
	return &OpusSink{enc: enc, out: out}
}

func (s *OpusSink) WriteFrame(f Frame) error {
	pkt, err := s.enc.Encode(f.Samples)
	if err != nil {
		return err
	}
	return s.out.WritePacket(f.Pos, pkt)
}

// SampleWriter takes decoded samples; MP3Writer is one.
type SampleWriter interface {
	WriteSamples(p []int16) error
	Close() error
}

// maxPLC is how long packet-loss concealment may invent audio; past it a gap is silence,
// since a longer guess sounds worse than a clean hole.
const maxPLC = 5 * FrameSamples

// plcStep is Opus's smallest frame (2.5 ms): PLC lengths must be multiples of it.
const plcStep = SampleRate / 400

// PacketDecoder decodes a stream of Opus packets placed on a sample clock into contiguous
// audio. A jump in position is audio that never arrived: the last lost frame is rebuilt from
// the next packet's in-band FEC, up to 100 ms before it is guessed by PLC, and anything
// longer (a presenter away) is silence, so the output always stays aligned with the clock.
type PacketDecoder struct {
	dec     *opus.Decoder
	out     SampleWriter
	next    int64
	pcm     [6 * FrameSamples]int16 // 120 ms, the longest Opus packet
	zeros   [FrameSamples]int16
	started bool

	Decoded, Concealed, Corrupt int64 // frames decoded; samples concealed; packets undecodable
}

func NewPacketDecoder(out SampleWriter) (*PacketDecoder, error) {
	dec, err := opus.NewDecoder(SampleRate, 1)
	if err != nil {
		return nil, fmt.Errorf("new opus decoder: %w", err)
	}
	return &PacketDecoder{dec: dec, out: out}, nil
}

// WriteOpus decodes the packet at sample position pos, concealing any gap before it.
// Packets at positions already covered (duplicates, overlap) are skipped.
func (d *PacketDecoder) WriteOpus(pos int64, payload []byte) error {
	if !d.started {
		d.started, d.next = true, pos
	}
	if pos < d.next {
		return nil
	}
	if gap := pos - d.next; gap > 0 {
		if err := d.conceal(gap, payload); err != nil {
			return err
		}
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
	if gap >= FrameSamples && gap <= maxPLC {
		fec = FrameSamples
	}
	plc := min(gap-fec, maxPLC)
	plc -= plc % plcStep
	silence := gap - fec - plc
	for plc > 0 {
		n := min(plc, FrameSamples)
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
		n := min(silence, FrameSamples)
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
	d.next += gap
	return nil
}

// Close finalises the output.
func (d *PacketDecoder) Close() error { return d.out.Close() }
