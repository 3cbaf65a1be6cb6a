package oserr

import (
	"syscall"

	"golang.org/x/sys/windows"
)

var (
	// ERROR_HANDLE_DISK_FULL is what a write to an open file says; ERROR_DISK_FULL what a
	// create or an extension says.
	diskFull    = []syscall.Errno{windows.ERROR_DISK_FULL, windows.ERROR_HANDLE_DISK_FULL}
	notWritable = []syscall.Errno{windows.ERROR_ACCESS_DENIED, windows.ERROR_WRITE_PROTECT}
)
