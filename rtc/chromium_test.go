package rtc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// TestChromiumPublishes has a real browser publish to the Server from a page on another
// origin (so CORS and the exposed Location header are exercised), all on loopback, with
// Chromium's own fake microphone (a tone).
func TestChromiumPublishes(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.Tokens = []string{"tok"} })

	result := make(chan string, 1)
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/result" {
			b, _ := io.ReadAll(r.Body)
			select {
			case result <- string(b):
			default:
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, chromiumPage, env.ts.URL+"/whip/browser")
	}))
	defer page.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	chrome := testkit.Chromium(t, page.URL, "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream")

	var res string
	select {
	case res = <-result:
	case <-ctx.Done():
		t.Fatalf("no result from the page; chromium said:\n%s", testkit.Tail(chrome.Log(), 3000))
	}
	t.Logf("page: %s", res)
	if !strings.HasPrefix(res, "done connected delete 200") {
		t.Fatalf("page: %s", res)
	}
	sinks := env.rec.all()
	if len(sinks) != 1 {
		t.Fatalf("%d recordings", len(sinks))
	}
	got, closed := sinks[0].snapshot()
	if !closed {
		t.Error("DELETE from the browser did not finalise the recording")
	}
	if len(got) < 100 {
		t.Fatalf("only %d packets from the browser", len(got))
	}
	span := got[len(got)-1].pos - got[0].pos
	t.Logf("%d packets spanning %.2f s; server %+v", len(got), float64(span)/pcm.SampleRate, env.srv.Stats())
	if span < 2*pcm.SampleRate || span > 4*pcm.SampleRate {
		t.Errorf("recording spans %.2f s, want about 3", float64(span)/pcm.SampleRate)
	}
}

const chromiumPage = `<!doctype html><meta charset=utf-8><title>whip</title><script>
const WHIP = %q;
const report = (m) => fetch('/result', {method: 'POST', body: m});
(async () => {
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    const pc = new RTCPeerConnection();
    pc.addTransceiver(stream.getAudioTracks()[0], {direction: 'sendonly'});
    await pc.setLocalDescription(await pc.createOffer());
    await new Promise(r => {
      if (pc.iceGatheringState === 'complete') r();
      pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && r();
      setTimeout(r, 2000);
    });
    const res = await fetch(WHIP, {method: 'POST',
      headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer tok'},
      body: pc.localDescription.sdp});
    if (res.status !== 201) throw new Error('POST ' + res.status + ' ' + await res.text());
    const loc = new URL(res.headers.get('Location'), WHIP).href;
    await pc.setRemoteDescription({type: 'answer', sdp: await res.text()});
    for (let i = 0; i < 100 && pc.connectionState !== 'connected'; i++) await new Promise(r => setTimeout(r, 50));
    const state = pc.connectionState;
    await new Promise(r => setTimeout(r, 3000));
    const d = await fetch(loc, {method: 'DELETE', headers: {'Authorization': 'Bearer tok'}});
    pc.close();
    report('done ' + state + ' delete ' + d.status);
  } catch (e) { report('error ' + e); }
})();
</script>`
