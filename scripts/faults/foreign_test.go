//go:build linux

package faults

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
	"podium/scripts/testkit"
	"podium/scripts/testkit/audiotest"
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
	info, err := frames.ReadFileInfo(src)
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
	need, err := repair.Needed(own)
	if err != nil || need {
		t.Errorf("Podium's own interrupted recording was not repaired (needs repair %v, %v)", need, err)
	}
	if b, _ := os.ReadFile(own); bytes.Equal(b, ownData) {
		t.Errorf("Podium's own interrupted recording is unchanged")
	}
	scenario(t, "%d foreign MP3s that look interrupted (a bare tag, a zeroed first frame) beside Podium's own: podium record and podium-server left %d of them untouched and repaired Podium's",
		len(sums), len(sums)-touched)
}

// TestBucketTakesOnlyItsOwn: with recordings going to S3 and the local copies removed
// (--s3-remove-local), a folder that also holds another program's MP3s, named like Podium's:
// the server's own talk goes to the bucket and leaves the disk; the other files stay byte for
// byte, and none of them reaches the bucket.
func TestBucketTakesOnlyItsOwn(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	dir := t.TempDir()
	foreign := map[string][]byte{
		"talk 2026-01-01 09-00-00.mp3": bytes.Repeat([]byte("not podium's "), 1000),
		"notes.mp3":                    []byte("ID3 something else"),
	}
	for name, b := range foreign {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	srv := start(t, s3.Env(), "podium-server", "--listen", addr, "--dir", dir, "--token", "tok",
		"--s3-endpoint", s3.Endpoint, "--s3-bucket", s3.Bucket, "--s3-remove-local")
	srv.WaitLine(t, "WHIP on", 10*time.Second)
	speech := audiotest.Speech(t, false)
	pub := start(t, nil, "podium", "record", "--input", speech, "--duration", "3s", "--out", filepath.Join(t.TempDir(), "a.mp3"),
		"--server", "http://"+addr+"/whip/talk", "--token", "tok")
	waitExit(t, pub, 30*time.Second)
	srv.WaitLine(t, "in the bucket", 20*time.Second)
	time.Sleep(time.Second) // the studio copy, or anything else it might take
	objs := s3.Objects("")
	taken := 0
	for name := range foreign {
		if _, ok := objs[name]; ok {
			taken++
		}
	}
	changed := 0
	for name, b := range foreign {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || !bytes.Equal(got, b) {
			changed++
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*.mp3"))
	own := len(left) - len(foreign) // the server's own talk and studio copy: gone once uploaded
	if taken != 0 || changed != 0 || len(objs) == 0 || own != 0 {
		t.Errorf("bucket %v: %d foreign files taken, %d changed or removed, %d of the server's own left on disk", objs, taken, changed, own)
	}
	scenario(t, "bucket holds %d objects of the server's own; of %d foreign files %d uploaded, %d changed or removed; own talk left on disk: %d",
		len(objs), len(foreign), taken, changed, own)
}
