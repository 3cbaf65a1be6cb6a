package studio_test

import (
	"context"
	"crypto/sha256"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"podium/app/studio"
	"podium/app/studio/studioproto"
	"podium/app/studio/studioserver"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/scripts/testkit"
)

// benchServer is the upload endpoint alone on loopback, taking a fixed publisher token.
func benchServer(b *testing.B) (base, dir string) {
	b.Helper()
	dir = b.TempDir()
	up, err := studioserver.New(studioserver.Config{Dir: dir, Publisher: func(r *http.Request, stream string) (string, bool) {
		return "tok", r.Header.Get("Authorization") == "Bearer tok"
	}})
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(studioproto.BasePath, up.Handler())
	ts := httptest.NewServer(mux)
	b.Cleanup(ts.Close)
	return ts.URL, dir
}

// BenchmarkStopToStudioCopy: a recording of 1 minute and of 1 hour, the uploader following
// it as the app does; the talk's last 10 s are written at the pace of capture, then Close and
// Finish: the time from Stop to the copy being complete and checked on a loopback server
// (goal: under 2 s for both), and what following costs while the talk goes on: the CPU of
// the process (uploader and server together) beyond the same recording paced with no upload,
// in % of one core (goal: under 1), and the heap it adds (goal: under 2 MB).
func BenchmarkStopToStudioCopy(b *testing.B) {
	for _, c := range []struct {
		name string
		talk time.Duration
	}{{"1min", time.Minute}, {"1h", time.Hour}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				base, dir := benchServer(b)
				path := filepath.Join(b.TempDir(), "talk.mp3")
				w, err := mp3.Create(path, mp3.Options{})
				if err != nil {
					b.Fatal(err)
				}
				u := studio.NewUploader(studio.Config{Server: base, Token: "tok", Stream: "talk", Path: path,
					Started: time.Now().Add(-c.talk)})
				frame := make([]int16, pcm.FrameSamples)
				for i := range frame {
					frame[i] = int16(2000 * ((i/40)%2*2 - 1)) // a buzz: frames LAME must really code
				}
				paced := 10 * time.Second
				frames := int((c.talk - paced - 5*time.Second) / (20 * time.Millisecond))
				for range frames {
					if err := w.WriteSamples(frame); err != nil {
						b.Fatal(err)
					}
				}
				// The reference: 5 s of the talk at capture's pace with no upload.
				paceFrames := func(d time.Duration) (cpuPct float64) {
					cpu0, wall0 := testkit.CPUTime(), time.Now()
					tick := time.NewTicker(20 * time.Millisecond)
					defer tick.Stop()
					for range int(d / (20 * time.Millisecond)) {
						<-tick.C
						if err := w.WriteSamples(frame); err != nil {
							b.Fatal(err)
						}
					}
					return 100 * (testkit.CPUTime() - cpu0).Seconds() / time.Since(wall0).Seconds()
				}
				alone := paceFrames(5 * time.Second)
				u.Start()
				// the talk so far, caught up (as it is when the upload keeps pace)
				for st := u.Status(); st.Sent < st.Size-64<<10 || st.Size == 0; st = u.Status() {
					time.Sleep(50 * time.Millisecond)
				}
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				following := paceFrames(paced)
				runtime.ReadMemStats(&m1)
				stop := time.Now()
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
				if err := u.Finish(context.Background()); err != nil {
					b.Fatal(err)
				}
				took := time.Since(stop)
				u.Close()
				st := u.Status()
				want, _ := os.ReadFile(path)
				got, err := os.ReadFile(filepath.Join(dir, st.Name))
				if err != nil || sha256.Sum256(got) != sha256.Sum256(want) {
					b.Fatalf("studio copy %q differs from the file (%v)", st.Name, err)
				}
				b.ReportMetric(float64(took.Milliseconds()), "stop-to-copy-ms")
				b.ReportMetric(following-alone, "follow-cpu-%")
				b.ReportMetric(alone, "recording-alone-cpu-%")
				b.ReportMetric(float64(int64(m1.HeapInuse)-int64(m0.HeapInuse))/1e6, "follow-heap-growth-MB")
				b.ReportMetric(float64(len(want))/1e6, "file-MB")
			}
		})
	}
}
