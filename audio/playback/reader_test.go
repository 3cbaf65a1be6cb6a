package playback

import (
	"io"
	"path/filepath"
	"testing"
	"time"

	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/scripts/testkit/audiotest"
)

// speechMP3 is the speech fixture encoded by Podium's own MP3 writer at bitrate kbps.
func speechMP3(t testing.TB, kbps int) string {
	t.Helper()
	speech := audiotest.ReadWAV(t, audiotest.Speech(t, false))
	path := filepath.Join(t.TempDir(), "talk.mp3")
	w, err := mp3.Create(path, mp3.Options{Bitrate: kbps})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteSamples(speech); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// read reads up to n samples from r (all with n < 0).
func read(t testing.TB, r *Reader, n int) []int16 {
	t.Helper()
	var src io.Reader = r
	if n >= 0 {
		src = io.LimitReader(r, int64(2*n))
	}
	b, err := io.ReadAll(src)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(b)/2)
	for i := range out {
		out[i] = int16(uint16(b[2*i]) | uint16(b[2*i+1])<<8)
	}
	return out
}

// From any position, Reader gives what ffmpeg (a gapless decoder, which trusts LAME's delay)
// decodes at that position: the same samples, at lag 0, at the lowest bitrate Podium offers
// (the deepest bit reservoir in frames, and the default) and the highest.
func TestReaderStartsWhereAsked(t *testing.T) {
	for _, kbps := range []int{64, 320} {
		path := speechMP3(t, kbps)
		ref := audiotest.Decode(t, path)
		for _, at := range []time.Duration{0, 20 * time.Millisecond, 1234567 * time.Microsecond, 9 * time.Second, 17*time.Second + 321*time.Millisecond} {
			r, err := Open(path, at)
			if err != nil {
				t.Fatal(err)
			}
			// to the end from the last position, which checks the end too; 2 s from the others
			whole := at > 17*time.Second
			n := 2 * pcm.SampleRate
			if whole {
				n = -1
			}
			got := read(t, r, n)
			r.Close()
			s := int(pcm.Samples(at))
			want := ref[s:]
			n = min(len(want), len(got), 2*pcm.SampleRate)
			corr, lag, _ := audiotest.Correlate(want[:n], got[:n], pcm.SampleRate/10)
			t.Logf("%d kbps from %v: %d samples (ffmpeg %d after it), lag %d, correlation %.4f", kbps, at, len(got), len(want), lag, corr)
			if lag != 0 || corr < 0.99 {
				t.Errorf("%d kbps from %v: lag %d samples, correlation %.4f; want 0 and ≥ 0.99", kbps, at, lag, corr)
			}
			if whole && len(got) != len(want) || !whole && len(got) != 2*pcm.SampleRate {
				t.Errorf("%d kbps from %v: %d samples, ffmpeg has %d from there", kbps, at, len(got), len(want))
			}
		}
	}
}

// Past the end there is nothing to play.
func TestReaderPastTheEnd(t *testing.T) {
	r, err := Open(speechMP3(t, 64), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if n, err := r.Read(make([]byte, 64)); n != 0 || err != io.EOF {
		t.Fatalf("read %d, %v; want 0, EOF", n, err)
	}
}
