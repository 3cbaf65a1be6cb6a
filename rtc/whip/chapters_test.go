package whip

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/rtc/proto"
	"podium/scripts/testkit"
)

// chapterShim stands before the real server (package rtc) and adds, as the extension asks,
// a chapters Link to its 201 answers and a chapters resource answering with status; it keeps
// the offers and chapter messages it sees. The server's own side of the extension is built
// in package rtc (b25-srv); this shim stands in for it in the client's unit test.
type chapterShim struct {
	h         http.Handler
	advertise bool
	status    int // what the chapters resource answers
	mu        sync.Mutex
	offers    []string
	posts     []string
	auth      []string
}

func (s *chapterShim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/chapters") {
		b, _ := io.ReadAll(io.LimitReader(r.Body, proto.MaxChapterBody+1))
		s.mu.Lock()
		s.posts = append(s.posts, r.Header.Get("Content-Type")+" "+string(b))
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.WriteHeader(s.status)
		return
	}
	if r.Method == http.MethodPost {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.offers = append(s.offers, string(b))
		s.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(b))
		if s.advertise {
			w = &linkAdder{ResponseWriter: w}
		}
	}
	s.h.ServeHTTP(w, r)
}

func (s *chapterShim) seen() (offers, posts, auth []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.offers), slices.Clone(s.posts), slices.Clone(s.auth)
}

// linkAdder adds the chapters Link to a 201, next to its Location.
type linkAdder struct{ http.ResponseWriter }

func (l *linkAdder) WriteHeader(code int) {
	if loc := l.Header().Get("Location"); code == http.StatusCreated && loc != "" {
		l.Header().Add("Link", "<"+loc+`/chapters>; rel="`+proto.RelChapters+`"`)
	}
	l.ResponseWriter.WriteHeader(code)
}

func TestTalkAndChapters(t *testing.T) {
	for _, tc := range []struct {
		name             string
		title, presenter string
		advertise        bool
		status           int
		wantS, wantI     string
		wantPosts        []string
	}{
		{
			name:  "a title and presenter cannot inject SDP lines",
			title: "Lecture 4\r\na=sendrecv\r\nm=video 9 UDP/TLS/RTP/SAVPF 96", presenter: "Dr. Kim\nc=IN IP4 6.6.6.6",
			wantS: "s=Lecture 4a=sendrecvm=video 9 UDP/TLS/RTP/SAVPF 96", wantI: "i=Dr. Kimc=IN IP4 6.6.6.6",
		},
		{name: "no title: what a browser sends", wantS: "s=-"},
		{name: "a server without the extension hears no chapters", title: "T", presenter: "P", wantS: "s=T", wantI: "i=P"},
		{
			name: "a server with the extension gets each message in order", title: "T", advertise: true, status: http.StatusNoContent, wantS: "s=T",
			wantPosts: []string{`{"name":"Intro"}`, `{"name":""}`, `{"index":0,"name":"Welcome"}`, `{"title":"New title"}`, `{"name":"Q\u0026A \u003cb\u003e\"x\"\u003c/b\u003e"}`},
		},
		{
			name: "a server whose chapters resource is not there is asked once", advertise: true, status: http.StatusNotFound, wantS: "s=-",
			wantPosts: []string{`{"name":"Intro"}`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			env := newTestEnv(t, nil)
			shim := &chapterShim{h: env.gate.h, advertise: tc.advertise, status: tc.status}
			env.gate.h = shim
			c := env.client(t, "talk", "s3cret", func(cfg *Config) { cfg.Title, cfg.Presenter = tc.title, tc.presenter })
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			waitState(t, c, Live, 10*time.Second)
			offers, _, _ := shim.seen()
			if len(offers) != 1 {
				t.Fatalf("%d offers", len(offers))
			}
			var session []string // the offer's lines before the first m=
			for l := range strings.Lines(offers[0]) {
				if strings.HasPrefix(l, "m=") {
					break
				}
				session = append(session, strings.TrimRight(l, "\r\n"))
			}
			if len(session) < 3 || session[2] != tc.wantS {
				t.Errorf("session lines %q: want %q third", session, tc.wantS)
			}
			iLines := 0
			for _, l := range session {
				if strings.HasPrefix(l, "i=") {
					iLines++
					if l != tc.wantI {
						t.Errorf("i line %q, want %q", l, tc.wantI)
					}
				}
				if strings.HasPrefix(l, "c=IN IP4 6.6.6.6") || strings.HasPrefix(l, "a=sendrecv") {
					t.Errorf("an injected line: %q", l)
				}
			}
			if (tc.wantI != "") != (iLines == 1) || iLines > 1 {
				t.Errorf("%d i= lines in %q", iLines, session)
			}
			if n := strings.Count(offers[0], "\nm="); n != 1 {
				t.Errorf("%d m= lines in the offer", n)
			}

			c.MarkChapter("Intro")
			c.MarkChapter("")
			c.RenameChapter(0, "Welcome")
			c.SetTitle("New title")
			c.MarkChapter(`Q&A <b>"x"</b>`)
			if len(tc.wantPosts) > 0 {
				testkit.WaitFor(t, 5*time.Second, "the chapter messages", func() bool {
					_, posts, _ := shim.seen()
					return len(posts) >= len(tc.wantPosts)
				})
			}
			time.Sleep(300 * time.Millisecond) // for any message that should not come
			_, posts, auth := shim.seen()
			want := make([]string, len(tc.wantPosts))
			for i, p := range tc.wantPosts {
				want[i] = "application/json " + p
			}
			if !slices.Equal(posts, want) {
				t.Errorf("chapter messages\n%q\nwant\n%q", posts, want)
			}
			for _, a := range auth {
				if a != "Bearer s3cret" {
					t.Errorf("chapter message with Authorization %q", a)
				}
			}
			if st := c.Status(); st.State != Live {
				t.Errorf("status %+v after the chapter messages", st)
			}
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
