package rtc

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"podium/audio/filename"
)

// action is something a request asks the server to do; access decides who may.
type action int

const (
	actPublish        action = iota // WHIP: POST, PATCH, DELETE under /whip/
	actListen                       // WHEP: POST, PATCH, DELETE under /whep/
	actSeeStreams                   // GET /streams
	actReadRecordings               // GET /recordings, GET /recordings/{name}
	actMetrics                      // GET /metrics
)

// access holds the tokens of each role and the operator's public flags. Every access
// decision of the server is made here (check, and the signed recording links), so a new
// rule has exactly one place to go.
type access struct {
	operators     [][]byte            // publish on every stream, read everything
	streamTokens  map[string][][]byte // stream -> tokens that publish on that stream only
	listeners     [][]byte
	viewers       [][]byte
	metrics       [][]byte
	publicListen  bool
	publicRecords bool
	publicMetrics bool
	openPublish   bool   // no publisher token configured at all: anyone publishes
	linkKey       []byte // signs recording links (signedLink); new at every start
	hlsSecret     string // signs HLS links (hlsLink)
}

func newAccess(cfg *ServerConfig) access {
	a := access{
		operators:     tokenBytes(cfg.Tokens),
		streamTokens:  map[string][][]byte{},
		listeners:     tokenBytes(cfg.ListenerTokens),
		viewers:       tokenBytes(cfg.ViewerTokens),
		metrics:       tokenBytes(cfg.MetricsTokens),
		publicListen:  cfg.PublicListen,
		publicRecords: cfg.PublicRecordings,
		publicMetrics: cfg.PublicMetrics,
		linkKey:       make([]byte, 32),
		hlsSecret:     cfg.HLSSecret,
	}
	for stream, toks := range cfg.StreamTokens {
		a.streamTokens[stream] = tokenBytes(toks)
	}
	a.openPublish = len(a.operators) == 0 && len(a.streamTokens) == 0
	_, _ = rand.Read(a.linkKey)
	if a.hlsSecret == "" {
		k := make([]byte, 24)
		_, _ = rand.Read(k)
		a.hlsSecret = hex.EncodeToString(k)
	}
	return a
}

func tokenBytes(tokens []string) [][]byte {
	var out [][]byte
	for _, t := range tokens {
		if t != "" {
			out = append(out, []byte(t))
		}
	}
	return out
}

// grant is the answer to one request: whether it may go on, on whose behalf, and over
// which streams.
type grant struct {
	ok bool
	// who names the token that was shown (a hash, never the token): a session's PATCH and
	// DELETE, and taking over a stream's recording, need the same one. "" is nobody's.
	who string
	// streams, when not nil, are the only streams the grant covers (a publisher token
	// that the operator gave for some streams only).
	streams []string
}

var denied = grant{}

// covers says whether the grant reaches stream.
func (g grant) covers(stream string) bool {
	return g.ok && (g.streams == nil || slices.Contains(g.streams, stream))
}

// check decides whether r may do act; stream is the stream the request names ("" for
// none). Who may do what:
//   - publish on a stream: a token given for every stream (ServerConfig.Tokens) or for
//     that stream (StreamTokens); with no publisher tokens at all, anyone who shows no
//     listener or viewer token.
//   - listen: a listener token, or anyone with PublicListen.
//   - see which streams are live: whoever may listen, read recordings, or publish.
//   - read recordings: a viewer, listener or every-stream publisher token; a stream's own
//     publisher token for that stream's recordings; anyone with PublicRecordings.
//   - metrics: a metrics or every-stream publisher token; anyone with PublicMetrics.
//
// Tokens come only from the Authorization header, never from the URL, which browsers keep
// in their history and servers and proxies in their logs.
func (a *access) check(r *http.Request, act action, stream string) grant {
	tok := bearer(r)
	switch act {
	case actPublish:
		return a.publisher(tok, stream)
	case actListen:
		if matchToken(tok, a.listeners) {
			return grant{ok: true, who: tokenID(tok)}
		}
		if a.publicListen {
			return grant{ok: true}
		}
	case actSeeStreams:
		if a.publicListen || a.publicRecords || matchToken(tok, a.listeners) || matchToken(tok, a.viewers) {
			return grant{ok: true}
		}
		if g := a.publisher(tok, ""); g.ok {
			return grant{ok: true}
		}
	case actReadRecordings:
		if a.publicRecords || matchToken(tok, a.viewers) || matchToken(tok, a.listeners) || matchToken(tok, a.operators) {
			return grant{ok: true}
		}
		if g := a.scopedPublisher(tok); g.ok {
			return g
		}
	case actMetrics:
		if a.publicMetrics || matchToken(tok, a.metrics) || matchToken(tok, a.operators) {
			return grant{ok: true}
		}
	}
	return denied
}

// publisher grants publishing on stream ("" for any one stream the token has).
func (a *access) publisher(tok, stream string) grant {
	if a.openPublish {
		if matchToken(tok, a.listeners) || matchToken(tok, a.viewers) {
			return denied // a listener never publishes, even on an open server
		}
		return grant{ok: true, who: tokenID(tok)}
	}
	if matchToken(tok, a.operators) {
		return grant{ok: true, who: tokenID(tok)}
	}
	g := a.scopedPublisher(tok)
	if stream != "" && !g.covers(stream) {
		return denied
	}
	return g
}

// scopedPublisher grants the streams a stream-only publisher token was given for.
func (a *access) scopedPublisher(tok string) grant {
	if tok == "" {
		return denied
	}
	var streams []string
	for stream, toks := range a.streamTokens {
		if matchToken(tok, toks) {
			streams = append(streams, stream)
		}
	}
	if streams == nil {
		return denied
	}
	slices.Sort(streams)
	return grant{ok: true, who: tokenID(tok), streams: streams}
}

// tokenID names a token without revealing it.
func tokenID(tok string) string {
	if tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:8])
}

// recordingLinkLife is how long a signed recording link works: long enough to listen to a
// day's talk from one listing, short enough that a link copied out of a page soon dies.
const recordingLinkLife = 6 * time.Hour

// signedLink is the URL path of recording name for someone who may read it: an <audio>
// element or a download cannot send a header, so the link carries a signature over the
// name and an expiry instead of the token (as S3's presigned URLs do). It says nothing of
// the token, works for that one file only, and dies with the server's restart.
func (a *access) signedLink(name string, now time.Time) string {
	exp := strconv.FormatInt(now.Add(recordingLinkLife).Unix(), 10)
	return "/recordings/" + url.PathEscape(name) + "?exp=" + exp + "&sig=" + a.linkSig(name, exp)
}

func (a *access) linkSig(name, exp string) string {
	m := hmac.New(sha256.New, a.linkKey)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(exp))
	return hex.EncodeToString(m.Sum(nil))
}

// signed says whether r carries a valid, unexpired link signature for recording name.
func (a *access) signed(r *http.Request, name string, now time.Time) bool {
	q := r.URL.Query()
	exp, sig := q.Get("exp"), q.Get("sig")
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(a.linkSig(name, exp)))
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

// hlsLinkLife is how long a signed HLS link works: a day's talks from one visit to the page.
const hlsLinkLife = 6 * time.Hour

// hlsLink is the path of stream's HLS playlist with a signature and an expiry in its query,
// which the playlists pass on to every segment. A caching proxy or CDN keys its cache on the
// path alone, so it must check the signature itself or it would hand a cached segment to
// anyone: the signature is the one nginx's secure_link module computes,
//
//	secure_link $arg_md5,$arg_expires;
//	secure_link_md5 "$secure_link_expires/hls/$stream/ SECRET";
//
// (MD5 because that is what nginx checks; the secret comes last, so the digest cannot be
// extended into another stream's, and forging one means inverting MD5 over a secret).
func (a *access) hlsLink(stream string, now time.Time) string {
	exp := strconv.FormatInt(now.Add(hlsLinkLife).Unix(), 10)
	return "/hls/" + stream + "/index.m3u8?expires=" + exp + "&md5=" + a.hlsSig(stream, exp)
}

func (a *access) hlsSig(stream, exp string) string {
	sum := md5.Sum([]byte(exp + "/hls/" + stream + "/ " + a.hlsSecret))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// hlsListener says whether r may fetch stream's HLS: as a listener (a listener token for it,
// or a public stream), or with an unexpired signed link, since a player sends no header.
func (a *access) hlsListener(r *http.Request, stream string, now time.Time) bool {
	return a.check(r, actListen, stream).ok || a.hlsSigned(r, stream, now)
}

// hlsSigned says whether r carries an unexpired HLS link signature for stream.
func (a *access) hlsSigned(r *http.Request, stream string, now time.Time) bool {
	q := r.URL.Query()
	exp, sig := q.Get("expires"), q.Get("md5")
	t, err := strconv.ParseInt(exp, 10, 64)
	if err != nil || now.Unix() > t || filename.CheckStream(stream) != nil {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(a.hlsSig(stream, exp)))
}

// liveAccess is the server's access, which SetListenerTokens may replace while it runs.
type liveAccess struct{ p atomic.Pointer[access] }

func (l *liveAccess) set(a access) { l.p.Store(&a) }

func (l *liveAccess) check(r *http.Request, act action, stream string) grant {
	return l.p.Load().check(r, act, stream)
}

func (l *liveAccess) signedLink(name string, now time.Time) string {
	return l.p.Load().signedLink(name, now)
}

func (l *liveAccess) signed(r *http.Request, name string, now time.Time) bool {
	return l.p.Load().signed(r, name, now)
}

func (l *liveAccess) hlsLink(stream string, now time.Time) string {
	return l.p.Load().hlsLink(stream, now)
}

func (l *liveAccess) hlsListener(r *http.Request, stream string, now time.Time) bool {
	return l.p.Load().hlsListener(r, stream, now)
}
