// Package mp3 writes Podium's recordings: an MP3 that grows as it records and is complete
// at Close (ID3v2 tag, Xing/LAME header), through LAME. Its neighbours read them back:
// podium/audio/id3 the tags, podium/audio/mp3/frames the frames and headers, and
// podium/audio/mp3/repair finishes a file whose writer was interrupted.
package mp3

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"podium/audio"
	"podium/audio/filename"
	"podium/audio/id3"
	"podium/audio/mp3/frames"
	"podium/audio/mp3/repair"
	"podium/audio/pcm"
)

// DefaultBitrate suits speech in mono: clear consonants at about 29 MB an hour.
const DefaultBitrate = 64

// Bitrates are the kbps a recording may use, lowest first: the ones LAME can write at 48 kHz
// without resampling or losing the Xing header (below 64 kbps LAME silently lowers the output
// sample rate, and the header frame then stops matching). Settings offer exactly these.
var Bitrates = []int{64, 80, 96, 112, 128, 160, 192, 224, 256, 320}

// id3Size is fixed so the tag can be rewritten in place at Close, when the length is known.
const id3Size = 1024

// mp3Batch is how many samples go to LAME per call: one cgo call and one write to the file
// per 100 ms, far inside the one-second crash budget.
const mp3Batch = 5 * pcm.FrameSamples

// Options configure a recording.
type Options struct {
	Bitrate      int           // kbps, one of 64…320; 0 means DefaultBitrate
	Tags         id3.Tags      // Length is filled in at Close
	SyncInterval time.Duration // how often the file is flushed to stable storage; 0 means 1 s
}

// Writer encodes mono 48 kHz samples into an MP3 file that grows as it records: a crash
// loses at most about a second, and Close makes it complete (ID3v2 length, Xing/LAME header)
// in a few milliseconds whatever its length.
//
// It keeps LAME's sharp edges away from callers: it hands LAME whole batches from its own
// buffer, writes what LAME returns to the file itself (so write errors are seen), takes the
// LAME tag frame before freeing the encoder, and validates the settings LAME would silently
// ignore. Not safe for concurrent use.
type Writer struct {
	path    string
	file    *os.File
	enc     *encoder
	tags    id3.Tags
	batch   []int16
	samples int64
	err     error // first error: once set, nothing more reaches LAME or the disk
	closed  bool
	disk    *countingWriter
	// checkpointed: the header placeholder holds a provisional header, to be cleared before
	// more audio goes in, so a crash after that is still recognised and repaired.
	checkpointed bool

	stopSync chan struct{}
	syncDone sync.WaitGroup
	syncMu   sync.Mutex
	syncErr  error
}

// Create starts an MP3 recording in a new file at path. It never opens a file that exists,
// and never through a symlink (O_EXCL): whatever is at path was not written by this
// recording, and may not be Podium's at all (fs.ErrExist).
func Create(path string, opt Options) (*Writer, error) {
	opt, err := checkOptions(opt)
	if err != nil {
		return nil, err
	}
	return create(path, os.O_EXCL, opt)
}

// maxNameTries bounds CreateNew's search for a free name.
const maxNameTries = 10000

// CreateNew starts an MP3 recording in dir under name, or under "Name (2).mp3", "Name (3).mp3"…
// when that is taken. The file is made with O_EXCL, so an existing file is never overwritten,
// not even one another process creates at the same moment. An empty opt.Tags.Title becomes the
// name taken (without .mp3), so the tag and the file agree.
func CreateNew(dir, name string, opt Options) (*Writer, error) {
	opt, err := checkOptions(opt)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(name, filepath.Ext(name))
	for i := 1; i <= maxNameTries; i++ {
		file := name
		if i > 1 {
			file = filename.Numbered(base, i) + ".mp3"
		}
		o := opt
		if o.Tags.Title == "" {
			o.Tags.Title = strings.TrimSuffix(file, filepath.Ext(file))
		}
		w, err := create(filepath.Join(dir, file), os.O_EXCL, o)
		if !errors.Is(err, fs.ErrExist) {
			return w, err
		}
	}
	return nil, fmt.Errorf("create recording %q in %q: names up to (%d) are all taken", name, dir, maxNameTries)
}

// checkOptions fills in the defaults and refuses what LAME would silently ignore.
func checkOptions(opt Options) (Options, error) {
	if opt.Bitrate == 0 {
		opt.Bitrate = DefaultBitrate
	}
	if err := CheckBitrate(opt.Bitrate); err != nil {
		return opt, err
	}
	if opt.SyncInterval <= 0 {
		opt.SyncInterval = time.Second
	}
	return opt, nil
}

// create opens path with os.O_RDWR|os.O_CREATE|flag and starts the recording in it.
func create(path string, flag int, opt Options) (*Writer, error) {
	tag, err := id3.Encode(opt.Tags, id3Size)
	if err != nil {
		return nil, fmt.Errorf("mp3 tags: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|flag, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create recording %q: %w", path, err)
	}
	if _, err := f.Write(tag); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("write tags to %q: %w", path, err)
	}
	enc, err := newEncoder(opt.Bitrate)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("configure mp3 encoder: %w", err)
	}
	w := &Writer{
		path:     path,
		file:     f,
		disk:     &countingWriter{w: f, n: int64(len(tag))},
		enc:      enc,
		tags:     opt.Tags,
		batch:    make([]int16, 0, mp3Batch),
		stopSync: make(chan struct{}),
	}
	w.syncDone.Add(1)
	go w.syncLoop(opt.SyncInterval)
	return w, nil
}

// CheckBitrate says whether k kbps is a bitrate Create accepts.
func CheckBitrate(k int) error {
	if !slices.Contains(Bitrates, k) {
		return fmt.Errorf("mp3 bitrate %d kbps: choose one of %v", k, Bitrates)
	}
	return nil
}

// syncLoop pushes the file to stable storage on its own goroutine, so a slow disk delays the
// sync, never the encoder; os.File allows Sync beside Write.
func (w *Writer) syncLoop(every time.Duration) {
	defer w.syncDone.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.stopSync:
			return
		case <-t.C:
			if err := w.file.Sync(); err != nil {
				w.syncMu.Lock()
				if w.syncErr == nil {
					w.syncErr = fmt.Errorf("sync %q: %w", w.path, err)
				}
				w.syncMu.Unlock()
			}
		}
	}
}

// WriteFrame lets the writer sit in a Pipeline.
func (w *Writer) WriteFrame(f audio.Frame) error { return w.WriteSamples(f.Samples) }

// WriteSamples encodes p (any length). The first error sticks: every later call returns it.
func (w *Writer) WriteSamples(p []int16) error {
	if w.closed {
		return errors.New("mp3: write after close")
	}
	for len(p) > 0 && w.err == nil {
		n := copy(w.batch[len(w.batch):cap(w.batch)], p)
		w.batch = w.batch[:len(w.batch)+n]
		p = p[n:]
		if len(w.batch) == cap(w.batch) {
			w.encodeBatch()
		}
	}
	return w.err
}

func (w *Writer) encodeBatch() {
	if len(w.batch) == 0 || w.err != nil {
		return
	}
	if w.checkpointed {
		if err := w.clearCheckpoint(); err != nil {
			w.fail(err)
			return
		}
	}
	b, err := w.enc.encode(w.batch)
	if err != nil {
		w.fail(fmt.Errorf("encode mp3 into %q: %w", w.path, err))
		return
	}
	// LAME's output goes to the file now, so it is on its way to disk within the batch.
	if _, err := w.disk.Write(b); err != nil {
		w.fail(fmt.Errorf("write %q: %w", w.path, err))
		return
	}
	w.samples += int64(len(w.batch))
	w.batch = w.batch[:0]
}

func (w *Writer) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// SetReplayGain puts g (nil: none) into the tag the next Checkpoint or Close writes. Call it
// where WriteSamples is called, or after the last one.
func (w *Writer) SetReplayGain(g *id3.ReplayGain) { w.tags.ReplayGain = g }

// Samples is the number of samples encoded so far.
func (w *Writer) Samples() int64 { return w.samples + int64(len(w.batch)) }

// Duration is the length of audio written so far.
func (w *Writer) Duration() time.Duration { return pcm.Duration(w.Samples()) }

// Path is the file being written.
func (w *Writer) Path() string { return w.path }

// Err reports the first write or sync error so far, without closing.
func (w *Writer) Err() error {
	if w.err != nil {
		return w.err
	}
	w.syncMu.Lock()
	defer w.syncMu.Unlock()
	return w.syncErr
}

// countingWriter counts the bytes that reached the file.
type countingWriter struct {
	w *os.File
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // LAME had no frame ready: no system call
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Checkpoint makes the file complete as it stands — an Info header and a tag length that
// describe the frames on disk, synced — while it stays open for more audio. A recording
// paused by an unplugged microphone is thus finished and playable, and can still continue.
// Samples LAME holds back for its lookahead (about 25 ms) follow with the next audio.
func (w *Writer) Checkpoint() error {
	if w.closed {
		return errors.New("mp3: checkpoint after close")
	}
	w.encodeBatch()
	if w.err != nil {
		return w.err
	}
	hdr := make([]byte, 4)
	if _, err := w.file.ReadAt(hdr, id3Size); err != nil {
		return nil // LAME has not written its first frame yet: nothing to describe
	}
	h, ok := frames.ParseHeader(hdr)
	if !ok {
		return fmt.Errorf("checkpoint %q: no frame header after the tag", w.path)
	}
	audioBytes := w.disk.n - id3Size
	if audioBytes < 2*int64(h.Len) {
		return nil // no audio frame yet
	}
	// A frame LAME has only begun to write counts: decoders play it too. The header frame
	// itself does not.
	n := uint32((audioBytes+int64(h.Len)-1)/int64(h.Len)) - 1
	info := frames.InfoFrame(hdr, h, n, uint32(audioBytes))
	if info == nil {
		return nil // a frame too short for a header: the file stays one to repair
	}
	if _, err := w.file.WriteAt(info, id3Size); err != nil {
		w.fail(fmt.Errorf("checkpoint %q: %w", w.path, err))
		return w.err
	}
	w.checkpointed = true
	tags := w.tags
	tags.Length = frames.RebuiltLength(h, n)
	if tag, err := id3.Encode(tags, id3Size); err == nil {
		if _, err := w.file.WriteAt(tag, 0); err != nil {
			w.fail(fmt.Errorf("checkpoint %q: %w", w.path, err))
			return w.err
		}
	}
	if err := w.file.Sync(); err != nil {
		w.fail(fmt.Errorf("sync %q: %w", w.path, err))
	}
	return w.err
}

func (w *Writer) clearCheckpoint() error {
	hdr := make([]byte, 4)
	if _, err := w.file.ReadAt(hdr, id3Size); err != nil {
		return fmt.Errorf("resume %q: %w", w.path, err)
	}
	h, ok := frames.ParseHeader(hdr)
	if !ok {
		return fmt.Errorf("resume %q: no frame header after the tag", w.path)
	}
	if _, err := w.file.WriteAt(make([]byte, h.Len-4), id3Size+4); err != nil {
		return fmt.Errorf("resume %q: %w", w.path, err)
	}
	w.checkpointed = false
	return nil
}

// Close finishes the MP3: the last samples, LAME's final frames, the Xing/LAME header over its
// placeholder, the tag's length, a sync. Even after a write error it finalises what reached the
// disk, so the file stays playable. It returns the first error of the whole recording.
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	w.encodeBatch()
	var lameTag []byte
	if w.err == nil {
		if b, err := w.enc.flush(); err != nil {
			w.fail(fmt.Errorf("encode mp3 into %q: %w", w.path, err))
		} else if _, err := w.disk.Write(b); err != nil {
			w.fail(fmt.Errorf("write %q: %w", w.path, err))
		} else {
			lameTag = w.enc.tagFrame() // before close: afterwards it reads freed memory
		}
	}
	w.enc.close()
	if len(lameTag) > 0 {
		if _, err := w.file.WriteAt(lameTag, id3Size); err != nil {
			w.fail(fmt.Errorf("write mp3 header of %q: %w", w.path, err))
		}
	}
	tags := w.tags
	tags.Length = w.Duration()
	if tag, err := id3.Encode(tags, id3Size); err == nil {
		if _, err := w.file.WriteAt(tag, 0); err != nil {
			w.fail(fmt.Errorf("write tags of %q: %w", w.path, err))
		}
	}
	close(w.stopSync)
	w.syncDone.Wait()
	if err := w.Err(); err != nil {
		w.fail(err)
	}
	if err := w.file.Sync(); err != nil {
		w.fail(fmt.Errorf("sync %q: %w", w.path, err))
	}
	if err := w.file.Close(); err != nil {
		w.fail(fmt.Errorf("close %q: %w", w.path, err))
	}
	if lameTag == nil {
		// Writing failed (a full disk, say), so LAME's header never came: rebuild it from the
		// frames that did reach the file, so what was recorded plays with its true length.
		if _, err := repair.File(w.path); err != nil && !errors.Is(err, repair.ErrNotRepairable) {
			w.fail(err)
		}
	}
	return w.err
}
