package testkit

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// Offer adds one audio transceiver in direction dir to pc, sets pc's offer as its local
// description, and returns that offer once every ICE candidate is in it: a WHIP or WHEP
// server is sent the whole offer at once, no candidates trickle after it.
func Offer(t testing.TB, pc *webrtc.PeerConnection, dir webrtc.RTPTransceiverDirection) string {
	t.Helper()
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: dir}); err != nil {
		t.Fatalf("offer: add audio transceiver: %v", err)
	}
	return LocalOffer(t, pc)
}

// LocalOffer sets pc's offer (for the tracks and transceivers it has) as its local
// description and returns it once every ICE candidate is in it.
func LocalOffer(t testing.TB, pc *webrtc.PeerConnection) string {
	t.Helper()
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatalf("offer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatalf("offer: set local description: %v", err)
	}
	select {
	case <-gathered:
	case <-time.After(10 * time.Second):
		t.Fatal("offer: ICE gathering took over 10 s")
	}
	return pc.LocalDescription().SDP
}
