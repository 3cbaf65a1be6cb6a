package recorder_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"podium/app/disk"
	"podium/app/recorder"
	"podium/audio"
	"podium/audio/id3"
	"podium/audio/pcm"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
)

// packets encodes d (whole frames) of a 440 Hz tone as the publisher's Opus packets.
func packets(t *testing.T, d time.Duration) [][]byte {
	t.Helper()
	enc, err := audio.NewOpusEncoder(0)
	if err != nil {
		t.Fatal(err)
	}
	tone := audiotest.Tone(d, 440, 8000)
	var out [][]byte
	for i := 0; i+pcm.FrameSamples <= len(tone); i += pcm.FrameSamples {
		p, err := enc.Encode(tone[i : i+pcm.FrameSamples])
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), p...))
	}
	return out
}

// Each stream becomes an MP3 named after it and its start, never overwriting an earlier
// one; a lost packet is concealed and counted; a session without packets leaves no file.
func TestRecorderWritesOneMP3PerStream(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "recordings")
	stats := &recorder.Stats{}
	record := recorder.New(dir, 64, stats)
	start := time.Date(2026, 5, 1, 9, 30, 0, 0, time.Local)
	pkts := packets(t, 2*time.Second)
	var paths []string
	for range 2 {
		sink, err := record("talk", start)
		if err != nil {
			t.Fatal(err)
		}
		for i, p := range pkts {
			if i == 10 {
				continue // lost on the way
			}
			if err := sink.WritePacket(int64(i*pcm.FrameSamples), p); err != nil {
				t.Fatal(err)
			}
		}
		if err := sink.Close(); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, sink.(interface{ Name() string }).Name())
	}
	want := []string{"talk 2026-05-01 09-30-00.mp3", "talk 2026-05-01 09-30-00 (2).mp3"}
	for i, p := range paths {
		if filepath.Base(p) != want[i] {
			t.Errorf("recording %d is %q, want %q", i, filepath.Base(p), want[i])
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		tags, _, err := id3.Read(f)
		f.Close()
		if err != nil || tags.Title != "talk" || !tags.Date.Equal(start) {
			t.Errorf("%s: tags %+v (%v), want the stream and its start", p, tags, err)
		}
		if got := audiotest.Decode(t, p); len(got) != len(pkts)*pcm.FrameSamples {
			t.Errorf("%s: %d samples, want %d", p, len(got), len(pkts)*pcm.FrameSamples)
		}
	}

	empty, err := record("silent", start)
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(empty.(interface{ Name() string }).Name()); !os.IsNotExist(err) {
		t.Errorf("a session without packets left a file (%v)", err)
	}

	m := testkit.Exposition(t, stats.Collectors()...)
	for _, line := range []string{
		"# TYPE podium_recordings_total counter\npodium_recordings_total 3\n",
		"# TYPE podium_concealed_seconds_total counter\npodium_concealed_seconds_total 0.04\n",
		"# TYPE podium_corrupt_packets_total counter\npodium_corrupt_packets_total 0\n",
		"# HELP podium_mp3_encode_seconds_total Time spent decoding Opus and encoding MP3.\n",
	} {
		if !strings.Contains(m, line) {
			t.Errorf("metrics lack %q:\n%s", line, m)
		}
	}
	if stats.EncodeNanos.Load() <= 0 {
		t.Error("no encoding time counted")
	}
}

// WatchSpace keeps podium_disk_free_bytes current on its own clock and warns once when the
// room would not last ten minutes.
func TestWatchSpace(t *testing.T) {
	dir := t.TempDir()
	stats := &recorder.Stats{}
	if m := testkit.Exposition(t, stats.Collectors()...); strings.Contains(m, "podium_disk_free_bytes") {
		t.Errorf("a free-space gauge before anything measured it:\n%s", m)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var logged []string
	// At an absurd bitrate no disk lasts ten minutes.
	stats.WatchSpace(ctx, dir, 1<<50, 10*time.Millisecond, func(f string, a ...any) {
		mu.Lock()
		logged = append(logged, fmt.Sprintf(f, a...))
		mu.Unlock()
	})
	metrics := testkit.ParseMetrics(strings.NewReader(testkit.Exposition(t, stats.Collectors()...)))
	if free, err := disk.Free(dir); err != nil || metrics["podium_disk_free_bytes"] <= 0 || metrics["podium_disk_free_bytes"] > float64(free)*2 {
		t.Errorf("podium_disk_free_bytes %v, statfs says %d (%v)", metrics["podium_disk_free_bytes"], free, err)
	}
	time.Sleep(100 * time.Millisecond) // several more looks: still one warning
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 1 || !strings.HasPrefix(logged[0], "Disk almost full") {
		t.Errorf("logged %q, want one low-space warning", logged)
	}
}
