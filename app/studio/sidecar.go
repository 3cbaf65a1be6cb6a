package studio

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// sidecarSuffix names the file beside an MP3 that remembers its upload across restarts.
const sidecarSuffix = ".studio"

// Sidecar is what the app keeps beside an MP3 about its studio copy (as JSON).
type Sidecar struct {
	Server  string    `json:"server"`
	Stream  string    `json:"stream"`
	Started time.Time `json:"started"`
	Body    string    `json:"body,omitempty"` // the body's upload URL
	Done    bool      `json:"done,omitempty"`
	Name    string    `json:"name,omitempty"` // the studio copy's name on the server
}

// SidecarPath is the sidecar of the recording at path.
func SidecarPath(path string) string { return path + sidecarSuffix }

// CutSidecar says whether name is a sidecar's and, if so, gives the name of its recording.
func CutSidecar(name string) (recording string, ok bool) {
	return strings.CutSuffix(name, sidecarSuffix)
}

// ReadSidecar reads the sidecar of the recording at path.
func ReadSidecar(path string) (Sidecar, error) {
	var s Sidecar
	b, err := os.ReadFile(SidecarPath(path))
	if err != nil {
		return s, err
	}
	return s, json.Unmarshal(b, &s)
}

// Pending lists the recordings in dir whose studio copy is not complete, oldest first.
func Pending(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		mp3Name, ok := CutSidecar(e.Name())
		if !ok {
			continue
		}
		p := filepath.Join(dir, mp3Name)
		if s, err := ReadSidecar(p); err == nil && !s.Done {
			if _, err := os.Stat(p); err == nil {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

func (u *Uploader) saveSidecar() error {
	b, _ := json.Marshal(u.side)
	tmp := SidecarPath(u.cfg.Path) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("studio sidecar: %w", err)
	}
	return os.Rename(tmp, SidecarPath(u.cfg.Path))
}
