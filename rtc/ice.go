package rtc

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

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
// connect), and a firewall needs one rule. The addresses are those the machine has now.
// Its sockets can send in batches (batchConn): the batcher opens and ends a batch on all.
func newUDPMux(port int, filter func(net.IP) bool) (*ice.MultiUDPMuxDefault, batcher, error) {
	addrs, err := muxAddresses(filter)
	if err != nil {
		return nil, nil, fmt.Errorf("udp port: %w", err)
	}
	for range 10 {
		var conns []*net.UDPConn
		conns, err = listenAll(addrs, port)
		if err == nil {
			muxes := make([]ice.UDPMux, len(conns))
			bs := make(batcher, len(conns))
			for i, c := range conns {
				bs[i] = newBatchConn(c)
				muxes[i] = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: bs[i]})
			}
			return ice.NewMultiUDPMuxDefault(muxes...), bs, nil
		}
		// A port picked on the first address may be taken on another: pick again.
		if port != 0 || !addrInUse(err) {
			break
		}
	}
	if port != 0 {
		return nil, nil, fmt.Errorf("udp port %d: %w", port, err)
	}
	return nil, nil, fmt.Errorf("udp port: %w", err)
}

// muxAddresses lists the addresses ICE may use, as Pion's own gathering picks them:
// interfaces that are up, loopback included, IPv4 and IPv6 but not the deprecated
// IPv4-compatible kind (Pion's rule, which leaves ::1 out too) nor site-local IPv6, and only
// those filter keeps.
func muxAddresses(filter func(net.IP) bool) ([]net.UDPAddr, error) {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	var out []net.UDPAddr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			n, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip := n.IP
			if ip.To4() == nil {
				if ip.Equal(net.IPv6loopback) || isV4Compatible(ip) || ip[0] == 0xfe && ip[1]&0xc0 == 0xc0 {
					continue
				}
			} else {
				ip = ip.To4()
			}
			if filter != nil && !filter(ip) {
				continue
			}
			u := net.UDPAddr{IP: ip}
			if ip.IsLinkLocalUnicast() && ip.To4() == nil {
				u.Zone = ifc.Name
			}
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no local address to listen on")
	}
	return out, nil
}

func isV4Compatible(ip net.IP) bool {
	for _, b := range ip[:12] {
		if b != 0 {
			return false
		}
	}
	return true
}

// listenAll opens port (0: the first socket's, picked by the kernel) on every address. An
// address that cannot be bound yet (IPv6 still checking for duplicates) is left out rather
// than keeping the server from starting.
func listenAll(addrs []net.UDPAddr, port int) ([]*net.UDPConn, error) {
	var conns []*net.UDPConn
	for _, a := range addrs {
		a.Port = port
		c, err := net.ListenUDP("udp", &a)
		if addrNotAvailable(err) {
			continue
		}
		if err != nil {
			for _, c := range conns {
				_ = c.Close()
			}
			return nil, err
		}
		if port == 0 {
			port = c.LocalAddr().(*net.UDPAddr).Port
		}
		_ = c.SetReadBuffer(udpMuxBuffer)
		_ = c.SetWriteBuffer(udpMuxBuffer)
		conns = append(conns, c)
	}
	if len(conns) == 0 {
		return nil, errors.New("no local address could be bound")
	}
	return conns, nil
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
func candidateTarget(c string) (netip.Addr, uint16, bool) {
	f := strings.Fields(c)
	if len(f) < 8 || f[6] != "typ" || !strings.EqualFold(f[2], "udp") {
		return netip.Addr{}, 0, false
	}
	ip, err := netip.ParseAddr(f[4])
	if err != nil {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(f[5], 10, 16)
	if err != nil || port == 0 {
		return netip.Addr{}, 0, false
	}
	return ip, uint16(port), true
}

// targets are the remote addresses one session has had admitted in this ICE generation.
type targets map[netip.AddrPort]struct{}

// admit says whether a session that already has seen checked may have candidate c checked
// too, counts the answer and, when yes, adds c's address to seen. A candidate at an address
// already admitted is left out uncounted (ICE has it already), so a client that repeats its
// candidates in every PATCH does not use up its limit.
func (p *remotePolicy) admit(c string, seen targets) bool {
	ip, port, ok := candidateTarget(c)
	if !ok || !p.allows(ip) {
		p.refused.Add(1)
		return false
	}
	at := netip.AddrPortFrom(ip.Unmap().WithZone(""), port)
	if _, dup := seen[at]; dup {
		return false
	}
	if len(seen) >= maxRemoteCandidates {
		p.over.Add(1)
		return false
	}
	seen[at] = struct{}{}
	p.accepted.Add(1)
	return true
}

// filter keeps the candidates of cands that admit allows.
func (p *remotePolicy) filter(cands []string, seen targets) []string {
	out := cands[:0:0]
	for _, c := range cands {
		if p.admit(c, seen) {
			out = append(out, c)
		}
	}
	return out
}

// filterSDP drops the candidate lines of a full SDP (an offer) that admit refuses; every
// other line stays as it was.
func (p *remotePolicy) filterSDP(s string, seen targets) string {
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
		if v, ok := strings.CutPrefix(line, "a=candidate:"); ok && !p.admit(strings.TrimRight(v, "\r\n"), seen) {
			continue
		}
		b.WriteString(line)
	}
	return b.String()
}
