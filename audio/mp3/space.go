package mp3

import (
	"fmt"
	"time"
)

// LowDiskMinutes: below this much recording time left on the disk, the presenter (or the
// server's operator) is warned while there is still time to act.
const LowDiskMinutes = 10

// FreeSpace is the space left for an unprivileged writer on dir's filesystem (the user's
// quota counted on Windows).
func FreeSpace(dir string) (uint64, error) {
	free, err := freeSpace(dir)
	if err != nil {
		return 0, fmt.Errorf("free space of %q: %w", dir, err)
	}
	return free, nil
}

// LowDiskWarning returns a warning in words when dir has room for less than ten minutes
// of recording at kbps, and "" otherwise (or when it cannot tell).
func LowDiskWarning(dir string, kbps int) string {
	free, err := FreeSpace(dir)
	if err != nil {
		return ""
	}
	return LowSpaceWarning(free, kbps)
}

// LowSpaceWarning is LowDiskWarning for free bytes already measured.
func LowSpaceWarning(free uint64, kbps int) string {
	if kbps <= 0 {
		return ""
	}
	left := time.Duration(free*8/uint64(kbps)/1000) * time.Second
	if left >= LowDiskMinutes*time.Minute {
		return ""
	}
	return fmt.Sprintf("Disk almost full: %s left, about %s of recording", humanBytes(free), left.Round(time.Second))
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
