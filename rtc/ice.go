package rtc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/pion/ice/v4"
)

// The server's side of ICE: one UDP port for every session, and the rule on which remote
// addresses it will send to.

// maxRemoteCandidates is how many remote candidates one session may have the server check
// per ICE generation (its offer and all its PATCHes; an ICE restart starts anew, as Pion
// then forgets the old ones). A browser with Wi-Fi, Ethernet, a VPN, IPv4 and IPv6 and a
// TURN server names well under 32; beyond them they are ignored and counted.
const maxRemoteCandidates = 32

// udpMuxBuffer is the socket buffer asked for on the shared port: all sessions' packets
// queue in one socket (the kernel caps it at net.core.rmem_max unless raised).
const udpMuxBuffer = 4 << 20

// newUDPMux opens the one UDP port that all of a server's sessions share, publishers and
// listeners alike (Pion's ICE UDP mux sorts packets by ICE username and then by address):
// one socket per local address that filter keeps (all up interfaces, loopback included, when
// nil), all on port. Port 0 picks one port free on every such address. One port means no
// session can take another's (a port range could be filled by listeners that never
// connect), and a firewall needs one rule.
func newUDPMux(port int, filter func(net.IP) bool) (*ice.MultiUDPMuxDefault, error) {
	opts := []ice.UDPMuxFromPortOption{
		ice.UDPMuxFromPortWithLoopback(),
		ice.UDPMuxFromPortWithNetworks(ice.NetworkTypeUDP4, ice.NetworkTypeUDP6),
		ice.UDPMuxFromPortWithReadBufferSize(udpMuxBuffer),
		ice.UDPMuxFromPortWithWriteBufferSize(udpMuxBuffer),
	}
	if filter != nil {
		opts = append(opts, ice.UDPMuxFromPortWithIPFilter(filter))
	}
	open := func(p int) (*ice.MultiUDPMuxDefault, error) {
		mux, err := ice.NewMultiUDPMuxFromPort(p, opts...)
		if err != nil {
			return nil, err
		}
		if len(mux.GetListenAddresses()) == 0 {
			_ = mux.Close()
			return nil, errors.New("no local address to listen on")
		}
		return mux, nil
	}
	if port != 0 {
		mux, err := open(port)
		if err != nil {
			return nil, fmt.Errorf("udp port %d: %w", port, err)
		}
		return mux, nil
	}
	// A port the kernel gives to the wildcard is free on every address at that moment;
	// another program may take it on one address before the mux has them all: try again.
	var err error
	for range 10 {
		var p int
		if p, err = freeUDPPort(); err != nil {
			break
		}
		var mux *ice.MultiUDPMuxDefault
		if mux, err = open(p); err == nil {
			return mux, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("udp port: %w", err)
}

func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", ":0")
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// muxPort is the port a mux listens on (the same on every address).
func muxPort(mux ice.UDPMux) int {
	for _, a := range mux.GetListenAddresses() {
		if u, ok := a.(*net.UDPAddr); ok {
			return u.Port
		}
	}
	return 0
}

// remotePolicy decides which addresses named in remote candidates the server sends ICE
// connectivity checks to. A client names candidates in its offer and its PATCHes, and each
// one it names makes the server send STUN packets there: unchecked, any client could make
// the server probe its own loopback services or the private network it sits on. The rule,
// from the addresses the server itself listens on (its UDP mux):
//
//   - only UDP candidates whose address is an IP literal with a port (no host names: the
//     server resolves nothing on a client's word, and mDNS is off);
//   - never an unspecified (0.0.0.0/8, ::), multicast, broadcast (255.255.255.255) or
//     reserved (240.0.0.0/4) address;
//   - loopback only when every address the server listens on is loopback (a server for this
//     machine only, as in tests or the app's built-in server);
//   - link-local (169.254.0.0/16, fe80::/10) only when the server has a link-local address
//     of that family itself;
//   - private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) only when the
//     server has a non-loopback address in one (a LAN server);
//   - every other (global unicast) address: yes.
//
// A client behind any of these still connects when its own checks reach the server: the
// server answers them and learns the client's address from the packet (peer reflexive),
// which this rule never filters. It applies to candidates in offers and in PATCH fragments
// alike, before Pion sees them; at most maxRemoteCandidates are kept per session.
type remotePolicy struct {
	loopback, private       bool
	linkLocal4, linkLocal6  bool
	accepted, refused, over atomic.Uint64
}

var (
	sharedAddrSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598, carrier-grade NAT and VPNs
	thisNetwork     = netip.MustParsePrefix("0.0.0.0/8")
	reserved4       = netip.MustParsePrefix("240.0.0.0/4") // includes 255.255.255.255
)

// newRemotePolicy derives the rule from the addresses the server listens on.
func newRemotePolicy(local []net.Addr) *remotePolicy {
	p := &remotePolicy{loopback: len(local) > 0}
	for _, a := range local {
		u, ok := a.(*net.UDPAddr)
		if !ok {
			continue
		}
		ip, ok := netip.AddrFromSlice(u.IP)
		if !ok {
			continue
		}
		ip = ip.Unmap()
		if !ip.IsLoopback() {
			p.loopback = false
		}
		switch {
		case ip.IsLinkLocalUnicast() && ip.Is4():
			p.linkLocal4 = true
		case ip.IsLinkLocalUnicast():
			p.linkLocal6 = true
		case isPrivate(ip):
			p.private = true
		}
	}
	return p
}

func isPrivate(ip netip.Addr) bool { return ip.IsPrivate() || sharedAddrSpace.Contains(ip) }

// allows says whether the server may send checks to ip.
func (p *remotePolicy) allows(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsMulticast(), thisNetwork.Contains(ip), reserved4.Contains(ip):
		return false
	case ip.IsLoopback():
		return p.loopback
	case ip.IsLinkLocalUnicast():
		if ip.Is4() {
			return p.linkLocal4
		}
		return p.linkLocal6
	case isPrivate(ip):
		return p.private
	}
	return ip.IsGlobalUnicast()
}

// candidateTarget is the address a candidate attribute value (RFC 8839: foundation component
// transport priority address port "typ" type ...) asks checks to be sent to; ok is false
// unless it is UDP to an IP literal and a port.
func candidateTarget(c string) (netip.Addr, bool) {
	f := strings.Fields(c)
	if len(f) < 8 || f[6] != "typ" || !strings.EqualFold(f[2], "udp") {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(f[4])
	if err != nil {
		return netip.Addr{}, false
	}
	port, err := strconv.Atoi(f[5])
	if err != nil || port < 1 || port > 65535 {
		return netip.Addr{}, false
	}
	return ip, true
}

// admit says whether a session that already has *used candidates may have candidate c
// checked, counts the answer and, when yes, counts c in *used.
func (p *remotePolicy) admit(c string, used *int) bool {
	ip, ok := candidateTarget(c)
	switch {
	case !ok || !p.allows(ip):
		p.refused.Add(1)
		return false
	case *used >= maxRemoteCandidates:
		p.over.Add(1)
		return false
	}
	*used++
	p.accepted.Add(1)
	return true
}

// filter keeps the candidates of cands that admit allows.
func (p *remotePolicy) filter(cands []string, used *int) []string {
	out := cands[:0:0]
	for _, c := range cands {
		if p.admit(c, used) {
			out = append(out, c)
		}
	}
	return out
}

// filterSDP drops the candidate lines of a full SDP (an offer) that admit refuses; every
// other line stays as it was.
func (p *remotePolicy) filterSDP(s string, used *int) string {
	if !strings.Contains(s, "a=candidate:") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for rest := s; rest != ""; {
		line, next, found := strings.Cut(rest, "\n")
		if found {
			line += "\n"
		}
		rest = next
		if v, ok := strings.CutPrefix(line, "a=candidate:"); ok && !p.admit(strings.TrimRight(v, "\r\n"), used) {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
