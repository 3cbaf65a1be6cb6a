package rtc

import (
	"net"
	"testing"
)

// A port taken by a real socket is told apart through the wrapping net and os add.
func TestAddrInUseFromARealSocket(t *testing.T) {
	a, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	_, err = net.ListenUDP("udp", a.LocalAddr().(*net.UDPAddr))
	if err == nil {
		t.Fatal("a second socket on a taken port was allowed")
	}
	if !addrInUse(err) || addrNotAvailable(err) {
		t.Fatalf("%v: addrInUse %v, addrNotAvailable %v", err, addrInUse(err), addrNotAvailable(err))
	}
	if addrInUse(nil) || addrNotAvailable(nil) {
		t.Fatal("nil is an error of a kind")
	}
}
