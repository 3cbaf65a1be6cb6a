package faults

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"podium/audio"
	"podium/audio/audiotest"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// TestTimestampsAheadOfTheClock: a publisher with a valid token sends real Opus for a few
// seconds of wall time, but steps each packet's RTP timestamp by 4.9 s instead of 20 ms (or
// sends 20 ms packets twenty times faster than real time). Believed, that turns 10 s into
// 40 minutes of recording, for each stream. The server's MP3 may never run more than the
// 5 s bound ahead of the wall time the session lasted.
func TestTimestampsAheadOfTheClock(t *testing.T) {
	dir := t.TempDir()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, nil, "podium-server", "--listen", addr, "--dir", dir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	base := "http://" + addr

	wall := 6 * time.Second
	if full() {
		wall = 60 * time.Second
	}
	for _, tc := range []struct {
		stream string
		every  time.Duration // wall time between packets
		step   uint32        // RTP timestamp step per packet
	}{
		{"steps", 20 * time.Millisecond, 4*pcm.SampleRate + 9*pcm.SampleRate/10},
		{"fast", time.Millisecond, pcm.FrameSamples},
	} {
		took := attackClock(t, base, tc.stream, wall, tc.every, tc.step)
		files, _ := filepath.Glob(filepath.Join(dir, tc.stream+" *.mp3"))
		if len(files) != 1 {
			t.Fatalf("%s: recordings %v, want one", tc.stream, files)
		}
		testkit.WaitFor(t, 30*time.Second, "the recording finalised", func() bool {
			need, err := mp3.NeedsRepair(files[0])
			return err == nil && !need
		})
		info, err := mp3.ReadFileInfo(files[0])
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(files[0])
		if err != nil {
			t.Fatal(err)
		}
		believed := time.Duration(int64(wall/tc.every)*int64(tc.step)) * time.Second / pcm.SampleRate
		if got, limit := info.Duration(), took+5*time.Second+time.Second; got > limit {
			t.Errorf("%s: %v of recording from %v of wall time (limit %v)", tc.stream, got.Round(time.Millisecond), took.Round(time.Millisecond), limit)
		}
		scenario(t, "stream %q: %v of packets every %v stepping %d samples (%v if believed): recorded %v, %d bytes",
			tc.stream, took.Round(time.Millisecond), tc.every, tc.step, believed.Round(time.Second), info.Duration().Round(time.Millisecond), st.Size())
	}
	m := metrics(t, base)
	if m["podium_packets_ahead_total"] == 0 {
		t.Errorf("podium_packets_ahead_total = 0 after the attack")
	}
	stopServer(t, srv)
}

// attackClock publishes stream for wall time: one real Opus packet sent every `every` with
// its timestamp stepped by step, then DELETEs the session. It returns how long the session
// lasted.
func attackClock(t *testing.T, base, stream string, wall, every time.Duration, step uint32) time.Duration {
	t.Helper()
	enc, err := audio.NewOpusEncoder(32000)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := enc.Encode(audiotest.Tone(pcm.FrameDuration, 440, 8000))
	if err != nil {
		t.Fatal(err)
	}
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: pcm.SampleRate, Channels: 2}, "audio", "attack")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	connected := make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offer := testkit.LocalOffer(t, pc)
	req, _ := http.NewRequest(http.MethodPost, base+"/whip/"+stream, strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("POST /whip/%s: %d %s", stream, resp.StatusCode, answer)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	resource := resp.Request.URL.ResolveReference(loc).String()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not connected after 10 s", stream)
	}
	began := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; time.Since(began) < wall; i++ {
		<-tick.C
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: uint16(i),
			Timestamp: uint32(i) * step, SSRC: 0x5eed}, Payload: payload}
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(began)
	del, _ := http.NewRequest(http.MethodDelete, resource, nil)
	del.Header.Set("Authorization", "Bearer tok")
	if resp, err := http.DefaultClient.Do(del); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE %s: %v %v", resource, resp, err)
	}
	return took
}
