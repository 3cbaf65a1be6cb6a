package rtc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"podium/audio/pcm"
	"podium/rtc/proto"
)

// Talk is what a publisher says about its recording: the title (the offer's s= line, or a
// chapters POST), the presenter (its i= line) and the chapters it marked, each stamped at
// the recording's position when the server received it. Empty strings mean none.
type Talk struct {
	Title     string
	Presenter string
	Chapters  []Chapter
}

// Chapter begins at Start from the beginning of the recording.
type Chapter struct {
	Start time.Duration
	Name  string
}

// TalkSink is an optional extension of Sink: a Sink that keeps the talk's title, presenter
// and chapters (in an MP3's ID3 tag) is told them, from the recording's writer goroutine like
// every Sink call, once it opens and again just before Close. A Sink that wraps another
// passes the call on.
type TalkSink interface {
	Sink
	SetTalk(Talk)
}

// tellTalk tells sink the talk as it stands, if it keeps one.
func (r *recording) tellTalk(sink Sink) {
	if ts, ok := sink.(TalkSink); ok {
		ts.SetTalk(r.talkNow())
	}
}

// chaptersLink is the Link header of the 201 that offers the chapters extension at the
// session's resource.
func chaptersLink(location string) string {
	return "<" + location + "/chapters>; rel=\"" + proto.RelChapters + "\""
}

// talkNow is a copy of the talk. Not under r.mu.
func (r *recording) talkNow() Talk {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.talk
	t.Chapters = slices.Clone(t.Chapters)
	return t
}

// setOfferTalk takes the title and presenter of a session's offer: the first session's, and
// a returning publisher's where its offer names them (one that sends none keeps them).
// Caller holds r.mu.
func (r *recording) setOfferTalk(title, presenter string) {
	if title != "" {
		r.talk.Title = title
	}
	if presenter != "" {
		r.talk.Presenter = presenter
	}
	r.talkRev = r.srv.talkRevs.Add(1)
}

// position is where the recording is now: the position of the last packet placed plus the
// time since it arrived; 0 before the first. Caller holds r.mu.
func (r *recording) position(now time.Time) time.Duration {
	if !r.fed() {
		return 0
	}
	return pcm.Duration(r.lastPos + pcm.Samples(max(now.Sub(r.lastWall), 0)))
}

var (
	errTooManyChapters = fmt.Errorf("at most %d chapters per recording", proto.MaxChapters)
	errNoChapter       = errors.New("no such chapter")
	errBadChapter      = errors.New(`body must be {"name": …}, {"index": i, "name": …} or {"title": …}`)
)

// chapter applies one chapters POST received at now.
func (r *recording) chapter(req proto.ChapterRequest, now time.Time) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case req.Title != nil && req.Name == nil && req.Index == nil:
		r.talk.Title = proto.CleanText(*req.Title, proto.MaxTitleRunes)
	case req.Name != nil && req.Index != nil && req.Title == nil:
		i := *req.Index
		if i < 0 || i >= len(r.talk.Chapters) {
			return errNoChapter
		}
		r.talk.Chapters[i].Name = proto.CleanText(*req.Name, proto.MaxTitleRunes)
	case req.Name != nil && req.Index == nil && req.Title == nil:
		n := len(r.talk.Chapters)
		if n >= proto.MaxChapters {
			return errTooManyChapters
		}
		at := r.position(now)
		if n > 0 {
			at = max(at, r.talk.Chapters[n-1].Start) // in order, whatever the clocks did
		}
		r.talk.Chapters = append(r.talk.Chapters, Chapter{Start: at, Name: proto.CleanText(*req.Name, proto.MaxTitleRunes)})
	default:
		return errBadChapter
	}
	r.talkRev = r.srv.talkRevs.Add(1)
	return nil
}

// handleChapters answers POST /whip/{stream}/{id}/chapters, the chapters extension: only the
// token that made the session, for its own recording.
func (s *Server) handleChapters(w http.ResponseWriter, r *http.Request) {
	now := time.Now() // the chapter is where the recording was when it came
	res := s.lookup(w, r, s.pub)
	if res == nil {
		return
	}
	sess, ok := s.sessions.get(res.id)
	var rec *recording
	if ok {
		rec = sess.rec.Load()
	}
	if rec == nil || !rec.ownedBy(sess) {
		http.Error(w, "no such session", http.StatusNotFound)
		return
	}
	if !hasContentType(r, "application/json") {
		http.Error(w, "body must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, proto.MaxChapterBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("body larger than %d bytes", proto.MaxChapterBody), http.StatusRequestEntityTooLarge)
		} else {
			http.Error(w, fmt.Sprintf("read body: %v", err), http.StatusBadRequest)
		}
		return
	}
	var req proto.ChapterRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "malformed JSON: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch err := rec.chapter(req, now); {
	case errors.Is(err, errTooManyChapters):
		http.Error(w, err.Error(), http.StatusTooManyRequests)
	case errors.Is(err, errNoChapter):
		http.Error(w, err.Error(), http.StatusNotFound)
	case err != nil:
		http.Error(w, err.Error(), http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// describeTalk fills in the title, presenter and chapters of info; the chapters only when
// the talk changed since revision known (a listener page polls with the last it saw), so a
// poll costs the same however many chapters there are. Caller holds r.mu.
func (r *recording) describeTalk(info *StreamInfo, known int64) {
	info.Title, info.Presenter, info.TalkRev = r.talk.Title, r.talk.Presenter, r.talkRev
	if known == r.talkRev {
		info.Chapters = nil // left out
		return
	}
	info.Chapters = make([]proto.Chapter, len(r.talk.Chapters))
	for i, c := range r.talk.Chapters {
		info.Chapters[i] = proto.Chapter{Start: c.Start.Seconds(), Name: c.Name}
	}
}
