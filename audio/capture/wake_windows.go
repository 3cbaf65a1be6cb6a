package capture

/*
#include <stdint.h>
#include <windows.h>

void podium_wake(intptr_t ev) {
	SetEvent((HANDLE)ev); // neither blocks nor allocates; a set event is a wake already pending
}
*/
import "C"

import (
	"fmt"
	"sync/atomic"

	"golang.org/x/sys/windows"
)

// wake is how the C callback wakes the pump on Windows: an auto-reset event. The pump waits
// on it in WaitForSingleObject, one thread parked in the kernel between wakes.
type wake struct {
	ev      windows.Handle
	stopped atomic.Bool
}

// newWake returns the wake and the handle podium_wake is given (the event).
func newWake() (*wake, uintptr, error) {
	ev, err := windows.CreateEvent(nil, 0, 0, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("CreateEvent: %w", err)
	}
	return &wake{ev: ev}, uintptr(ev), nil
}

// wait returns true once the callback has woken it, false once stop was called.
func (w *wake) wait() bool {
	if _, err := windows.WaitForSingleObject(w.ev, windows.INFINITE); err != nil {
		// Only an invalid handle fails here, which would fail every time: stop rather
		// than spin.
		return false
	}
	return !w.stopped.Load()
}

// stop makes wait return false.
func (w *wake) stop() {
	w.stopped.Store(true)
	windows.SetEvent(w.ev)
}

// close frees the wake, once the pump has ended or if it never started.
func (w *wake) close() { windows.CloseHandle(w.ev) }
