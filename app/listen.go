package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"podium/rtc"
	"podium/rtc/proto"
)

// RemoteListenURL is the listener page of a podium-server, derived from the WHIP endpoint
// the presenter publishes to: same origin (and any path prefix a proxy adds), /listen/{stream}
// instead of /whip/{stream}, the listener token in the fragment when there is one. It is ""
// when the endpoint does not look like podium-server's (any other WHIP server has no page
// we know of).
func RemoteListenURL(whip, listenerToken string) string {
	base, stream := proto.SplitWHIP(whip)
	if base == "" {
		return ""
	}
	link := base + "/listen/" + stream
	if listenerToken != "" {
		link += "#token=" + url.QueryEscape(listenerToken)
	}
	return link
}

// ListenViaHLS is a listener link that sends its listeners to HLS: seconds behind live,
// but any number of them through the server's CDN or caching proxy (the page reads "via" in
// the fragment, beside the token).
func ListenViaHLS(link string) string {
	if link == "" {
		return ""
	}
	if strings.Contains(link, "#") {
		return link + "&via=hls"
	}
	return link + "#via=hls"
}

// listenersClient follows a redirect only within the server's origin: the request carries
// the presenter's token, which Go would keep on a redirect to another port of the same host.
var listenersClient = proto.SameOriginClient(http.DefaultClient)

// fetchListeners asks a podium-server how many listen to a stream.
func fetchListeners(u, token string) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := listenersClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, &httpStatusError{resp.StatusCode}
	}
	var info rtc.StreamInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&info); err != nil {
		return 0, err
	}
	return info.Listeners, nil
}

type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string { return "HTTP " + http.StatusText(e.code) }

// streamsURL is where a podium-server says how many listen to the stream whip publishes
// to, or "" when whip does not look like podium-server's.
func streamsURL(whip string) string {
	base, stream := proto.SplitWHIP(whip)
	if base == "" {
		return ""
	}
	return base + "/streams/" + stream
}
