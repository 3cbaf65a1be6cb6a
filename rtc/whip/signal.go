package whip

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"podium/rtc/proto"
)

// The WHIP client's HTTP signalling (RFC 9725): POST the offer, PATCH an ICE restart,
// DELETE the session, and what a refusal means for retrying.

// dialError says whether retrying can help.
type dialError struct {
	err        error
	permanent  bool
	retryAfter time.Duration
}

func (e *dialError) Error() string { return e.err.Error() }
func (e *dialError) Unwrap() error { return e.err }

func isPermanent(err error) bool {
	var de *dialError
	return errors.As(err, &de) && de.permanent
}

func permanent(err error) error { return &dialError{err: err, permanent: true} }

// post sends the offer and fills in cn's session resource.
func (c *Client) post(ctx context.Context, offer string, cn *conn) (string, error) {
	u := c.url.String()
	title, presenter := c.talk()
	offer = proto.WithTalk(offer, title, presenter)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(offer))
	if err != nil {
		return "", permanent(fmt.Errorf("whip post %s: %w", u, err))
	}
	req.Header.Set("Content-Type", proto.MimeSDP)
	req.Header.Set("Accept", proto.MimeSDP)
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		if errors.Is(err, proto.ErrOtherOrigin) {
			return "", permanent(fmt.Errorf("whip post %s: %w", u, err))
		}
		return "", fmt.Errorf("whip post %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("whip post %s: read answer: %w", u, err)
	}
	if err := statusError("whip post "+u, resp, body); err != nil {
		return "", err
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return "", permanent(fmt.Errorf("whip post %s: %s without a Location header", u, resp.Status))
	}
	// Relative to the URL that answered, after any redirect (within the origin); the session
	// is PATCHed and DELETEd with the token, so it must be on the endpoint's origin too.
	res, err := resp.Request.URL.Parse(loc)
	if err != nil {
		return "", permanent(fmt.Errorf("whip post %s: bad Location %q: %w", u, loc, err))
	}
	if err := proto.CheckOrigin(u, res.String()); err != nil {
		return "", permanent(fmt.Errorf("whip post %s: Location: %w", u, err))
	}
	cn.resource, cn.etag = res.String(), resp.Header.Get("ETag")
	cn.chapters = c.chaptersLink(resp)
	if links := proto.ParseLinkHeaders(resp.Header.Values("Link")); len(links) > 0 {
		c.mu.Lock()
		c.linkServers = links // used from the next PeerConnection on
		c.mu.Unlock()
	}
	return string(body), nil
}

// statusError classifies a WHIP response: nil for success, permanent for refusals that
// retrying cannot fix, temporary for overload and server errors.
func statusError(op string, resp *http.Response, body []byte) error {
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200]
	}
	if msg != "" {
		msg = ": " + msg
	}
	switch {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return permanent(fmt.Errorf("%s: %w (%s)%s", op, ErrTokenRefused, resp.Status, msg))
	case code == http.StatusNotFound:
		return permanent(fmt.Errorf("%s: %w at %s (%s)", op, ErrNoEndpoint, resp.Request.URL, resp.Status))
	// 409: the stream is still held by our own previous session (or another publisher);
	// the server frees it when that session falls silent.
	case code == http.StatusRequestTimeout || code == http.StatusConflict || code == http.StatusTooManyRequests || code >= 500:
		ra, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return &dialError{err: fmt.Errorf("%s: %s%s", op, resp.Status, msg), retryAfter: time.Duration(ra) * time.Second}
	default:
		return permanent(fmt.Errorf("%s: refused: %s%s", op, resp.Status, msg))
	}
}

func (c *Client) authorize(req *http.Request) {
	if c.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	}
}

// patch sends our restart fragment to the session resource and returns the server's, with
// its new ETag if it sent one.
func (c *Client) patch(ctx context.Context, resource string, local proto.SDPFrag) (proto.SDPFrag, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, resource, bytes.NewReader(local.Marshal()))
	if err != nil {
		return proto.SDPFrag{}, "", fmt.Errorf("whip patch %s: %w", resource, err)
	}
	req.Header.Set("Content-Type", proto.MimeSDPFrag)
	req.Header.Set("If-Match", "*")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return proto.SDPFrag{}, "", fmt.Errorf("whip patch %s: %w", resource, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return proto.SDPFrag{}, "", fmt.Errorf("whip patch %s: %w", resource, err)
	}
	if err := statusError("whip patch "+resource, resp, body); err != nil {
		return proto.SDPFrag{}, "", err
	}
	remote, err := proto.ParseSDPFrag(body)
	if err != nil {
		return proto.SDPFrag{}, "", fmt.Errorf("whip patch %s: answer: %w", resource, err)
	}
	if remote.Ufrag == "" {
		return proto.SDPFrag{}, "", fmt.Errorf("whip patch %s: answer has no ICE credentials", resource)
	}
	return remote, resp.Header.Get("ETag"), nil
}

// deleteResource ends the session on the server; any 2xx will do.
func (c *Client) deleteResource(resource string) {
	if resource == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, resource, nil)
	if err != nil {
		c.log.printf("whip delete %s: %v", resource, err)
		return
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		c.log.printf("whip delete %s: %v", resource, err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		c.log.printf("whip delete %s: %s", resource, resp.Status)
	}
}
