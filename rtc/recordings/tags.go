package recordings

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"podium/audio/filename"
	"podium/audio/id3"
	"podium/rtc/proto"
)

// maxTagRead bounds what reading one recording's tag may read (a tag with a thousand
// chapters is well under it).
const maxTagRead = 1 << 20

// talk is what a recording's ID3 tag says about its talk, as GET /recordings gives it.
type talk struct {
	Title     string
	Presenter string
	Duration  float64 // seconds; 0 when the tag does not say
	Chapters  []proto.Chapter
}

// talkOf reads the talk from tags of the file name. The title Podium writes when the talk
// had none (the stream's name on the server, the file's name in the app) is no title.
func talkOf(name string, t id3.Tags) talk {
	out := talk{Title: t.Title, Presenter: t.Presenter, Duration: t.Length.Seconds(), Chapters: []proto.Chapter{}}
	if out.Title == filename.StreamOf(name) || looksLikeFileName(out.Title) {
		out.Title = ""
	}
	out.Title = proto.CleanText(out.Title, proto.MaxTitleRunes)
	out.Presenter = proto.CleanText(out.Presenter, proto.MaxPresenterRunes)
	for _, c := range t.Chapters {
		out.Chapters = append(out.Chapters, proto.Chapter{Start: c.Start.Seconds(), Name: proto.CleanText(c.Title, proto.MaxTitleRunes)})
	}
	return out
}

// looksLikeFileName: a title that is a recording's own name ("talk 2026-12-02 10-00-00"),
// which is what a recording with no title is tagged with.
func looksLikeFileName(title string) bool {
	_, ok := filename.ParseRecording(title + filename.Ext)
	return ok
}

// merged is the talk of a recording with a studio copy: the studio copy's, which the
// presenter's app wrote with the chapters where they were marked, except where it says
// nothing.
func merged(live, studio talk) talk {
	out := studio
	if out.Title == "" {
		out.Title = live.Title
	}
	if out.Presenter == "" {
		out.Presenter = live.Presenter
	}
	if out.Duration == 0 {
		out.Duration = live.Duration
	}
	if len(out.Chapters) == 0 {
		out.Chapters = live.Chapters
	}
	return out
}

// tagCache keeps each file's talk while its size and time are the same, so listing reads
// each tag once (and the archive's objects once per server), not at every GET.
type tagCache struct {
	mu    sync.Mutex
	files map[string]cachedTalk
}

type cachedTalk struct {
	size int64
	mod  time.Time
	talk talk
}

func (c *tagCache) get(name string, size int64, mod time.Time) (talk, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.files[name]
	return e.talk, ok && e.size == size && e.mod.Equal(mod)
}

// keep replaces the cache with the talks of the files listed now: files gone are forgotten.
func (c *tagCache) keep(list []File) {
	files := make(map[string]cachedTalk, len(list))
	for _, f := range list {
		if f.talk != nil && !f.Live {
			files[f.Name] = cachedTalk{f.Size, f.Modified, *f.talk}
		}
	}
	c.mu.Lock()
	c.files = files
	c.mu.Unlock()
}

// readTalk reads the talk of the file name from r (its start is enough): an unreadable tag is
// a talk with nothing to say.
func readTalk(name string, r io.Reader) talk {
	t, _, err := id3.Read(io.LimitReader(r, maxTagRead))
	if err != nil {
		t = id3.Tags{}
	}
	return talkOf(name, t)
}

// localTalk reads the talk of a file in the folder.
func (f *Folder) localTalk(root *os.Root, file *File) {
	if t, ok := f.cache.get(file.Name, file.Size, file.Modified); ok {
		file.talk = &t
		return
	}
	fl, err := root.Open(file.Name)
	if err != nil {
		return
	}
	defer fl.Close()
	t := readTalk(file.Name, fl)
	file.talk = &t
}

// archivedTalk reads the talk of an object in the archive, while ctx lasts.
func (f *Folder) archivedTalk(ctx context.Context, file *File) {
	if t, ok := f.cache.get(file.Name, file.Size, file.Modified); ok {
		file.talk = &t
		return
	}
	if ctx.Err() != nil {
		return
	}
	o, _, err := f.Archive.Open(ctx, file.Name)
	if err != nil {
		return
	}
	defer o.Close()
	t := readTalk(file.Name, o)
	file.talk = &t
}

// talkOr is *t, or a talk that says nothing.
func talkOr(t *talk) talk {
	if t == nil {
		return talk{Chapters: []proto.Chapter{}}
	}
	return *t
}

// setTalk fills in the JSON fields of file from its talk.
func (file *File) setTalk(t talk) {
	file.Title, file.Presenter, file.Duration, file.Chapters = t.Title, t.Presenter, t.Duration, t.Chapters
}
