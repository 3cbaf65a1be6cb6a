package capture

/*
#include <stdint.h>
#include <unistd.h>

void podium_wake(intptr_t fd) {
	char one = 1;
	ssize_t rc = write((int)fd, &one, 1);
	(void)rc; // O_NONBLOCK: a full pipe is a wake already pending
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// wake is how the C callback wakes the pump on macOS, which has no eventfd: a pipe, whose
// read end the pump reads through Go's netpoller (kqueue). Untested: macOS cannot be built
// here.
type wake struct {
	r  *os.File
	wr int // the write end, podium_wake's
}

// newWake returns the wake and the handle podium_wake is given (the pipe's write end).
func newWake() (*wake, uintptr, error) {
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		return nil, 0, fmt.Errorf("pipe: %w", err)
	}
	for _, fd := range p {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			unix.Close(p[0])
			unix.Close(p[1])
			return nil, 0, fmt.Errorf("pipe: %w", err)
		}
	}
	return &wake{r: os.NewFile(uintptr(p[0]), "capture-wake"), wr: p[1]}, uintptr(p[1]), nil
}

// wait returns true once the callback has woken it, false once stop was called.
func (w *wake) wait() bool {
	var b [64]byte // every wake pending at once, in one read
	for {
		_, err := w.r.Read(b[:])
		if err == nil {
			return true
		}
		if errors.Is(err, os.ErrClosed) {
			return false
		}
	}
}

// stop makes wait return false.
func (w *wake) stop() { w.r.Close() }

// close frees the wake, once the pump has ended or if it never started.
func (w *wake) close() {
	w.r.Close()
	unix.Close(w.wr)
}
