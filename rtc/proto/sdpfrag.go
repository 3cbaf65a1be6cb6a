package proto

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/pion/sdp/v3"
)

// Limits on what a peer may send in a fragment, so a PATCH costs bounded work.
const (
	maxFragCandidates = 64
	maxICEValue       = 256
	maxCandidateLen   = 1024
)

// SDPFrag is the part of an RFC 8840 SDP fragment that WHIP uses for trickle and ICE restart:
// credentials and candidates of the one bundled media section.
type SDPFrag struct {
	Ufrag           string
	Pwd             string
	Mid             string
	Candidates      []string // attribute values, without the "candidate:" prefix
	EndOfCandidates bool
}

// ParseSDPFrag parses an application/trickle-ice-sdpfrag body. It accepts session- or
// media-level credentials (RFC 9725 allows both) and ignores lines it has no use for.
func ParseSDPFrag(b []byte) (SDPFrag, error) {
	var f SDPFrag
	sawLine := false
	for i, raw := range bytes.Split(b, []byte("\n")) {
		line := strings.TrimSuffix(string(raw), "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' {
			return SDPFrag{}, fmt.Errorf("sdpfrag line %d: not an SDP line", i+1)
		}
		if strings.ContainsFunc(line, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return SDPFrag{}, fmt.Errorf("sdpfrag line %d: control character", i+1)
		}
		sawLine = true
		if line[0] != 'a' {
			continue
		}
		key, val, _ := strings.Cut(line[2:], ":")
		var err error
		switch key {
		case "ice-ufrag":
			err = setICEValue(&f.Ufrag, val, key)
		case "ice-pwd":
			err = setICEValue(&f.Pwd, val, key)
		case "mid":
			if f.Mid == "" {
				f.Mid = val
			}
		case "candidate":
			if val == "" || len(val) > maxCandidateLen {
				err = errors.New("bad candidate")
			} else if len(f.Candidates) >= maxFragCandidates {
				err = fmt.Errorf("more than %d candidates", maxFragCandidates)
			} else {
				f.Candidates = append(f.Candidates, val)
			}
		case "end-of-candidates":
			f.EndOfCandidates = true
		}
		if err != nil {
			return SDPFrag{}, fmt.Errorf("sdpfrag line %d: %w", i+1, err)
		}
	}
	if !sawLine {
		return SDPFrag{}, errors.New("sdpfrag: empty")
	}
	if (f.Ufrag == "") != (f.Pwd == "") {
		return SDPFrag{}, errors.New("sdpfrag: ice-ufrag and ice-pwd must come together")
	}
	return f, nil
}

// setICEValue checks an ice-ufrag or ice-pwd (RFC 8839 ice-char) and refuses two different
// values in one fragment: a fragment restarts ICE for the whole bundle or not at all.
func setICEValue(dst *string, v, key string) error {
	if v == "" || len(v) > maxICEValue {
		return fmt.Errorf("bad %s length", key)
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '+' || r == '/') {
			return fmt.Errorf("bad character in %s", key)
		}
	}
	if *dst != "" && *dst != v {
		return fmt.Errorf("conflicting %s values", key)
	}
	*dst = v
	return nil
}

// Marshal writes the fragment in the shape of RFC 9725's examples.
func (f SDPFrag) Marshal() []byte {
	var b bytes.Buffer
	mid := f.Mid
	if mid == "" {
		mid = "0"
	}
	b.WriteString("a=ice-options:trickle ice2\r\n")
	b.WriteString("m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n")
	b.WriteString("a=mid:" + mid + "\r\n")
	if f.Ufrag != "" {
		b.WriteString("a=ice-ufrag:" + f.Ufrag + "\r\n")
		b.WriteString("a=ice-pwd:" + f.Pwd + "\r\n")
	}
	for _, c := range f.Candidates {
		b.WriteString("a=candidate:" + c + "\r\n")
	}
	if f.EndOfCandidates {
		b.WriteString("a=end-of-candidates\r\n")
	}
	return b.Bytes()
}

// FragFromSDP takes the ICE part out of a full SDP (our own gathered offer or answer).
func FragFromSDP(s string) (SDPFrag, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return SDPFrag{}, fmt.Errorf("parse sdp: %w", err)
	}
	var f SDPFrag
	f.Ufrag, _ = sd.Attribute("ice-ufrag")
	f.Pwd, _ = sd.Attribute("ice-pwd")
	if len(sd.MediaDescriptions) > 0 {
		m := sd.MediaDescriptions[0]
		f.Mid, _ = m.Attribute("mid")
		if v, ok := m.Attribute("ice-ufrag"); ok {
			f.Ufrag = v
		}
		if v, ok := m.Attribute("ice-pwd"); ok {
			f.Pwd = v
		}
		for _, a := range m.Attributes {
			switch a.Key {
			case "candidate":
				f.Candidates = append(f.Candidates, a.Value)
			case "end-of-candidates":
				f.EndOfCandidates = true
			}
		}
	}
	if f.Ufrag == "" || f.Pwd == "" {
		return SDPFrag{}, errors.New("sdp has no ice credentials")
	}
	return f, nil
}

// WithICE rewrites a full SDP with the credentials and candidates of f. Pion only accepts
// whole descriptions, while WHIP's ICE restart exchanges fragments: each side keeps the
// last full description of its peer and patches it.
func WithICE(s string, f SDPFrag) (string, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(s); err != nil {
		return "", fmt.Errorf("parse sdp: %w", err)
	}
	sd.Attributes = dropICE(sd.Attributes)
	sd.Origin.SessionVersion++
	for i, m := range sd.MediaDescriptions {
		m.Attributes = dropICE(m.Attributes)
		m.Attributes = append(m.Attributes,
			sdp.Attribute{Key: "ice-ufrag", Value: f.Ufrag},
			sdp.Attribute{Key: "ice-pwd", Value: f.Pwd})
		if i == 0 { // BUNDLE: the first section carries the transport
			for _, c := range f.Candidates {
				m.Attributes = append(m.Attributes, sdp.Attribute{Key: "candidate", Value: c})
			}
			if f.EndOfCandidates {
				m.Attributes = append(m.Attributes, sdp.Attribute{Key: "end-of-candidates"})
			}
		}
	}
	out, err := sd.Marshal()
	if err != nil {
		return "", fmt.Errorf("marshal sdp: %w", err)
	}
	return string(out), nil
}

func dropICE(attrs []sdp.Attribute) []sdp.Attribute {
	out := attrs[:0]
	for _, a := range attrs {
		switch a.Key {
		case "ice-ufrag", "ice-pwd", "candidate", "end-of-candidates":
			continue
		}
		out = append(out, a)
	}
	return out
}
