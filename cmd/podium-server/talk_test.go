package main_test

// The talk (issue 25) on the real binary: a bare Pion WHIP publisher names it in its offer
// (s=, i=) and marks chapters through the extension the server offers; the server's MP3
// carries them (ffprobe), GET /recordings lists them, and the extension refuses whoever is
// not the session's publisher.

import (
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/id3"
	"podium/audio/pcm"
	"podium/rtc"
	"podium/rtc/proto"
	"podium/rtc/recordings"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
	"podium/scripts/testkit/whiptest"
)

// opusPackets encodes the first d of the speech fixture, one packet per 20 ms; packet(i)
// gives them in turn, then nil.
func opusPackets(t testing.TB, d time.Duration) func(i int) []byte {
	t.Helper()
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	enc, err := audio.NewOpusEncoder(0)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for i := 0; (i+1)*pcm.FrameSamples <= min(len(speech), int(pcm.Samples(d))); i++ {
		p, err := enc.Encode(speech[i*pcm.FrameSamples : (i+1)*pcm.FrameSamples])
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, append([]byte(nil), p...))
	}
	return func(i int) []byte {
		if i >= len(pkts) {
			return nil
		}
		return pkts[i]
	}
}

// finished waits until the recordings list the stream's recording as finished, and returns it.
func finished(t *testing.T, p *serverProc, stream string) recordings.File {
	t.Helper()
	var got recordings.File
	testkit.WaitFor(t, 15*time.Second, "the recording of "+stream+" finished", func() bool {
		for _, f := range p.recordings(t) {
			if strings.HasPrefix(f.Name, stream+" ") && !f.Live {
				got = f
				return true
			}
		}
		return false
	})
	return got
}

// TestServerTalkInTheMP3: title, presenter and chapters reach the server's MP3 (read back by
// ffprobe and by audio/id3) and GET /recordings; each chapter starts in the MP3 where the
// talk was when it was posted.
func TestServerTalkInTheMP3(t *testing.T) {
	testkit.Need(t, "ffprobe")
	p := startServer(t)
	const title, presenter = `Distributed systems, lecture 4 <img src=x onerror=alert(1)>"'&`, "Dr. Kim — 김"
	pub := whiptest.PublishTalk(t, p.base+"/whip/lecture", p.token, whiptest.WithTalk(title, presenter), opusPackets(t, 6*time.Second))
	if pub.Status != http.StatusCreated || pub.Chapters == "" {
		t.Fatalf("POST: %d; Link %q", pub.Status, pub.Header.Values("Link"))
	}
	var info rtc.StreamInfo
	testkit.WaitFor(t, 5*time.Second, "stream live", func() bool {
		testkit.GetJSON(t, p.base+"/streams/lecture", p.token, &info)
		return info.Live
	})
	if info.Title != title || info.Presenter != presenter {
		t.Errorf("GET /streams/lecture: title %q presenter %q", info.Title, presenter)
	}
	names := []string{"Introduction", "Consensus <b>&</b>", "Raft, \"in practice\""}
	var posted []time.Duration
	for i, name := range names {
		time.Sleep(time.Until(pub.Began.Add(time.Duration(1000+1500*i) * time.Millisecond)))
		at := pub.Position()
		if code := whiptest.PostChapter(t, pub.Chapters, p.token, fmt.Sprintf(`{"name": %q}`, name)); code != http.StatusNoContent {
			t.Fatalf("chapter %q: %d", name, code)
		}
		posted = append(posted, at)
	}
	pub.Wait()
	pub.Close()
	f := finished(t, p, "lecture")
	mp3 := filepath.Join(p.dir, f.Name)

	tags := audiotest.ProbeTags(t, mp3)
	if tags["title"] != title || tags["artist"] != presenter {
		t.Errorf("ffprobe tags: title %q artist %q", tags["title"], tags["artist"])
	}
	chapters := audiotest.ProbeChapters(t, mp3)
	if len(chapters) != len(names) {
		t.Fatalf("ffprobe -show_chapters: %d chapters, want %d: %+v", len(chapters), len(names), chapters)
	}
	for i, c := range chapters {
		d := c.Start - posted[i]
		t.Logf("chapter %d %q: posted at %v of the talk, starts at %v in the server's MP3 (%+.1f ms), ends %v",
			i, c.Title, posted[i].Round(time.Millisecond), c.Start, float64(d)/float64(time.Millisecond), c.End)
		if c.Title != names[i] {
			t.Errorf("chapter %d titled %q, want %q", i, c.Title, names[i])
		}
		if d < -200*time.Millisecond || d > 200*time.Millisecond {
			t.Errorf("chapter %d starts %v from where it was posted", i, d)
		}
	}
	fl, err := os.Open(mp3)
	if err != nil {
		t.Fatal(err)
	}
	defer fl.Close()
	read, _, err := id3.Read(fl)
	if err != nil || read.Title != title || read.Presenter != presenter || len(read.Chapters) != len(names) {
		t.Errorf("id3.Read: %v; %q %q, %d chapters", err, read.Title, read.Presenter, len(read.Chapters))
	}

	if f.Title != title || f.Presenter != presenter || f.Duration < 5.5 || f.Duration > 6.5 || len(f.Chapters) != len(names) {
		t.Fatalf("GET /recordings: %+v", f)
	}
	for i, c := range f.Chapters {
		if c.Name != names[i] || math.Abs(c.Start-chapters[i].Start.Seconds()) > 0.001 {
			t.Errorf("GET /recordings chapter %d: %+v, want %q at %v", i, c, names[i], chapters[i].Start)
		}
	}
}

// TestServerTalkRefusesOthers attacks the chapters extension of the real binary: no token or
// a wrong one 401, another publisher's session 404, a body over 4 KiB 413, the 1001st
// chapter 429; none of it reaches the MP3.
func TestServerTalkRefusesOthers(t *testing.T) {
	p := startServer(t)
	a := whiptest.PublishTalk(t, p.base+"/whip/alpha", p.token, whiptest.WithTalk("Alpha", ""), opusPackets(t, 30*time.Second))
	b := whiptest.PublishTalk(t, p.base+"/whip/beta", p.token, whiptest.WithTalk("Beta", ""), opusPackets(t, 30*time.Second))
	if a.Chapters == "" || b.Chapters == "" {
		t.Fatalf("no chapters extension: %q %q", a.Header.Values("Link"), b.Header.Values("Link"))
	}
	post := func(url, token, ctype, body string) int {
		req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ctype)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	aID := a.Location[strings.LastIndex(a.Location, "/")+1:]
	for _, c := range []struct {
		what, url, token, body string
		want                   int
	}{
		{"no token", a.Chapters, "", `{"name": "x"}`, http.StatusUnauthorized},
		{"a wrong token", a.Chapters, "x" + p.token, `{"name": "x"}`, http.StatusUnauthorized},
		{"alpha's session under beta's stream", strings.Replace(a.Chapters, "/whip/alpha/", "/whip/beta/", 1), p.token, `{"name": "x"}`, http.StatusNotFound},
		{"beta's stream with alpha's session id", p.base + "/whip/beta/" + aID + "/chapters", p.token, `{"name": "x"}`, http.StatusNotFound},
		{"a made-up session", p.base + "/whip/alpha/00000000000000000000000000000000/chapters", p.token, `{"name": "x"}`, http.StatusNotFound},
		{"a body over 4 KiB", a.Chapters, p.token, `{"name": "` + strings.Repeat("<", proto.MaxChapterBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"a rename of a chapter there is not", a.Chapters, p.token, `{"index": 0, "name": "x"}`, http.StatusNotFound},
	} {
		if got := post(c.url, c.token, "application/json", c.body); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	start := time.Now()
	for i := range proto.MaxChapters {
		if got := post(a.Chapters, p.token, "application/json", fmt.Sprintf(`{"name": "c%d"}`, i)); got != http.StatusNoContent {
			t.Fatalf("chapter %d: %d", i+1, got)
		}
	}
	t.Logf("%d chapters posted in %v", proto.MaxChapters, time.Since(start).Round(time.Millisecond))
	if got := post(a.Chapters, p.token, "application/json", `{"name": "one too many"}`); got != http.StatusTooManyRequests {
		t.Errorf("chapter %d: %d, want 429", proto.MaxChapters+1, got)
	}
	a.Close()
	b.Close()
	for _, stream := range []string{"alpha", "beta"} {
		f := finished(t, p, stream)
		chapters := audiotest.ProbeChapters(t, filepath.Join(p.dir, f.Name))
		want := map[string]int{"alpha": proto.MaxChapters, "beta": 0}[stream]
		if len(chapters) != want || len(f.Chapters) != want {
			t.Errorf("%s: %d chapters in the MP3, %d listed; want %d", stream, len(chapters), len(f.Chapters), want)
		} else if want > 0 && (chapters[0].Title != "c0" || chapters[want-1].Title != fmt.Sprintf("c%d", want-1)) {
			t.Errorf("%s: chapters %q … %q", stream, chapters[0].Title, chapters[want-1].Title)
		}
	}
}

// TestServerTalkWithoutTitle: a bare Pion offer (s=-) records as before (tagged with the
// stream's name, no title listed); a 100 KB title is refused with 413 and stored nowhere.
func TestServerTalkWithoutTitle(t *testing.T) {
	p := startServer(t)
	bare := whiptest.PublishTalk(t, p.base+"/whip/bare", p.token, nil, opusPackets(t, 2*time.Second))
	if bare.Status != http.StatusCreated {
		t.Fatalf("bare offer: %d", bare.Status)
	}
	huge := strings.Repeat("<é>", 100<<10/len("<é>"))
	refused := whiptest.PublishTalk(t, p.base+"/whip/huge", p.token, whiptest.WithTalk(huge, huge), opusPackets(t, 2*time.Second))
	if refused.Status != http.StatusRequestEntityTooLarge {
		t.Errorf("a 100 KB title: %d, want 413", refused.Status)
	}
	bare.Wait()
	bare.Close()
	f := finished(t, p, "bare")
	if f.Title != "" || f.Presenter != "" || len(f.Chapters) != 0 || f.Duration < 1.5 {
		t.Errorf("bare recording listed as %+v", f)
	}
	if tags := audiotest.ProbeTags(t, filepath.Join(p.dir, f.Name)); tags["title"] != "bare" {
		t.Errorf("bare recording tagged %q, want the stream's name", tags)
	}
	files, _ := filepath.Glob(filepath.Join(p.dir, "*"))
	for _, fn := range files {
		if strings.Contains(filepath.Base(fn), "huge") {
			t.Errorf("the refused offer left %s", fn)
		}
		b, _ := os.ReadFile(fn)
		if strings.Contains(string(b), "<é><é><é>") {
			t.Errorf("%s holds the refused title", fn)
		}
	}
	var info rtc.StreamInfo
	testkit.GetJSON(t, p.base+"/streams/huge", p.token, &info)
	if info.Title != "" || info.Live {
		t.Errorf("GET /streams/huge: %+v", info)
	}
}

// TestPodiumRecordTalkToServer: the real `podium record --title --presenter`, chapters marked
// on its standard input, publishing to the real server: the server's own MP3 has the title,
// the presenter and the chapters, each within 300 ms of where the presenter's MP3 has it,
// and GET /recordings lists the talk (from the studio copy once it is there).
func TestPodiumRecordTalkToServer(t *testing.T) {
	testkit.Need(t, "ffprobe")
	speech := audiotest.Speech(t, false)
	podium := buildPodium(t)
	p := startServer(t)
	local := filepath.Join(t.TempDir(), "talk.mp3")
	const title, presenter = `Lecture 4: <script>alert("x")</script> & more`, "Dr. Kim"
	cmd := exec.Command(podium, "record", "--input", speech, "--duration", "7s", "--out", local,
		"--server", p.base+"/whip/lecture", "--token", p.token, "--title", title, "--presenter", presenter)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	rec := testkit.StartCmd(t, cmd)
	var info rtc.StreamInfo
	testkit.WaitFor(t, 15*time.Second, "stream live", func() bool {
		testkit.GetJSON(t, p.base+"/streams/lecture", p.token, &info)
		return info.Live
	})
	if info.Title != title || info.Presenter != presenter {
		t.Errorf("GET /streams/lecture: title %q presenter %q", info.Title, info.Presenter)
	}
	names := []string{"Intro", "Main <b>part</b>"}
	for _, name := range names {
		time.Sleep(2 * time.Second)
		fmt.Fprintln(stdin, name)
	}
	testkit.WaitFor(t, 5*time.Second, "chapters on the server", func() bool {
		testkit.GetJSON(t, p.base+"/streams/lecture", p.token, &info)
		return len(info.Chapters) == len(names)
	})
	stdin.Close()
	if code := rec.Wait(t, 60*time.Second); code != 0 {
		t.Fatalf("podium record: exit %d\n%s", code, rec.Log())
	}
	f := finished(t, p, "lecture")
	theirs := audiotest.ProbeChapters(t, local)
	ours := audiotest.ProbeChapters(t, filepath.Join(p.dir, f.Name)) // the server's own (f.URL may serve the studio copy)
	if tags := audiotest.ProbeTags(t, filepath.Join(p.dir, f.Name)); tags["title"] != title || tags["artist"] != presenter {
		t.Errorf("server's MP3 tagged %q", tags)
	}
	if len(ours) != len(names) || len(theirs) != len(names) {
		t.Fatalf("chapters: server's MP3 %+v, presenter's %+v", ours, theirs)
	}
	for i := range names {
		d := ours[i].Start - theirs[i].Start
		t.Logf("chapter %d %q: presenter's MP3 %v, server's %v (%+.1f ms)", i, ours[i].Title, theirs[i].Start, ours[i].Start, float64(d)/float64(time.Millisecond))
		// Each side stamps where it is when it marks: the app the audio it has encoded (its
		// pipeline holds up to a few hundred ms), the server the audio it has received.
		if ours[i].Title != names[i] || d.Abs() > 300*time.Millisecond {
			t.Errorf("server's chapter %d: %+v; the presenter's: %+v", i, ours[i], theirs[i])
		}
	}
	if f.Title != title || f.Presenter != presenter || len(f.Chapters) != len(names) {
		t.Errorf("GET /recordings (serves %s): %+v", f.Serves, f)
	}
}
