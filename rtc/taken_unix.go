//go:build linux || darwin

package rtc

import (
	"net"
	"syscall"
)

// bytesTaken is how many bytes the peer of c has taken from it, as the kernel counts them
// (sockBytesTaken, per system): it moves while the client reads, and stops when its receive
// window closes.
func bytesTaken(c net.Conn) (uint64, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n uint64
	var serr error
	if err := raw.Control(func(fd uintptr) { n, serr = sockBytesTaken(int(fd)) }); err != nil || serr != nil {
		return 0, false
	}
	return n, true
}
