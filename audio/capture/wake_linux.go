package capture

/*
#include <stdint.h>
#include <unistd.h>

void podium_wake(intptr_t fd) {
	uint64_t one = 1;
	ssize_t rc = write((int)fd, &one, sizeof one);
	(void)rc; // EFD_NONBLOCK: a full eventfd counter is a wake already pending
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// wake is how the C callback wakes the pump on Linux: an eventfd, which the pump reads
// through Go's netpoller, so it sleeps without holding a thread.
type wake struct{ f *os.File }

// newWake returns the wake and the handle podium_wake is given (the eventfd).
func newWake() (*wake, uintptr, error) {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return nil, 0, fmt.Errorf("eventfd: %w", err)
	}
	return &wake{f: os.NewFile(uintptr(fd), "capture-wake")}, uintptr(fd), nil
}

// wait returns true once the callback has woken it, false once stop was called.
func (w *wake) wait() bool {
	var b [8]byte
	for {
		_, err := w.f.Read(b[:])
		if err == nil {
			return true
		}
		if errors.Is(err, os.ErrClosed) {
			return false
		}
		// EAGAIN is handled by the poller; anything else: read again
	}
}

// stop makes wait return false.
func (w *wake) stop() { w.f.Close() }

// close frees the wake, once the pump has ended or if it never started (stop has closed the
// eventfd already then: a second Close is harmless).
func (w *wake) close() { w.f.Close() }
