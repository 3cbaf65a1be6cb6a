// Package whiptest is a bare Pion WHIP publisher for tests of the server: no Podium client
// code, its offer changed by the test, and the chapters extension spoken by hand. Apart from
// testkit because package proto's own tests use testkit.
package whiptest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"podium/rtc/proto"
	"podium/scripts/testkit"
)

// TalkPub is a bare Pion WHIP publisher (no Podium client code): its offer is Pion's own,
// changed by the test (a title in s=, say), and it sends packets in real time, one per 20 ms.
type TalkPub struct {
	Status   int         // the POST's answer
	Header   http.Header // of the 201
	Location string      // the session's resource, resolved
	Chapters string      // the chapters extension's URL, when the 201 offered it
	// Began is when the first packet went out: the server's position 0 is its arrival.
	Began time.Time

	token string
	pc    *webrtc.PeerConnection
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// PublishTalk offers to the WHIP url with token, the offer changed by offer (nil: as Pion
// made it); once connected it sends packet(i) for i = 0, 1, … every 20 ms until Close or
// until packet returns nil. A POST refused returns a TalkPub with its Status and no media.
func PublishTalk(t testing.TB, whipURL, token string, offer func(string) string, packet func(i int) []byte) *TalkPub {
	t.Helper()
	api, err := proto.NewAPI(proto.NetOptions{IPFilter: proto.LoopbackOnly})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &TalkPub{token: token, pc: pc, stop: make(chan struct{}), done: make(chan struct{})}
	t.Cleanup(p.Close)
	track, err := webrtc.NewTrackLocalStaticSample(proto.Opus.RTPCodecCapability, "audio", "talk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	sdp := testkit.LocalOffer(t, pc)
	if offer != nil {
		sdp = offer(sdp)
	}
	req, err := http.NewRequest(http.MethodPost, whipURL, strings.NewReader(sdp))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", proto.MimeSDP)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST offer: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("POST offer: %v", err)
	}
	body := string(b)
	p.Status, p.Header = res.StatusCode, res.Header
	if res.StatusCode != http.StatusCreated {
		close(p.done)
		return p
	}
	base, _ := url.Parse(whipURL)
	if loc, err := base.Parse(res.Header.Get("Location")); err == nil {
		p.Location = loc.String()
	}
	for _, l := range res.Header.Values("Link") {
		if target, ok := strings.CutSuffix(l, `; rel="`+proto.RelChapters+`"`); ok {
			if u, err := base.Parse(strings.Trim(target, "<>")); err == nil {
				p.Chapters = u.String()
			}
		}
	}
	connected := make(chan struct{})
	var conn sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			conn.Do(func() { close(connected) })
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: body}); err != nil {
		t.Fatalf("answer: %v", err)
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("publisher not connected after 10 s")
	}
	p.Began = time.Now()
	go func() {
		defer close(p.done)
		for i := 0; ; i++ {
			select {
			case <-p.stop:
				return
			case <-time.After(time.Until(p.Began.Add(time.Duration(i) * 20 * time.Millisecond))):
			}
			b := packet(i)
			if b == nil {
				return
			}
			_ = track.WriteSample(media.Sample{Data: b, Duration: 20 * time.Millisecond})
		}
	}()
	return p
}

// Position is where the talk is now, as the server's recording counts it (from Began).
func (p *TalkPub) Position() time.Duration { return time.Since(p.Began) }

// Wait returns once packet has returned nil (or Close).
func (p *TalkPub) Wait() { <-p.done }

// Close stops sending and ends the session with a DELETE (the recording is finalised).
func (p *TalkPub) Close() { p.end(true) }

// Drop stops sending and closes the connection without a DELETE: the presenter's network
// gone (the server keeps the recording for the publisher to come back).
func (p *TalkPub) Drop() { p.end(false) }

func (p *TalkPub) end(del bool) {
	p.once.Do(func() {
		close(p.stop)
		<-p.done
		if p.Location != "" && del {
			if req, err := http.NewRequest(http.MethodDelete, p.Location, nil); err == nil {
				if p.token != "" {
					req.Header.Set("Authorization", "Bearer "+p.token)
				}
				if res, err := http.DefaultClient.Do(req); err == nil {
					res.Body.Close()
				}
			}
		}
		_ = p.pc.Close()
	})
}

// WithTalk is an offer change for PublishTalk: the title in the session name line (s=) and
// the presenter, when not empty, in a session information line (i=) after it, as a Podium
// client sends them.
func WithTalk(title, presenter string) func(string) string {
	return func(sdp string) string {
		line := "s=" + title + "\r\n"
		if presenter != "" {
			line += "i=" + presenter + "\r\n"
		}
		return strings.Replace(sdp, "s=-\r\n", line, 1)
	}
}

// PostChapter POSTs body (JSON) to the chapters URL with token and returns the status.
func PostChapter(t testing.TB, chaptersURL, token, body string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, chaptersURL, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", chaptersURL, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}
