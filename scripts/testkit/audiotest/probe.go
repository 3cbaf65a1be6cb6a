package audiotest

import (
	"encoding/json"
	"os/exec"
	"testing"

	"podium/scripts/testkit"
)

// ProbeTags are the container tags ffprobe reads from a file (ID3 for an MP3: "title",
// "artist", TXXX frames by their description).
func ProbeTags(t testing.TB, path string) map[string]string {
	t.Helper()
	testkit.Need(t, "ffprobe")
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "format_tags", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var probe struct {
		Format struct {
			Tags map[string]string `json:"tags"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	return probe.Format.Tags
}
