// Package chapterlog keeps a recording's chapters safe while it is recorded: a sidecar file
// next to the MP3 ("<name>.mp3.chapters") gets one line per chapter as it is marked (and one
// per rename or new title), appended and synced, so that the repair after a crash puts them
// into the recording's tag. The MP3's own tag takes them at Close; the log is removed then.
package chapterlog

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"podium/audio/id3"
)

// Suffix follows the MP3's name in its log's.
const Suffix = ".chapters"

// Path is the log of the recording at mp3.
func Path(mp3 string) string { return mp3 + Suffix }

// maxLine bounds one line read back: a chapter's name is cut far below it (id3.MaxChapterTitle).
const maxLine = 64 << 10

// Log is the open log of one recording. Not safe for concurrent use.
type Log struct {
	f *os.File
}

// Create starts the log of the recording at mp3, empty: one left by an earlier recording of
// that name (its file since removed) is not this one's.
func Create(mp3 string) (*Log, error) {
	f, err := os.OpenFile(Path(mp3), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("chapters of %q: %w", mp3, err)
	}
	return &Log{f: f}, nil
}

// Mark records a chapter beginning at start.
func (l *Log) Mark(start time.Duration, name string) error {
	return l.line(fmt.Sprintf("chapter %d %s", start.Round(time.Millisecond).Milliseconds(), strconv.Quote(name)))
}

// Rename records chapter i's new name.
func (l *Log) Rename(i int, name string) error {
	return l.line(fmt.Sprintf("rename %d %s", i, strconv.Quote(name)))
}

// Title records the talk's title.
func (l *Log) Title(title string) error {
	return l.line("title " + strconv.Quote(title))
}

// line appends s and a newline and syncs: once it returns, a crash keeps the line.
func (l *Log) line(s string) error {
	if _, err := l.f.WriteString(s + "\n"); err != nil {
		return fmt.Errorf("chapters: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("chapters: %w", err)
	}
	return nil
}

// Close closes the log, keeping the file (Remove removes it once the MP3 is final).
func (l *Log) Close() error { return l.f.Close() }

// Remove removes the log of the recording at mp3; none is fine.
func Remove(mp3 string) error {
	if err := os.Remove(Path(mp3)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// Record is what a log holds.
type Record struct {
	Title    string // the last title set
	HasTitle bool   // a title was set (Title "" then means: back to the file's)
	Chapters []id3.Chapter
}

// Read reads the log of the recording at mp3 (fs.ErrNotExist without one). A line it does
// not understand, such as the torn last one of a crash, is left out; chapters beyond
// id3.MaxChapters too.
func Read(mp3 string) (Record, error) {
	f, err := os.Open(Path(mp3))
	if err != nil {
		return Record{}, err
	}
	defer f.Close()
	var r Record
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 4096), maxLine)
	for sc.Scan() {
		r.apply(sc.Text())
	}
	if err := sc.Err(); err != nil && !errors.Is(err, bufio.ErrTooLong) {
		return r, fmt.Errorf("chapters of %q: %w", mp3, err)
	}
	return r, nil
}

func (r *Record) apply(line string) {
	kind, rest, _ := strings.Cut(line, " ")
	if kind == "title" {
		if s, err := strconv.Unquote(rest); err == nil {
			r.Title, r.HasTitle = s, true
		}
		return
	}
	num, quoted, _ := strings.Cut(rest, " ")
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return
	}
	name, err := strconv.Unquote(quoted)
	if err != nil {
		return
	}
	switch kind {
	case "chapter":
		if n <= int64(1<<62)/int64(time.Millisecond) && len(r.Chapters) < id3.MaxChapters {
			r.Chapters = append(r.Chapters, id3.Chapter{Start: time.Duration(n) * time.Millisecond, Title: name})
		}
	case "rename":
		if n < int64(len(r.Chapters)) {
			r.Chapters[n].Title = name
		}
	}
}
