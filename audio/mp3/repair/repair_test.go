package repair_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// A recording whose writer died (the process killed before Close) is found, repaired from
// the frames present, and then decodes to what was written, with a header that agrees.
func TestRepairInterruptedMP3(t *testing.T) {
	in := audiotest.ReadWAV(t, audiotest.Speech(t, false))[:5*pcm.SampleRate]
	dir := t.TempDir()
	path := filepath.Join(dir, "crash.mp3")
	w, err := mp3.Create(path, mp3.Options{Tags: id3.Tags{Title: "Crash course"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(in); err != nil {
		t.Fatal(err)
	}
	// What a kill -9 leaves: everything LAME has emitted so far is on disk, no Close ran.
	// Copy the file as it stands, then tear its last frame as a crash mid-write would.
	raw, _ := os.ReadFile(path)
	w.Close()
	torn := filepath.Join(dir, "torn.mp3")
	os.WriteFile(torn, raw[:len(raw)-50], 0o644)

	need, err := repair.Needed(torn)
	if err != nil || !need {
		t.Fatalf("Needed(interrupted) = %v, %v", need, err)
	}
	if need, err := repair.Needed(path); err != nil || need {
		t.Fatalf("Needed(finished) = %v, %v", need, err)
	}
	info, err := repair.File(torn)
	if err != nil {
		t.Fatal(err)
	}
	got := audiotest.Decode(t, torn)
	if info.Samples() != int64(len(got)) {
		t.Errorf("repaired header promises %d samples, decoder gave %d", info.Samples(), len(got))
	}
	// All but the last ~100 ms (LAME's lookahead plus the torn frame) survive.
	if len(got) < len(in)-pcm.SampleRate/5 || len(got) > len(in) {
		t.Errorf("repaired file decodes to %d samples of %d written", len(got), len(in))
	}
	if c, lag, _ := audiotest.Correlate(in, got, 2000); c < 0.95 || lag != 0 {
		t.Errorf("repaired audio correlates %.3f at lag %d", c, lag)
	}
	f, _ := os.Open(torn)
	tags, _, err := id3.Read(f)
	f.Close()
	if err != nil || tags.Title != "Crash course" || tags.Comment != repair.RecoveredComment {
		t.Errorf("tags after repair: %+v, %v", tags, err)
	}
	if want := time.Duration(len(got)) * time.Second / pcm.SampleRate; tags.Length < want-30*time.Millisecond || tags.Length > want+30*time.Millisecond {
		t.Errorf("tag length %v, audio %v", tags.Length, want)
	}
	if probe := audiotest.ProbeDuration(t, torn); probe < 4500*time.Millisecond {
		t.Errorf("ffprobe reads %v from the repaired header", probe)
	}
	if need, _ := repair.Needed(torn); need {
		t.Error("still needs repair after Repair")
	}
	if _, err := repair.File(path); err == nil {
		t.Error("Repair of a finished file: no error")
	}
}

// Files that carry Podium's mark and look interrupted but whose lengths do not add up (frames
// too short for a header, as MPEG-2 and 2.5 have at their lowest bitrates; more than a torn
// frame after the last whole one) are refused before anything is written: same bytes, same
// modification time, and an error that says why. Those whose lengths do add up are repaired
// to a header that counts their frames.
func TestRepairChecksEveryLength(t *testing.T) {
	junk := make([]byte, 5000)
	for i := range junk {
		junk[i] = 0x55
	}
	cases := []struct {
		name     string
		hdr      [4]byte
		frameLen int
		tail     []byte // after the whole frames
		refused  string // what the error says, "" if it is repaired
	}{
		{"MPEG-2 24 kHz 8 kb/s", audiotest.TinyFrameHeader, audiotest.TinyFrameLen, nil, "too short to hold a header"},
		{"MPEG-2 16 kHz 8 kb/s mono", [4]byte{0xFF, 0xF3, 0x18, 0xC0}, 36, nil, "too short to hold a header"},
		{"MPEG-2.5 11 kHz 8 kb/s", [4]byte{0xFF, 0xE3, 0x10, 0x00}, 52, nil, "too short to hold a header"},
		{"MPEG-2.5 8 kHz 8 kb/s", [4]byte{0xFF, 0xE3, 0x18, 0x00}, 72, nil, ""},
		{"MPEG-2 24 kHz 32 kb/s, torn last frame", [4]byte{0xFF, 0xF3, 0x44, 0x00}, 96, []byte{0xFF, 0xF3, 0x44, 0x00, 1, 2, 3}, ""},
		{"MPEG-2 24 kHz 32 kb/s, zeros after", [4]byte{0xFF, 0xF3, 0x44, 0x00}, 96, make([]byte, 9000), ""},
		{"MPEG-2 24 kHz 32 kb/s, data after", [4]byte{0xFF, 0xF3, 0x44, 0x00}, 96, junk, "more than a torn frame"},
	}
	const frames = 300
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			whole := audiotest.InterruptedMP3(t, tc.hdr, tc.frameLen, frames)
			data := append(append([]byte(nil), whole...), tc.tail...)
			path := filepath.Join(t.TempDir(), "x.mp3")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(path, old, old); err != nil {
				t.Fatal(err)
			}
			info, err := repair.File(path)
			after, _ := os.ReadFile(path)
			st, _ := os.Stat(path)
			if tc.refused != "" {
				if !errors.Is(err, repair.ErrLeftAsItWas) || !strings.Contains(err.Error(), tc.refused) {
					t.Errorf("Repair: %v, want it refused because %q", err, tc.refused)
				}
				if !bytes.Equal(after, data) || !st.ModTime().Equal(old) {
					t.Errorf("refused file changed: %d bytes of %d, modified %v", len(after), len(data), st.ModTime())
				}
				return
			}
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if !info.HasXing || info.Frames != frames || len(after) != len(whole) {
				t.Errorf("repaired: %+v, %d bytes (want %d frames, %d bytes)", info, len(after), frames, len(whole))
			}
			if need, err := repair.Needed(path); err != nil || need {
				t.Errorf("Needed after File: %v, %v", need, err)
			}
		})
	}
}

// FuzzRepair: Repair of any bytes behind a tag carrying Podium's mark (so it gets past the
// mark check and really reads them) never panics, and either gives a file whose header
// ReadInfo reads back as describing the frames it counted, or leaves the file byte for byte
// and with its modification time, saying why.
func FuzzRepair(f *testing.F) {
	tag, err := id3.Encode(id3.Tags{Title: "Fuzz"}, 1024)
	if err != nil {
		f.Fatal(err)
	}
	// A real interrupted recording (LAME's own frames, torn at the end), then crafted ones.
	dir := f.TempDir()
	path := filepath.Join(dir, "real.mp3")
	w, err := mp3.Create(path, mp3.Options{Bitrate: 64})
	if err != nil {
		f.Fatal(err)
	}
	if err := w.WriteSamples(audiotest.Tone(300*time.Millisecond, 440, 8000)); err != nil {
		f.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	w.Close()
	info, err := frames.ReadFileInfo(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw[info.ID3Size : len(raw)-30])
	for _, c := range []struct {
		hdr      [4]byte
		frameLen int
	}{
		{audiotest.TinyFrameHeader, audiotest.TinyFrameLen},
		{[4]byte{0xFF, 0xE3, 0x10, 0x00}, 52},
		{[4]byte{0xFF, 0xE3, 0x18, 0x00}, 72},
		{[4]byte{0xFF, 0xF3, 0x44, 0x00}, 96},
	} {
		f.Add(audiotest.InterruptedMP3(f, c.hdr, c.frameLen, 8)[1024:])
	}
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	path = filepath.Join(dir, "x.mp3") // a worker runs one input at a time: one file will do
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append(append([]byte(nil), tag...), body...)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, old, old); err != nil {
			t.Fatal(err)
		}
		info, err := repair.File(path)
		if err != nil {
			after, _ := os.ReadFile(path)
			st, _ := os.Stat(path)
			if !errors.Is(err, repair.ErrLeftAsItWas) || !bytes.Equal(after, data) || !st.ModTime().Equal(old) {
				t.Fatalf("Repair failed (%v) and changed the file: %d bytes of %d, modified %v", err, len(after), len(data), st.ModTime())
			}
			return
		}
		got, err := frames.ReadFileInfo(path)
		if err != nil || !got.HasXing || got.Frames != info.Frames {
			t.Fatalf("repaired file reads %+v, %v; Repair said %+v", got, err, info)
		}
		if need, err := repair.Needed(path); err != nil || need {
			t.Fatalf("repaired file still needs repair: %v, %v", need, err)
		}
	})
}
