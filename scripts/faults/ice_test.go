//go:build linux

package faults

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"podium/scripts/testkit"
)

// listenOffer is a WHEP offer (recvonly Opus) with made-up ICE and DTLS values: the server
// answers it and holds the listener until it is reaped, but it never connects.
var listenOffer = strings.Replace(testkit.StaticOffer(111, "opus/48000/2"), "a=sendonly", "a=recvonly", 1)

// TestListenerFloodLeavesRoomForPresenter: with --public-listen anyone may open a listener,
// and each one the server answers is held ~20 s even if it never connects. Well over 100
// such offers arrive before the presenter, and more keep coming while the talk goes on; the
// presenter still goes live at once and its recording is complete.
func TestListenerFloodLeavesRoomForPresenter(t *testing.T) {
	length := 26 * time.Second
	speech, in := speechFor(t, length)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	// The default: one UDP port, picked at start, for every session.
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok", "--public-listen")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	udpPort := mediaPort(t, srv)

	fl := &listenerFlood{base: base, client: &http.Client{Timeout: 20 * time.Second}}
	defer fl.client.CloseIdleConnections()
	// The first wave: more listeners than the old port range had room for.
	burst := 120
	parallel(8, burst, func(int) { fl.post() })
	// More keep coming while the presenter connects and talks (bounded: 10 a second for the
	// length of the talk at most).
	stop := make(chan struct{})
	var trickle sync.WaitGroup
	trickle.Go(func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < int(length/(100*time.Millisecond)); i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
				fl.post()
			}
		}
	})

	local := filepath.Join(t.TempDir(), "local.mp3")
	began := time.Now()
	pub := start(t, nil, "podium", "record", "--input", speech, "--out", local,
		"--server", base+"/whip/talk", "--token", "tok")
	lw := watchLive(pub)
	liveAfter := time.Duration(-1)
	if lw.wait("live: live", 15*time.Second) {
		liveAfter = time.Since(began)
	}
	m := metrics(t, base)
	listenersAtPeak := int(m["podium_listeners"])
	waitExit(t, pub, length+30*time.Second)
	close(stop)
	trickle.Wait()
	sum := parseSummary(t, pub.Log())
	m = metrics(t, base)
	stopServer(t, srv)

	lost, recv := int(m["podium_packets_lost_total"]), int(m["podium_packets_received_total"])
	loc := checkLocal(t, local, in)
	recorded := time.Duration(0)
	lengthErr := 1.0
	if files, _ := liveMP3s(filepath.Join(dir, "talk *.mp3")); len(files) == 1 {
		got := serverCopy(t, dir, filepath.Base(files[0]))
		a := analyse(t, in, loc, got)
		recorded, lengthErr = secs(len(got)), a.lengthErr
		if a.median < 0.9 {
			t.Errorf("server copy correlates %.3f (median of 1 s windows) with the input, want ≥ 0.9", a.median)
		}
	}
	ok, other := fl.counts()
	live := "never (not within 15 s)"
	if liveAfter >= 0 {
		live = liveAfter.Round(10 * time.Millisecond).String()
	}
	scenario(t, "%d listener offers that never connect (%d before the presenter, then 10/s; %d answered 201, %d other: %s; %d listeners held while the presenter connected; their answers' candidates: %s): presenter live after %s, %d reconnects, server lost %d of %d packets, server copy %v of the local %v (%.2f %% off)",
		ok+len(other), burst, ok, len(other), fl.otherText(), listenersAtPeak, fl.portsText(), live, sum.reconnects,
		lost, lost+recv, recorded, secs(len(loc)), 100*lengthErr)

	// Every answer offered the server's one port, on loopback only (the server listens on
	// 127.0.0.1, so ICE stays there too).
	for hp := range fl.portSet() {
		host, port, err := net.SplitHostPort(hp)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() || port != strconv.Itoa(udpPort) {
			t.Errorf("a listener's answer offered %s: want loopback on the one media port %d", hp, udpPort)
		}
	}

	if liveAfter < 0 || liveAfter > 5*time.Second {
		t.Errorf("the presenter was not live within 5 s of starting (%v) behind %d listener offers:\n%s", liveAfter, ok, lw.text())
	}
	if ok < burst {
		t.Errorf("only %d of the listener offers were answered 201 (others: %s): the flood never filled the server", ok, fl.otherText())
	}
	if lost > 0 || recv == 0 {
		t.Errorf("server lost %d of the presenter's %d packets", lost, lost+recv)
	}
	if lengthErr > 0.01 {
		t.Errorf("server copy lasts %v of the local %v: off by %.2f %%", recorded, secs(len(loc)), 100*lengthErr)
	}
}

// listenerFlood posts listener offers and keeps what the server answered.
type listenerFlood struct {
	base   string
	client *http.Client
	ok     atomic.Int64
	mu     sync.Mutex
	other  []string // statuses or errors other than 201
	ports  map[string]int
}

func (f *listenerFlood) post() {
	req, _ := http.NewRequest(http.MethodPost, f.base+"/whep/talk", strings.NewReader(listenOffer))
	req.Header.Set("Content-Type", "application/sdp")
	resp, err := f.client.Do(req)
	if err != nil {
		f.note(err.Error())
		return
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		f.note(strconv.Itoa(resp.StatusCode))
		return
	}
	f.ok.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ports == nil {
		f.ports = map[string]int{}
	}
	for _, c := range candidateRE.FindAllStringSubmatch(string(body), -1) {
		f.ports[net.JoinHostPort(c[1], c[2])]++
	}
	if !candidateRE.Match(body) {
		f.ports["none"]++
	}
}

// candidateRE matches an answer's RTP candidates (Pion repeats each for component 2).
var candidateRE = regexp.MustCompile(`a=candidate:\S+ 1 (?i:udp) \d+ (\S+) (\d+) typ`)

func (f *listenerFlood) note(s string) {
	f.mu.Lock()
	f.other = append(f.other, s)
	f.mu.Unlock()
}

func (f *listenerFlood) counts() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.ok.Load()), append([]string(nil), f.other...)
}

func (f *listenerFlood) otherText() string {
	_, other := f.counts()
	n := map[string]int{}
	for _, o := range other {
		n[o]++
	}
	var b bytes.Buffer
	for k, v := range n {
		fmt.Fprintf(&b, "%d×%s ", v, k)
	}
	if b.Len() == 0 {
		return "none"
	}
	return strings.TrimSpace(b.String())
}

func (f *listenerFlood) portSet() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.ports)
}

// portsText says which candidate addresses the answers offered, and how often.
func (f *listenerFlood) portsText() string {
	ports := f.portSet()
	keys := slices.Sorted(maps.Keys(ports))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, ports[k]))
	}
	if len(keys) > 6 {
		return fmt.Sprintf("%d different addresses, e.g. %s", len(keys), strings.Join(parts[:6], " "))
	}
	return strings.Join(parts, " ")
}

var mediaPortRE = regexp.MustCompile(`media on UDP port (\d+)`)

// mediaPort is the one UDP port a started podium-server logged for all its media.
func mediaPort(t *testing.T, srv *testkit.Proc) int {
	t.Helper()
	m := mediaPortRE.FindStringSubmatch(srv.Log())
	if m == nil {
		t.Fatalf("podium-server logged no media port:\n%s", srv.Log())
	}
	p, _ := strconv.Atoi(m[1])
	return p
}

// stunWatch counts the STUN binding requests (ICE connectivity checks) that arrive at each of
// a set of UDP sockets the test holds on 127.0.0.1.
type stunWatch struct {
	conns []*net.UDPConn
	hits  []atomic.Int64
	wg    sync.WaitGroup
}

func watchSTUN(t *testing.T, n int) *stunWatch {
	t.Helper()
	w := &stunWatch{hits: make([]atomic.Int64, n)}
	for i := range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			w.close()
			t.Fatalf("watch for checks: %v", err)
		}
		w.conns = append(w.conns, c)
		w.wg.Go(func() {
			buf := make([]byte, 1500)
			for {
				k, _, err := c.ReadFromUDP(buf)
				if err != nil {
					return
				}
				// A binding request: type 0x0001, magic cookie 0x2112A442 (RFC 8489).
				if k >= 20 && buf[0] == 0 && buf[1] == 1 && bytes.Equal(buf[4:8], []byte{0x21, 0x12, 0xa4, 0x42}) {
					w.hits[i].Add(1)
				}
			}
		})
	}
	t.Cleanup(w.close)
	return w
}

func (w *stunWatch) port(i int) int { return w.conns[i].LocalAddr().(*net.UDPAddr).Port }

// reached says how many of the sockets from..to-1 got checks, and how many checks in all.
func (w *stunWatch) reached(from, to int) (sockets int, checks int64) {
	for i := from; i < to; i++ {
		if n := w.hits[i].Load(); n > 0 {
			sockets++
			checks += n
		}
	}
	return sockets, checks
}

func (w *stunWatch) close() {
	for _, c := range w.conns {
		c.Close()
	}
	w.wg.Wait()
}

// patchFlood sends PATCH after PATCH to the session at loc, each carrying (up to) 64 of the
// candidates cands, cycling through them, and returns the statuses it got.
func patchFlood(t *testing.T, client *http.Client, loc, token string, cands []string, patches int) map[int]int {
	t.Helper()
	statuses := map[int]int{}
	next := 0
	for range patches {
		var b strings.Builder
		b.WriteString("a=mid:0\r\n")
		for range 64 {
			b.WriteString("a=candidate:" + cands[next%len(cands)] + "\r\n")
			next++
		}
		req, _ := http.NewRequest(http.MethodPatch, loc, strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := client.Do(req)
		if err != nil {
			statuses[-1]++
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	return statuses
}

// postSession opens a WHIP session with an offer that never connects and returns its URL.
func postSession(t *testing.T, client *http.Client, base, stream, token string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/whip/"+stream, strings.NewReader(testkit.StaticOffer(111, "opus/48000/2")))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /whip/%s: %s", stream, resp.Status)
	}
	return base + resp.Header.Get("Location")
}

func candidate(i int, ip string, port int) string {
	return fmt.Sprintf("%d 1 udp %d %s %d typ host", i, 2130706431-i, ip, port)
}

// TestTrickleFlood: one session's client trickles 100 PATCHes of 64 candidates each while a
// presenter streams to the same server (on loopback). Candidates name 256 loopback sockets
// of the test, and 32 more as 0.0.0.0 (which the kernel delivers to the local host). The
// server checks at most its per-session limit of them and none at the unspecified address;
// the presenter notices nothing.
func TestTrickleFlood(t *testing.T) {
	length := 26 * time.Second
	speech, in := speechFor(t, length)
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
	base := "http://" + addr
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	pub, _, local := publishLive(t, speech, base, 15*time.Second)

	const loop, unspec = 256, 32
	w := watchSTUN(t, loop+unspec)
	var cands []string
	for i := range unspec { // first, so no limit hides what the address rule does
		cands = append(cands, candidate(i, "0.0.0.0", w.port(loop+i)))
	}
	for i := range loop {
		cands = append(cands, candidate(unspec+i, "127.0.0.1", w.port(i)))
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	loc := postSession(t, client, base, "flood", "tok")
	began := time.Now()
	statuses := patchFlood(t, client, loc, "tok", cands, 100)
	took := time.Since(began)
	time.Sleep(3 * time.Second) // Pion checks each new candidate at once, then every 200 ms
	loopHit, loopChecks := w.reached(0, loop)
	unspecHit, unspecChecks := w.reached(loop, loop+unspec)
	m := metrics(t, base)

	waitExit(t, pub, length+30*time.Second)
	sum := parseSummary(t, pub.Log())
	m2 := metrics(t, base)
	stopServer(t, srv)
	lost, recv := int(m2["podium_packets_lost_total"]), int(m2["podium_packets_received_total"])
	loc2 := checkLocal(t, local, in)
	talk, _ := liveMP3s(filepath.Join(dir, "talk *.mp3"))
	if len(talk) != 1 {
		t.Fatalf("presenter's recordings on the server: %v", talk)
	}
	a := analyse(t, in, loc2, serverCopy(t, dir, filepath.Base(talk[0])))

	scenario(t, "100 PATCHes × 64 candidates (%d distinct: %d at the test's loopback sockets, %d at 0.0.0.0) in %v, answered %v: server sent %d checks to %d of the loopback sockets and %d checks to %d via 0.0.0.0; metrics: %v checked, %v refused, %v over the limit; presenter beside it lost %d of %d packets, %d reconnects, server copy %.2f %% off, correlation %.3f",
		len(cands), loop, unspec, took.Round(10*time.Millisecond), statuses, loopChecks, loopHit, unspecChecks, unspecHit,
		m["podium_ice_remote_candidates_total"], m["podium_ice_remote_candidates_refused_total"], m["podium_ice_remote_candidates_over_limit_total"],
		lost, lost+recv, sum.reconnects, 100*a.lengthErr, a.median)

	if loopHit > 32 {
		t.Errorf("the server sent checks to %d loopback addresses one session named: want at most its limit of 32", loopHit)
	}
	if loopHit == 0 {
		t.Errorf("the server sent no check to any loopback candidate: a server on loopback must still reach loopback peers")
	}
	if unspecHit > 0 {
		t.Errorf("the server sent %d checks to 0.0.0.0 candidates (%d sockets reached)", unspecChecks, unspecHit)
	}
	if lost > 0 || recv == 0 || sum.reconnects > 0 || a.lengthErr > 0.01 {
		t.Errorf("presenter beside the flood: lost %d of %d packets, %d reconnects, server copy %.2f %% off", lost, lost+recv, sum.reconnects, 100*a.lengthErr)
	}
}

// iceClasses are the kinds of remote address TestTrickleAddressesLANServer names, each on
// ports of its own (40000 + 100 × its index, up) so nftables can count what the server sends
// to each; allowed says whether a LAN server may send there.
var iceClasses = []struct {
	name    string
	allowed bool
	ips     []string
}{
	{"loopback", false, []string{"127.0.0.1", "127.0.0.53", "127.1.2.3"}},
	{"unspecified", false, []string{"0.0.0.0"}},
	{"multicast", false, []string{"224.0.0.251", "239.255.255.250"}},
	{"broadcast", false, []string{"255.255.255.255"}},
	{"link-local", false, []string{"169.254.1.1", "169.254.169.254"}},
	{"reserved", false, []string{"240.0.0.1"}},
	{"private", true, []string{"192.168.1.1", "10.0.0.1", "172.16.0.1"}},
	{"public", true, []string{"198.51.100.7", "203.0.113.9"}},
}

// TestTrickleAddressesLANServer: podium-server in a namespace of its own, on a private
// address (a LAN server), gets PATCHes naming loopback, unspecified, multicast, broadcast,
// link-local, reserved, private and public addresses. nftables in the namespace counts every
// packet the server sends to them, and drops it: nothing leaves. A LAN server sends checks
// to the private and public ones only.
func TestTrickleAddressesLANServer(t *testing.T) {
	needNetAdmin(t, true)
	lab := newNetLab(t)
	// Loopback up, as on any machine, and a default route into a veth pair with both ends in
	// the namespace, so every address routes, to nowhere; the table below drops all of it
	// before it goes even there.
	for _, s := range [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", "pfvoid0", "type", "veth", "peer", "name", "pfvoid1"},
		{"ip", "link", "set", "pfvoid0", "up"},
		{"ip", "link", "set", "pfvoid1", "up"},
		{"ip", "route", "add", "default", "dev", "pfvoid0"},
	} {
		if err := runCmd(t, "ip", append([]string{"netns", "exec", lab.ns}, s...)...); err != nil {
			t.Fatal(err)
		}
	}
	var rules strings.Builder
	rules.WriteString("table inet podiumice {\n\tchain out {\n\t\ttype filter hook output priority -10; policy accept;\n")
	for i := range iceClasses {
		fmt.Fprintf(&rules, "\t\tudp dport %d-%d counter drop\n", 40000+100*i, 40099+100*i)
	}
	rules.WriteString("\t}\n}\n")
	nft := exec.Command("ip", "netns", "exec", lab.ns, "nft", "-f", "-")
	nft.Stdin = strings.NewReader(rules.String())
	if out, err := nft.CombinedOutput(); err != nil {
		t.Fatalf("nft: %v: %s", err, out)
	}
	sent := func() []int {
		out, err := exec.Command("ip", "netns", "exec", lab.ns, "nft", "list", "chain", "inet", "podiumice", "out").Output()
		if err != nil {
			t.Fatalf("nft list: %v", err)
		}
		n := make([]int, len(iceClasses))
		for _, m := range regexp.MustCompile(`dport (\d+)-\d+ counter packets (\d+)`).FindAllStringSubmatch(string(out), -1) {
			lo, _ := strconv.Atoi(m[1])
			p, _ := strconv.Atoi(m[2])
			n[(lo-40000)/100] = p
		}
		return n
	}

	addr := net.JoinHostPort(lab.nsIP, "8080")
	srv := testkit.Start(t, nil, "ip", "netns", "exec", lab.ns, bin+"/podium-server",
		"--listen", addr, "--dir", t.TempDir(), "--token", "tok")
	srv.WaitLine(t, "WHIP on", 15*time.Second)
	base := "http://" + addr

	var cands []string
	for i, c := range iceClasses {
		for j, ip := range c.ips {
			cands = append(cands, candidate(len(cands), ip, 40000+100*i+j))
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	loc := postSession(t, client, base, "flood", "tok")
	statuses := patchFlood(t, client, loc, "tok", cands, 10)
	time.Sleep(3 * time.Second) // checks go out at once, then every 200 ms
	n := sent()
	m := metrics(t, base)
	stopServer(t, srv)

	var parts []string
	for i, c := range iceClasses {
		parts = append(parts, fmt.Sprintf("%s %d", c.name, n[i]))
		if c.allowed && n[i] == 0 {
			t.Errorf("a LAN server sent no check to the %s candidates %v", c.name, c.ips)
		}
		if !c.allowed && n[i] > 0 {
			t.Errorf("a LAN server sent %d packets to the %s candidates %v", n[i], c.name, c.ips)
		}
	}
	scenario(t, "server on private %s; 10 PATCHes × 64 candidates cycling %d addresses, answered %v: packets the server sent (nftables, dropped in the namespace): %s; metrics: %v checked, %v refused, %v over the limit",
		lab.nsIP, len(cands), statuses, strings.Join(parts, ", "),
		m["podium_ice_remote_candidates_total"], m["podium_ice_remote_candidates_refused_total"], m["podium_ice_remote_candidates_over_limit_total"])
}
