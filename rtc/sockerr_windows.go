package rtc

import (
	"errors"

	"golang.org/x/sys/windows"
)

// addrInUse says err is a port another socket holds (Windows' syscall.EADDRINUSE is an
// invented number no call returns).
func addrInUse(err error) bool { return errors.Is(err, windows.WSAEADDRINUSE) }

// addrNotAvailable says err is an address this computer does not have (yet: an IPv6 address
// still checking for duplicates).
func addrNotAvailable(err error) bool { return errors.Is(err, windows.WSAEADDRNOTAVAIL) }
