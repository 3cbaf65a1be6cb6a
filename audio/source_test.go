package audio_test

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"podium/audio"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
	"strings"
	"testing"
	"time"
)

func TestWAVSourceErrors(t *testing.T) {
	dir := t.TempDir()
	ring, _ := audio.NewRingBuffer(1024)
	notWAV := filepath.Join(dir, "notes.wav")
	os.WriteFile(notWAV, []byte("this is not a wav file at all, just text"), 0o644)
	rate := filepath.Join(dir, "16k.wav")
	f, _ := os.Create(rate)
	audio.WriteWAV(f, 16000, make([]int16, 1600))
	f.Close()
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing.wav"), "open input"},
		{notWAV, "notes.wav"},
		{rate, "16000 Hz"},
	} {
		_, err := audio.OpenWAVSource(tc.path, ring, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenWAVSource(%s) = %v, want an error saying %q", filepath.Base(tc.path), err, tc.want)
		}
	}
	cutPath := filepath.Join(dir, "cut.wav")
	audiotest.WriteWAV(t, cutPath, make([]int16, pcm.SampleRate))
	os.Truncate(cutPath, 44+2*1000)
	src, err := audio.OpenWAVSource(cutPath, ring, false)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		out := make([]int16, 512)
		for {
			select {
			case <-src.Done():
				return
			case <-ring.Wake():
				ring.Read(out)
			}
		}
	}()
	src.Start()
	select {
	case <-src.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a cut-short WAV source did not end")
	}
	if err := src.Close(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("cut-short WAV: %v, want io.ErrUnexpectedEOF", err)
	}
	if src.Samples() != 1000 {
		t.Errorf("cut-short WAV delivered %d samples, the file holds 1000", src.Samples())
	}
}

// A source that never started (the MP3 could not be created, say) closes without waiting.
func TestWAVSourceCloseUnstarted(t *testing.T) {
	ring, _ := audio.NewRingBuffer(1024)
	src, err := audio.OpenWAVSource(audiotest.Speech(t, false), ring, true)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- src.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close of an unstarted source hangs")
	}
}
