// Package recorder is the server side of a recording: the Opus packets of one published
// stream in, an MP3 out. podium-server and the app's built-in server both use it; it links
// neither a microphone nor a window.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"podium/app/disk"
	"podium/app/oserr"
	"podium/audio"
	"podium/audio/filename"
	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/pcm"
	"podium/rtc"
)

// Stats are the codec-side counters of a server's recordings, for /metrics.
type Stats struct {
	Recordings      atomic.Int64
	EncodeNanos     atomic.Int64 // time spent decoding Opus and encoding MP3
	ConcealedSample atomic.Int64
	CorruptPackets  atomic.Int64

	open      atomic.Int64 // recordings being written now
	watching  atomic.Bool  // WatchSpace runs: freeBytes means something
	freeBytes atomic.Uint64
}

// Collectors are the codec-side metrics, and the room left once WatchSpace measures it.
func (s *Stats) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_recordings_total", Help: "Recordings opened."},
			func() float64 { return float64(s.Recordings.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_mp3_encode_seconds_total", Help: "Time spent decoding Opus and encoding MP3."},
			func() float64 { return float64(s.EncodeNanos.Load()) / 1e9 }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_concealed_seconds_total", Help: "Audio rebuilt by FEC, PLC or silence because packets were missing."},
			func() float64 { return float64(s.ConcealedSample.Load()) / pcm.SampleRate }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_corrupt_packets_total", Help: "Packets that did not decode."},
			func() float64 { return float64(s.CorruptPackets.Load()) }),
		freeSpace{s},
	}
}

// freeSpace is podium_disk_free_bytes, served only once WatchSpace has measured: a zero
// before then would read as a full disk.
type freeSpace struct{ s *Stats }

var freeSpaceDesc = prometheus.NewDesc("podium_disk_free_bytes", "Room left in the recordings folder's filesystem, measured every few seconds.", nil, nil)

func (freeSpace) Describe(ch chan<- *prometheus.Desc) { ch <- freeSpaceDesc }

func (f freeSpace) Collect(ch chan<- prometheus.Metric) {
	if f.s.watching.Load() {
		ch <- prometheus.MustNewConstMetric(freeSpaceDesc, prometheus.GaugeValue, float64(f.s.freeBytes.Load()))
	}
}

// WatchSpace measures the room left in dir every `every` on its own goroutine until ctx
// ends, for podium_disk_free_bytes: /metrics reads the last figure, so it never waits on a
// slow disk. When the room would last less than ten minutes at kbps for every recording open
// (one, when none is), logf warns, once until there is room again.
func (s *Stats) WatchSpace(ctx context.Context, dir string, kbps int, every time.Duration, logf func(string, ...any)) {
	look := func(warned string) string {
		free, err := disk.Free(dir)
		if err != nil {
			return warned // the last figure stands
		}
		s.freeBytes.Store(free)
		s.watching.Store(true)
		w := ""
		if room := disk.RoomFor(free, kbps*int(max(s.open.Load(), 1))); room.Low() {
			w = room.String()
		}
		switch {
		case w != "" && warned == "":
			logf("Disk almost full: %s (in %s)", w, dir)
		case w == "" && warned != "":
			logf("room again in %s: %d MB free", dir, free>>20)
		}
		return w
	}
	warned := look("")
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				warned = look(warned)
			}
		}
	}()
}

// mp3Sink is the rtc.Sink of one published stream: it decodes the packets straight into an
// MP3, keeping nothing for the whole session, so memory stays the same however long the talk.
type mp3Sink struct {
	stream string
	dec    *audio.PacketDecoder
	mp3    *mp3.Writer
	stats  *Stats
	seen   struct{ concealed, corrupt int64 }
	failed error // what WritePacket returned: the MP3 writer's errors stick
}

// WritePacket decodes and encodes one packet. Its first error is the last: the MP3 takes
// nothing more, and Close finalises what reached the disk.
func (r *mp3Sink) WritePacket(pos int64, payload []byte) error {
	t := time.Now()
	err := r.dec.WritePacket(pos, payload)
	r.stats.EncodeNanos.Add(int64(time.Since(t)))
	r.stats.ConcealedSample.Add(r.dec.Concealed - r.seen.concealed)
	r.stats.CorruptPackets.Add(r.dec.Corrupt - r.seen.corrupt)
	r.seen.concealed, r.seen.corrupt = r.dec.Concealed, r.dec.Corrupt
	if err != nil {
		r.failed = err
		return diskFull(err)
	}
	return nil
}

// Close finalises the MP3 (after a failed write too: the file then plays what was written).
// A session that never delivered a packet leaves no file: an MP3 with no audio would only
// clutter the recordings. A write error WritePacket already returned is not returned again.
func (r *mp3Sink) Close() error {
	r.stats.open.Add(-1)
	err := r.dec.Close()
	if r.failed != nil && errors.Is(err, r.failed) {
		err = nil
	}
	if r.dec.Decoded == 0 && r.dec.Concealed == 0 && r.dec.Corrupt == 0 {
		if rmErr := os.Remove(r.mp3.Path()); rmErr != nil && err == nil {
			err = fmt.Errorf("remove empty recording: %w", rmErr)
		}
	}
	return diskFull(err)
}

// diskFull says so in plain words when err is the disk (or the quota) running out.
func diskFull(err error) error {
	if oserr.DiskFull(err) {
		return fmt.Errorf("disk full: %w", err)
	}
	return err
}

// TagSize is the room the server keeps for each recording's tag: its chapters come as the
// talk goes and the tag cannot grow, so there is room for the most a recording may have
// (rtc's 1000) with names of some 80 bytes; id3.Encode drops titles, then the last
// chapters, beyond it.
const TagSize = 128 << 10

// SetTalk puts the talk's title, presenter and chapters into the MP3's tag (rtc.TalkSink): it
// is written at Close. A talk with no title keeps the stream's name, as before.
func (r *mp3Sink) SetTalk(t rtc.Talk) {
	r.mp3.SetTitle(t.Title) // "": the stream's name it was created with
	r.mp3.SetPresenter(t.Presenter)
	ch := make([]id3.Chapter, len(t.Chapters))
	for i, c := range t.Chapters {
		ch[i] = id3.Chapter{Start: c.Start, Title: c.Name}
	}
	r.mp3.SetChapters(ch)
}

// Name is the MP3's path, for the server's list of recordings.
func (r *mp3Sink) Name() string { return r.mp3.Path() }

// New records each published stream to an MP3 in dir, named after the stream and its start
// time ("Name (2).mp3"… if taken), tagged with both, at bitrate kbps, counting into stats.
func New(dir string, bitrate int, stats *Stats) rtc.SinkFunc {
	return func(stream string, start time.Time) (rtc.Sink, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("recordings folder %q: %w", dir, err)
		}
		name, err := filename.NewRecording(stream, start)
		if err != nil {
			return nil, err
		}
		w, err := mp3.CreateNew(dir, name.File(), mp3.Options{Bitrate: bitrate, TagSize: TagSize, Tags: id3.Tags{Title: stream, Date: start}})
		if err != nil {
			return nil, diskFull(err)
		}
		dec, err := audio.NewPacketDecoder(w)
		if err != nil {
			w.Close()
			return nil, err
		}
		stats.Recordings.Add(1)
		stats.open.Add(1)
		return &mp3Sink{stream: stream, dec: dec, mp3: w, stats: stats}, nil
	}
}
