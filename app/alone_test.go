package app_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"podium/rtc/whip"
	"podium/scripts/testkit"
)

// With the built-in server and nobody listening, the live branch neither processes nor
// encodes: the server gets a packet of silence a second, so it keeps the presenter. The
// moment someone listens, every 20 ms frame goes out, and they hear it.
func TestLiveOnlyWhileListened(t *testing.T) {
	s, _, _ := newSession(t, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	testkit.WaitFor(t, 10*time.Second, "the live link", func() bool { return s.Snapshot().LinkState == whip.Live })
	u, err := url.Parse(s.Snapshot().ListenURL)
	if err != nil {
		t.Fatal(err)
	}
	received := func() float64 {
		return testkit.Metrics(t, "http://"+u.Host+"/metrics", s.LocalToken())["podium_packets_received_total"]
	}
	alone := 3 * time.Second
	before := received()
	time.Sleep(alone)
	if n := received() - before; n > alone.Seconds()+1 {
		t.Errorf("%.0f packets in %v with nobody listening, want one a second", n, alone)
	}
	if link := s.Snapshot().LinkState; link != whip.Live {
		t.Errorf("link %v after %v alone", link, alone)
	}

	st := s.Settings()
	l := listen(t, "http://"+u.Host+"/whep/"+st.Stream, st.ListenerToken)
	got := make(chan int, 1)
	l.pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		n := 0
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if _, _, err := tr.ReadRTP(); err != nil {
				break
			}
			n++
		}
		got <- n
	})
	select {
	case n := <-got:
		if n < 80 {
			t.Errorf("the listener got %d packets in 2 s, want about 100", n)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the listener got no track")
	}
	l.leave(t)
}
