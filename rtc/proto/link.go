package proto

import (
	"strings"

	"github.com/pion/stun/v4"
	"github.com/pion/webrtc/v4"
)

// maxLinkServers bounds what a server can make us configure.
const maxLinkServers = 16

// ParseLinkHeaders returns the ICE servers announced in RFC 8288 Link headers with
// rel="ice-server" (RFC 9725 §4.6). Links that Pion would refuse later (bad URL, TURN
// without credentials) are skipped here, so one bad header cannot break every reconnect.
func ParseLinkHeaders(values []string) []webrtc.ICEServer {
	var out []webrtc.ICEServer
	for _, v := range values {
		for _, l := range splitLinks(v) {
			if len(out) >= maxLinkServers {
				return out
			}
			if s, ok := l.iceServer(); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

type link struct {
	uri    string
	params map[string]string
}

func (l link) iceServer() (webrtc.ICEServer, bool) {
	rel := false
	for _, r := range strings.Fields(l.params["rel"]) {
		if strings.EqualFold(r, "ice-server") {
			rel = true
		}
	}
	if !rel {
		return webrtc.ICEServer{}, false
	}
	u, err := stun.ParseURI(l.uri)
	if err != nil {
		return webrtc.ICEServer{}, false
	}
	s := webrtc.ICEServer{URLs: []string{l.uri}}
	if u.Scheme == stun.SchemeTypeTURN || u.Scheme == stun.SchemeTypeTURNS {
		user, cred := l.params["username"], l.params["credential"]
		if user == "" || cred == "" {
			return webrtc.ICEServer{}, false
		}
		s.Username, s.Credential = user, cred
		s.CredentialType = webrtc.ICECredentialTypePassword
	}
	return s, true
}

// splitLinks parses one Link header value: comma-separated `<uri>; name=value; name="quoted"`.
// It never fails; whatever cannot be read is dropped.
func splitLinks(v string) []link {
	var out []link
	i := 0
	for i < len(v) {
		// Find the next "<uri>".
		lt := strings.IndexByte(v[i:], '<')
		if lt < 0 {
			break
		}
		i += lt + 1
		gt := strings.IndexByte(v[i:], '>')
		if gt < 0 {
			break
		}
		l := link{uri: strings.TrimSpace(v[i : i+gt]), params: map[string]string{}}
		i += gt + 1
		// Parameters until a comma outside quotes, or the end.
		for i < len(v) {
			for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
				i++
			}
			if i >= len(v) {
				break
			}
			if v[i] == ',' {
				i++
				break
			}
			if v[i] != ';' {
				i++ // junk between parameters
				continue
			}
			i++
			j := i
			for j < len(v) && v[j] != '=' && v[j] != ';' && v[j] != ',' {
				j++
			}
			name := strings.ToLower(strings.TrimSpace(v[i:j]))
			i = j
			val := ""
			if i < len(v) && v[i] == '=' {
				i++
				for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
					i++
				}
				val, i = readParamValue(v, i)
			}
			if _, seen := l.params[name]; name != "" && !seen { // RFC 8288: first occurrence wins
				l.params[name] = val
			}
		}
		out = append(out, l)
	}
	return out
}

// readParamValue reads a token or a quoted-string starting at v[i].
func readParamValue(v string, i int) (string, int) {
	if i < len(v) && v[i] == '"' {
		var b strings.Builder
		i++
		for i < len(v) {
			c := v[i]
			switch {
			case c == '\\' && i+1 < len(v):
				b.WriteByte(v[i+1])
				i += 2
			case c == '"':
				return b.String(), i + 1
			default:
				b.WriteByte(c)
				i++
			}
		}
		return b.String(), i
	}
	j := i
	for j < len(v) && v[j] != ';' && v[j] != ',' {
		j++
	}
	return strings.TrimSpace(v[i:j]), j
}

// LinkHeaders formats ICE servers for a WHIP response, one Link per URL.
func LinkHeaders(servers []webrtc.ICEServer) []string {
	var out []string
	for _, s := range servers {
		for _, u := range s.URLs {
			h := "<" + u + `>; rel="ice-server"`
			if s.Username != "" {
				h += "; username=" + quote(s.Username)
			}
			if c, ok := s.Credential.(string); ok && c != "" {
				h += "; credential=" + quote(c) + `; credential-type="password"`
			}
			out = append(out, h)
		}
	}
	return out
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
