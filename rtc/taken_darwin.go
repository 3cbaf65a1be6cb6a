package rtc

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// bytesTaken is how many bytes c has sent its peer (TCP_CONNECTION_INFO's tcpi_txbytes):
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
	var info *unix.TCPConnectionInfo
	var ierr error
	if err := raw.Control(func(fd uintptr) {
		info, ierr = unix.GetsockoptTCPConnectionInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_CONNECTION_INFO)
	}); err != nil || ierr != nil {
		return 0, false
	}
	return info.Txbytes, true
}
