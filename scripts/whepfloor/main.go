// Command whepfloor is the floor BenchmarkWHEPListeners measures podium-server against: the
// barest Pion WHIP-in, WHEP-out relay, with Pion's defaults, as any Pion server (MediaMTX
// included) pays them. One stream, no tokens, no recording: a WHIP publisher POSTs to
// /whip/NAME, listeners POST to /whep/NAME, and every RTP packet the publisher sends is
// written, as Pion's broadcast example does, to one TrackLocalStaticRTP that every listener's
// PeerConnection shares (Pion then writes it to each in turn: its own header copy, the
// interceptors, SRTP and one sendto per listener).
//
// Pion's defaults: the default codecs and interceptors (webrtc.RegisterDefaultInterceptors),
// the default SRTP profiles and DTLS settings. The only settings changed are those the load
// needs to connect at all on a machine running a thousand sessions: loopback candidates on,
// mDNS off, IPv4 UDP only, and one UDP port shared by every session (ice.NewUDPMuxDefault,
// as MediaMTX's webrtcLocalUDPAddress and podium-server do), so the floor and the server
// differ only in the media path.
//
// It prints "WHIP on http://HOST:PORT/whip/" like podium-server, so tests find it the same way.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "whepfloor:", err)
		os.Exit(1)
	}
}

type relay struct {
	api   *webrtc.API
	track *webrtc.TrackLocalStaticRTP
	n     atomic.Int64  // sessions made, for Location
	seq   atomic.Uint32 // the next sequence number to send
	mu    sync.Mutex
	pcs   map[string]*webrtc.PeerConnection
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:0", "HTTP address")
	flag.Parse()

	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return fmt.Errorf("udp port: %w", err)
	}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEUDPMux(ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: udp}))
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "floor")
	if err != nil {
		return err
	}
	r := &relay{
		api:   webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)),
		track: track,
		pcs:   map[string]*webrtc.PeerConnection{},
	}

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /whip/{stream}", func(w http.ResponseWriter, req *http.Request) { r.session(w, req, true) })
	mux.HandleFunc("POST /whep/{stream}", func(w http.ResponseWriter, req *http.Request) { r.session(w, req, false) })
	mux.HandleFunc("DELETE /session/{id}", r.remove)
	fmt.Fprintf(os.Stderr, "WHIP on http://%s/whip/\n", ln.Addr())
	return http.Serve(ln, mux)
}

// session answers a WHIP (publish) or WHEP (listen) offer, waiting for every candidate.
func (r *relay) session(w http.ResponseWriter, req *http.Request, publish bool) {
	offer, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pc, err := r.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if publish {
		if _, err = pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err == nil {
			pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) { r.forward(tr) })
		}
	} else {
		var s *webrtc.RTPSender
		if s, err = pc.AddTrack(r.track); err == nil {
			go drain(s)
		}
	}
	if err == nil {
		err = answer(pc, string(offer))
	}
	if err != nil {
		_ = pc.Close()
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := strconv.FormatInt(r.n.Add(1), 10)
	r.mu.Lock()
	r.pcs[id] = pc
	r.mu.Unlock()
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", "/session/"+id)
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, pc.LocalDescription().SDP)
}

func answer(pc *webrtc.PeerConnection, offer string) error {
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	<-done
	return nil
}

// forward writes every packet of the publisher's track to the shared track, as it comes.
// Sequence numbers continue from the last publisher's (as any relay must: a listener's SRTP
// would take a new publisher's lower numbers for replays and drop them).
func (r *relay) forward(tr *webrtc.TrackRemote) {
	var off uint16
	for n := 0; ; n++ {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		if n == 0 {
			off = uint16(r.seq.Load()) - pkt.SequenceNumber
		}
		pkt.SequenceNumber += off
		r.seq.Store(uint32(pkt.SequenceNumber + 1))
		// The publisher's header extensions were negotiated with it, not with the listeners.
		pkt.Extension, pkt.Extensions = false, nil
		if err := r.track.WriteRTP(pkt); err != nil && !errors.Is(err, io.ErrClosedPipe) {
			return
		}
	}
}

func (r *relay) remove(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	pc := r.pcs[req.PathValue("id")]
	delete(r.pcs, req.PathValue("id"))
	r.mu.Unlock()
	if pc == nil {
		http.NotFound(w, req)
		return
	}
	_ = pc.Close()
	w.WriteHeader(http.StatusOK)
}

// drain reads a listener's RTCP: Pion's interceptors work only while it is read.
func drain(s *webrtc.RTPSender) {
	buf := make([]byte, 1500)
	for {
		if _, _, err := s.Read(buf); err != nil {
			return
		}
	}
}
