package ui

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// clock formats a duration as hh:mm:ss, the way the window shows elapsed time and lengths.
func clock(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int64(d / time.Second)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, (s/60)%60, s%60)
}

// lufsWords formats a loudness: "-16.2 LUFS".
func lufsWords(v float64) string { return fmt.Sprintf("%.1f LUFS", v) }

// date formats a recording's date: "Tue 24 Nov 2026, 14:03".
func date(t time.Time) string {
	if t.IsZero() {
		return "unknown date"
	}
	return t.Format("Mon 2 Jan 2006, 15:04")
}

// meterFloor is the quietest level the meter shows; anything below reads as empty.
const meterFloor = -60.0

// level maps dBFS to the meter's 0..1 scale.
func level(db float64) float32 {
	f := (db - meterFloor) / -meterFloor
	switch {
	case f < 0 || f != f:
		return 0
	case f > 1:
		return 1
	}
	return float32(f)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// tildeDir writes a folder under the home folder as ~/…, as people say it.
func tildeDir(dir string) string {
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		if rel, err := filepath.Rel(home, dir); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.Join("~", rel)
		}
	}
	return dir
}
