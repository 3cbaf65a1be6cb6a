package rtc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"podium/audio/filename"
	"podium/rtc/proto"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// endpoint is one direction of signalling: publishers under /whip/ (RFC 9725), listeners
// under /whep/. Both speak the same HTTP; what differs between them is in here.
type endpoint struct {
	name string // "whip" or "whep": the path under which its resources live, and the log prefix
	noun string // what one resource is called in logs
	act  action // what a request must be allowed to do
	api  *webrtc.API
	log  *slog.Logger
	// remote decides which remote candidates are checked (ice.go); shared by both sides.
	remote *remotePolicy

	// checkOffer refuses an offer this side cannot serve, before any PeerConnection.
	checkOffer func(body []byte) error
	// busy, when set, is a cheap early 409 for a stream (open checks again).
	busy func(stream, who string) bool
	// open answers the offer and registers the resource in place of the reservation made
	// in resources; on failure it registers nothing. The status is the HTTP answer for a
	// failure. who is grant.who of the POST: the resource keeps it.
	open func(ctx context.Context, stream, who, offer string) (*resource, string, int, error)
	// admit reserves room for one more POST on stream; left nil, it is resources.admit
	// (publishers set their own: recordings in grace count too).
	admit     func(stream string) bool
	resources interface {
		admit() bool // reserve room for one more
		release()    // give a reservation back
		find(id string) *resource
	}
	full string // the 503 text when resources has no room
	// links, when set, are more Link headers of the 201, given the new resource's URL
	// (the extensions it offers, RFC 9725 §4.4).
	links func(location string) []string
}

func (s *Server) route(mux *http.ServeMux, ep *endpoint) {
	if ep.admit == nil {
		ep.admit = func(string) bool { return ep.resources.admit() }
	}
	mux.HandleFunc("POST /"+ep.name+"/{stream}", func(w http.ResponseWriter, r *http.Request) { s.handlePost(w, r, ep) })
	mux.HandleFunc("PATCH /"+ep.name+"/{stream}/{id}", func(w http.ResponseWriter, r *http.Request) { s.handlePatch(w, r, ep) })
	mux.HandleFunc("DELETE /"+ep.name+"/{stream}/{id}", func(w http.ResponseWriter, r *http.Request) { s.handleDelete(w, r, ep) })
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request, ep *endpoint) {
	stream := r.PathValue("stream")
	if err := filename.CheckStream(stream); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	g := s.access.check(r, ep.act, stream)
	if !g.ok {
		unauthorized(w)
		return
	}
	if !hasContentType(r, proto.MimeSDP) {
		http.Error(w, "offer must be "+proto.MimeSDP, http.StatusUnsupportedMediaType)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	if err := ep.checkOffer(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if ep.busy != nil && ep.busy(stream, g.who) {
		http.Error(w, errStreamBusy.Error(), http.StatusConflict)
		return
	}
	if !ep.admit(stream) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, ep.full, http.StatusServiceUnavailable)
		return
	}
	res, answer, status, err := ep.open(r.Context(), stream, g.who, string(body))
	if err != nil {
		ep.resources.release()
		s.log.Warn(ep.name+": POST refused", "stream", stream, "remote", r.RemoteAddr, "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	h := w.Header()
	h.Set("Content-Type", proto.MimeSDP)
	location := "/" + ep.name + "/" + stream + "/" + res.id
	h.Set("Location", location)
	h.Set("ETag", res.etagValue())
	h.Set("Accept-Patch", proto.MimeSDPFrag)
	for _, l := range proto.LinkHeaders(s.cfg.ICEServers) {
		h.Add("Link", l)
	}
	if ep.links != nil {
		for _, l := range ep.links(location) {
			h.Add("Link", l)
		}
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, answer)
}

func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, ep *endpoint) {
	res := s.lookup(w, r, ep)
	if res == nil {
		return
	}
	if !hasContentType(r, proto.MimeSDPFrag) {
		http.Error(w, "PATCH body must be "+proto.MimeSDPFrag, http.StatusUnsupportedMediaType)
		return
	}
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != `"*"` && m != res.etagValue() {
		http.Error(w, "ETag does not match the session", http.StatusPreconditionFailed)
		return
	}
	body, ok := s.readBody(w, r)
	if !ok {
		return
	}
	frag, err := proto.ParseSDPFrag(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	local, etag, status, err := res.patch(r.Context(), frag)
	if err != nil {
		s.log.Warn(ep.name+": PATCH refused", "stream", res.stream, ep.noun, res.id, "remote", r.RemoteAddr, "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	writePatchAnswer(w, local, etag)
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, ep *endpoint) {
	res := s.lookup(w, r, ep)
	if res == nil {
		return
	}
	res.deleted()
	w.WriteHeader(http.StatusOK)
}

// lookup checks access and finds the resource a PATCH or DELETE names; when it returns nil
// it has answered the request. Only the token that made a resource may change or end it.
func (s *Server) lookup(w http.ResponseWriter, r *http.Request, ep *endpoint) *resource {
	stream := r.PathValue("stream")
	g := s.access.check(r, ep.act, stream)
	if !g.ok {
		unauthorized(w)
		return nil
	}
	res := ep.resources.find(r.PathValue("id"))
	if res == nil || res.stream != stream || res.who != g.who {
		http.Error(w, "no such session", http.StatusNotFound)
		return nil
	}
	return res
}

// writePatchAnswer answers a WHIP or WHEP PATCH: 204 for trickled candidates, or 200 with the
// new local sdpfrag and its ETag after an ICE restart.
func writePatchAnswer(w http.ResponseWriter, local []byte, etag string) {
	if local == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", proto.MimeSDPFrag)
	w.Header().Set("ETag", etag)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(local)
}

func hasContentType(r *http.Request, want string) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && strings.EqualFold(mt, want)
}

// readBody reads an offer or a fragment of at most MaxOfferBytes; when it fails it has
// answered the request (413 when too large).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	limit := s.cfg.MaxOfferBytes
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", limit), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, fmt.Sprintf("read body: %v", err), http.StatusBadRequest)
		}
		return nil, false
	}
	return b, true
}

// checkPublishOffer refuses what Pion might accept but we cannot record: an offer must
// parse and must send Opus audio.
func checkPublishOffer(body []byte) error {
	return checkOpusOffer(body, "recvonly",
		"offer has no Opus audio to send (need an audio m-line with opus/48000/2, sendonly or sendrecv)")
}

// checkListenOffer: an offer must parse and must be able to receive Opus audio.
func checkListenOffer(body []byte) error {
	return checkOpusOffer(body, "sendonly",
		"offer has no audio to receive Opus on (need an audio m-line with opus/48000/2, recvonly or sendrecv)")
}

// checkOpusOffer: the offer parses and has an audio m-line with Opus that does not flow
// only the wrong way (wrongWay is the direction attribute that rules a line out).
func checkOpusOffer(body []byte, wrongWay, none string) error {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return fmt.Errorf("malformed SDP offer: %w", err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		if _, ok := m.Attribute(wrongWay); ok {
			continue
		}
		if _, ok := m.Attribute("inactive"); ok {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key != "rtpmap" {
				continue
			}
			_, enc, _ := strings.Cut(a.Value, " ")
			if strings.HasPrefix(strings.ToLower(enc), "opus/48000") {
				return nil
			}
		}
	}
	return errors.New(none)
}
