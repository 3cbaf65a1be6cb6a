package testkit

import (
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Window is a real X11 window of a process, driven with xdotool on $DISPLAY (Xvfb in the
// tests) as a presenter would: found by its exact title, clicked, typed at, photographed.
type Window struct {
	ID  string
	Pid int
}

// FindWindow returns the visible window of process pid titled exactly name, or "" when there
// is none. The pid matters: the display may be shared with another Podium. (--all: xdotool's
// conditions are or'ed by default.)
func FindWindow(pid int, name string) string {
	out, _ := exec.Command("xdotool", "search", "--all", "--onlyvisible", "--pid", strconv.Itoa(pid),
		"--name", "^"+name+"$").Output()
	if f := strings.Fields(string(out)); len(f) > 0 {
		return f[0]
	}
	return ""
}

// FindWindowWithin waits up to d for FindWindow(pid, name); "" if the window never came.
func FindWindowWithin(pid int, name string, d time.Duration) string {
	for end := time.Now().Add(d); ; time.Sleep(50 * time.Millisecond) {
		if id := FindWindow(pid, name); id != "" || time.Now().After(end) {
			return id
		}
	}
}

// WaitWindow waits up to d for FindWindow(pid, name) and fails the test if it never came.
func WaitWindow(t testing.TB, pid int, name string, d time.Duration) Window {
	t.Helper()
	id := FindWindowWithin(pid, name, d)
	if id == "" {
		t.Fatalf("no window %q of process %d after %v", name, pid, d)
	}
	return Window{ID: id, Pid: pid}
}

// WaitGone waits up to d until process pid has no window titled name.
func WaitGone(t testing.TB, pid int, name string, d time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); FindWindow(pid, name) != ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("window %q still there after %v", name, d)
		}
	}
}

// Xdo runs xdotool and returns what it printed; a failure fails the test.
func Xdo(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command("xdotool", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// Key focuses the window (best effort: Xvfb has no window manager) and sends it keys, in
// xdotool's syntax ("Return", "ctrl+q").
func (w Window) Key(t testing.TB, keys ...string) {
	t.Helper()
	_ = exec.Command("xdotool", "windowfocus", "--sync", w.ID).Run()
	Xdo(t, append([]string{"key", "--window", w.ID}, keys...)...)
}

// Click clicks the left button at x, y inside the window.
func (w Window) Click(t testing.TB, x, y int) {
	t.Helper()
	Xdo(t, "mousemove", "--window", w.ID, strconv.Itoa(x), strconv.Itoa(y), "click", "1")
}

// Geometry is the window's place and size on the display.
func (w Window) Geometry(t testing.TB) (x, y, width, height int) {
	t.Helper()
	vals := map[string]int{}
	for _, line := range strings.Split(Xdo(t, "getwindowgeometry", "--shell", w.ID), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			vals[k], _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if vals["WIDTH"] == 0 || vals["HEIGHT"] == 0 {
		t.Fatalf("window %s has no size: %v", w.ID, vals)
	}
	return vals["X"], vals["Y"], vals["WIDTH"], vals["HEIGHT"]
}

// Screenshot saves the window as it is on the display to path (a PNG, with ImageMagick's
// import) and returns the image.
func (w Window) Screenshot(t testing.TB, path string) image.Image {
	t.Helper()
	Need(t, "import")
	x, y, wd, ht := w.Geometry(t)
	crop := fmt.Sprintf("%dx%d+%d+%d", wd, ht, x, y)
	if out, err := exec.Command("import", "-window", "root", "-crop", crop, path).CombinedOutput(); err != nil {
		t.Fatalf("screenshot: %v\n%s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot %s: %v", path, err)
	}
	return img
}
