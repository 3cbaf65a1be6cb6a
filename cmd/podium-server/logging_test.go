package main_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// logRun starts the binary with extra args, publishes a second of silence on "talk", and
// stops it, for its whole log: start, a session's lines, shutdown.
func logRun(t *testing.T, args ...string) []testkit.Line {
	t.Helper()
	p := testkit.Start(t, nil, serverBin, append([]string{"--listen", "127.0.0.1:0", "--dir", t.TempDir(), "--token", "op-secret"}, args...)...)
	base := testkit.ServerBase(t, p)
	pub := startPublisher(t, base+"/whip/talk", "op-secret", make([]int16, pcm.SampleRate))
	p.WaitLine(t, "session started", 10*time.Second)
	pub.close()
	p.WaitLine(t, "session ended", 10*time.Second)
	if code := p.Stop(t, 15*time.Second); code != 0 {
		t.Fatalf("podium-server exited %d", code)
	}
	lines := p.From(0)
	t.Logf("podium-server's log:\n%s", joinLines(lines))
	return lines
}

// --log-format json: every line podium-server writes is one JSON object with its time,
// level and message, and a session's lines carry the stream and the session as attributes,
// so a log store can select them without parsing the message.
func TestLogJSON(t *testing.T) {
	lines := logRun(t, "--log-format", "json")
	sessions := 0
	for _, l := range lines {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l.Text), &rec); err != nil {
			t.Errorf("not a JSON object: %q (%v)", l.Text, err)
			continue
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k].(string); !ok {
				t.Errorf("no %s in %q", k, l.Text)
			}
		}
		if rec["msg"] == "whip: session started" {
			sessions++
			if rec["stream"] != "talk" || rec["session"] == nil || rec["level"] != "INFO" {
				t.Errorf("session line without its stream, session or level: %q", l.Text)
			}
		}
	}
	if sessions != 1 {
		t.Errorf("%d session-started lines, want 1:\n%s", sessions, joinLines(lines))
	}
}

// The default, --log-format text, reads as the log did before slog: date and time, then the
// level, the message and the attributes as key=value.
func TestLogText(t *testing.T) {
	lines := logRun(t)
	form := regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (INFO|WARN|ERROR) \S`)
	session := regexp.MustCompile(`INFO whip: session started stream=talk session=\S+$`)
	found := false
	for _, l := range lines {
		if !form.MatchString(l.Text) {
			t.Errorf("not a log line: %q", l.Text)
		}
		found = found || session.MatchString(l.Text)
	}
	if !found {
		t.Errorf("no session line with its stream and session:\n%s", joinLines(lines))
	}
}

func joinLines(lines []testkit.Line) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}
