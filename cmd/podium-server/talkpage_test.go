package main_test

// The listener page shows the talk (issue 25), in a real Chromium: a test script the proxy
// adds to the real page reports every change of what it shows, and then clicks each chapter
// of the replay and reports where the player landed.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"podium/scripts/testkit"
	"podium/scripts/testkit/whiptest"
)

// talkHook is added to the listener page: it reports what the page shows whenever it changes
// (title, presenter, live chapters, elements the page has), then, once the replay lists the
// talk's chapters, clicks each and reports where its player landed.
const talkHook = `"use strict";
(() => {
  const send = (m) => fetch("/.test/event", { method: "POST", body: JSON.stringify(m) });
  // Markup run as markup would call these: the test fails if anything does.
  window.alert = (v) => send({ kind: "alert", name: String(v) });
  window.addEventListener("DOMContentLoaded", () => {
    const $ = (id) => document.getElementById(id);
    let last = "", replayed = false;
    const look = () => {
      const m = {
        kind: "show",
        title: $("title").textContent,
        presenter: $("presenter").hidden ? "" : $("presenter").textContent,
        chapters: [...document.querySelectorAll("#livechapters .chapter")].map((e) => e.textContent),
        now: $("now").textContent,
        imgs: document.querySelectorAll("img").length,
        elements: document.getElementsByTagName("*").length,
      };
      const s = JSON.stringify(m);
      if (s !== last) { last = s; send(m); }
      const buttons = [...document.querySelectorAll("#recs button.chapter")];
      if (!replayed && buttons.length) { replayed = true; replay(buttons); }
    };
    async function replay(buttons) {
      const li = buttons[0].closest("li.talk") || buttons[0].closest("ol").parentElement;
      const player = li.querySelector("audio");
      const seeks = [];
      for (const b of buttons) {
        const seeked = new Promise((r) => { player.addEventListener("seeked", r, { once: true }); setTimeout(r, 15000); });
        b.click();
        await seeked;
        const at = player.currentTime;
        await new Promise((r) => setTimeout(r, 300));
        seeks.push({ name: b.textContent, start: Number(b.dataset.start), at, after: player.currentTime });
      }
      player.pause();
      send({ kind: "replay", seeks, name: li.querySelector(".name").textContent,
             meta: li.querySelector(".meta").textContent, imgs: document.querySelectorAll("img").length });
    }
    new MutationObserver(look).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    look();
  });
})();`

// pageEvent is one report of the hook, with when it came.
type pageEvent struct {
	Kind      string   `json:"kind"`
	Title     string   `json:"title"`
	Presenter string   `json:"presenter"`
	Chapters  []string `json:"chapters"`
	Now       string   `json:"now"`
	Imgs      int      `json:"imgs"`
	Seeks     []struct {
		Name  string  `json:"name"`
		Start float64 `json:"start"`
		At    float64 `json:"at"`    // currentTime once seeked
		After float64 `json:"after"` // and 300 ms later: it plays on from there
	} `json:"seeks"`
	Name string `json:"name"`
	Meta string `json:"meta"`

	came time.Time
}

// talkPage serves base's listener page of stream through a proxy that adds talkHook, and
// returns the page's URL (with the listener token) and its reports.
func talkPage(t *testing.T, base, stream, token string) (string, <-chan pageEvent) {
	events := make(chan pageEvent, 100)
	mux, proxyURL := testkit.HookedPages(t, base, []byte(talkHook), "")
	mux.HandleFunc("POST /.test/event", func(w http.ResponseWriter, r *http.Request) {
		e := pageEvent{came: time.Now()}
		if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
			t.Errorf("page event: %v", err)
		}
		if e.Kind == "alert" {
			t.Errorf("the page ran markup: alert(%s)", e.Name)
		}
		select {
		case events <- e:
		default:
			t.Error("page events: too many")
		}
	})
	return proxyURL + "/listen/" + stream + "#token=" + token, events
}

// TestChromiumShowsTheTalk: the listener page, open before the talk, shows its title and
// presenter once it begins, each chapter within 2 s of its being marked, and afterwards the
// talk in the replay list by title, presenter and duration, whose chapters seek the player
// to their starts. A title, presenter and chapter name full of markup and quotes show as
// the text they are: no element is made of them.
func TestChromiumShowsTheTalk(t *testing.T) {
	base := startListenServer(t, "--dir", t.TempDir(), "--token", "pub-tok", "--listener-token", "lis-tok")
	pageURL, events := talkPage(t, base, "talk", "lis-tok")
	chrome := testkit.Chromium(t, pageURL, "--autoplay-policy=no-user-gesture-required")
	next := func(what string, d time.Duration, ok func(pageEvent) bool) pageEvent {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case e := <-events:
				if ok(e) {
					return e
				}
			case <-deadline:
				t.Fatalf("the page never showed %s; chromium said:\n%s", what, testkit.Tail(chrome.Log(), 3000))
			}
		}
	}
	first := next("itself", 20*time.Second, func(e pageEvent) bool { return e.Kind == "show" && e.Title == "talk" })
	baseline := first.Imgs

	const title = `<img src=x onerror=alert(1)>"'& Lecture 4`
	const presenter = `Dr. <i>Kim</i> "&amp;" '`
	pub := whiptest.PublishTalk(t, base+"/whip/talk", "pub-tok", whiptest.WithTalk(title, presenter), opusPackets(t, 10*time.Second))
	if pub.Status != http.StatusCreated {
		t.Fatalf("POST: %d", pub.Status)
	}
	shown := next("the title and presenter", 10*time.Second, func(e pageEvent) bool { return e.Title == title })
	t.Logf("title and presenter shown %v after the offer was answered", shown.came.Sub(pub.Began).Round(time.Millisecond))
	if shown.Presenter != presenter || shown.Imgs != baseline {
		t.Errorf("page shows presenter %q, %d img elements (%d before)", shown.Presenter, shown.Imgs, baseline)
	}

	names := []string{"Introduction", `<img src=y onerror=alert(2)> "quoted" & 'single'`, "Raft"}
	var worst time.Duration
	for i, name := range names {
		time.Sleep(time.Until(pub.Began.Add(time.Duration(1500+2000*i) * time.Millisecond)))
		body, _ := json.Marshal(map[string]string{"name": name})
		sent := time.Now()
		if code := whiptest.PostChapter(t, pub.Chapters, "pub-tok", string(body)); code != http.StatusNoContent {
			t.Fatalf("chapter %q: %d", name, code)
		}
		e := next(fmt.Sprintf("chapter %d", i+1), 5*time.Second, func(e pageEvent) bool { return len(e.Chapters) == i+1 })
		took := e.came.Sub(sent)
		worst = max(worst, took)
		t.Logf("chapter %d on the page %v after it was marked; the page says %q", i+1, took.Round(time.Millisecond), e.Now)
		if e.Chapters[i] != name || e.Now != "Now: "+name || e.Imgs != baseline {
			t.Errorf("page shows chapters %q, now %q, %d img elements", e.Chapters, e.Now, e.Imgs)
		}
		if took > 2*time.Second {
			t.Errorf("chapter %d took %v to reach the page, want at most 2 s", i+1, took)
		}
	}
	t.Logf("worst chapter-to-page latency %v (the page polls once a second while live)", worst.Round(time.Millisecond))
	pub.Wait()
	pub.Close()

	r := next("the replay", 30*time.Second, func(e pageEvent) bool { return e.Kind == "replay" })
	if r.Name != title || !strings.HasPrefix(r.Meta, presenter+" · ") || !strings.Contains(r.Meta, " · 0:10 · ") && !strings.Contains(r.Meta, " · 0:09 · ") {
		t.Errorf("replay lists the talk as %q / %q", r.Name, r.Meta)
	}
	if r.Imgs != baseline || len(r.Seeks) != len(names) {
		t.Fatalf("replay: %d img elements, %d chapters: %+v", r.Imgs, len(r.Seeks), r.Seeks)
	}
	for i, s := range r.Seeks {
		t.Logf("replay chapter %d %q: starts %.3f s, player landed at %.3f s (%+.3f s), at %.3f s 300 ms later",
			i+1, s.Name, s.Start, s.At, s.At-s.Start, s.After)
		if s.Name != names[i] || math.Abs(s.At-s.Start) > 0.1 || math.Abs(s.Start-(1.5+2*float64(i))) > 0.2 ||
			s.After < s.At || s.After > s.At+1 {
			t.Errorf("replay chapter %d: %+v", i+1, s)
		}
	}
}
