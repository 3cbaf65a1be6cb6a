package rtc

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"

	"github.com/pion/webrtc/v4"
)

func TestReorderBuffer(t *testing.T) {
	cases := []struct {
		name     string
		seqs     []uint16 // arrival order
		wait     bool     // let maxWait pass before flushing
		want     []uint16 // emitted order
		lost     uint64
		dups     uint64
		pollOnly bool // emit via poll only, no flushAll
	}{
		{name: "in order", seqs: []uint16{1, 2, 3, 4}, want: []uint16{1, 2, 3, 4}},
		{name: "swapped", seqs: []uint16{1, 3, 2, 4}, want: []uint16{1, 2, 3, 4}},
		{name: "wraps", seqs: []uint16{65534, 0, 65535, 1}, want: []uint16{65534, 65535, 0, 1}},
		{name: "duplicate", seqs: []uint16{1, 2, 2, 3, 1}, want: []uint16{1, 2, 3}, dups: 2},
		{name: "loss given up after wait", seqs: []uint16{1, 2, 5, 6}, wait: true, pollOnly: true, want: []uint16{1, 2, 5, 6}, lost: 2},
		{name: "loss held before wait", seqs: []uint16{1, 2, 5, 6}, pollOnly: true, want: []uint16{1, 2}},
		{name: "late after give-up", seqs: []uint16{1, 3, 2}, wait: true, want: []uint16{1, 3}, lost: 1, dups: 1},
		{name: "jump beyond window", seqs: []uint16{1, 2, 200}, want: []uint16{1, 2, 200}, lost: 197},
		{name: "sender restarted numbering", seqs: []uint16{1, 2, 40000, 40001}, want: []uint16{1, 2, 40000, 40001}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []uint16
			b := newReorderBuffer(100*time.Millisecond, func(p rtpIn) { got = append(got, p.seq) })
			t0 := time.Unix(1000, 0)
			for i, s := range tc.seqs {
				at := t0.Add(time.Duration(i) * time.Millisecond)
				if tc.wait && i == len(tc.seqs)-1 {
					b.poll(at.Add(200 * time.Millisecond))
				}
				b.push(rtpIn{seq: s, at: at})
			}
			if tc.wait {
				b.poll(t0.Add(time.Second))
			}
			if !tc.pollOnly {
				b.flushAll()
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("emitted %v, want %v", got, tc.want)
			}
			if b.lost != tc.lost || b.dups != tc.dups {
				t.Errorf("lost %d dups %d, want %d %d", b.lost, b.dups, tc.lost, tc.dups)
			}
			if b.count > reorderWindow {
				t.Errorf("holding %d packets", b.count)
			}
		})
	}
}

func TestReorderLateLimitResyncs(t *testing.T) {
	var got []uint16
	b := newReorderBuffer(time.Second, func(p rtpIn) { got = append(got, p.seq) })
	b.push(rtpIn{seq: 1000})
	for s := uint16(500); s < 500+lateLimit+2; s++ {
		b.push(rtpIn{seq: s})
	}
	if len(got) < 3 || got[len(got)-1] != 500+lateLimit+1 {
		t.Errorf("numbering that went back was not followed: %v", got)
	}
}

func TestSampleClock(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type pkt struct {
		seq uint16
		ts  uint32
		at  time.Time
	}
	cases := []struct {
		name string
		pkts []pkt
		want []int64
	}{
		{"timestamp wraps", []pkt{{1, 0xFFFFFC40, ms(0)}, {2, 0, ms(20)}, {3, 960, ms(40)}}, []int64{0, 960, 1920}},
		{"loss is a jump", []pkt{{1, 5000, ms(0)}, {4, 5000 + 3*960, ms(60)}}, []int64{0, 2880}},
		{"clock leaps ahead: wall time wins", []pkt{{1, 0, ms(0)}, {2, 48000 * 3600, ms(20)}}, []int64{0, 960}},
		{"clock goes back: wall time wins", []pkt{{1, 96000, ms(0)}, {2, 960, ms(1000)}}, []int64{0, 48000}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recording{lastDur: 960}
			var c sampleClock
			for i, p := range tc.pkts {
				pos, ok := c.position(rtpIn{seq: p.seq, ts: p.ts, at: p.at}, rec)
				if !ok {
					t.Fatalf("packet %d refused", i)
				}
				rec.state, rec.lastPos, rec.lastWall = recLive, pos, p.at
				if pos != tc.want[i] {
					t.Errorf("packet %d: pos %d, want %d", i, pos, tc.want[i])
				}
			}
		})
	}

	// A returning publisher (new clock) continues after the time it was away.
	rec := &recording{lastDur: 960, state: recLive, lastPos: 48000, lastWall: ms(0)}
	var c sampleClock
	if pos, _ := c.position(rtpIn{seq: 77, ts: 123456, at: ms(2500)}, rec); pos != 48000+2500*48 {
		t.Errorf("resume pos %d, want %d", pos, 48000+2500*48)
	}
	// Never on top of the last packet, however quickly it returns.
	if pos, _ := (&sampleClock{}).position(rtpIn{at: ms(1)}, rec); pos != 48000+960 {
		t.Errorf("immediate resume pos %d, want %d", pos, 48000+960)
	}
}

// No publisher can make the recording run ahead of the wall clock by more than maxAhead:
// not with timestamps that step a little too far each packet (they are placed one after
// another at the bound), nor with packets sent faster than real time (refused). What is
// written never exceeds the wall time since the start + maxAhead, while an honest sender's
// every packet is written.
func TestSampleClockNeverRunsAheadOfTheWall(t *testing.T) {
	t0 := time.Unix(1000, 0)
	cases := []struct {
		name    string
		every   time.Duration // wall time between packets
		step    uint32        // RTP timestamp step per packet
		refused bool          // whether some packets must be refused
	}{
		{"honest 20 ms", 20 * time.Millisecond, 960, false},
		{"steps of 4.9 s every 20 ms", 20 * time.Millisecond, 4*48000 + 43200, false},
		{"20 ms packets 20 times too fast", time.Millisecond, 960, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recording{lastDur: 960}
			var c sampleClock
			refused := 0
			for i := range 3000 {
				at := t0.Add(time.Duration(i) * tc.every)
				pos, ok := c.position(rtpIn{seq: uint16(i), ts: uint32(i) * tc.step, at: at}, rec)
				if !ok {
					refused++
					continue
				}
				if limit := pcm.Samples(at.Sub(t0)) + maxAhead; pos > limit {
					t.Fatalf("packet %d written at %d, %d samples ahead of the wall", i, pos, pos-limit+maxAhead)
				}
				rec.state, rec.lastPos, rec.lastWall = recLive, pos, at
			}
			if (refused > 0) != tc.refused {
				t.Errorf("%d of 3000 packets refused", refused)
			}
		})
	}
}

func TestParseLinkHeaders(t *testing.T) {
	cases := []struct {
		name   string
		in     []string
		want   []webrtc.ICEServer
		wantNo bool
	}{
		{name: "stun", in: []string{`<stun:stun.example.net>; rel="ice-server"`},
			want: []webrtc.ICEServer{{URLs: []string{"stun:stun.example.net"}}}},
		{name: "turn with credentials", in: []string{`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="my\"pw"; credential-type="password"`},
			want: []webrtc.ICEServer{{URLs: []string{"turn:turn.example.net?transport=udp"}, Username: "user", Credential: `my"pw`, CredentialType: webrtc.ICECredentialTypePassword}}},
		{name: "two in one header", in: []string{`<stun:a.example>; rel=ice-server, <turns:b.example:443?transport=tcp>; rel="ice-server"; username=u; credential=p`},
			want: []webrtc.ICEServer{{URLs: []string{"stun:a.example"}}, {URLs: []string{"turns:b.example:443?transport=tcp"}, Username: "u", Credential: "p", CredentialType: webrtc.ICECredentialTypePassword}}},
		{name: "other rel ignored", in: []string{`<https://example.net/x>; rel="next"`}, wantNo: true},
		{name: "turn without credentials skipped", in: []string{`<turn:turn.example.net>; rel="ice-server"`}, wantNo: true},
		{name: "not an ICE URL skipped", in: []string{`<http://x>; rel="ice-server"`}, wantNo: true},
		{name: "garbage", in: []string{`<<;;,,"`, `>`, ``}, wantNo: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := parseLinkHeaders(tc.in)
			if tc.wantNo {
				if len(got) != 0 {
					t.Errorf("got %+v, want none", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			// What we announce, we can read back.
			if back := parseLinkHeaders(linkHeaders(got)); !reflect.DeepEqual(back, got) {
				t.Errorf("round trip %+v -> %q -> %+v", got, linkHeaders(got), back)
			}
		})
	}
}

func TestParseSDPFrag(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    sdpFrag
		wantErr bool
	}{
		{name: "RFC 9725 restart", in: "a=ice-options:trickle ice2\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:ZXvX\r\na=ice-pwd:7y9z6e3ZHOv0L3lvBGnl6X1k\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n",
			want: sdpFrag{Ufrag: "ZXvX", Pwd: "7y9z6e3ZHOv0L3lvBGnl6X1k", Mid: "0", Candidates: []string{"1 1 udp 2130706431 127.0.0.1 5000 typ host"}, EndOfCandidates: true}},
		{name: "session-level credentials, LF only", in: "a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n",
			want: sdpFrag{Ufrag: "abcd", Pwd: "abcdefghijklmnopqrstuv"}},
		{name: "trickle only", in: "a=mid:0\r\na=candidate:2 1 udp 1 10.0.0.1 9 typ host\r\n",
			want: sdpFrag{Mid: "0", Candidates: []string{"2 1 udp 1 10.0.0.1 9 typ host"}}},
		{name: "empty", in: "", wantErr: true},
		{name: "not sdp", in: "hello\r\n", wantErr: true},
		{name: "ufrag without pwd", in: "a=ice-ufrag:abcd\r\n", wantErr: true},
		{name: "conflicting ufrags", in: "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\na=ice-ufrag:efgh\r\n", wantErr: true},
		{name: "bad ufrag char", in: "a=ice-ufrag:ab cd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n", wantErr: true},
		{name: "control char", in: "a=candidate:1 1 udp 1 \x00 9 typ host\r\n", wantErr: true},
		{name: "too many candidates", in: strings.Repeat("a=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n", maxFragCandidates+1), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSDPFrag([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Errorf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			back, err := parseSDPFrag(got.marshal())
			if err != nil {
				t.Fatal(err)
			}
			if got.Mid == "" {
				back.Mid = ""
			}
			if !reflect.DeepEqual(back, got) {
				t.Errorf("round trip: %+v", back)
			}
		})
	}
}

func TestWithICE(t *testing.T) {
	offer := pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)
	f := sdpFrag{Ufrag: "NEWU", Pwd: "newpasswordnewpassword", Candidates: []string{"9 1 udp 5 127.0.0.1 4242 typ host"}, EndOfCandidates: true}
	out, err := withICE(offer, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fragFromSDP(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ufrag != f.Ufrag || got.Pwd != f.Pwd || !reflect.DeepEqual(got.Candidates, f.Candidates) {
		t.Errorf("rewritten ICE %+v", got)
	}
	if strings.Count(out, "a=ice-ufrag:") != strings.Count(offer, "a=ice-ufrag:") {
		t.Errorf("ice-ufrag lines changed in number:\n%s", out)
	}
}

func FuzzLinkHeader(f *testing.F) {
	for _, s := range []string{
		`<stun:stun.example.net>; rel="ice-server"`,
		`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="my\"pw"; credential-type="password"`,
		`<stun:a>; rel=ice-server, <turns:b:443?transport=tcp>; rel="ice-server"; username=u; credential=p`,
		`<`, `<>;`, `"`, `<x>; rel="ice-server`, `;;;===,,,`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		servers := parseLinkHeaders([]string{h})
		if len(servers) > maxLinkServers {
			t.Fatalf("%d servers", len(servers))
		}
		// Whatever we accept, Pion must accept too (else every reconnect would fail).
		for _, s := range servers {
			for _, u := range s.URLs {
				if u == "" {
					t.Fatal("empty URL accepted")
				}
			}
		}
		_ = linkHeaders(servers)
	})
}

func FuzzSDPFrag(f *testing.F) {
	for _, s := range []string{
		"a=ice-options:trickle ice2\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:ZXvX\r\na=ice-pwd:7y9z6e3ZHOv0L3lvBGnl6X1k\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n",
		"a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n",
		"a=candidate:\r\n", "a=\r\n", "=\n", "a=ice-ufrag:\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := parseSDPFrag(b)
		if err != nil {
			return
		}
		if len(fr.Candidates) > maxFragCandidates || (fr.Ufrag == "") != (fr.Pwd == "") {
			t.Fatalf("accepted %+v", fr)
		}
		// What we accept we can write, and read back the same.
		back, err := parseSDPFrag(fr.marshal())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", fr.marshal(), err)
		}
		if back.Ufrag != fr.Ufrag || back.Pwd != fr.Pwd || len(back.Candidates) != len(fr.Candidates) {
			t.Fatalf("round trip %+v -> %+v", fr, back)
		}
	})
}

// FuzzOfferHandler throws arbitrary bodies at POST /whip/{stream}: the handler must never
// panic and must answer 201 (then the session is deleted), 400, 413 or 415.
func FuzzOfferHandler(f *testing.F) {
	fuzzPost(f, ServerConfig{}, "/whip/fuzz", pionOffer(f, webrtc.RTPTransceiverDirectionSendonly), pcmuOffer,
		"v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\n")
}

// fuzzPost fuzzes POST path on a server made with cfg, seeded with offers and with the
// malformed bodies every endpoint must refuse: every answer is 201 (then DELETE ends the
// session with 200), 400, 413 or 415, and nothing panics.
func fuzzPost(f *testing.F, cfg ServerConfig, path string, offers ...string) {
	for _, o := range offers {
		f.Add(o, mimeSDP)
	}
	f.Add("v=0\r\n", mimeSDP)
	f.Add(strings.Repeat("x", 2000), mimeSDP)
	f.Add("", "text/plain")
	f.Add("v=0", "application/sdp; charset=\"")

	cfg.Record, cfg.IPFilter, cfg.MaxOfferBytes, cfg.Logger = (&recorder{}).record, LoopbackOnly, 1024*8, slog.New(slog.DiscardHandler)
	srv, err := NewServer(cfg)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	f.Fuzz(func(t *testing.T, body, ctype string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		switch w.Code {
		case 400, 413, 415:
		case 201:
			del := httptest.NewRecorder()
			srv.ServeHTTP(del, httptest.NewRequest("DELETE", w.Header().Get("Location"), nil))
			if del.Code != 200 {
				t.Fatalf("DELETE after 201: %d", del.Code)
			}
		default:
			t.Fatalf("POST %q (%s): %d %s", body, ctype, w.Code, w.Body)
		}
	})
}

var _ http.Handler = (*Server)(nil)
