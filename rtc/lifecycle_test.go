package rtc

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"podium/rtc/proto"
	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// postOffer POSTs a real offer for stream from a peer that then goes away, and returns the
// status.
func (e *testEnv) postOffer(t *testing.T, stream string) int {
	t.Helper()
	resp, err := e.ts.Client().Post(e.ts.URL+"/whip/"+stream, proto.MimeSDP, strings.NewReader(pionOffer(t, webrtc.RTPTransceiverDirectionSendonly)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A session that never sends media opens no recording, and when it ends nothing waits out a
// grace for it.
func TestSessionWithoutMediaOpensNothing(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) { c.IdleTimeout = 300 * time.Millisecond })
	for _, stream := range []string{"a", "b", "c"} {
		if got := env.postOffer(t, stream); got != http.StatusCreated {
			t.Fatalf("POST %s: %d", stream, got)
		}
	}
	if st := env.srv.Stats(); st.Sessions != 3 || st.Recordings != 0 {
		t.Errorf("three sessions without media: %+v", st)
	}
	// A session leaves the count before its ending has decided its stream's fate, so wait
	// for both: a stream held for its 5 min grace never goes, and fails the wait.
	testkit.WaitFor(t, 5*time.Second, "the sessions to end and their streams to go", func() bool {
		return env.srv.Stats().Sessions == 0 && len(env.srv.Streams()) == 0
	})
	if st, streams := env.srv.Stats(), env.srv.Streams(); st.Recordings != 0 || st.RecordingsWait != 0 || len(streams) != 0 {
		t.Errorf("after they ended (Grace 5 min): %+v, streams %+v", st, streams)
	}
	if n := len(env.rec.all()); n != 0 {
		t.Errorf("%d recordings opened", n)
	}
}

// A recording waiting for its publisher counts against MaxSessions; the publisher coming
// back is admitted all the same and continues it.
func TestGraceCountsAgainstMaxSessions(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, func(c *ServerConfig) { c.MaxSessions = 2 })
	env.gate.noDel.Store(true) // publishers vanish without DELETE
	a := env.client(t, "a", "", nil)
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, a, whip.Live, 10*time.Second)
	publish(a, 5, -1, 0, 5*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "a's packets", func() bool {
		s := env.rec.all()
		got, _ := s[0].snapshot()
		return len(s) == 1 && len(got) == 5
	})
	_ = a.Close()
	testkit.WaitFor(t, 5*time.Second, "a to wait out its grace", func() bool { return env.srv.Stats().RecordingsWait == 1 })
	if got := env.postOffer(t, "b"); got != http.StatusCreated {
		t.Fatalf("POST b beside one recording in grace, MaxSessions 2: %d", got)
	}
	if got := env.postOffer(t, "c"); got != http.StatusServiceUnavailable {
		t.Errorf("POST c with one session and one recording in grace, MaxSessions 2: %d, want 503", got)
	}
	a2 := env.client(t, "a", "", nil)
	if err := a2.Start(context.Background()); err != nil {
		t.Fatalf("the publisher of a coming back: %v", err)
	}
	waitState(t, a2, whip.Live, 10*time.Second)
	for i := range 5 {
		pos := int64(1000+i) * 960
		a2.WritePacket(pos, payloadFor(pos))
	}
	testkit.WaitFor(t, 5*time.Second, "a's recording continued", func() bool {
		s := env.rec.all()
		got, _ := s[0].snapshot()
		return len(s) == 1 && len(got) == 10
	})
}

// While a recording's sink is stuck (a stalled disk), nothing else waits for it: the stream
// list, the stats, a new publisher; and once it moves again it has every packet, in order.
func TestStuckSinkStallsNobody(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	block := make(chan struct{})
	unblock := sync.OnceFunc(func() { close(block) })
	t.Cleanup(unblock) // before the server's Shutdown, which waits for the sink
	env.rec.mu.Lock()
	env.rec.block = block
	env.rec.mu.Unlock()
	c := env.client(t, "talk", "", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	sent := publish(c, 50, -1, 0, 5*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "the sink to open", func() bool { return len(env.rec.all()) == 1 })
	time.Sleep(200 * time.Millisecond) // the writer is in WritePacket, waiting
	for _, tc := range []struct {
		what string
		do   func() bool
	}{
		{"Streams", func() bool { s := env.srv.Streams(); return len(s) == 1 && s[0].Live }},
		{"StreamInfo", func() bool { return env.srv.StreamInfo("talk").Started != nil }},
		{"Stats", func() bool { return env.srv.Stats().Recordings == 1 }},
		{"POST another stream", func() bool { return env.postOffer(t, "other") == http.StatusCreated }},
		{"POST the stuck stream", func() bool { return env.postOffer(t, "talk") == http.StatusConflict }},
	} {
		// On its own goroutine: one that waits on the sink must fail the test, not hang it.
		res := make(chan bool, 1)
		go func() { res <- tc.do() }()
		select {
		case ok := <-res:
			if !ok {
				t.Errorf("%s while the sink is stuck: wrong answer", tc.what)
			}
		case <-time.After(time.Second):
			t.Errorf("%s waits on the stuck sink", tc.what)
		}
	}
	unblock()
	sink := env.rec.all()[0]
	testkit.WaitFor(t, 5*time.Second, "every packet", func() bool { got, _ := sink.snapshot(); return len(got) == len(sent) })
	_ = c.Close()
}

// A sink that fails is closed at once, counted, and given nothing more; its publisher stays
// live (listeners still hear it). The publisher coming back starts a new recording.
func TestFailingSinkStopsItsRecording(t *testing.T) {
	checkGoroutines(t)
	env := newTestEnv(t, nil)
	env.rec.mu.Lock()
	env.rec.failAt = 10
	env.rec.mu.Unlock()
	c := env.client(t, "talk", "", nil)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, whip.Live, 10*time.Second)
	publish(c, 20, -1, 0, 5*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "the failed sink to be closed", func() bool {
		s := env.rec.all()
		_, closed := s[0].snapshot()
		return len(s) == 1 && closed
	})
	publish(c, 20, -1, 0, 5*time.Millisecond) // nothing reaches the closed sink (it checks)
	st := env.srv.Stats()
	if st.RecordingsFail != 1 || st.Recordings != 0 || st.Sessions != 1 || c.Status().State != whip.Live {
		t.Errorf("after the sink failed: %+v, client %v", st, c.Status().State)
	}
	if got, _ := env.rec.all()[0].snapshot(); len(got) != 9 {
		t.Errorf("the failed sink has %d packets, want the 9 before it failed", len(got))
	}
	// The publisher reconnects (its old session silent): a new recording.
	env.rec.mu.Lock()
	env.rec.failAt = 0
	env.rec.mu.Unlock()
	time.Sleep(takeoverSilence)
	c2 := env.client(t, "talk", "", nil)
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitState(t, c2, whip.Live, 10*time.Second)
	_ = c.Close() // replaced, it would otherwise keep trying to come back
	publish(c2, 5, -1, 0, 5*time.Millisecond)
	testkit.WaitFor(t, 5*time.Second, "a second recording", func() bool {
		s := env.rec.all()
		if len(s) != 2 {
			return false
		}
		got, _ := s[1].snapshot()
		return len(got) == 5
	})
	_ = c2.Close()
}
