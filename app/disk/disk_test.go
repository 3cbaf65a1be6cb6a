package disk

import (
	"testing"
	"time"
)

func TestRoom(t *testing.T) {
	for _, tc := range []struct {
		free uint64
		kbps int
		left time.Duration
		low  bool
		says string
	}{
		{free: 8 << 20, kbps: 64, left: 1048 * time.Second, low: false, says: "8.0 MB left, about 17m28s of recording"},
		{free: 4 << 20, kbps: 64, left: 524 * time.Second, low: true, says: "4.0 MB left, about 8m44s of recording"},
		{free: 3 << 30, kbps: 320, low: false, left: 80530 * time.Second, says: "3.0 GB left, about 22h22m10s of recording"},
		{free: 512 << 10, kbps: 128, low: true, left: 32 * time.Second, says: "512 KB left, about 32s of recording"},
	} {
		r := RoomFor(tc.free, tc.kbps)
		if r.Left != tc.left || r.Low() != tc.low || r.String() != tc.says {
			t.Errorf("RoomFor(%d, %d) = %v, low %v, %q; want %v, %v, %q", tc.free, tc.kbps, r.Left, r.Low(), r, tc.left, tc.low, tc.says)
		}
	}
	if RoomFor(0, 0).Low() {
		t.Error("with no bitrate the room was low")
	}
	if _, err := RoomIn(t.TempDir(), 64); err != nil {
		t.Errorf("RoomIn of a folder: %v", err)
	}
	if _, err := Free("/no/such/folder"); err == nil {
		t.Error("Free of a missing folder: no error")
	}
}
