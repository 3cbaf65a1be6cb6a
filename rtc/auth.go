package rtc

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// action is something a request asks the server to do; access decides who may.
type action int

const (
	actPublish        action = iota // WHIP: POST, PATCH, DELETE under /whip/
	actListen                       // WHEP: POST, PATCH, DELETE under /whep/
	actSeeStreams                   // GET /streams
	actReadRecordings               // GET /recordings
)

// access holds the tokens of each role and the operator's public flags. Every access
// decision of the server is made by allows, so a new rule has exactly one place to go.
type access struct {
	publishers   [][]byte
	listeners    [][]byte
	viewers      [][]byte
	publicListen bool
}

func newAccess(cfg *ServerConfig) access {
	return access{
		publishers:   tokenBytes(cfg.Tokens),
		listeners:    tokenBytes(cfg.ListenerTokens),
		viewers:      tokenBytes(cfg.ViewerTokens),
		publicListen: cfg.PublicListen,
	}
}

func tokenBytes(tokens []string) [][]byte {
	var out [][]byte
	for _, t := range tokens {
		out = append(out, []byte(t))
	}
	return out
}

// allows says whether r may do act.
func (a *access) allows(r *http.Request, act action) bool {
	switch act {
	case actPublish:
		return a.publisher(r)
	case actListen:
		return a.listener(r)
	case actSeeStreams:
		return a.listener(r) || a.publisher(r)
	case actReadRecordings:
		return a.viewer(r)
	}
	return false
}

// publisher: any publisher token; with none configured, anyone, except a request that
// presents a listener token: a listener never publishes.
func (a *access) publisher(r *http.Request) bool {
	if len(a.publishers) == 0 {
		return !matchToken(bearer(r), a.listeners)
	}
	return matchToken(bearer(r), a.publishers)
}

// listener: a listener token, or any request when the operator made listening public. No
// listener tokens and not public means nobody listens. A publisher token is not a listener
// token unless the operator put the same string in both lists.
func (a *access) listener(r *http.Request) bool {
	return a.publicListen || matchToken(bearer(r), a.listeners)
}

// viewer: open when no viewer tokens are set; otherwise a viewer or a listener token, as a
// Bearer header or a token query parameter (an <audio> element or a download link cannot
// send headers).
func (a *access) viewer(r *http.Request) bool {
	if len(a.viewers) == 0 {
		return true
	}
	tok := bearer(r)
	if tok == "" {
		tok = r.URL.Query().Get("token")
	}
	return matchToken(tok, a.viewers) || matchToken(tok, a.listeners)
}

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// matchToken compares tok with every token in constant time, so neither which token matched
// nor how much of it did leaks through timing.
func matchToken(tok string, tokens [][]byte) bool {
	tb := []byte(tok)
	match := 0
	for _, t := range tokens {
		match |= subtle.ConstantTimeCompare(tb, t)
	}
	return match == 1 && len(tb) > 0
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="podium"`)
	http.Error(w, "missing or wrong Bearer token", http.StatusUnauthorized)
}
