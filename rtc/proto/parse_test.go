package proto

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"podium/scripts/testkit"
)

func TestParseLinkHeaders(t *testing.T) {
	cases := []struct {
		name   string
		in     []string
		want   []webrtc.ICEServer
		wantNo bool
	}{
		{name: "stun", in: []string{`<stun:stun.example.net>; rel="ice-server"`},
			want: []webrtc.ICEServer{{URLs: []string{"stun:stun.example.net"}}}},
		{name: "turn with credentials", in: []string{`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="my\"pw"; credential-type="password"`},
			want: []webrtc.ICEServer{{URLs: []string{"turn:turn.example.net?transport=udp"}, Username: "user", Credential: `my"pw`, CredentialType: webrtc.ICECredentialTypePassword}}},
		{name: "two in one header", in: []string{`<stun:a.example>; rel=ice-server, <turns:b.example:443?transport=tcp>; rel="ice-server"; username=u; credential=p`},
			want: []webrtc.ICEServer{{URLs: []string{"stun:a.example"}}, {URLs: []string{"turns:b.example:443?transport=tcp"}, Username: "u", Credential: "p", CredentialType: webrtc.ICECredentialTypePassword}}},
		{name: "other rel ignored", in: []string{`<https://example.net/x>; rel="next"`}, wantNo: true},
		{name: "turn without credentials skipped", in: []string{`<turn:turn.example.net>; rel="ice-server"`}, wantNo: true},
		{name: "not an ICE URL skipped", in: []string{`<http://x>; rel="ice-server"`}, wantNo: true},
		{name: "garbage", in: []string{`<<;;,,"`, `>`, ``}, wantNo: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseLinkHeaders(tc.in)
			if tc.wantNo {
				if len(got) != 0 {
					t.Errorf("got %+v, want none", got)
				}
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			// What we announce, we can read back.
			if back := ParseLinkHeaders(LinkHeaders(got)); !reflect.DeepEqual(back, got) {
				t.Errorf("round trip %+v -> %q -> %+v", got, LinkHeaders(got), back)
			}
		})
	}
}

func TestParseSDPFrag(t *testing.T) {
	cases := []struct {
		name    string
		in      string
		want    SDPFrag
		wantErr bool
	}{
		{name: "RFC 9725 restart", in: "a=ice-options:trickle ice2\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:ZXvX\r\na=ice-pwd:7y9z6e3ZHOv0L3lvBGnl6X1k\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n",
			want: SDPFrag{Ufrag: "ZXvX", Pwd: "7y9z6e3ZHOv0L3lvBGnl6X1k", Mid: "0", Candidates: []string{"1 1 udp 2130706431 127.0.0.1 5000 typ host"}, EndOfCandidates: true}},
		{name: "session-level credentials, LF only", in: "a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n",
			want: SDPFrag{Ufrag: "abcd", Pwd: "abcdefghijklmnopqrstuv"}},
		{name: "trickle only", in: "a=mid:0\r\na=candidate:2 1 udp 1 10.0.0.1 9 typ host\r\n",
			want: SDPFrag{Mid: "0", Candidates: []string{"2 1 udp 1 10.0.0.1 9 typ host"}}},
		{name: "empty", in: "", wantErr: true},
		{name: "not sdp", in: "hello\r\n", wantErr: true},
		{name: "ufrag without pwd", in: "a=ice-ufrag:abcd\r\n", wantErr: true},
		{name: "conflicting ufrags", in: "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\na=ice-ufrag:efgh\r\n", wantErr: true},
		{name: "bad ufrag char", in: "a=ice-ufrag:ab cd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n", wantErr: true},
		{name: "control char", in: "a=candidate:1 1 udp 1 \x00 9 typ host\r\n", wantErr: true},
		{name: "too many candidates", in: strings.Repeat("a=candidate:1 1 udp 1 10.0.0.1 9 typ host\r\n", maxFragCandidates+1), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseSDPFrag([]byte(tc.in))
			if tc.wantErr {
				if err == nil {
					t.Errorf("parsed %+v, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
			back, err := ParseSDPFrag(got.Marshal())
			if err != nil {
				t.Fatal(err)
			}
			if got.Mid == "" {
				back.Mid = ""
			}
			if !reflect.DeepEqual(back, got) {
				t.Errorf("round trip: %+v", back)
			}
		})
	}
}

func TestWithICE(t *testing.T) {
	offer := sendOffer(t)
	f := SDPFrag{Ufrag: "NEWU", Pwd: "newpasswordnewpassword", Candidates: []string{"9 1 udp 5 127.0.0.1 4242 typ host"}, EndOfCandidates: true}
	out, err := WithICE(offer, f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := FragFromSDP(out)
	if err != nil {
		t.Fatal(err)
	}
	if got.Ufrag != f.Ufrag || got.Pwd != f.Pwd || !reflect.DeepEqual(got.Candidates, f.Candidates) {
		t.Errorf("rewritten ICE %+v", got)
	}
	if strings.Count(out, "a=ice-ufrag:") != strings.Count(offer, "a=ice-ufrag:") {
		t.Errorf("ice-ufrag lines changed in number:\n%s", out)
	}
}

func FuzzLinkHeader(f *testing.F) {
	for _, s := range []string{
		`<stun:stun.example.net>; rel="ice-server"`,
		`<turn:turn.example.net?transport=udp>; rel="ice-server"; username="user"; credential="my\"pw"; credential-type="password"`,
		`<stun:a>; rel=ice-server, <turns:b:443?transport=tcp>; rel="ice-server"; username=u; credential=p`,
		`<`, `<>;`, `"`, `<x>; rel="ice-server`, `;;;===,,,`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		servers := ParseLinkHeaders([]string{h})
		if len(servers) > maxLinkServers {
			t.Fatalf("%d servers", len(servers))
		}
		// Whatever we accept, Pion must accept too (else every reconnect would fail).
		for _, s := range servers {
			for _, u := range s.URLs {
				if u == "" {
					t.Fatal("empty URL accepted")
				}
			}
		}
		_ = LinkHeaders(servers)
	})
}

func FuzzSDPFrag(f *testing.F) {
	for _, s := range []string{
		"a=ice-options:trickle ice2\r\na=group:BUNDLE 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=ice-ufrag:ZXvX\r\na=ice-pwd:7y9z6e3ZHOv0L3lvBGnl6X1k\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n",
		"a=ice-ufrag:abcd\na=ice-pwd:abcdefghijklmnopqrstuv\n",
		"a=candidate:\r\n", "a=\r\n", "=\n", "a=ice-ufrag:\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseSDPFrag(b)
		if err != nil {
			return
		}
		if len(fr.Candidates) > maxFragCandidates || (fr.Ufrag == "") != (fr.Pwd == "") {
			t.Fatalf("accepted %+v", fr)
		}
		// What we accept we can write, and read back the same.
		back, err := ParseSDPFrag(fr.Marshal())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", fr.Marshal(), err)
		}
		if back.Ufrag != fr.Ufrag || back.Pwd != fr.Pwd || len(back.Candidates) != len(fr.Candidates) {
			t.Fatalf("round trip %+v -> %+v", fr, back)
		}
	})
}

// sendOffer gathers a real Pion offer with one sendonly Opus transceiver.
func sendOffer(t testing.TB) string {
	t.Helper()
	api, err := NewAPI(NetOptions{IPFilter: LoopbackOnly})
	if err != nil {
		t.Fatal(err)
	}
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = pc.GracefulClose() }()
	track, err := webrtc.NewTrackLocalStaticRTP(Opus.RTPCodecCapability, "audio", "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	return testkit.LocalOffer(t, pc)
}
