package whip

import (
	"math/rand/v2"

	"podium/audio/pcm"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// send moves queued packets to the current track. Sequence numbers and the timestamp base
// live here, not in the connection, so they continue across reconnects.
func (c *Client) send() {
	defer close(c.sendDone)
	seq := uint16(rand.Uint32())
	base := rand.Uint32()
	var (
		lastTrack *webrtc.TrackLocalStaticRTP
		nextPos   int64 = -1
	)
	for {
		var p outPacket
		select {
		case <-c.ctx.Done():
			return
		case p = <-c.queue:
		case <-c.drain:
			select {
			case p = <-c.queue:
			default:
				return // all that was queued before Close went out
			}
		}
		if !c.wasLive() {
			select {
			case <-c.ctx.Done():
				return
			case <-c.firstLive:
			}
		}
		tr := c.track.Load()
		if tr == nil || !c.current().sending() {
			c.dropped.Add(1)
			continue
		}
		pkt := rtp.Packet{
			Header: rtp.Header{
				Version: 2,
				// Marker flags the first packet after a gap (RFC 3551 §4.1 "talkspurt").
				Marker:         tr != lastTrack || p.pos != nextPos,
				SequenceNumber: seq,
				Timestamp:      base + uint32(p.pos),
			},
			Payload: p.payload,
		}
		seq++
		lastTrack, nextPos = tr, p.pos+pcm.FrameSamples
		if err := tr.WriteRTP(&pkt); err != nil {
			c.dropped.Add(1)
			continue
		}
		c.sent.Add(1)
	}
}
