package whip

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"podium/rtc/proto"
)

// The talk beside the audio: its title and presenter go in the offer (proto.WithTalk), and
// its chapters go live through Podium's chapters extension (proto.RelChapters), when the
// server offers it in its answer. A server without it hears nothing of them.

// chapterQueue holds the chapter messages waiting to go out; marks are seconds apart, so a
// full queue means the server is not answering, and the newest are dropped.
const chapterQueue = 32

// chapterWait bounds one POST to the chapters resource.
const chapterWait = 5 * time.Second

// MarkChapter tells the server, if it has the chapters extension, that a chapter named name
// begins now (it stamps its own recording's position). It never blocks nor fails: without
// the extension, or without a session now, nothing is sent.
func (c *Client) MarkChapter(name string) {
	name = proto.CleanText(name, proto.MaxTitleRunes)
	c.queueChapter(proto.ChapterRequest{Name: &name})
}

// RenameChapter tells the server chapter i (from 0) is now named name, as MarkChapter does.
func (c *Client) RenameChapter(i int, name string) {
	name = proto.CleanText(name, proto.MaxTitleRunes)
	c.queueChapter(proto.ChapterRequest{Index: &i, Name: &name})
}

// SetTitle changes the talk's title: the next offer carries it, and a server with the
// chapters extension is told now.
func (c *Client) SetTitle(title string) {
	title = proto.CleanText(title, proto.MaxTitleRunes)
	c.mu.Lock()
	c.cfg.Title = title
	c.mu.Unlock()
	c.queueChapter(proto.ChapterRequest{Title: &title})
}

func (c *Client) queueChapter(m proto.ChapterRequest) {
	if c.noChapters.Load() {
		return
	}
	b, err := json.Marshal(m)
	if err != nil || len(b) > proto.MaxChapterBody {
		return // cleaned and cut, a message is far below the bound
	}
	select {
	case c.chapters <- b:
	default:
		c.log.printf("whip: chapter message dropped: %d waiting", len(c.chapters))
	}
}

// talk is the title and presenter the next offer carries.
func (c *Client) talk() (title, presenter string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Title, c.cfg.Presenter
}

// chapterLoop sends the chapter messages in order until the client's context ends.
func (c *Client) chapterLoop() {
	defer close(c.chapterDone)
	for {
		select {
		case <-c.ctx.Done():
			return
		case b := <-c.chapters:
			c.mu.Lock()
			var url string
			if c.conn != nil {
				url = c.conn.chapters
			}
			c.mu.Unlock()
			if url == "" || c.noChapters.Load() {
				continue // no extension on this server, or no session now
			}
			if err := c.postChapter(url, b); err != nil {
				c.log.printf("whip: %v", err)
			}
		}
	}
}

// postChapter sends one message. A server that says it has no such resource (404, 405)
// is not asked again.
func (c *Client) postChapter(url string, body []byte) error {
	ctx, cancel := context.WithTimeout(c.ctx, chapterWait)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("chapters %s: %w", url, err)
	}
	req.Header.Set("Content-Type", "application/json")
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("chapters %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		c.noChapters.Store(true)
		return fmt.Errorf("chapters %s: %s: not sending chapters to this server again", url, resp.Status)
	}
	return fmt.Errorf("chapters %s: %s", url, resp.Status)
}

// chaptersLink is the chapters resource a WHIP answer's Link headers announce, resolved
// against the URL that answered and kept only on the endpoint's origin (it gets the token);
// "" without one.
func (c *Client) chaptersLink(resp *http.Response) string {
	l := proto.ExtensionLink(resp.Header.Values("Link"), proto.RelChapters)
	if l == "" {
		return ""
	}
	u, err := resp.Request.URL.Parse(l)
	if err != nil || proto.CheckOrigin(c.url.String(), u.String()) != nil {
		c.log.printf("whip: chapters link %q ignored: not on %s", l, c.url.Host)
		return ""
	}
	return u.String()
}
