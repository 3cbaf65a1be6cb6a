// Package proto is what both ends of Podium's WebRTC links agree on, so the server (package
// rtc) and the WHIP client (package whip) share it without importing each other: the one
// codec and the Pion setup they negotiate it with, the SDP fragments of ICE restarts and
// trickle (RFC 8840), the ICE servers of Link headers (RFC 9725 §4.6), the shape of a WHIP
// URL, and the rule that a Bearer token goes to its own origin only.
package proto

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"podium/audio/pcm"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/transport/v5"
	"github.com/pion/webrtc/v4"
)

// The content types of WHIP and WHEP signalling.
const (
	MimeSDP     = "application/sdp"
	MimeSDPFrag = "application/trickle-ice-sdpfrag"
)

// Opus is the only codec either side negotiates. WebRTC requires the rtpmap to say
// opus/48000/2 even for mono. NACK is offered so two Pion peers can repair loss on loopback
// and LANs; browsers simply ignore it for audio.
var Opus = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{
		MimeType:     webrtc.MimeTypeOpus,
		ClockRate:    pcm.SampleRate,
		Channels:     2,
		SDPFmtpLine:  "minptime=10;useinbandfec=1",
		RTCPFeedback: []webrtc.RTCPFeedback{{Type: "nack"}},
	},
	PayloadType: 111,
}

// NetOptions are the ICE knobs shared by the client and the server.
type NetOptions struct {
	IPFilter     func(net.IP) bool
	PublicIPs    []string
	UDPMux       ice.UDPMux    // the server's one shared port; nil: a port per session (clients)
	Disconnected time.Duration // ICE "disconnected" after this long without traffic
	Failed       time.Duration
	Keepalive    time.Duration
	Net          transport.Net // the network ICE uses; nil: the machine's (tests cut it)
	NACKHistory  uint16        // packets kept per sent stream for NACK repair; 0: Pion's 1024
	// SendOnly: sessions that only send (the server's listeners) get no NACK generator and no
	// receiver reports: each is a ticker per session (the generator's ten times a second)
	// with nothing to report on, and with a thousand listeners the wake-ups cost more than
	// their packets.
	SendOnly bool
}

// NewAPI builds a Pion API that speaks Opus only, with NACK and RTCP reports but none of the
// video-oriented interceptors (TWCC, stats): every session costs CPU and memory on the server.
func NewAPI(o NetOptions) (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(Opus, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, fmt.Errorf("register opus: %w", err)
	}
	ir := &interceptor.Registry{}
	if err := configureInterceptors(me, ir, o); err != nil {
		return nil, err
	}

	se := webrtc.SettingEngine{}
	// Presenter and server on one machine is a real case (the app embeds the server), and
	// tests run on loopback: keep loopback candidates. mDNS only slows gathering here.
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if o.IPFilter != nil {
		se.SetIPFilter(o.IPFilter)
	}
	if len(o.PublicIPs) > 0 {
		se.SetNAT1To1IPs(o.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if o.UDPMux != nil {
		// Gathering then offers the mux's addresses (already filtered) and nothing else.
		se.SetICEUDPMux(o.UDPMux)
	}
	if o.Net != nil {
		se.SetNet(o.Net)
	}
	if o.Disconnected > 0 {
		se.SetICETimeouts(o.Disconnected, o.Failed, o.Keepalive)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir),
		webrtc.WithSettingEngine(se)), nil
}

// sendOnlyReportInterval is how often a SendOnly session sends its sender report: RFC 3550's
// minimum (6.2: 5 s), not Pion's 1 s. A listener's sender reports serve only to map RTP time
// to wall clock time (audio alone has nothing to synchronise with; the listener page takes
// its round trip from ICE), and with a thousand listeners a report a second each (SRTCP
// encrypted, sent and its stream map walked) cost more than a seventh of the server.
const sendOnlyReportInterval = 5 * time.Second

// configureInterceptors adds NACK (responder; and generator unless SendOnly) and RTCP
// reports (sender; and receiver unless SendOnly) to ir.
func configureInterceptors(me *webrtc.MediaEngine, ir *interceptor.Registry, o NetOptions) error {
	var resp []nack.ResponderOption
	if o.NACKHistory > 0 {
		resp = append(resp, nack.ResponderSize(o.NACKHistory))
	}
	if !o.SendOnly {
		if err := webrtc.ConfigureNackWithOptions(me, ir, nil, resp...); err != nil {
			return fmt.Errorf("configure nack: %w", err)
		}
		if err := webrtc.ConfigureRTCPReports(ir); err != nil {
			return fmt.Errorf("configure rtcp reports: %w", err)
		}
		return nil
	}
	// What ConfigureNackWithOptions registers in the MediaEngine is for video only: Opus
	// carries its own nack feedback.
	responder, err := nack.NewResponderInterceptor(resp...)
	if err != nil {
		return fmt.Errorf("configure nack: %w", err)
	}
	sender, err := report.NewSenderInterceptor(report.SenderInterval(sendOnlyReportInterval))
	if err != nil {
		return fmt.Errorf("configure rtcp reports: %w", err)
	}
	ir.Add(responder)
	ir.Add(sender)
	return nil
}

// LoopbackOnly is an IP filter for the client's and the server's IPFilter that keeps ICE on
// 127.0.0.0/8 and ::1, for tests and for a server embedded in the presenter's app.
func LoopbackOnly(ip net.IP) bool { return ip.IsLoopback() }

// GatherLocal sets desc as the local description and waits until ICE gathering is complete,
// so the SDP carries every candidate and nobody needs to trickle.
func GatherLocal(ctx context.Context, pc *webrtc.PeerConnection, desc webrtc.SessionDescription) (*webrtc.SessionDescription, error) {
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

// DrainRTCP reads a sender's RTCP until its PeerConnection closes: the NACK responder and
// the reports work only while it is read.
func DrainRTCP(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}
