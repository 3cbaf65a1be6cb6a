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
	"podium/rtc/proto"

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
		f.Add(o, proto.MimeSDP)
	}
	f.Add("v=0\r\n", proto.MimeSDP)
	f.Add(strings.Repeat("x", 2000), proto.MimeSDP)
	f.Add("", "text/plain")
	f.Add("v=0", "application/sdp; charset=\"")

	cfg.Record, cfg.IPFilter, cfg.MaxOfferBytes, cfg.Logger = (&recorder{}).record, proto.LoopbackOnly, 1024*8, slog.New(slog.DiscardHandler)
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
