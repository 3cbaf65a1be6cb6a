package mp3_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/mp3/frames"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// recordWAV runs the WAV file through the same ring, pipeline and MP3 writer the microphone
// uses, as fast as it goes, and returns the MP3's path.
func recordWAV(t *testing.T, wav string, opt mp3.Options, others ...audio.FrameSink) string {
	t.Helper()
	ring, err := audio.NewRingBuffer(pcm.SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	src, err := audio.OpenWAVSource(wav, ring, false)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "talk.mp3")
	w, err := mp3.Create(out, opt)
	if err != nil {
		t.Fatal(err)
	}
	p := audio.NewPipeline(ring, w, others...)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run() }()
	src.Start()
	select {
	case <-src.Done():
	case <-time.After(time.Minute):
		t.Fatalf("an unpaced source took over a minute on %s", wav)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if ring.Dropped() != 0 {
		t.Errorf("ring dropped %d samples from an unpaced source", ring.Dropped())
	}
	return out
}

func TestMP3FromWAV(t *testing.T) {
	wav := audiotest.Speech(t, false)
	in := audiotest.ReadWAV(t, wav)
	date := time.Date(2026, 11, 25, 9, 30, 0, 0, time.Local)
	for _, kbps := range []int{64, 128} {
		t.Run(fmt.Sprintf("%dkbps", kbps), func(t *testing.T) {
			meter := audio.NewLevelMeter()
			out := recordWAV(t, wav, mp3.Options{Bitrate: kbps, Tags: id3.Tags{
				Title: "Sound on stage", Presenter: "Zoë Ångström", Date: date}}, meter)
			got := audiotest.Decode(t, out)

			// The Xing/LAME header makes decoders trim LAME's delay and padding: the decoded
			// length is the input's, exactly.
			if len(got) != len(in) {
				t.Errorf("decoded %d samples, input has %d (%.3f%%)", len(got), len(in),
					100*math.Abs(float64(len(got)-len(in)))/float64(len(in)))
			}
			corr, lag, _ := audiotest.Correlate(in, got, pcm.SampleRate/10)
			if corr < 0.95 || lag != 0 {
				t.Errorf("correlation %.4f at lag %d, want ≥ 0.95 at 0", corr, lag)
			}

			info, err := frames.ReadFileInfo(out)
			if err != nil {
				t.Fatal(err)
			}
			if !info.HasXing || info.SampleRate != pcm.SampleRate || info.Channels != 1 || info.Bitrate != kbps {
				t.Errorf("header %+v: want Xing/Info, 48000 Hz mono %d kbps", info, kbps)
			}
			if info.Samples() != int64(len(got)) {
				t.Errorf("header promises %d samples, decoder gave %d", info.Samples(), len(got))
			}
			// ffprobe (5.1) reads the duration from the Xing frame count alone, without LAME's
			// delay and padding: it must agree with the header, which agrees with the decoded audio (Samples above).
			probe := audiotest.ProbeDuration(t, out)
			want := time.Duration(len(got)) * time.Second / pcm.SampleRate
			fromHeader := time.Duration(info.Frames) * 1152 * time.Second / pcm.SampleRate
			if d := probe - fromHeader; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("ffprobe says %v, the Xing header %d frames = %v", probe, info.Frames, fromHeader)
			}

			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			tags, size, err := id3.Read(f)
			if err != nil {
				t.Fatal(err)
			}
			if size != info.ID3Size || tags.Title != "Sound on stage" || tags.Presenter != "Zoë Ångström" ||
				!tags.Date.Equal(date) || tags.Length.Round(time.Millisecond) != want.Round(time.Millisecond) {
				t.Errorf("tags %+v (size %d, audio at %d), want the ones written and length %v", tags, size, info.ID3Size, want)
			}
			if meter.Frames() != uint64((len(in)+pcm.FrameSamples-1)/pcm.FrameSamples) {
				t.Errorf("meter saw %d frames for %d samples", meter.Frames(), len(in))
			}
		})
	}
}

// Writes of any length, odd ones included (go-lame panics or aliases on partial samples if
// they reach it), add up to exactly the samples given.
func TestMP3OddWriteLengths(t *testing.T) {
	out := filepath.Join(t.TempDir(), "odd.mp3")
	w, err := mp3.Create(out, mp3.Options{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	buf := audiotest.Tone(150*time.Millisecond, 440, 8000) // longer than the longest write
	for _, n := range []int{1, 7, 959, 961, 0, 4799, 4800, 4801, 6999, 3, 1151} {
		if err := w.WriteSamples(buf[:n]); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	if w.Samples() != int64(total) {
		t.Errorf("Samples() = %d, wrote %d", w.Samples(), total)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(buf[:10]); err == nil {
		t.Error("write after Close: no error")
	}
	if got := audiotest.Decode(t, out); len(got) != total {
		t.Errorf("decoded %d samples, wrote %d", len(got), total)
	}
}

func TestMP3BadOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
		opt        mp3.Options
		want       string
	}{
		{"low bitrate", filepath.Join(dir, "a.mp3"), mp3.Options{Bitrate: 32}, "bitrate 32 kbps"},
		{"odd bitrate", filepath.Join(dir, "b.mp3"), mp3.Options{Bitrate: 100}, "bitrate 100 kbps"},
		{"missing folder", filepath.Join(dir, "no", "such", "c.mp3"), mp3.Options{}, "create recording"},
		{"folder as file", dir, mp3.Options{}, "create recording"},
		{"tiny tag", filepath.Join(dir, "d.mp3"), mp3.Options{TagSize: 100}, "tag size 100"},
		{"huge tag", filepath.Join(dir, "e.mp3"), mp3.Options{TagSize: 2 << 20}, "tag size 2097152"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := mp3.Create(tc.path, tc.opt)
			if err == nil {
				w.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed creates left files behind: %v", entries)
	}
}

// CreateNew never overwrites: a taken name gets " (2)", " (3)"…, an untitled recording is
// titled by the name it got, and a name taken by something other than a file is skipped too.
func TestCreateNewNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	const name = "Talk 2026-05-01.mp3"
	if err := os.WriteFile(filepath.Join(dir, name), []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "Talk 2026-05-01 (2).mp3"), 0o755); err != nil {
		t.Fatal(err)
	}
	var got []string
	for range 2 {
		w, err := mp3.CreateNew(dir, name, mp3.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteSamples(make([]int16, 4800)); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		got = append(got, filepath.Base(w.Path()))
		f, err := os.Open(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		tags, _, err := id3.Read(f)
		f.Close()
		if want := strings.TrimSuffix(filepath.Base(w.Path()), ".mp3"); err != nil || tags.Title != want {
			t.Errorf("%s: title %q (%v), want %q", w.Path(), tags.Title, err, want)
		}
	}
	if want := []string{"Talk 2026-05-01 (3).mp3", "Talk 2026-05-01 (4).mp3"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("CreateNew made %q, want %q", got, want)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, name)); string(b) != "keep me" {
		t.Errorf("the existing file was overwritten: %q", b)
	}
	w, err := mp3.CreateNew(dir, "Titled.mp3", mp3.Options{Tags: id3.Tags{Title: "Given title"}})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	f, _ := os.Open(w.Path())
	defer f.Close()
	if tags, _, _ := id3.Read(f); tags.Title != "Given title" {
		t.Errorf("title %q, want the one given", tags.Title)
	}
	if _, err := mp3.CreateNew(filepath.Join(dir, "missing"), name, mp3.Options{}); err == nil || !strings.Contains(err.Error(), "create recording") {
		t.Errorf("CreateNew in a missing folder = %v, want a create error", err)
	}
}
