//go:build unix

package oserr

import "syscall"

var (
	diskFull    = []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT}
	notWritable = []syscall.Errno{syscall.EACCES, syscall.EROFS}
)
