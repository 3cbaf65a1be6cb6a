// Package oserr tells kinds of file-system errors apart the same way on every platform:
// a full disk is ENOSPC on Linux and ERROR_DISK_FULL on Windows, and a comparison with
// syscall.ENOSPC alone never matches there (Windows' syscall.ENOSPC is an invented number no
// call returns), which the presenter must still read as "disk full". Each kind is one
// function; the errnos behind it are in oserr_unix.go and oserr_windows.go. (rtc tells its
// socket errors apart the same way, in sockerr_*.go.)
package oserr

import (
	"errors"
	"syscall"
)

// DiskFull says err is the disk, or the user's quota, running out.
func DiskFull(err error) bool { return isAny(err, diskFull) }

// NotWritable says err is a folder or file the user may not write, or a read-only disk.
func NotWritable(err error) bool { return isAny(err, notWritable) }

func isAny(err error, errnos []syscall.Errno) bool {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return false
	}
	for _, n := range errnos {
		if e == n {
			return true
		}
	}
	return false
}
