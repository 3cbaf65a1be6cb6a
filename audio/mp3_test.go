package audio_test

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"podium/audio"
	"podium/audio/audiotest"
)

// recordWAV runs the WAV file through the same ring, pipeline and MP3 writer the microphone
// uses, as fast as it goes, and returns the MP3's path.
func recordWAV(t *testing.T, wav string, opt audio.MP3Options, others ...audio.FrameSink) string {
	t.Helper()
	ring, err := audio.NewRingBuffer(audio.SampleRate)
	if err != nil {
		t.Fatal(err)
	}
	src, err := audio.OpenWAVSource(wav, ring, false)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "talk.mp3")
	mp3, err := audio.CreateMP3(out, opt)
	if err != nil {
		t.Fatal(err)
	}
	p := audio.NewPipeline(ring, mp3, others...)
	runErr := make(chan error, 1)
	go func() { runErr <- p.Run() }()
	src.Start()
	<-src.Done()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	p.Stop()
	if err := <-runErr; err != nil {
		t.Fatal(err)
	}
	if err := mp3.Close(); err != nil {
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
			out := recordWAV(t, wav, audio.MP3Options{Bitrate: kbps, Tags: audio.Tags{
				Title: "Sound on stage", Presenter: "Zoë Ångström", Date: date}}, meter)
			got := audiotest.DecodeMP3(t, out)

			// The Xing/LAME header makes decoders trim LAME's delay and padding: the decoded
			// length is the input's, exactly.
			if len(got) != len(in) {
				t.Errorf("decoded %d samples, input has %d (%.3f%%)", len(got), len(in),
					100*math.Abs(float64(len(got)-len(in)))/float64(len(in)))
			}
			corr, lag, _ := audiotest.Correlate(in, got, audio.SampleRate/10)
			if corr < 0.95 || lag != 0 {
				t.Errorf("correlation %.4f at lag %d, want ≥ 0.95 at 0", corr, lag)
			}

			f, err := os.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			info, err := audio.ReadMP3Info(f)
			if err != nil {
				t.Fatal(err)
			}
			if !info.HasXing || info.SampleRate != audio.SampleRate || info.Channels != 1 || info.Bitrate != kbps {
				t.Errorf("header %+v: want Xing/Info, 48000 Hz mono %d kbps", info, kbps)
			}
			if info.Samples() != int64(len(got)) {
				t.Errorf("header promises %d samples, decoder gave %d", info.Samples(), len(got))
			}
			// ffprobe (5.1) reads the duration from the Xing frame count alone, without LAME's
			// delay and padding: it must agree with the header, which agrees with the decoded audio (Samples above).
			probe := audiotest.ProbeDuration(t, out)
			want := time.Duration(len(got)) * time.Second / audio.SampleRate
			fromHeader := time.Duration(info.Frames) * 1152 * time.Second / audio.SampleRate
			if d := probe - fromHeader; d < -time.Millisecond || d > time.Millisecond {
				t.Errorf("ffprobe says %v, the Xing header %d frames = %v", probe, info.Frames, fromHeader)
			}

			f.Seek(0, 0)
			tags, size, err := audio.ReadID3(f)
			if err != nil {
				t.Fatal(err)
			}
			if size != info.ID3Size || tags.Title != "Sound on stage" || tags.Presenter != "Zoë Ångström" ||
				!tags.Date.Equal(date) || tags.Length.Round(time.Millisecond) != want.Round(time.Millisecond) {
				t.Errorf("tags %+v (size %d, audio at %d), want the ones written and length %v", tags, size, info.ID3Size, want)
			}
			if meter.Frames() != uint64((len(in)+audio.FrameSamples-1)/audio.FrameSamples) {
				t.Errorf("meter saw %d frames for %d samples", meter.Frames(), len(in))
			}
		})
	}
}

// Writes of any length, odd ones included (go-lame panics or aliases on partial samples if
// they reach it), add up to exactly the samples given.
func TestMP3OddWriteLengths(t *testing.T) {
	out := filepath.Join(t.TempDir(), "odd.mp3")
	w, err := audio.CreateMP3(out, audio.MP3Options{})
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	buf := make([]int16, 7000)
	for i := range buf {
		buf[i] = int16(8000 * math.Sin(float64(i)*2*math.Pi*440/audio.SampleRate))
	}
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
	if got := audiotest.DecodeMP3(t, out); len(got) != total {
		t.Errorf("decoded %d samples, wrote %d", len(got), total)
	}
}

func TestMP3BadOptions(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name, path string
		opt        audio.MP3Options
		want       string
	}{
		{"low bitrate", filepath.Join(dir, "a.mp3"), audio.MP3Options{Bitrate: 32}, "bitrate 32 kbps"},
		{"odd bitrate", filepath.Join(dir, "b.mp3"), audio.MP3Options{Bitrate: 100}, "bitrate 100 kbps"},
		{"missing folder", filepath.Join(dir, "no", "such", "c.mp3"), audio.MP3Options{}, "create recording"},
		{"folder as file", dir, audio.MP3Options{}, "create recording"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := audio.CreateMP3(tc.path, tc.opt)
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
	var cut *os.File
	cutPath := filepath.Join(dir, "cut.wav")
	cut, _ = os.Create(cutPath)
	audio.WriteWAV(cut, audio.SampleRate, make([]int16, 48000))
	cut.Close()
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
	<-src.Done()
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
