package proto

import (
	"net/url"
	"strings"

	"podium/audio/filename"
)

// SplitWHIP takes a WHIP endpoint ".../whip/{stream}" apart: the server's base (origin and
// any path prefix) and the stream; "", "" for any other URL (another server's WHIP layout).
func SplitWHIP(whip string) (base, stream string) {
	u, err := url.Parse(whip)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", ""
	}
	p := strings.TrimSuffix(u.Path, "/")
	i := strings.LastIndex(p, "/whip/")
	if i < 0 {
		return "", ""
	}
	stream = p[i+len("/whip/"):]
	if filename.CheckStream(stream) != nil {
		return "", ""
	}
	return u.Scheme + "://" + u.Host + p[:i], stream
}
