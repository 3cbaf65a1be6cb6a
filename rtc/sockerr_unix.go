//go:build unix

package rtc

import (
	"errors"
	"syscall"
)

// addrInUse says err is a port another socket holds.
func addrInUse(err error) bool { return errors.Is(err, syscall.EADDRINUSE) }

// addrNotAvailable says err is an address this computer does not have (yet: an IPv6 address
// still checking for duplicates).
func addrNotAvailable(err error) bool { return errors.Is(err, syscall.EADDRNOTAVAIL) }
