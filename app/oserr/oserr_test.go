package oserr

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestKindsThroughWrapping(t *testing.T) {
	for _, c := range []struct {
		name string
		kind func(error) bool
		errs []error // each must be of the kind
	}{
		{"DiskFull", DiskFull, diskFullErrs()},
		{"NotWritable", NotWritable, notWritableErrs()},
	} {
		for _, e := range c.errs {
			wrapped := fmt.Errorf("context: %w", &os.PathError{Op: "write", Path: "x", Err: e})
			if !c.kind(wrapped) {
				t.Errorf("%s(%v) = false", c.name, wrapped)
			}
		}
		for _, e := range []error{nil, os.ErrNotExist, fmt.Errorf("plain")} {
			if c.kind(e) {
				t.Errorf("%s(%v) = true", c.name, e)
			}
		}
	}
}

func diskFullErrs() []error    { return errs(diskFull) }
func notWritableErrs() []error { return errs(notWritable) }

func errs(ns []syscall.Errno) []error {
	out := make([]error, len(ns))
	for i, n := range ns {
		out[i] = n
	}
	return out
}
