// Package rtc carries Opus packets between a presenter and podium-server over WHIP
// (RFC 9725) with Pion WebRTC.
//
// The package knows no codec and writes no file: payloads are opaque bytes and positions are
// counted in 48 kHz samples. Where it meets audio it hands each recording's packets to a Sink
// (sink.go) that SinkFunc opens; listing and serving the recorded files is package
// rtc/recordings' job, behind the server's access checks.
package rtc

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"time"

	"podium/audio/pcm"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// opusCodec is the only codec either side negotiates. WebRTC requires the rtpmap to say
// opus/48000/2 even for mono. NACK is offered so two Pion peers can repair loss on loopback
// and LANs; browsers simply ignore it for audio.
var opusCodec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType:     webrtc.MimeTypeOpus,
		ClockRate:    pcm.SampleRate,
		Channels:     2,
		SDPFmtpLine:  "minptime=10;useinbandfec=1",
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}},
	},
	PayloadType: 111,
}

// netOptions are the ICE knobs shared by the client and the server.
type netOptions struct {
	ipFilter     func(net.IP) bool
	publicIPs    []string
	udpMux       ice.UDPMux    // the server's one shared port; nil: a port per session (clients)
	disconnected time.Duration // ICE "disconnected" after this long without traffic
	failed       time.Duration
	keepalive    time.Duration
	net          transport.Net // tests: a network that can be cut
	nackHistory  uint16        // packets kept per sent stream for NACK repair; 0: Pion's 1024
}

// newAPI builds a Pion API that speaks Opus only, with NACK and RTCP reports but none of the
// video-oriented interceptors (TWCC, stats): every session costs CPU and memory on the server.
func newAPI(o netOptions) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(opusCodec, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	ir := &interceptor.Registry{}
	var resp []nack.ResponderOption
	if o.nackHistory > 0 {
		resp = append(resp, nack.ResponderSize(o.nackHistory))
	}
	if err := webrtc.ConfigureNackWithOptions(me, ir, nil, resp...); err != nil {
		return nil, fmt.Errorf("configure nack: %w", err)
	}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, fmt.Errorf("configure rtcp reports: %w", err)
	}

	se := webrtc.SettingEngine{}
	// Presenter and server on one machine is a real case (the app embeds the server), and
	// tests run on loopback: keep loopback candidates. mDNS only slows gathering here.
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if o.ipFilter != nil {
		se.SetIPFilter(o.ipFilter)
	}
	if len(o.publicIPs) > 0 {
		se.SetNAT1To1IPs(o.publicIPs, webrtc.ICECandidateTypeHost)
	}
	if o.udpMux != nil {
		// Gathering then offers the mux's addresses (already filtered) and nothing else.
		se.SetICEUDPMux(o.udpMux)
	}
	if o.net != nil {
		se.SetNet(o.net)
	}
	if o.disconnected > 0 {
		se.SetICETimeouts(o.disconnected, o.failed, o.keepalive)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// LoopbackOnly is an IP filter for ClientConfig.IPFilter and ServerConfig.IPFilter that keeps
// ICE on 127.0.0.0/8 and ::1, for tests and for a server embedded in the presenter's app.
func LoopbackOnly(ip net.IP) bool { return ip.IsLoopback() }

// gatherLocal sets desc as the local description and waits until ICE gathering is complete,
// so the SDP carries every candidate and nobody needs to trickle.
func gatherLocal(ctx context.Context, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (*webrtc.SessionDescription, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(desc); err != nil {
		return nil, fmt.Errorf("set local description: %w", err)
	}
	select {
	case <-done:
	case <-ctx.Done():
		return nil, fmt.Errorf("ice gathering: %w", ctx.Err())
	}
	ld := pc.LocalDescription()
	if ld == nil {
		return nil, errors.New("ice gathering: no local description")
	}
	return ld, nil
}

// drainRTCP reads a sender's RTCP until its PeerConnection closes: the NACK responder and
// the reports work only while it is read.
func drainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}

type logfFunc func(format string, args ...any)

func (f logfFunc) printf(format string, args ...any) {
	if f != nil {
		f(format, args...)
		return
	}
	log.Printf(format, args...)
}
