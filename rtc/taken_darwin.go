package rtc

import "golang.org/x/sys/unix"

// sockBytesTaken is TCP_CONNECTION_INFO's tcpi_txbytes: what has been sent to the peer.
func sockBytesTaken(fd int) (uint64, error) {
	info, err := unix.GetsockoptTCPConnectionInfo(fd, unix.IPPROTO_TCP, unix.TCP_CONNECTION_INFO)
	if err != nil {
		return 0, err
	}
	return info.Txbytes, nil
}
