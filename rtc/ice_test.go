package rtc

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/rtc/proto"
	"podium/rtc/whip"
)

func udpAddrs(ips ...string) []net.Addr {
	out := make([]net.Addr, len(ips))
	for i, ip := range ips {
		out[i] = &net.UDPAddr{IP: net.ParseIP(ip), Port: 5000}
	}
	return out
}

// Which remote addresses a server sends checks to depends on where it listens itself.
func TestRemotePolicy(t *testing.T) {
	servers := map[string][]net.Addr{
		"loopback": udpAddrs("127.0.0.1"),
		"lan":      udpAddrs("127.0.0.1", "192.168.1.10", "fe80::1"),
		"public":   udpAddrs("127.0.0.1", "203.0.113.5", "2001:db8::5"),
		"vpn":      udpAddrs("100.101.102.103"),
		"v4ll":     udpAddrs("169.254.3.4"),
	}
	// The servers each address is sent checks by.
	cases := []struct {
		ip   string
		want string
	}{
		{"127.0.0.1", "loopback"},
		{"127.8.9.10", "loopback"},
		{"::1", "loopback"},
		{"::ffff:127.0.0.1", "loopback"},
		{"10.1.2.3", "lan vpn"},
		{"172.16.0.1", "lan vpn"},
		{"192.168.1.20", "lan vpn"},
		{"::ffff:192.168.1.20", "lan vpn"},
		{"fd00::7", "lan vpn"},
		{"100.64.0.1", "lan vpn"},
		{"169.254.1.1", "v4ll"},
		{"fe80::2", "lan"},
		{"0.0.0.0", ""},
		{"0.1.2.3", ""},
		{"::", ""},
		{"224.0.0.251", ""},
		{"239.255.255.250", ""},
		{"ff02::1", ""},
		{"255.255.255.255", ""},
		{"240.0.0.1", ""},
		{"198.51.100.7", "loopback lan public vpn v4ll"},
		{"2001:db8::9", "loopback lan public vpn v4ll"},
	}
	for _, tc := range cases {
		ip := netip.MustParseAddr(tc.ip)
		for name, local := range servers {
			p := newRemotePolicy(local)
			if got, want := p.allows(ip), strings.Contains(" "+tc.want+" ", " "+name+" "); got != want {
				t.Errorf("server %s, remote %s: allows %v, want %v", name, tc.ip, got, want)
			}
		}
	}
	// A loopback server: only loopback; a server with nothing at all allows no loopback.
	if newRemotePolicy(nil).allows(netip.MustParseAddr("127.0.0.1")) {
		t.Error("a server with no address allows loopback")
	}
}

func TestCandidateTarget(t *testing.T) {
	for _, tc := range []struct {
		c  string
		ok string // the address, or "" for refused
	}{
		{"1 1 udp 2130706431 127.0.0.1 9 typ host", "127.0.0.1"},
		{"1 1 UDP 2130706431 2001:db8::1 50000 typ srflx raddr 0.0.0.0 rport 0", "2001:db8::1"},
		{"1 1 tcp 2130706431 127.0.0.1 9 typ host tcptype active", ""},
		{"1 1 udp 2130706431 evil.example.com 9 typ host", ""},
		{"1 1 udp 2130706431 abcd.local 9 typ host", ""},
		{"1 1 udp 2130706431 127.0.0.1 0 typ host", ""},
		{"1 1 udp 2130706431 127.0.0.1 70000 typ host", ""},
		{"1 1 udp 2130706431 127.0.0.1 9 host", ""},
		{"1 1 udp 2130706431 127.0.0.1", ""},
		{"", ""},
	} {
		ip, _, ok := candidateTarget(tc.c)
		if ok != (tc.ok != "") || ok && ip.String() != tc.ok {
			t.Errorf("%q: %v %v, want %q", tc.c, ip, ok, tc.ok)
		}
	}
}

// The cap counts accepted candidates only; the offer keeps every other line byte for byte.
func TestRemotePolicyCapAndSDP(t *testing.T) {
	p := newRemotePolicy(udpAddrs("127.0.0.1"))
	var b strings.Builder
	b.WriteString("v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n")
	for i := range 40 {
		fmt.Fprintf(&b, "a=candidate:%d 1 udp 1 127.0.0.1 %d typ host\r\n", i, 20000+i)
		fmt.Fprintf(&b, "a=candidate:x%d 1 udp 1 10.0.0.%d %d typ host\r\n", i, i, 20000+i)
	}
	b.WriteString("a=end-of-candidates\r\n")
	seen := targets{}
	out := p.filterSDP(b.String(), seen)
	if used := len(seen); used != maxRemoteCandidates || p.accepted.Load() != maxRemoteCandidates || p.over.Load() != 8 || p.refused.Load() != 40 {
		t.Errorf("used %d; accepted %d, over %d, refused %d; want %d, %d, 8, 40", len(seen), p.accepted.Load(), p.over.Load(), p.refused.Load(),
			maxRemoteCandidates, maxRemoteCandidates)
	}
	kept := strings.Count(out, "a=candidate:")
	want := b.String()
	for i := range 40 {
		if i >= maxRemoteCandidates {
			want = strings.Replace(want, fmt.Sprintf("a=candidate:%d 1 udp 1 127.0.0.1 %d typ host\r\n", i, 20000+i), "", 1)
		}
		want = strings.Replace(want, fmt.Sprintf("a=candidate:x%d 1 udp 1 10.0.0.%d %d typ host\r\n", i, i, 20000+i), "", 1)
	}
	if kept != maxRemoteCandidates || out != want {
		t.Errorf("filtered offer keeps %d candidates:\n%s\nwant:\n%s", kept, out, want)
	}
	if got := p.filter([]string{"1 1 udp 1 127.0.0.1 9 typ host"}, seen); len(got) != 0 {
		t.Errorf("a session at its limit had one more admitted: %v", got)
	}
	// Repeats of an admitted address cost nothing, so a client that sends all its
	// candidates again in each PATCH keeps room for new ones.
	seen = targets{}
	for range 100 {
		p.filter([]string{"1 1 udp 1 127.0.0.1 9 typ host", "2 1 udp 1 ::ffff:127.0.0.1 9 typ srflx raddr 0.0.0.0 rport 0"}, seen)
	}
	if got := p.filter([]string{"3 1 udp 1 127.0.0.1 10 typ host"}, seen); len(seen) != 2 || len(got) != 1 {
		t.Errorf("after 100 repeats of one address: %d admitted, and a new one kept: %v", len(seen), got)
	}
}

var answerCandidate = regexp.MustCompile(`a=candidate:\S+ 1 udp \d+ (\S+) (\d+) typ host`)

// postOffer posts offer to path and returns the answer's host candidates and the Location.
func postOffer(t *testing.T, url, token, offer string) ([]string, string) {
	t.Helper()
	req := authRequest(t, http.MethodPost, url, token, offer)
	req.Header.Set("Content-Type", proto.MimeSDP)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST %s: %s %s", url, resp.Status, body)
	}
	var out []string
	for _, m := range answerCandidate.FindAllStringSubmatch(string(body), -1) {
		out = append(out, net.JoinHostPort(m[1], m[2]))
	}
	return out, resp.Header.Get("Location")
}

// staticOffer never connects: made-up ICE and DTLS values, no candidates.
func staticOffer(dir string) string {
	return "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n" +
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=mid:0\r\n" +
		"a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n" +
		"a=fingerprint:sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\r\n" +
		"a=setup:actpass\r\na=" + dir + "\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
}

// Publishers and listeners get one port, the configured one or one picked at start, on the
// loopback addresses of a loopback server, or on the public address announced for it.
func TestOneUDPPort(t *testing.T) {
	checkGoroutines(t)
	free := func() int {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	for _, tc := range []struct {
		name   string
		port   int
		public []string
		host   string
	}{
		{"picked", 0, nil, "127.0.0.1"},
		{"configured", free(), nil, "127.0.0.1"},
		{"public IP", free(), []string{"203.0.113.7"}, "203.0.113.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newTestEnv(t, func(c *ServerConfig) {
				c.UDPPort, c.PublicIPs = tc.port, tc.public
				c.PublicListen = true
			})
			port := env.srv.UDPPort()
			if port == 0 || tc.port != 0 && port != tc.port {
				t.Fatalf("UDPPort %d, configured %d", port, tc.port)
			}
			want := net.JoinHostPort(tc.host, strconv.Itoa(port))
			var all []string
			for i := range 5 {
				pub, _ := postOffer(t, env.ts.URL+fmt.Sprintf("/whip/s%d", i), "", staticOffer("sendonly"))
				lis, _ := postOffer(t, env.ts.URL+"/whep/s0", "", staticOffer("recvonly"))
				all = append(append(all, pub...), lis...)
			}
			if len(all) == 0 {
				t.Fatal("no candidates in the answers")
			}
			for _, c := range all {
				if c != want {
					t.Errorf("answer candidate %s, want only %s", c, want)
				}
			}
		})
	}
}

// Candidates in PATCHes count against one session's limit however many PATCHes carry them,
// and those at addresses the server never sends to are refused; the PATCH still succeeds.
func TestTrickleLimit(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	_, loc := postOffer(t, env.ts.URL+"/whip/talk", "", staticOffer("sendonly"))
	for i := range 20 {
		var b strings.Builder
		b.WriteString("a=mid:0\r\n")
		for j := range 32 {
			n := i*32 + j
			if j%2 == 0 {
				fmt.Fprintf(&b, "a=candidate:%d 1 udp 1 127.0.0.1 %d typ host\r\n", n, 20000+n)
			} else {
				fmt.Fprintf(&b, "a=candidate:%d 1 udp 1 192.168.%d.%d %d typ host\r\n", n, i, j, 20000+n)
			}
		}
		resp := do(t, http.MethodPatch, env.ts.URL+loc, "", proto.MimeSDPFrag, b.String())
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH %d: %s", i, resp.Status)
		}
	}
	st := env.srv.Stats()
	if st.RemoteCandidates != maxRemoteCandidates || st.RemoteCandidatesOverLimit != 20*16-maxRemoteCandidates || st.RemoteCandidatesRefused != 20*16 {
		t.Errorf("stats: %d checked, %d over the limit, %d refused; want %d, %d, %d", st.RemoteCandidates,
			st.RemoteCandidatesOverLimit, st.RemoteCandidatesRefused, maxRemoteCandidates, 20*16-maxRemoteCandidates, 20*16)
	}
}

// A client whose every candidate the policy refuses still connects when its checks reach the
// server: the server learns its address from them (peer reflexive). Here a loopback server
// is made to refuse loopback, as a LAN server does for the app's own presenter on loopback.
func TestRefusedCandidatesStillConnect(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	env.srv.remote.loopback = false
	c := env.client(t, "talk", "", nil)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	st := env.srv.Stats()
	if st.RemoteCandidatesRefused == 0 || st.RemoteCandidates != 0 {
		t.Errorf("stats: %d refused, %d checked; want all the client's candidates refused", st.RemoteCandidatesRefused, st.RemoteCandidates)
	}
}
