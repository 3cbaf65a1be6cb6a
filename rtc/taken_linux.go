package rtc

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// bytesTaken is how many bytes the peer of c has acknowledged (TCP_INFO's tcpi_bytes_acked):
// it moves while the client reads, and stops when its receive window closes.
func bytesTaken(c net.Conn) (uint64, bool) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0, false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var info *unix.TCPInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}); err != nil || ierr != nil {
		return 0, false
	}
	return info.Bytes_acked, true
}
