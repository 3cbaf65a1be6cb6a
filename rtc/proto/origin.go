package proto

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// A client's Bearer token is for the origin (scheme, host, port) it was configured with, and
// goes nowhere else: not to a Location a server answers on another origin, nor through a
// redirect. Go's http.Client keeps Authorization on a redirect to the same host name whatever
// its port or scheme (net/http shouldCopyHeaderOnRedirect compares host names only), so
// another port of the same machine, or plain http, would get it.

// ErrOtherOrigin: a server sent the client to another origin than the one its token is for.
var ErrOtherOrigin = errors.New("the token does not go there")

// Origin is u's scheme://host:port, with the scheme's default port spelled out.
func Origin(u *url.URL) string {
	scheme, port := strings.ToLower(u.Scheme), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// CheckOrigin says whether target is on server's origin (both absolute URLs), and if not,
// an error wrapping ErrOtherOrigin that names both.
func CheckOrigin(server, target string) error {
	s, err := url.Parse(server)
	if err != nil {
		return fmt.Errorf("server %q: %w", server, err)
	}
	t, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("%q: %w", target, err)
	}
	if Origin(s) != Origin(t) {
		return fmt.Errorf("%s is not on the server's origin %s: %w", target, Origin(s), ErrOtherOrigin)
	}
	return nil
}

// SameOriginClient is a copy of c (nil: a new client) that follows redirects only within
// the origin of each request's first URL (any CheckRedirect of c's is replaced).
func SameOriginClient(c *http.Client) *http.Client {
	var sc http.Client
	if c != nil {
		sc = *c
	}
	sc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := CheckOrigin(via[0].URL.String(), req.URL.String()); err != nil {
			return fmt.Errorf("redirect: %w", err)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &sc
}
