package rtc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"podium/rtc/proto"

	"github.com/pion/webrtc/v4"
)

// resource is one WHIP or WHEP session as HTTP sees it (RFC 9725 §4.3): a PeerConnection
// and the signalling state that PATCH (trickle, ICE restart) and DELETE need, with the timer
// that reaps it when its peer has gone quiet. A publisher's session and a listener each
// embed one; only what they do with the media differs.
type resource struct {
	ep     *endpoint
	id     string
	stream string
	who    string // grant.who of the POST that made it
	pc     *webrtc.PeerConnection
	// deleted ends the owner of the resource on DELETE. Set before registration.
	deleted func()

	sigMu       sync.Mutex // serialises signalling (PATCH) and guards below
	offer       string     // last full remote offer, patched for ICE restarts
	remoteUfrag string
	etag        string
	remotes     targets // remote addresses handed to ICE in this ICE generation (ice.go)

	reapMu  sync.Mutex
	reaper  *time.Timer
	retired bool
}

// newResource creates the PeerConnection for an offer on stream. The caller adds its tracks
// and callbacks, then calls answer. The offer keeps only the candidates the remote policy
// admits: Pion never sees the others.
func newResource(ep *endpoint, stream, who, offer string) (*resource, error) {
	pc, err := ep.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, fmt.Errorf("new peer connection: %w", err)
	}
	res := &resource{ep: ep, id: newID(), stream: stream, who: who, pc: pc, etag: newETag(), remotes: targets{}}
	res.offer = ep.remote.filterSDP(offer, res.remotes)
	if f, err := proto.FragFromSDP(offer); err == nil {
		res.remoteUfrag = f.Ufrag
	}
	return res, nil
}

// answer applies the offer, lets check refuse the answer Pion made (nil: any), and gathers
// every local candidate. The status is the HTTP answer for a failure.
func (res *resource) answer(ctx context.Context, check func(sdp string) error) (string, int, error) {
	if err := res.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: res.offer}); err != nil {
		return "", http.StatusBadRequest, fmt.Errorf("offer refused: %w", err)
	}
	answer, err := res.pc.CreateAnswer(nil)
	if err != nil {
		return "", http.StatusBadRequest, fmt.Errorf("cannot answer offer: %w", err)
	}
	if check != nil {
		if err := check(answer.SDP); err != nil {
			return "", http.StatusBadRequest, err
		}
	}
	gctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	ld, err := proto.GatherLocal(gctx, res.pc, answer)
	if err != nil {
		return "", http.StatusInternalServerError, err
	}
	return ld.SDP, 0, nil
}

func (res *resource) etagValue() string {
	res.sigMu.Lock()
	defer res.sigMu.Unlock()
	return res.etag
}

// patch applies a trickle or ICE-restart fragment. It returns the local fragment to send
// back for a restart, or nil for plain trickle. Candidates the remote policy refuses, or
// beyond the session's limit, are left out (and counted): the PATCH still succeeds, as for
// any candidate ICE cannot use.
func (res *resource) patch(ctx context.Context, f proto.SDPFrag) ([]byte, string, int, error) {
	res.sigMu.Lock()
	defer res.sigMu.Unlock()
	if f.Ufrag == "" || f.Ufrag == res.remoteUfrag {
		mid := f.Mid
		for _, c := range res.ep.remote.filter(f.Candidates, res.remotes) {
			init := webrtc.ICECandidateInit{Candidate: "candidate:" + c}
			if mid != "" {
				init.SDPMid = &mid
			}
			if err := res.pc.AddICECandidate(init); err != nil {
				return nil, "", http.StatusBadRequest, fmt.Errorf("add candidate: %w", err)
			}
		}
		return nil, "", 0, nil
	}

	// New credentials: an ICE restart. Pion restarts its agent when a renegotiation offer
	// carries new remote credentials, so patch the last offer and answer it in full. The
	// restarted agent forgets the old candidates: the limit counts anew.
	remotes := targets{}
	f.Candidates = res.ep.remote.filter(f.Candidates, remotes)
	offer, err := proto.WithICE(res.offer, f)
	if err != nil {
		return nil, "", http.StatusBadRequest, err
	}
	if err := res.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, "", http.StatusBadRequest, fmt.Errorf("ice restart offer: %w", err)
	}
	answer, err := res.pc.CreateAnswer(nil)
	if err != nil {
		return nil, "", http.StatusInternalServerError, fmt.Errorf("ice restart answer: %w", err)
	}
	gctx, cancel := context.WithTimeout(ctx, signalTimeout)
	defer cancel()
	ld, err := proto.GatherLocal(gctx, res.pc, answer)
	if err != nil {
		return nil, "", http.StatusInternalServerError, err
	}
	local, err := proto.FragFromSDP(ld.SDP)
	if err != nil {
		return nil, "", http.StatusInternalServerError, err
	}
	if local.Mid == "" {
		local.Mid = f.Mid
	}
	res.offer, res.remoteUfrag, res.etag, res.remotes = offer, f.Ufrag, newETag(), remotes
	res.ep.log.Info(res.ep.name+": ICE restart", "stream", res.stream, res.ep.noun, res.id)
	return local.Marshal(), res.etag, 0, nil
}

// reapAfter calls end after d unless reapAfter, disarm or retire comes first. Once the
// resource is retired it arms nothing.
func (res *resource) reapAfter(d time.Duration, end func()) {
	res.reapMu.Lock()
	defer res.reapMu.Unlock()
	if res.retired {
		return
	}
	if res.reaper != nil {
		res.reaper.Stop()
	}
	res.reaper = time.AfterFunc(d, end)
}

func (res *resource) disarm() {
	res.reapMu.Lock()
	defer res.reapMu.Unlock()
	if res.reaper != nil {
		res.reaper.Stop()
	}
}

// close disarms the reaper for good and closes the PeerConnection.
func (res *resource) close() {
	res.reapMu.Lock()
	res.retired = true
	if res.reaper != nil {
		res.reaper.Stop()
	}
	res.reapMu.Unlock()
	if err := res.pc.GracefulClose(); err != nil {
		res.ep.log.Warn(res.ep.name+": close the peer connection", "stream", res.stream, res.ep.noun, res.id, "err", err)
	}
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newETag() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strconv.Quote(hex.EncodeToString(b[:]))
}

// owned is what a registry holds: a publisher's session or a listener, each built on a
// resource.
type owned interface {
	comparable
	base() *resource
}

func (res *resource) base() *resource { return res }

// registry holds one kind of resource by id and bounds how many there may be: POSTs admitted
// but not yet answered count against the limit, so a burst of offers cannot overshoot it.
type registry[T owned] struct {
	mu      sync.Mutex
	items   map[string]T
	pending int
	max     int
	closed  bool
}

func newRegistry[T owned](max int) *registry[T] {
	return &registry[T]{items: map[string]T{}, max: max}
}

// admit reserves room for one more; false when full or closed.
func (g *registry[T]) admit() bool { return g.admitBeside(0) }

// admitBeside is admit when extra more things share the limit (recordings waiting for their
// publisher, for the publishers' registry).
func (g *registry[T]) admitBeside(extra int) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed || len(g.items)+g.pending+extra >= g.max {
		return false
	}
	g.pending++
	return true
}

// release gives back the reservation of a POST that failed.
func (g *registry[T]) release() {
	g.mu.Lock()
	g.pending--
	g.mu.Unlock()
}

// add registers v in place of its reservation; once closed it refuses (the reservation
// stays, for the failed POST to release).
func (g *registry[T]) add(v T) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.items[v.base().id] = v
	g.pending--
	return true
}

func (g *registry[T]) remove(v T) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if id := v.base().id; g.items[id] == v {
		delete(g.items, id)
	}
}

// find returns the resource registered as id, or nil.
func (g *registry[T]) find(id string) *resource {
	v, ok := g.get(id)
	if !ok {
		return nil
	}
	return v.base()
}

// get returns what is registered as id.
func (g *registry[T]) get(id string) (T, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v, ok := g.items[id]
	return v, ok
}

func (g *registry[T]) len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.items)
}

func (g *registry[T]) all() []T {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]T, 0, len(g.items))
	for _, v := range g.items {
		out = append(out, v)
	}
	return out
}

// close refuses new resources and returns those registered.
func (g *registry[T]) close() []T {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	return g.all()
}

// endAll ends every item at once, each on its own goroutine (closing a PeerConnection waits
// for its peer), and returns when all have ended.
func endAll[T any](items []T, end func(T)) {
	var wg sync.WaitGroup
	for _, v := range items {
		wg.Add(1)
		go func() {
			defer wg.Done()
			end(v)
		}()
	}
	wg.Wait()
}
