package faults

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/audiotest"
	"podium/audio/mp3"
)

// TestForeignFilesUntouched: the recordings folder also holds other programs' MP3s that look
// like what an interrupted Podium recording leaves (a file that is only an ID3 tag; one whose
// first frame is zero-filled, like LAME's header placeholder). podium record, and podium-server
// at start, repair and remove only files Podium wrote: every foreign file stays byte for byte,
// while Podium's own interrupted recording beside them is still repaired.
func TestForeignFilesUntouched(t *testing.T) {
	dir := t.TempDir()
	speech := audiotest.Speech(t, false)

	// A real recording to borrow audio from.
	src := filepath.Join(t.TempDir(), "src.mp3")
	if code := start(t, nil, "podium", "record", "--input", speech, "--duration", "2s", "--fast", "--out", src).Wait(t, time.Minute); code != 0 {
		t.Fatalf("podium record exited %d", code)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	info, err := mp3.ReadFileInfo(src)
	if err != nil {
		t.Fatal(err)
	}
	audioPart := data[info.ID3Size:]
	frameLen := 144 * info.Bitrate * 1000 / info.SampleRate

	// Another program's tag: ID3v2.4 with a title, no Podium mark.
	title := append([]byte{3}, "Someone else's song"...)
	frame := append([]byte("TIT2\x00\x00\x00"), byte(len(title)), 0, 0)
	frame = append(frame, title...)
	foreignTag := append([]byte("ID3\x04\x00\x00\x00\x00\x00"), byte(len(frame)))
	foreignTag = append(foreignTag, frame...)

	placeholder := append([]byte(nil), audioPart...)
	clear(placeholder[4:frameLen]) // the first frame as LAME's placeholder: header, then zeros
	foreign := map[string][]byte{
		"tag only.mp3":           foreignTag,
		"zeroed first frame.mp3": append(append([]byte(nil), foreignTag...), placeholder...),
	}
	// Podium's own interrupted recording: its tag, the placeholder frame, the audio.
	own := filepath.Join(dir, "interrupted.mp3")
	ownData := append(append([]byte(nil), data[:info.ID3Size]...), placeholder...)
	if err := os.WriteFile(own, ownData, 0o644); err != nil {
		t.Fatal(err)
	}
	sums := map[string][32]byte{}
	for name, b := range foreign {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		sums[name] = sha256.Sum256(b)
	}

	rec := start(t, nil, "podium", "record", "--input", speech, "--duration", "1s", "--fast", "--out", filepath.Join(dir, "new.mp3"))
	if code := rec.Wait(t, time.Minute); code != 0 {
		t.Fatalf("podium record exited %d", code)
	}
	srv := start(t, nil, "podium-server", "--listen", "127.0.0.1:0", "--dir", dir, "--token", "tok")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	stopServer(t, srv)

	touched := 0
	for name, want := range sums {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || sha256.Sum256(b) != want {
			touched++
			t.Errorf("%s: changed or removed (%d bytes now, %d before; %v)", name, len(b), len(foreign[name]), err)
		}
	}
	need, err := mp3.NeedsRepair(own)
	if err != nil || need {
		t.Errorf("Podium's own interrupted recording was not repaired (needs repair %v, %v)", need, err)
	}
	if b, _ := os.ReadFile(own); bytes.Equal(b, ownData) {
		t.Errorf("Podium's own interrupted recording is unchanged")
	}
	scenario(t, "%d foreign MP3s that look interrupted (a bare tag, a zeroed first frame) beside Podium's own: podium record and podium-server left %d of them untouched and repaired Podium's",
		len(sums), len(sums)-touched)
}
