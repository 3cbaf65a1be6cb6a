package rtc

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"podium/rtc/proto"
	"podium/scripts/testkit"
	"podium/scripts/testkit/whiptest"
)

// streamJSON is GET /streams/{stream} with query q as a listener page reads it: the raw
// "chapters" tells an omitted list (unchanged) from an empty one.
func streamJSON(t *testing.T, env *testEnv, stream, q string) (StreamInfo, json.RawMessage) {
	t.Helper()
	res, err := http.DefaultClient.Do(authRequest(t, http.MethodGet, env.ts.URL+"/streams/"+stream+q, "lis", ""))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var raw map[string]json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(raw)
	var info StreamInfo
	if err := json.Unmarshal(b, &info); err != nil {
		t.Fatal(err)
	}
	return info, raw["chapters"]
}

// A packet of the test's publisher: rtc never decodes it (the test sink keeps it).
func talkPacket(i int) []byte { return []byte(fmt.Sprintf("packet %d", i)) }

// TestTalkFromOfferAndChapters: a bare Pion publisher whose offer names the talk (s=, i=) is
// offered the chapters extension; the title and presenter reach GET /streams/{stream} and the
// sink; chapters marked and renamed through the extension are stamped where the recording
// was when they came, listed live (left out of a poll that has them already), and told to
// the sink before it closes.
func TestTalkFromOfferAndChapters(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) {
		c.Tokens = []string{"tok"}
		c.StreamTokens = map[string][]string{"talk": {"other"}}
		c.ListenerTokens = []string{"lis"}
	})
	pub := whiptest.PublishTalk(t, env.ts.URL+"/whip/talk", "tok",
		whiptest.WithTalk("Distributed systems, lecture 4 <b>&amp;</b>", "Dr. Kim"), talkPacket)
	if pub.Status != http.StatusCreated || pub.Chapters != pub.Location+"/chapters" {
		t.Fatalf("POST: %d, Links %q; want 201 offering %s/chapters", pub.Status, pub.Header.Values("Link"), pub.Location)
	}
	testkit.WaitFor(t, 5*time.Second, "recording live", func() bool { return env.srv.StreamInfo("talk").Started != nil })
	info, _ := streamJSON(t, env, "talk", "")
	if info.Title != "Distributed systems, lecture 4 <b>&amp;</b>" || info.Presenter != "Dr. Kim" {
		t.Errorf("GET /streams/talk: title %q presenter %q", info.Title, info.Presenter)
	}

	marks := map[string]time.Duration{}
	mark := func(name string) {
		at := pub.Position()
		if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"name": "`+name+`"}`); code != http.StatusNoContent {
			t.Fatalf("mark %q: %d", name, code)
		}
		marks[name] = at
	}
	time.Sleep(400 * time.Millisecond)
	mark("Intro")
	time.Sleep(600 * time.Millisecond)
	mark("Part two")
	if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"index": 0, "name": "Introduction"}`); code != http.StatusNoContent {
		t.Errorf("rename: %d", code)
	}
	if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"title": "Lecture 4\r\n"}`); code != http.StatusNoContent {
		t.Errorf("retitle: %d", code)
	}
	info, raw := streamJSON(t, env, "talk", "")
	if info.Title != "Lecture 4" || len(info.Chapters) != 2 || info.Chapters[0].Name != "Introduction" || info.Chapters[1].Name != "Part two" {
		t.Fatalf("GET /streams/talk after marks: %+v", info)
	}
	for i, name := range []string{"Intro", "Part two"} {
		got := time.Duration(info.Chapters[i].Start * float64(time.Second))
		t.Logf("chapter %d posted at %v of the talk, stamped at %v (%+v)", i, marks[name], got, got-marks[name])
		if d := got - marks[name]; d < -50*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("chapter %d stamped at %v, posted at %v", i, got, marks[name])
		}
	}
	if string(raw) == "" || string(raw) == "null" {
		t.Errorf("first poll left the chapters out: %s", raw)
	}
	if _, raw := streamJSON(t, env, "talk", fmt.Sprintf("?rev=%d", info.TalkRev)); raw != nil {
		t.Errorf("a poll with the current revision got the chapters again: %s", raw)
	}
	if _, raw := streamJSON(t, env, "talk", fmt.Sprintf("?rev=%d", info.TalkRev-1)); len(raw) < 10 {
		t.Errorf("a poll with an old revision got no chapters: %s", raw)
	}

	// Only the session's own token, on its own resource.
	bad := []struct {
		what, url, token, ctype, body string
		want                          int
	}{
		{"no token", pub.Chapters, "", "application/json", `{"name":"x"}`, http.StatusUnauthorized},
		{"wrong token", pub.Chapters, "nope", "application/json", `{"name":"x"}`, http.StatusUnauthorized},
		{"another publisher of the stream", pub.Chapters, "other", "application/json", `{"name":"x"}`, http.StatusNotFound},
		{"no such session", env.ts.URL + "/whip/talk/0123456789abcdef/chapters", "tok", "application/json", `{"name":"x"}`, http.StatusNotFound},
		{"another stream", strings.Replace(pub.Chapters, "/whip/talk/", "/whip/hall/", 1), "tok", "application/json", `{"name":"x"}`, http.StatusNotFound},
		{"not JSON", pub.Chapters, "tok", "text/plain", `{"name":"x"}`, http.StatusUnsupportedMediaType},
		{"malformed", pub.Chapters, "tok", "application/json", `{"name":`, http.StatusBadRequest},
		{"nothing to do", pub.Chapters, "tok", "application/json", `{}`, http.StatusBadRequest},
		{"no such chapter", pub.Chapters, "tok", "application/json", `{"index": 7, "name": "x"}`, http.StatusNotFound},
		{"oversize", pub.Chapters, "tok", "application/json", `{"name": "` + strings.Repeat("a", proto.MaxChapterBody) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, b := range bad {
		req := authRequest(t, http.MethodPost, b.url, b.token, b.body)
		req.Header.Set("Content-Type", b.ctype)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != b.want {
			t.Errorf("%s: %d, want %d", b.what, res.StatusCode, b.want)
		}
	}
	// At most MaxChapters per recording.
	for i := 2; i < proto.MaxChapters; i++ {
		if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"name": "n"}`); code != http.StatusNoContent {
			t.Fatalf("chapter %d: %d", i+1, code)
		}
	}
	if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"name": "one too many"}`); code != http.StatusTooManyRequests {
		t.Errorf("chapter %d: %d, want 429", proto.MaxChapters+1, code)
	}
	if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"index": 1, "name": "Part 2"}`); code != http.StatusNoContent {
		t.Errorf("rename at the limit: %d", code)
	}

	pub.Close() // DELETE: the recording is finalised
	sinks := env.rec.all()
	if len(sinks) != 1 {
		t.Fatalf("%d recordings", len(sinks))
	}
	testkit.WaitFor(t, 5*time.Second, "sink closed", func() bool { _, closed := sinks[0].snapshot(); return closed })
	talk, n := sinks[0].told()
	if talk.Title != "Lecture 4" || talk.Presenter != "Dr. Kim" || len(talk.Chapters) != proto.MaxChapters ||
		talk.Chapters[0].Name != "Introduction" || talk.Chapters[1].Name != "Part 2" {
		t.Errorf("sink told %d times; last: title %q presenter %q, %d chapters", n, talk.Title, talk.Presenter, len(talk.Chapters))
	}
	if code := whiptest.PostChapter(t, pub.Chapters, "tok", `{"name": "after"}`); code != http.StatusNotFound {
		t.Errorf("chapter after DELETE: %d, want 404", code)
	}
}

// TestOfferWithoutTalk: what browsers and OBS send (s=-, no i=) records as before, titled by
// nothing; a 100 KB title is refused whole (413) and records nothing; a long one is cut.
func TestOfferWithoutTalk(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.Tokens = []string{"tok"}; c.ListenerTokens = []string{"lis"} })
	bare := whiptest.PublishTalk(t, env.ts.URL+"/whip/bare", "tok", nil, talkPacket)
	if bare.Status != http.StatusCreated {
		t.Fatalf("bare offer: %d", bare.Status)
	}
	testkit.WaitFor(t, 5*time.Second, "bare recording", func() bool { return env.srv.StreamInfo("bare").Started != nil })
	if info, _ := streamJSON(t, env, "bare", ""); info.Title != "" || info.Presenter != "" || !info.Live {
		t.Errorf("bare offer: %+v", info)
	}

	huge := whiptest.PublishTalk(t, env.ts.URL+"/whip/huge", "tok", whiptest.WithTalk(strings.Repeat("é", 50<<10), "x"), talkPacket)
	if huge.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("100 KB title: %d, want 413", huge.Status)
	}
	if info := env.srv.StreamInfo("huge"); info.Title != "" || info.Live {
		t.Errorf("100 KB title: %+v", info)
	}

	long := strings.Repeat("ü", 150) + strings.Repeat("x", 100)
	cut := whiptest.PublishTalk(t, env.ts.URL+"/whip/long", "tok", whiptest.WithTalk(long, strings.Repeat("p", 300)), talkPacket)
	if cut.Status != http.StatusCreated {
		t.Fatalf("long title: %d", cut.Status)
	}
	info := env.srv.StreamInfo("long")
	if want := []rune(long)[:proto.MaxTitleRunes]; info.Title != string(want) || len([]rune(info.Presenter)) != proto.MaxPresenterRunes {
		t.Errorf("long title kept %d runes (%d bytes), presenter %d runes", len([]rune(info.Title)), len(info.Title), len([]rune(info.Presenter)))
	}
	bare.Close()
	cut.Close()
	for _, s := range env.rec.all() {
		testkit.WaitFor(t, 5*time.Second, "sink closed", func() bool { _, closed := s.snapshot(); return closed })
		if talk, _ := s.told(); s.stream == "bare" && (talk.Title != "" || len(talk.Chapters) != 0) {
			t.Errorf("bare recording told %+v", talk)
		}
	}
}

// TestTalkSurvivesAReconnect: a publisher that comes back to its recording (the same token,
// within the grace) keeps its title and chapters, even with an offer that names none, and
// marks the next chapter through its new session's resource; the old one's is gone.
func TestTalkSurvivesAReconnect(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) {
		c.Tokens = []string{"tok"}
		c.ListenerTokens = []string{"lis"}
		c.Grace = 10 * time.Second
	})
	first := whiptest.PublishTalk(t, env.ts.URL+"/whip/talk", "tok", whiptest.WithTalk("Lecture 4", "Dr. Kim"), talkPacket)
	testkit.WaitFor(t, 5*time.Second, "recording live", func() bool { return env.srv.StreamInfo("talk").Live })
	time.Sleep(300 * time.Millisecond)
	if code := whiptest.PostChapter(t, first.Chapters, "tok", `{"name": "Before"}`); code != http.StatusNoContent {
		t.Fatalf("chapter: %d", code)
	}
	first.Drop()
	testkit.WaitFor(t, 10*time.Second, "publisher gone", func() bool { return !env.srv.StreamInfo("talk").Live })
	again := whiptest.PublishTalk(t, env.ts.URL+"/whip/talk", "tok", nil, talkPacket)
	if again.Status != http.StatusCreated || again.Chapters == "" {
		t.Fatalf("reconnect: %d", again.Status)
	}
	testkit.WaitFor(t, 5*time.Second, "recording live again", func() bool { return env.srv.StreamInfo("talk").Live })
	if code := whiptest.PostChapter(t, again.Chapters, "tok", `{"name": "After"}`); code != http.StatusNoContent {
		t.Errorf("chapter through the new session: %d", code)
	}
	if code := whiptest.PostChapter(t, first.Chapters, "tok", `{"name": "stale"}`); code != http.StatusNotFound {
		t.Errorf("chapter through the old session: %d, want 404", code)
	}
	info := env.srv.StreamInfo("talk")
	if info.Title != "Lecture 4" || info.Presenter != "Dr. Kim" || len(info.Chapters) != 2 ||
		info.Chapters[0].Name != "Before" || info.Chapters[1].Name != "After" || info.Chapters[1].Start <= info.Chapters[0].Start {
		t.Errorf("after the reconnect: %+v", info)
	}
	again.Close()
	if n := len(env.rec.all()); n != 1 {
		t.Errorf("%d recordings, want the one resumed", n)
	}
}
