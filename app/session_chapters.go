package app

import "fmt"

// The talk's title and chapters, as the presenter gives them while recording: into the
// recording (its chapter log at once, its tag at Stop) and to the server, if it takes them.

// MarkChapter marks a chapter named name ("" for none yet) at the current recorded position:
// the audio written to the local MP3 so far. An error when not recording.
func (s *Session) MarkChapter(name string) (Chapter, error) {
	s.mu.Lock()
	rec, live, st := s.rec, s.live, s.state
	s.mu.Unlock()
	if rec == nil || st != StateRecording {
		return Chapter{}, fmt.Errorf("mark a chapter: not recording (%s)", st)
	}
	c, err := rec.MarkChapter(name)
	if err != nil {
		return Chapter{}, err
	}
	if live != nil {
		live.MarkChapter(c.Name)
	}
	s.cfg.OnChange()
	return c, nil
}

// RenameChapter names chapter i (from 0) of the recording under way.
func (s *Session) RenameChapter(i int, name string) error {
	s.mu.Lock()
	rec, live, st := s.rec, s.live, s.state
	s.mu.Unlock()
	if rec == nil || (st != StateRecording && st != StateInterrupted) {
		return fmt.Errorf("rename chapter: not recording (%s)", st)
	}
	if err := rec.RenameChapter(i, name); err != nil {
		return err
	}
	if live != nil {
		live.RenameChapter(i, cleanName(name))
	}
	s.cfg.OnChange()
	return nil
}

// SetTitle sets the talk's title (CleanTitle): the next talk's, kept in Settings().Title
// (for SaveSettings to store), and, while recording, the recording's until Stop, for its tag
// and, best effort, the server.
func (s *Session) SetTitle(title string) {
	title = CleanTitle(title)
	s.mu.Lock()
	s.settings.Title = title
	rec, live := s.rec, s.live
	s.mu.Unlock()
	if rec != nil {
		if err := rec.SetTitle(title); err == nil && live != nil {
			live.SetTitle(title)
		}
	}
	s.cfg.OnChange()
}

// Chapters are the chapters of the recording under way, in order (none between recordings).
func (s *Session) Chapters() []Chapter {
	s.mu.Lock()
	rec := s.rec
	s.mu.Unlock()
	if rec == nil {
		return nil
	}
	return rec.Chapters()
}
