package testkit

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a running program whose stderr is kept line by line. Every method is safe to call
// while the program runs: the log is read under a lock, never while it is being written.
type Proc struct {
	Cmd *exec.Cmd

	mu      sync.Mutex
	lines   []Line
	cursor  int           // the line Next looks at first
	changed chan struct{} // closed and replaced whenever a line arrives or the stream ends
	eof     bool
	done    chan struct{} // closed once the program has exited and its output is read
	err     error         // from Wait
}

// Line is one line of output and when it arrived.
type Line struct {
	At   time.Time
	Text string
}

// Start runs path with args, the environment extended by env. The program is killed when the
// test ends, and its output is logged if the test failed.
func Start(t testing.TB, env []string, path string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	return StartCmd(t, cmd)
}

// StartCmd is Start for a command the caller has set up (its directory, say). Its Stderr
// must be unset; its Stdout is discarded when unset.
func StartCmd(t testing.TB, cmd *exec.Cmd) *Proc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = io.Discard
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	p := &Proc{Cmd: cmd, changed: make(chan struct{}), done: make(chan struct{})}
	go p.read(stderr)
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s's output:\n%s", cmd.Path, Tail(p.Log(), 8000))
		}
	})
	return p
}

// Kill ends the program at once (SIGKILL, as a crash would) and waits for it to be gone.
func (p *Proc) Kill() {
	p.kill()
	<-p.done
}

// kill ends the program, and its whole process group when it has one of its own (a browser's
// helpers keep the output pipe open until they go too).
func (p *Proc) kill() {
	killGroup(p.Cmd)
	_ = p.Cmd.Process.Kill()
}

func (p *Proc) read(stderr io.Reader) {
	sc := bufio.NewScanner(stderr)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	sc.Split(scanLinesOrCR)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, Line{At: time.Now(), Text: sc.Text()})
		close(p.changed)
		p.changed = make(chan struct{})
		p.mu.Unlock()
	}
	_, _ = io.Copy(io.Discard, stderr)
	err := p.Cmd.Wait() // only once the pipe is drained, as exec requires
	p.mu.Lock()
	p.eof, p.err = true, err
	close(p.changed)
	p.mu.Unlock()
	close(p.done)
}

// scanLinesOrCR splits on \n and on the \r of progress lines.
func scanLinesOrCR(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == '\n' || b == '\r' {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// Log is everything the program wrote to stderr so far.
func (p *Proc) Log() string {
	var b strings.Builder
	for _, l := range p.From(0) {
		b.WriteString(l.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// From is a copy of the lines from the i-th on.
func (p *Proc) From(i int) []Line {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Line(nil), p.lines[min(i, len(p.lines)):]...)
}

// Changed is closed when the next line arrives or the output ends.
func (p *Proc) Changed() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.changed
}

// Done is closed once the program has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// WaitLine waits up to d for the next line (after the one the previous WaitLine or Next
// returned) that contains s, and returns it.
func (p *Proc) WaitLine(t testing.TB, s string, d time.Duration) string {
	t.Helper()
	return p.Next(t, regexp.MustCompile(regexp.QuoteMeta(s)), d)[0]
}

// Next waits up to d for the next line matching re and returns its submatches.
func (p *Proc) Next(t testing.TB, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	_, m := p.next(t, re, d)
	return m
}

// NextLine is Next for the whole line that matched, with the time it arrived.
func (p *Proc) NextLine(t testing.TB, re *regexp.Regexp, d time.Duration) Line {
	t.Helper()
	l, _ := p.next(t, re, d)
	return l
}

// Skip makes Next look only at lines that come from now on, and returns how many lines came
// before (From that index on is what arrived since).
func (p *Proc) Skip() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cursor = len(p.lines)
	return p.cursor
}

func (p *Proc) next(t testing.TB, re *regexp.Regexp, d time.Duration) (Line, []string) {
	t.Helper()
	l, m, err := p.nextMatch(re, d)
	if err != nil {
		t.Fatalf("%s: no line matching %q: %v; output so far:\n%s", p.Cmd.Path, re, err, Tail(p.Log(), 8000))
	}
	return l, m
}

func (p *Proc) nextMatch(re *regexp.Regexp, d time.Duration) (Line, []string, error) {
	deadline := time.After(d)
	for {
		p.mu.Lock()
		for ; p.cursor < len(p.lines); p.cursor++ {
			l := p.lines[p.cursor]
			if m := re.FindStringSubmatch(l.Text); m != nil {
				p.cursor++
				p.mu.Unlock()
				return l, m, nil
			}
		}
		eof, changed := p.eof, p.changed
		p.mu.Unlock()
		if eof {
			return Line{}, nil, errors.New("the program exited")
		}
		select {
		case <-changed:
		case <-deadline:
			return Line{}, nil, errors.New("timed out after " + d.String())
		}
	}
}

// Wait waits up to d for the program to exit and returns its exit code.
func (p *Proc) Wait(t testing.TB, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("%s still running after %v; output so far:\n%s", p.Cmd.Path, d, Tail(p.Log(), 8000))
	}
	return p.ExitCode()
}

// ExitCode is the program's exit status once Done is closed (128+N for signal N), -1 before.
func (p *Proc) ExitCode() int {
	select {
	case <-p.done:
	default:
		return -1
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return -1
}

// Stop sends SIGTERM and waits up to d for the exit code, killing the program after that.
func (p *Proc) Stop(t testing.TB, d time.Duration) int {
	t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(d):
		p.kill()
		<-p.done
		t.Errorf("%s ignored SIGTERM for %v and was killed", p.Cmd.Path, d)
	}
	return p.ExitCode()
}
