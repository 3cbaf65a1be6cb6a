package recordings

import (
	"testing"
	"time"

	"podium/audio/filename"
)

// Each talk is listed once: a studio copy joins its live recording, whose URL then serves it;
// a studio copy alone stands on its own; a live recording alone serves itself.
func TestWithStudioCopies(t *testing.T) {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.Local)
	name := func(stream string, studio bool) string {
		r, err := filename.NewRecording(stream, at)
		if err != nil {
			t.Fatal(err)
		}
		if studio {
			r = r.StudioCopy()
		}
		return r.File()
	}
	paired, pairedStudio := name("paired", false), name("paired", true)
	alone, lone := name("alone", false), name("lone", true)
	got := withStudioCopies([]File{
		{Name: paired, URL: "u-paired", Size: 1},
		{Name: pairedStudio, URL: "u-paired-studio", Size: 2},
		{Name: alone, URL: "u-alone", Size: 3},
		{Name: lone, URL: "u-lone", Size: 4},
	})
	if len(got) != 3 {
		t.Fatalf("%d files listed, want 3: %+v", len(got), got)
	}
	byName := map[string]File{}
	for _, f := range got {
		byName[f.Name] = f
	}
	if f := byName[paired]; f.Serves != "studio" || f.URL != "u-paired-studio" || f.LiveURL != "u-paired" ||
		f.Studio == nil || *f.Studio != (StudioCopy{Name: pairedStudio, URL: "u-paired-studio", Size: 2}) {
		t.Errorf("paired: %+v", f)
	}
	if f := byName[alone]; f.Serves != "live" || f.URL != "u-alone" || f.LiveURL != "" || f.Studio != nil {
		t.Errorf("alone: %+v", f)
	}
	if f := byName[lone]; f.Serves != "studio" || f.URL != "u-lone" || f.Studio == nil || f.Studio.Name != lone {
		t.Errorf("lone studio copy: %+v", f)
	}
}
