package faults

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
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
	if files, _ := filepath.Glob(filepath.Join(dir, "talk *.mp3")); len(files) == 1 {
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

var candidateRE = regexp.MustCompile(`a=candidate:\S+ \d+ (?i:udp) \d+ (\S+) (\d+) typ`)

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
