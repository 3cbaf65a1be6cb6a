// Package faults is Podium's fault suite: each scenario causes a real fault (kill -9, a full
// disk, an unplugged microphone, a cut or lossy network, abusive clients) against the built
// binaries and checks that nothing captured is lost. `make test` runs the quick versions;
// `make faults` (PODIUM_FAULTS=full) runs them at full length. Each scenario logs one line:
// what it did and the figure it measured.
package faults

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/mp3"
)

var bin string // folder with the freshly built podium and podium-server

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podium-faults")
	if err != nil {
		panic(err)
	}
	bin = dir
	build := exec.Command("go", "build", "-o", dir+"/", "podium/cmd/podium", "podium/cmd/podium-server")
	build.Dir = audiotest.Root()
	if out, err := build.CombinedOutput(); err != nil {
		panic("build: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// full reports whether the scenarios run at full length (make faults).
func full() bool { return os.Getenv("PODIUM_FAULTS") == "full" }

// scenario prints the one line a scenario reports.
func scenario(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("FAULT %s: %s", t.Name(), fmt.Sprintf(format, args...))
	t.Log(line)
	fmt.Println(line)
}

// proc is a running binary whose stderr lines can be waited for.
type proc struct {
	cmd   *exec.Cmd
	lines chan string
	log   strings.Builder
	done  chan struct{}
}

func start(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Split(scanLinesOrCR)
		for sc.Scan() {
			p.log.WriteString(sc.Text() + "\n")
			select {
			case p.lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
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

// waitLine waits for a stderr line containing s.
func (p *proc) waitLine(t *testing.T, s string, d time.Duration) string {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case l := <-p.lines:
			if strings.Contains(l, s) {
				return l
			}
		case <-deadline:
			t.Fatalf("no line %q within %v; output so far:\n%s", s, d, p.log.String())
		}
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	err := p.cmd.Wait()
	<-p.done
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func readMP3Info(t *testing.T, path string) mp3.Info {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	info, err := mp3.ReadInfo(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return info
}
