package app

import (
	"time"

	"podium/app/studio"
	"podium/audio"
	"podium/audio/loudness"
	"podium/audio/pcm"
	"podium/rtc/whip"
)

// Snapshot is everything the window shows, read in one go.
type Snapshot struct {
	State     State
	Elapsed   time.Duration // from sample counts
	Peak, RMS float64       // dBFS
	// Momentary (400 ms) and ShortTerm (3 s) loudness in LUFS, NoLoudness when none.
	Momentary, ShortTerm float64
	// LoudnessWords: the short-term loudness against the presenter's target (LoudnessWords).
	LoudnessWords string
	// LastLoudness is the last saved talk's integrated loudness and range (nil: none yet,
	// or it was silent).
	LastLoudness   *loudness.Result
	Clipped        bool
	Muted          bool
	DroppedSamples uint64
	Link           string // the connection in words
	LinkState      whip.State
	File           string // the recording being made, or the last one made
	Device         string
	Warning        string // e.g. the disk is almost full
	// VoiceProblem says, when voice processing is asked for, that it could not start or has
	// failed, and that the voice goes on as the microphone hears it; "" when all is well.
	VoiceProblem string
	Err          error // why the session failed, in words with the fix

	// ListenURL is where listeners join (the listener page, its token in the fragment): the
	// built-in server's once it runs, or the configured server's when it can be derived;
	// "" when there is nowhere to share.
	ListenURL string
	// Listeners is how many listen now; ListenersKnown is false when nobody can say (a
	// configured server that does not answer GET /streams/{stream}).
	Listeners      int
	ListenersKnown bool
	// ShareLAN: ListenURL works from other devices (the built-in server on the local
	// network, or a configured server).
	ShareLAN bool
	// SharePending: the settings ask for another server or link than the one running; it
	// changes when the recording ends.
	SharePending bool
	// Studio is where the studio copy of the recording being made (or the last one) stands,
	// when StudioKnown (a configured server); StudioChanges counts changes of any copy, for
	// the history to look again.
	Studio        studio.Status
	StudioKnown   bool
	StudioChanges uint64
}

// Snapshot reads what the window shows: values at hand or cached, never the disk or the
// network, since the window asks many times a second.
func (s *Session) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		State: s.state, Muted: s.muted, File: s.file, Err: s.err,
		Peak: audio.Silence, RMS: audio.Silence,
		Momentary: loudness.Silent, ShortTerm: loudness.Silent,
		Link: linkWords(s.linkState, s.state), LinkState: s.linkState.State,
		Device: s.settings.Device, Warning: s.warning,
		StudioChanges: s.studioVer, LastLoudness: s.lastLoudness,
	}
	if u := s.uploads[s.lastFile]; u != nil {
		snap.Studio, snap.StudioKnown = u.Status(), true
	}
	switch {
	case s.local != nil:
		// the built-in server runs: the settings use it, or a recording still does
		snap.ListenURL = s.local.ListenURL()
		snap.Listeners, snap.ListenersKnown = s.local.Listeners(), true
		snap.ShareLAN = s.local.LAN()
		snap.SharePending = s.settings.ServerURL != "" || s.localCfg != wantLocal(s.settings)
	case s.settings.ServerURL != "":
		snap.ListenURL = RemoteListenURL(s.settings.ServerURL, s.settings.RemoteListenerToken)
		if snap.ListenURL != "" {
			snap.ShareLAN = true
			if s.remote.url == streamsURL(s.settings.ServerURL) { // not a count of the server before
				snap.Listeners, snap.ListenersKnown = s.remote.n, s.remote.known
			}
		}
	}
	if s.rec != nil {
		m := s.rec.Meter()
		snap.Elapsed = s.rec.Elapsed()
		snap.Peak, snap.RMS, snap.Clipped = m.Peak(), m.RMS(), m.Clipped()
		snap.Momentary, snap.ShortTerm = s.rec.Loudness()
		snap.LoudnessWords = LoudnessWords(snap.ShortTerm, s.settings.LoudnessTarget)
		snap.DroppedSamples = s.rec.DroppedSamples()
		snap.VoiceProblem = s.rec.VoiceProblem()
	}
	return snap
}

// Dropped is the audio DroppedSamples held: what is missing from the recording.
func (s Snapshot) Dropped() time.Duration { return pcm.Duration(int64(s.DroppedSamples)) }
