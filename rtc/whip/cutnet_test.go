package whip

import (
	"net"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// cutNet is the real network with a switch: while cut, every UDP datagram either way is
// silently lost, like a pulled cable or a Wi-Fi handover, while HTTP (TCP) still works.
type cutNet struct {
	*stdnet.Net
	cut atomic.Bool
}

func newCutNet() (*cutNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &cutNet{Net: n}, nil
}

func (n *cutNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &cutConn{UDPConn: c, cut: &n.cut}, nil
}

type cutConn struct {
	transport.UDPConn
	cut *atomic.Bool
}

func (c *cutConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.UDPConn.ReadFrom(b)
		if err != nil || !c.cut.Load() {
			return n, addr, err
		}
	}
}

func (c *cutConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	if c.cut.Load() {
		return len(b), nil
	}
	return c.UDPConn.WriteTo(b, addr)
}
