//go:build linux

package faults

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"podium/audio"
	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
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
		files, _ := liveMP3s(filepath.Join(dir, tc.stream+" *.mp3"))
		if len(files) != 1 {
			t.Fatalf("%s: recordings %v, want one", tc.stream, files)
		}
		testkit.WaitFor(t, 30*time.Second, "the recording finalised", func() bool {
			need, err := repair.Needed(files[0])
			return err == nil && !need
		})
		info, err := frames.ReadFileInfo(files[0])
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
	p, status, err := dialPub(base, stream)
	if err != nil || status != http.StatusCreated {
		t.Fatalf("publish %s: %d %v", stream, status, err)
	}
	defer p.close()
	began := time.Now()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for i := 0; time.Since(began) < wall; i++ {
		<-tick.C
		if err := p.send(uint32(i) * step); err != nil {
			t.Fatal(err)
		}
	}
	took := time.Since(began)
	if err := p.delete(); err != nil {
		t.Fatal(err)
	}
	return took
}

// pionPub is a Pion peer publishing one Opus track to podium-server (token "tok"), packet by
// packet as the test writes them: the attacker's side of a WHIP session.
type pionPub struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	resource string // the session's URL, for DELETE
	seq      uint16
}

// opusTone is one real 20 ms Opus packet (a tone), made once.
var opusTone = sync.OnceValues(func() ([]byte, error) {
	enc, err := audio.NewOpusEncoder(32000)
	if err != nil {
		return nil, err
	}
	return enc.Encode(audiotest.Tone(pcm.FrameDuration, 440, 8000))
})

// dialPub POSTs an offer for stream and waits until the media path is up. It may run on any
// goroutine: it returns errors rather than failing the test. A POST answered anything but 201
// returns a nil pionPub with the status.
func dialPub(base, stream string) (*pionPub, int, error) {
	pc, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, 0, err
	}
	p := &pionPub{pc: pc}
	fail := func(status int, err error) (*pionPub, int, error) {
		pc.Close()
		return nil, status, err
	}
	p.track, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: pcm.SampleRate, Channels: 2}, "audio", "attack")
	if err != nil {
		return fail(0, err)
	}
	if _, err := pc.AddTransceiverFromTrack(p.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		return fail(0, err)
	}
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return fail(0, err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return fail(0, err)
	}
	<-gathered
	req, _ := http.NewRequest(http.MethodPost, base+"/whip/"+stream, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fail(0, fmt.Errorf("POST /whip/%s: %w", stream, err))
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fail(resp.StatusCode, nil)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		return fail(resp.StatusCode, err)
	}
	p.resource = resp.Request.URL.ResolveReference(loc).String()
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		return fail(resp.StatusCode, err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		return fail(resp.StatusCode, fmt.Errorf("%s: not connected after 10 s", stream))
	}
	return p, resp.StatusCode, nil
}

// send writes the next packet (one 20 ms tone) with RTP timestamp ts.
func (p *pionPub) send(ts uint32) error {
	payload, err := opusTone()
	if err != nil {
		return err
	}
	p.seq++
	return p.track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: p.seq,
		Timestamp: ts, SSRC: 0x5eed}, Payload: payload})
}

// sendFor sends one packet every 20 ms for d, timestamps following from ts0; it returns the
// next timestamp.
func (p *pionPub) sendFor(d time.Duration, ts0 uint32) (uint32, error) {
	tick := time.NewTicker(pcm.FrameDuration)
	defer tick.Stop()
	ts := ts0
	for began := time.Now(); time.Since(began) < d; ts += pcm.FrameSamples {
		<-tick.C
		if err := p.send(ts); err != nil {
			return ts, err
		}
	}
	return ts, nil
}

// delete ends the session the proper way (DELETE), then closes the peer.
func (p *pionPub) delete() error {
	defer p.close()
	del, _ := http.NewRequest(http.MethodDelete, p.resource, nil)
	del.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(del)
	if err != nil {
		return fmt.Errorf("DELETE %s: %w", p.resource, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("DELETE %s: %s", p.resource, resp.Status)
	}
	return nil
}

// close vanishes without DELETE: the server sees the peer's DTLS close, as when a
// presenter's laptop drops off the network it learns of the end from the connection.
func (p *pionPub) close() { p.pc.Close() }
