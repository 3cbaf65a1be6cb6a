//go:build linux

package faults

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/scripts/testkit"
)

// netLab is podium-server's own network namespace, joined to this one by a veth pair:
//
//	root namespace                          namespace ns
//	client ──▶ relay on hostIP:udpLo-udpHi ─veth─▶ podium-server on nsIP (HTTP and media)
//
// The server announces the relay's address (--public-ip hostIP) as an operator behind NAT
// would, so all media goes through the relay, which can delay it; HTTP goes straight to nsIP.
// Both addresses sit in a /30 that exists only between these two namespaces.
type netLab struct {
	ns           string // namespace name
	hostIf, nsIf string // veth ends
	hostIP, nsIP string
	udpLo, udpHi int // the relay's media ports; the server's one port is udpLo
}

var labSeq atomic.Int32

// needNetAdmin skips when not root (namespaces need it; CI runs as root) and fails when ip or
// nft is missing (make test installs them).
func needNetAdmin(t *testing.T, nft bool) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root (CI runs as root)")
	}
	testkit.Need(t, "ip")
	if nft {
		testkit.Need(t, "nft")
	}
}

func runCmd(t *testing.T, name string, args ...string) error {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetLab builds the namespace and the veth pair; t.Cleanup removes both, also on failure.
func newNetLab(t *testing.T) *netLab {
	t.Helper()
	n := int(labSeq.Add(1))
	pid := os.Getpid()
	tag := fmt.Sprintf("%d%d", pid%100000, n%10)
	l := &netLab{
		ns:     "podium-fault-" + tag,
		hostIf: "pfh" + tag, // ≤ 15 characters
		nsIf:   "pfn" + tag,
		udpLo:  41000,
		udpHi:  41039,
	}
	// 10.213.X.Y/30: X and Y from the pid and a counter, so parallel runs do not collide.
	b3, b4 := (pid/64)%256, (pid%64)*4
	if n > 1 {
		b3 = (b3 + 97*n) % 256
	}
	l.hostIP, l.nsIP = fmt.Sprintf("10.213.%d.%d", b3, b4+1), fmt.Sprintf("10.213.%d.%d", b3, b4+2)
	if err := runCmd(t, "ip", "netns", "add", l.ns); err != nil {
		t.Fatalf("cannot create a network namespace (root can, on this machine kind): %v", err)
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", l.hostIf).Run()
		exec.Command("ip", "netns", "del", l.ns).Run()
	})
	steps := [][]string{
		{"ip", "link", "add", l.hostIf, "type", "veth", "peer", "name", l.nsIf},
		{"ip", "link", "set", l.nsIf, "netns", l.ns},
		{"ip", "addr", "add", l.hostIP + "/30", "dev", l.hostIf},
		{"ip", "link", "set", l.hostIf, "up"},
		{"ip", "netns", "exec", l.ns, "ip", "addr", "add", l.nsIP + "/30", "dev", l.nsIf},
		{"ip", "netns", "exec", l.ns, "ip", "link", "set", l.nsIf, "up"},
	}
	for _, s := range steps {
		if err := runCmd(t, s[0], s[1:]...); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

// startServer runs podium-server inside the namespace, announcing the relay's address.
func (l *netLab) startServer(t *testing.T, dir string, extra ...string) (*testkit.Proc, string) {
	t.Helper()
	addr := net.JoinHostPort(l.nsIP, "8080")
	args := append([]string{"netns", "exec", l.ns, bin + "/podium-server",
		"--listen", addr, "--dir", dir, "--token", "tok",
		"--public-ip", l.hostIP, "--udp-port", strconv.Itoa(l.udpLo)}, extra...)
	p := testkit.Start(t, nil, "ip", args...)
	p.WaitLine(t, "WHIP on", 15*time.Second)
	return p, "http://" + addr
}

// loss drops pct % of the media packets entering and leaving the namespace, at random, with
// nftables; dropped reports how many it dropped so far.
func (l *netLab) loss(t *testing.T, pct int) (dropped func() int) {
	t.Helper()
	rules := fmt.Sprintf(`table inet podiumloss {
	chain in { type filter hook input priority 0; policy accept; udp dport %[1]d-%[2]d numgen random mod 100 < %[3]d counter drop; }
	chain out { type filter hook output priority 0; policy accept; udp sport %[1]d-%[2]d numgen random mod 100 < %[3]d counter drop; }
}
`, l.udpLo, l.udpHi, pct)
	cmd := exec.Command("ip", "netns", "exec", l.ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(rules)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nftables cannot load a loss rule: %v: %s", err, out)
	}
	counter := regexp.MustCompile(`packets (\d+) bytes`)
	return func() int {
		out, err := exec.Command("ip", "netns", "exec", l.ns, "nft", "list", "table", "inet", "podiumloss").Output()
		if err != nil {
			return -1
		}
		total := 0
		for _, m := range counter.FindAllSubmatch(out, -1) {
			v, _ := strconv.Atoi(string(m[1]))
			total += v
		}
		return total
	}
}

// link takes the namespace's end of the veth down (a pulled cable at the server) or up.
func (l *netLab) link(t *testing.T, up bool) {
	t.Helper()
	state := "down"
	if up {
		state = "up"
	}
	if err := runCmd(t, "ip", "netns", "exec", l.ns, "ip", "link", "set", l.nsIf, state); err != nil {
		t.Fatal(err)
	}
}

// relay forwards UDP between clients and the server the way a NAT would, holding every
// datagram for a random delay in [0, maxDelay] (so 100 ms ± 100 ms for 200 ms), which also
// reorders them. One listening socket per media port; one upstream socket per client address.
type relay struct {
	maxDelay time.Duration
	target   string // the server's address (port taken from the listening socket)
	conns    []*net.UDPConn
	mu       sync.Mutex
	up       map[string]*net.UDPConn // client addr and port → socket toward the server
	toServer atomic.Int64
	toClient atomic.Int64
	closed   atomic.Bool
	wg       sync.WaitGroup
}

func (l *netLab) startRelay(t *testing.T, maxDelay time.Duration) *relay {
	t.Helper()
	r := &relay{maxDelay: maxDelay, target: l.nsIP, up: map[string]*net.UDPConn{}}
	for port := l.udpLo; port <= l.udpHi; port++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(l.hostIP), Port: port})
		if err != nil {
			r.close()
			t.Fatalf("relay: %v", err)
		}
		r.conns = append(r.conns, c)
		r.wg.Add(1)
		go r.serve(c, port)
	}
	t.Cleanup(r.close)
	return r
}

func (r *relay) delay() time.Duration {
	if r.maxDelay <= 0 {
		return 0
	}
	return rand.N(r.maxDelay + 1)
}

// later sends b after the relay's random delay; errors (a cut link) lose the datagram.
func (r *relay) later(send func([]byte), b []byte) {
	d := r.delay()
	if d == 0 {
		send(b)
		return
	}
	p := append([]byte(nil), b...)
	time.AfterFunc(d, func() {
		if !r.closed.Load() {
			send(p)
		}
	})
}

func (r *relay) serve(c *net.UDPConn, port int) {
	defer r.wg.Done()
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDP(buf)
		if err != nil {
			if r.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		up := r.upstream(c, from, port)
		if up == nil {
			continue
		}
		r.toServer.Add(1)
		r.later(func(b []byte) { up.Write(b) }, buf[:n])
	}
}

// upstream is the socket that carries from's datagrams to the server's port, made on first
// use; its replies go back to from through c, from the port the client talked to.
func (r *relay) upstream(c *net.UDPConn, from *net.UDPAddr, port int) *net.UDPConn {
	key := fmt.Sprintf("%s>%d", from, port)
	r.mu.Lock()
	defer r.mu.Unlock()
	if u := r.up[key]; u != nil {
		return u
	}
	if r.closed.Load() {
		return nil
	}
	local := c.LocalAddr().(*net.UDPAddr)
	u, err := net.DialUDP("udp4", &net.UDPAddr{IP: local.IP}, &net.UDPAddr{IP: net.ParseIP(r.target), Port: port})
	if err != nil {
		return nil
	}
	r.up[key] = u
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		buf := make([]byte, 2048)
		for {
			n, err := u.Read(buf)
			if err != nil {
				if r.closed.Load() || errors.Is(err, net.ErrClosed) {
					return
				}
				continue // ICMP unreachable while the link is down, and the like
			}
			r.toClient.Add(1)
			r.later(func(b []byte) { c.WriteToUDP(b, from) }, buf[:n])
		}
	}()
	return u
}

func (r *relay) close() {
	if r.closed.Swap(true) {
		return
	}
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Lock()
	for _, u := range r.up {
		u.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}
