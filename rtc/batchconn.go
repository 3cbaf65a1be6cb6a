package rtc

import (
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchConn is one socket of the shared UDP port (ice.go) that can send many packets in
// one system call (sendmmsg on Linux; elsewhere x/net sends them one by one). A stream's
// pump (pump.go) writes one packet to every listener in a row; between its begin and end
// every write on the socket is copied into the batch instead of sent, and end sends the
// batch. Outside a batch writes go straight out, as on a plain socket. Writes that other
// goroutines make during a batch (ICE, DTLS, RTCP) wait at most until its end:
// microseconds.
type batchConn struct {
	*net.UDPConn
	send func([]ipv4.Message) (int, error)
	v6   bool

	mu    sync.Mutex
	depth int // batches open
	msgs  []ipv4.Message
	bufs  [][]byte
	addrs []net.UDPAddr
	n     int
}

// batchSize is how many packets one system call sends at most.
const batchSize = 64

func newBatchConn(c *net.UDPConn) *batchConn {
	b := &batchConn{UDPConn: c, msgs: make([]ipv4.Message, batchSize), bufs: make([][]byte, batchSize),
		addrs: make([]net.UDPAddr, batchSize)}
	if a, ok := c.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		b.v6 = true
		pc := ipv6.NewPacketConn(c)
		b.send = func(m []ipv4.Message) (int, error) { return pc.WriteBatch(m, 0) }
	} else {
		pc := ipv4.NewPacketConn(c)
		b.send = func(m []ipv4.Message) (int, error) { return pc.WriteBatch(m, 0) }
	}
	for i := range b.msgs {
		b.bufs[i] = make([]byte, 0, 1500)
		b.msgs[i].Buffers = make([][]byte, 1)
	}
	return b
}

// ReadFromAddrPort and WriteToAddrPort are what Pion's UDP mux uses when the socket has them
// (no net.Addr allocated per packet).
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.UDPConn.ReadFromUDPAddrPort(p)
}

func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	b.mu.Lock()
	if b.depth == 0 || len(p) > 1500 {
		b.mu.Unlock()
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	i := b.n
	b.bufs[i] = append(b.bufs[i][:0], p...)
	ua := &b.addrs[i]
	if ip := addr.Addr(); !b.v6 {
		a := ip.Unmap().As4()
		ua.IP = append(ua.IP[:0], a[:]...)
	} else {
		a := ip.As16()
		ua.IP = append(ua.IP[:0], a[:]...)
	}
	ua.Port, ua.Zone = int(addr.Port()), addr.Addr().Zone()
	b.msgs[i].Buffers[0] = b.bufs[i]
	b.msgs[i].Addr = ua
	b.n++
	if b.n == batchSize {
		b.flush()
	}
	b.mu.Unlock()
	return len(p), nil
}

// WriteTo is net.PacketConn's: the same as WriteToAddrPort.
func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return b.UDPConn.WriteTo(p, addr)
	}
	return b.WriteToAddrPort(p, ua.AddrPort())
}

func (b *batchConn) begin() {
	b.mu.Lock()
	b.depth++
	b.mu.Unlock()
}

// end closes a batch and sends what is queued (any batch's end sends all: two streams'
// pumps overlapping never hold each other's packets).
func (b *batchConn) end() {
	b.mu.Lock()
	b.depth--
	b.flush()
	b.mu.Unlock()
}

// flush sends the queued packets; one the kernel refuses is skipped, as a lost UDP packet.
// Called with b.mu held.
func (b *batchConn) flush() {
	for sent := 0; sent < b.n; {
		k, err := b.send(b.msgs[sent:b.n])
		if err != nil || k <= 0 {
			k = 1
		}
		sent += k
	}
	for i := range b.n {
		b.msgs[i].Addr = nil
	}
	b.n = 0
}

// batcher is the shared port's sockets, batched together.
type batcher []*batchConn

func (bs batcher) begin() {
	for _, b := range bs {
		b.begin()
	}
}

func (bs batcher) end() {
	for _, b := range bs {
		b.end()
	}
}
