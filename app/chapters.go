package app

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"podium/audio/id3"
	"podium/audio/mp3"
	"podium/audio/mp3/chapterlog"
	"podium/audio/pcm"
	"podium/rtc/proto"
)

// Chapter is one chapter of a talk: where it begins in the recording, and its name ("" for
// none yet).
type Chapter struct {
	Start time.Duration
	Name  string
}

// MaxChapterName is the most runes of a chapter's name that are kept; longer ones are cut.
const MaxChapterName = id3.MaxChapterTitle

// CleanTitle is a talk's title as it is kept, tagged and sent: one line without control
// characters, trimmed, at most proto.MaxTitleRunes runes.
func CleanTitle(s string) string { return proto.CleanText(s, proto.MaxTitleRunes) }

// cleanName is a chapter's name as it is kept.
func cleanName(s string) string { return proto.CleanText(s, MaxChapterName) }

// ErrNoRoomForChapters is returned when a recording's tag holds no more chapters.
var ErrNoRoomForChapters = errors.New("the recording holds no more chapters")

// chapterBook is what a recording has been told of its talk while it records: the chapters
// marked and the title, each written to the recording's chapter log as it comes (so a crash
// keeps it) and into the MP3's tag at Checkpoint and Stop.
type chapterBook struct {
	mu       sync.Mutex
	path     string          // the MP3
	log      *chapterlog.Log // opened at the first entry: a talk without any has no log
	chapters []Chapter
	title    string
	titleSet bool
	closed   bool
}

func (b *chapterBook) open() error {
	if b.closed {
		return errors.New("the recording has stopped")
	}
	if b.log != nil {
		return nil
	}
	l, err := chapterlog.Create(b.path)
	if err != nil {
		return err
	}
	b.log = l
	return nil
}

func (b *chapterBook) mark(c Chapter) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.open(); err != nil {
		return err
	}
	all := append(slices.Clone(b.chapters), c)
	if len(all) > id3.MaxChapters || !mp3.ChaptersFit(toID3(all)) {
		return fmt.Errorf("%w (%d marked)", ErrNoRoomForChapters, len(b.chapters))
	}
	if err := b.log.Mark(c.Start, c.Name); err != nil {
		return err
	}
	b.chapters = all
	return nil
}

func (b *chapterBook) rename(i int, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.open(); err != nil {
		return err
	}
	if i < 0 || i >= len(b.chapters) {
		return fmt.Errorf("no chapter %d (%d marked)", i+1, len(b.chapters))
	}
	all := slices.Clone(b.chapters)
	all[i].Name = name
	if !mp3.ChaptersFit(toID3(all)) {
		return fmt.Errorf("%w: the name is too long", ErrNoRoomForChapters)
	}
	if err := b.log.Rename(i, name); err != nil {
		return err
	}
	b.chapters = all
	return nil
}

func (b *chapterBook) setTitle(title string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.open(); err != nil {
		return err
	}
	if err := b.log.Title(title); err != nil {
		return err
	}
	b.title, b.titleSet = title, true
	return nil
}

func (b *chapterBook) list() []Chapter {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.chapters)
}

// tag gives w what the book holds: on the pipeline's goroutine, or once it has stopped.
func (b *chapterBook) tag(w *mp3.Writer) {
	b.mu.Lock()
	defer b.mu.Unlock()
	w.SetChapters(toID3(b.chapters))
	if b.titleSet {
		w.SetTitle(b.title)
	}
}

// close ends the book once the MP3 is closed; final (its tag holds the book) removes the
// log, else it stays for the repair to use.
func (b *chapterBook) close(final bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	var err error
	if b.log != nil {
		err = b.log.Close()
		b.log = nil
	}
	if final {
		err = errors.Join(err, chapterlog.Remove(b.path))
	}
	return err
}

func toID3(ch []Chapter) []id3.Chapter {
	out := make([]id3.Chapter, len(ch))
	for i, c := range ch {
		out[i] = id3.Chapter{Start: c.Start, Title: c.Name}
	}
	return out
}

func fromID3(ch []id3.Chapter) []Chapter {
	if len(ch) == 0 {
		return nil
	}
	out := make([]Chapter, len(ch))
	for i, c := range ch {
		out[i] = Chapter{Start: c.Start, Name: c.Title}
	}
	return out
}

// MarkChapter marks a chapter named name (cleaned and cut as a title is; "" for none yet) at
// the recording's current position: the audio written to the MP3 so far, to the 20 ms frame.
func (r *Recording) MarkChapter(name string) (Chapter, error) {
	c := Chapter{Start: pcm.Duration(r.pipeline.Frames() * pcm.FrameSamples), Name: cleanName(name)}
	if err := r.book.mark(c); err != nil {
		return Chapter{}, fmt.Errorf("mark a chapter: %w", err)
	}
	return c, nil
}

// RenameChapter names chapter i (from 0) anew.
func (r *Recording) RenameChapter(i int, name string) error {
	if err := r.book.rename(i, cleanName(name)); err != nil {
		return fmt.Errorf("rename chapter: %w", err)
	}
	return nil
}

// SetTitle gives the talk a title (cleaned: CleanTitle) for its tag; "" goes back to the one
// it started with.
func (r *Recording) SetTitle(title string) error {
	if err := r.book.setTitle(CleanTitle(title)); err != nil {
		return fmt.Errorf("title: %w", err)
	}
	return nil
}

// Chapters are the chapters marked so far, in order.
func (r *Recording) Chapters() []Chapter { return r.book.list() }
