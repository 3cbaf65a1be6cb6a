package rtc

import "golang.org/x/sys/unix"

// sockBytesTaken is TCP_INFO's tcpi_bytes_acked: what the peer has acknowledged.
func sockBytesTaken(fd int) (uint64, error) {
	info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		return 0, err
	}
	return info.Bytes_acked, nil
}
