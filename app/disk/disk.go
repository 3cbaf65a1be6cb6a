// Package disk measures the room left for recordings: the free space of a folder's
// filesystem (the user's quota counted on Windows), and how long a recording at a bitrate
// lasts in it. The words for a presenter or an operator are their callers'.
package disk

import (
	"fmt"
	"math"
	"time"
)

// LowMinutes: below this much recording time left on the disk, the presenter (or the
// server's operator) is warned while there is still time to act.
const LowMinutes = 10

// Free is the space left for an unprivileged writer on dir's filesystem (the user's quota
// counted on Windows).
func Free(dir string) (uint64, error) {
	free, err := freeSpace(dir)
	if err != nil {
		return 0, fmt.Errorf("free space of %q: %w", dir, err)
	}
	return free, nil
}

// Room is the space left on a disk and how long a recording lasts in it.
type Room struct {
	Free uint64        // bytes
	Left time.Duration // of recording at the bitrate it was measured for
}

// RoomFor is the room free bytes give a recording at kbps; with no bitrate (kbps ≤ 0) the
// room is never low.
func RoomFor(free uint64, kbps int) Room {
	if kbps <= 0 {
		return Room{Free: free, Left: math.MaxInt64}
	}
	return Room{Free: free, Left: time.Duration(free*8/uint64(kbps)/1000) * time.Second}
}

// RoomIn measures dir's free space and the room it gives a recording at kbps.
func RoomIn(dir string, kbps int) (Room, error) {
	free, err := Free(dir)
	if err != nil {
		return Room{}, err
	}
	return RoomFor(free, kbps), nil
}

// Low says the room lasts less than LowMinutes.
func (r Room) Low() bool { return r.Left < LowMinutes*time.Minute }

// String is the room in units a reader takes in at a glance: "1.2 GB left, about 3m0s of
// recording".
func (r Room) String() string {
	return fmt.Sprintf("%s left, about %s of recording", humanBytes(r.Free), r.Left.Round(time.Second))
}

func humanBytes(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KB", n/1024)
}
