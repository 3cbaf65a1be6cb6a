// Package repair finishes the recordings a crash left unfinished: a Podium MP3 whose writer
// died has an empty placeholder where LAME's header goes; repair counts the whole frames,
// writes an Info header describing them and marks the tag recovered. It touches only files
// whose tag carries Podium's mark, and decides everything before writing a byte.
package repair

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"

	"podium/audio/id3"
	"podium/audio/mp3/chapterlog"
	"podium/audio/mp3/frames"
)

// RecoveredComment marks, in the ID3 comment, a recording whose header Podium rebuilt after
// the process that wrote it died. The presenter sees it marked, never hidden.
const RecoveredComment = "Recovered by Podium after an interruption"

// ErrNotRepairable means the file has no placeholder frame for a header: it was not left
// behind by an interrupted Writer (and, having no Xing frame, plays as it is).
var ErrNotRepairable = errors.New("mp3: no header placeholder to repair")

// ErrNotPodiums means the file's tag lacks Podium's mark: another program wrote it, and
// Podium leaves it exactly as it is.
var ErrNotPodiums = errors.New("mp3: not a recording Podium wrote")

// Needed reports whether path is an Writer file that never reached Close: its first
// frame is the placeholder LAME leaves for the Xing/LAME header, still empty.
func Needed(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	_, _, placeholder, err := frames.First(f)
	if err != nil {
		return false, err
	}
	return placeholder, nil
}

// OnlyTag reports whether path is an ID3 tag and nothing else: what an Writer leaves when
// it is interrupted before its first frame reaches the disk.
func OnlyTag(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false
	}
	_, size, err := id3.Read(f)
	return err == nil && int64(size) == st.Size()
}

// Dir finds the recordings in dir left unfinished by a crash (except skip, the one being
// recorded) and rebuilds their headers. One interrupted before its first frame reached the
// disk (the tag alone) holds nothing that was captured, and is removed. Only files whose tag
// carries Podium's mark (ByPodium) are touched: the folder may hold other programs' MP3s. It
// returns the paths it repaired; a file it cannot repair is left exactly as it is.
func Dir(dir, skip string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.mp3"))
	if err != nil {
		return nil, err
	}
	var fixed []string
	var errs []error
	for _, p := range paths {
		if p == skip || !writtenByPodium(p) { // not even another program's bare tag is removed
			continue
		}
		need, err := Needed(p)
		if err != nil && OnlyTag(p) {
			if rmErr := os.Remove(p); rmErr != nil {
				errs = append(errs, rmErr)
			}
			continue
		}
		if err != nil || !need {
			continue
		}
		if _, err := fix(p); errors.Is(err, ErrNotRepairable) {
			continue // repaired meanwhile by another start (the studio upload's resume)
		} else if err != nil {
			errs = append(errs, err)
			continue
		}
		fixed = append(fixed, p)
	}
	errs = append(errs, finishLogs(dir, skip))
	return fixed, errors.Join(errs...)
}

// writtenByPodium reports whether path starts with a tag Podium wrote.
func writtenByPodium(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	tags, _, err := id3.Read(f)
	return err == nil && tags.ByPodium
}

// ErrLeftAsItWas is in the error of every file File could not repair: it changed nothing
// in it, not a byte and not its modification time.
var ErrLeftAsItWas = errors.New("left as it was")

// maxRepairTag bounds the tag a repair rewrites (Podium writes 1024 bytes): the whole
// tag and the head of the audio are rebuilt in memory before anything is written.
const maxRepairTag = 1 << 20

// File finishes an MP3 whose writer was interrupted: it counts the whole frames present,
// cuts a torn last frame, writes an Info header with the frame count over the placeholder,
// and sets the tag's length and the recovered mark. It returns the repaired file's header.
// Everything is decided before the file is opened for writing: a file it cannot repair (not
// Podium's, already finished, or with any length that does not add up) is left exactly as
// it was, and the error says why in a sentence (errors.Is ErrLeftAsItWas).
func File(path string) (frames.Info, error) {
	if !writtenByPodium(path) {
		return frames.Info{}, unrepaired(path, ErrNotPodiums)
	}
	return fix(path)
}

func unrepaired(path string, why error) error {
	return fmt.Errorf("cannot repair %q (%w): %w", path, ErrLeftAsItWas, why)
}

// repairPlan is every byte a repair will write, decided from a read-only look at the file.
type repairPlan struct {
	size   int64  // the file's size when it was looked at
	tag    []byte // the new tag, as long as the old one, written at 0
	header []byte // the Info frame, written over the placeholder at start
	start  int64
	end    int64 // where the last whole frame ends: the file is cut there
	frames uint32
}

// fix is File of a file already known to be Podium's.
func fix(path string) (frames.Info, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return frames.Info{}, unrepaired(path, err)
	}
	defer f.Close()
	// One repair of a file at a time (the window's start and the studio upload's resume may
	// both look): the second finds it repaired.
	unlock, err := lockFile(f)
	if err != nil {
		return frames.Info{}, unrepaired(path, err)
	}
	defer unlock()
	if need, err := Needed(path); err == nil && !need {
		return frames.Info{}, unrepaired(path, ErrNotRepairable) // finished, or repaired meanwhile
	}
	plan, err := planRepair(path)
	if err != nil {
		return frames.Info{}, unrepaired(path, err)
	}
	if st, err := f.Stat(); err != nil || st.Size() != plan.size {
		return frames.Info{}, unrepaired(path, errors.New("it changed while it was being checked"))
	}
	// The header first: once it is there the file plays and is no longer taken for an
	// interrupted one, whatever happens to the rest.
	if _, err := f.WriteAt(plan.header, plan.start); err != nil {
		return frames.Info{}, fmt.Errorf("repair %q: write header: %w", path, err)
	}
	if _, err := f.WriteAt(plan.tag, 0); err != nil {
		return frames.Info{}, fmt.Errorf("repair %q: write tags: %w", path, err)
	}
	if plan.end < plan.size {
		if err := f.Truncate(plan.end); err != nil {
			return frames.Info{}, fmt.Errorf("repair %q: cut torn frame: %w", path, err)
		}
	}
	if err := f.Sync(); err != nil {
		return frames.Info{}, fmt.Errorf("repair %q: %w", path, err)
	}
	// The chapters are in the tag now: their log has done its work.
	if err := chapterlog.Remove(path); err != nil {
		return frames.Info{}, fmt.Errorf("repair %q: %w", path, err)
	}
	return frames.ReadInfo(f)
}

// fromLog puts what a recording's chapter log kept into its tags: the chapters marked, and
// the title set while it was recorded.
func fromLog(tags *id3.Tags, log chapterlog.Record) {
	if log.HasTitle && log.Title != "" {
		tags.Title = log.Title
	}
	if len(log.Chapters) > 0 {
		tags.Chapters = log.Chapters
	}
}

// finishLogs deals with the chapter logs in dir (but skip's) that no repair took: a log whose
// recording was finished (its writer stopped between the tag and the log's removal) gives
// the tag the chapters if it has none, and a log whose recording is gone is removed.
func finishLogs(dir, skip string) error {
	logs, err := filepath.Glob(filepath.Join(dir, "*.mp3"+chapterlog.Suffix))
	if err != nil {
		return err
	}
	var errs []error
	for _, l := range logs {
		mp3 := strings.TrimSuffix(l, chapterlog.Suffix)
		if mp3 == skip {
			continue
		}
		if _, err := os.Stat(mp3); errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, chapterlog.Remove(mp3))
			continue
		}
		if !writtenByPodium(mp3) {
			continue // not Podium's now: the log stays, the file is left as it is
		}
		if need, err := Needed(mp3); err != nil || need {
			continue // a repair that failed keeps its log for the next try
		}
		log, err := chapterlog.Read(mp3)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		err = id3.Rewrite(mp3, func(t *id3.Tags) {
			if len(t.Chapters) == 0 {
				fromLog(t, log)
			}
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, chapterlog.Remove(mp3))
	}
	return errors.Join(errs...)
}

// planRepair reads path (never writing) and works out the repair, checking every length it
// reads: the tag, the placeholder, the frames, and what lies after the last whole one. It
// then reads the repaired head back as frames.ReadInfo would, so a plan that would not give a file
// with a header describing its frames is refused before anything is written.
func planRepair(path string) (repairPlan, error) {
	f, err := os.Open(path)
	if err != nil {
		return repairPlan{}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return repairPlan{}, err
	}
	p := repairPlan{size: st.Size()}
	tags, tagSize, err := id3.Read(f)
	switch {
	case err != nil:
		return p, fmt.Errorf("its tag does not read: %w", err)
	case !tags.ByPodium:
		return p, ErrNotPodiums
	case tagSize < id3.MinSize || tagSize > maxRepairTag:
		return p, fmt.Errorf("its tag is %d bytes, not a size Podium writes", tagSize)
	}
	start, h, placeholder, err := frames.First(f)
	switch {
	case err != nil:
		return p, err
	case !placeholder:
		return p, ErrNotRepairable
	case start < int64(tagSize) || start+int64(h.Len) > p.size:
		return p, fmt.Errorf("its first frame (%d bytes at %d) lies outside the file", h.Len, start)
	}
	hdr := make([]byte, 4)
	if _, err := f.ReadAt(hdr, start); err != nil {
		return p, err
	}
	p.header = frames.InfoFrame(hdr, h, 0, 0)
	if p.header == nil {
		return p, fmt.Errorf("its frames are %d bytes, too short to hold a header", h.Len)
	}
	n, end, err := frames.Count(f, start+int64(h.Len), h)
	if err != nil {
		return p, err
	}
	if end-start > math.MaxUint32 {
		return p, fmt.Errorf("its %d bytes of audio are more than a header can describe", end-start)
	}
	if junk, err := tailBeyondTornFrame(f, end, p.size); err != nil {
		return p, err
	} else if junk {
		return p, fmt.Errorf("%d bytes after its last whole frame are more than a torn frame; cutting them could lose audio", p.size-end)
	}
	p.start, p.end, p.frames = start, end, n
	p.header = frames.InfoFrame(hdr, h, n, uint32(end-start))
	tags.Length = frames.RebuiltLength(h, n)
	tags.Comment = RecoveredComment
	if log, err := chapterlog.Read(path); err == nil {
		fromLog(&tags, log)
	}
	if p.tag, err = id3.Encode(tags, tagSize); err != nil {
		return p, err
	}

	// The repaired file's head, in memory, read as frames.ReadInfo reads it.
	head := make([]byte, min(end, int64(tagSize)+frames.ScanLimit+2*frames.MaxLen))
	if _, err := f.ReadAt(head, 0); err != nil {
		return p, err
	}
	copy(head, p.tag)
	copy(head[start:], p.header)
	info, err := frames.ReadInfo(bytes.NewReader(head))
	if err != nil || info.ID3Size != tagSize || !info.HasXing || info.VBR || info.Frames != n {
		return p, fmt.Errorf("a rebuilt header would not be read back as written (%+v, %v)", info, err)
	}
	return p, nil
}

// tailBeyondTornFrame reports whether the bytes from end to size hold more than a torn
// last frame: anything longer than one frame, once trailing zeros (what a crash can leave
// at the end of a file) are left aside, is not the torn end of a recording, and a repair
// would cut audio or another program's data with it.
func tailBeyondTornFrame(f *os.File, end, size int64) (bool, error) {
	if size-end <= frames.MaxLen {
		return false, nil
	}
	last := end // one past the last byte that is not zero
	buf := make([]byte, 64<<10)
	for off := end; off < size; {
		n, err := f.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		for i := n - 1; i >= 0; i-- {
			if buf[i] != 0 {
				last = off + int64(i) + 1
				break
			}
		}
		if err != nil && !(errors.Is(err, io.EOF) && n > 0) {
			return false, err
		}
		off += int64(n)
	}
	return last-end > frames.MaxLen, nil
}
