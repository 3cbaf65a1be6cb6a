package app

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"podium/app/disk"
	"podium/app/oserr"
	"podium/app/studio"
	"podium/audio/capture"
	"podium/rtc/whip"
)

// NoMicrophone is what the presenter reads when there is no microphone at all: the one
// wording, wherever it is shown.
const NoMicrophone = "No microphone found: plug one in and press Refresh"

// explained is an error in a presenter's words that still unwraps to its cause, so callers
// can tell the kind with errors.Is.
type explained struct {
	words string
	cause error
}

func (e *explained) Error() string { return e.words }
func (e *explained) Unwrap() error { return e.cause }

// Explain turns an error into words a presenter can act on.
func Explain(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, capture.ErrNoDevice):
		// The cause says the same in a developer's words: once is enough.
		return &explained{words: NoMicrophone, cause: err}
	case oserr.DiskFull(err):
		return fmt.Errorf("The disk is full — recording stopped and kept: free some space (%w)", err)
	case oserr.NotWritable(err):
		return fmt.Errorf("Cannot write to the recordings folder: choose another in Settings (%w)", err)
	}
	return err
}

// LowDiskWarning says so when dir has room for less than disk.LowMinutes of recording at
// kbps, and is "" otherwise (or when it cannot tell).
func LowDiskWarning(dir string, kbps int) string {
	room, err := disk.RoomIn(dir, kbps)
	if err != nil || !room.Low() {
		return ""
	}
	return "Disk almost full: " + room.String()
}

// disconnected says a microphone went away mid-recording and what became of the file:
// saveErr is why making it complete failed, or nil.
func disconnected(device string, elapsed time.Duration, file string, saveErr error) error {
	if saveErr != nil {
		return fmt.Errorf("The microphone %q was disconnected, and saving failed: %w", device, Explain(saveErr))
	}
	return fmt.Errorf("The microphone %q was disconnected. Everything up to %s is saved in %s. Choose a microphone and press Continue, or Stop.",
		device, clockText(elapsed), filepath.Base(file))
}

// notContinued says why Continue failed, and that nothing recorded is lost.
func notContinued(err error) error {
	return fmt.Errorf("%w — the recording so far is saved; choose another microphone, or Stop", Explain(err))
}

// writeFailed says a recording ended because its file could not be written; err is what
// finishing it reported, if anything.
func writeFailed(err error, file string) error {
	if err == nil {
		err = errors.New("the recording could not be written")
	}
	return fmt.Errorf("%w (%s)", Explain(err), filepath.Base(file))
}

func clockText(d time.Duration) string {
	d = d.Round(time.Second)
	return fmt.Sprintf("%d:%02d:%02d", int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// linkWords says the connection's state as a presenter needs to read it.
func linkWords(st whip.Status, session State) string {
	switch st.State {
	case whip.Connecting:
		return "Connecting…"
	case whip.Live:
		return "Live"
	case whip.Reconnecting:
		return fmt.Sprintf("Reconnecting in %d s — recording locally", int((st.NextTry+time.Second-1)/time.Second))
	case whip.Failed:
		switch {
		case errors.Is(st.Err, whip.ErrTokenRefused):
			return "Token refused — recording locally (check the token in Settings)"
		case errors.Is(st.Err, whip.ErrNoEndpoint):
			return "No live server at that address — recording locally (check Settings)"
		}
		return "Offline — recording locally"
	}
	if session == StateRecording {
		return "Offline — recording locally"
	}
	return "Not connected"
}

// loudnessTolerance is how far the short-term loudness may stray from the target and still
// be "good": speech moves by a few LU from one sentence to the next.
const loudnessTolerance = 3

// LoudnessWords says how the last 3 s compare with the presenter's target (LUFS, 0 for
// none): "too quiet", "good" or "too loud"; "" without a target or before there is any
// loudness to compare.
func LoudnessWords(shortTerm float64, target int) string {
	switch {
	case target == 0 || shortTerm <= NoLoudness:
		return ""
	case shortTerm < float64(target)-loudnessTolerance:
		return "too quiet"
	case shortTerm > float64(target)+loudnessTolerance:
		return "too loud"
	}
	return "good"
}

// Size says a byte count for people: 812 kB, 5.8 MB, 1.2 GB.
func Size(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%d kB", (n+500)/1000)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f GB", float64(n)/1e9)
}

// StudioWords says where a studio copy stands, for the link line.
func StudioWords(st studio.Status) string {
	switch st.State {
	case studio.Uploading:
		if st.Size > 0 {
			return fmt.Sprintf("studio copy uploading (%s of %s)", Size(st.Sent), Size(st.Size))
		}
		return "studio copy uploading"
	case studio.Waiting:
		return "studio copy waiting for the network"
	case studio.Done:
		return "studio copy on the server"
	case studio.LiveOnly:
		return "live only (the server takes no studio copy)"
	}
	return "studio copy not uploaded"
}

// StudioShort is StudioWords for a history row, where room is short.
func StudioShort(st studio.Status) string {
	switch st.State {
	case studio.Uploading:
		if st.Size > 0 {
			return fmt.Sprintf("uploading %d %%", 100*st.Sent/st.Size)
		}
		return "uploading"
	case studio.Waiting:
		return "upload waiting"
	case studio.Done:
		return "on the server"
	case studio.LiveOnly:
		return "live only"
	}
	return "not uploaded"
}

// StudioOnServer says the copy is on the server, checked: nothing more to tell of it.
func StudioOnServer(st studio.Status) bool { return st.State == studio.Done }

// StudioStalled says no uploader is sending the copy now (it failed, or waits for the
// network): the presenter may send it again.
func StudioStalled(st studio.Status) bool {
	return st.State == studio.Failed || st.State == studio.Waiting
}
