package whip

import (
	"encoding/binary"
	"net"
	"sync/atomic"

	"podium/rtc/proto"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// testNet is the real network with a switch and a sieve, for Config.Net. While cut, every
// UDP datagram either way is silently lost, like a pulled cable or a Wi-Fi handover, while
// HTTP (TCP) still works. lose, when set before Start, loses the outgoing RTP packets whose
// sequence number it picks, every time they are sent (a NACK's resend too): the SRTP header
// is in the clear.
type testNet struct {
	*stdnet.Net
	cut  atomic.Bool
	lose func(seq uint16) bool
}

func newTestNet() (*testNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &testNet{Net: n}, nil
}

func (n *testNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &testConn{UDPConn: c, n: n}, nil
}

type testConn struct {
	transport.UDPConn
	n *testNet
}

func (c *testConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.n.cut.Load() {
			return n, addr, err
		}
	}
}

func (c *testConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.n.cut.Load() {
		return len(b), nil
	}
	if seq, ok := rtpSeq(b); ok && c.n.lose != nil && c.n.lose(seq) {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}

// rtpSeq is the sequence number of an Opus RTP packet; STUN, DTLS and RTCP are not.
func rtpSeq(b []byte) (uint16, bool) {
	if len(b) < 12 || b[0]>>6 != 2 || b[1]&0x7f != uint8(proto.Opus.PayloadType) {
		return 0, false
	}
	return binary.BigEndian.Uint16(b[2:4]), true
}
