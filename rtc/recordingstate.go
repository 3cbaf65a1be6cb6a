package rtc

import (
	"errors"
	"fmt"
)

// recState is where a recording is in its life. One field holds it (recording.state) and one
// function changes it (recording.step), by the table below.
type recState int

const (
	// recUnfed: a session owns the recording but has sent no packet yet, so no sink is open
	// and no writer runs (a session that never sends media leaves nothing behind).
	recUnfed recState = iota
	// recLive: a session owns it and its packets go to the writer.
	recLive
	// recGrace: its session went away; the sink stays open for Grace, for the presenter to
	// come back to.
	recGrace
	// recStopped: the sink failed and was finalised with what it had; the session, if any,
	// goes on unrecorded (and listeners go on hearing it). A grace that was running when the
	// sink failed still runs out.
	recStopped
	// recClosed: finished. Nothing more is queued; the writer closes the sink.
	recClosed
	numRecStates
)

func (s recState) String() string {
	return [...]string{"unfed", "live", "grace", "stopped", "closed"}[s]
}

// recEvent is what happens to a recording.
type recEvent int

const (
	evFed          recEvent = iota // its session's packet was placed on the timeline
	evTakeover                     // a new session of the same token took it over (a POST)
	evLeave                        // its session ended by itself: ICE failed or closed, or idle
	evDelete                       // its session was deleted: the presenter stopped
	evGraceExpired                 // the presenter did not come back within Grace
	evSinkFailed                   // the Sink failed: it takes nothing more
	evClose                        // the server closes it (Shutdown)
	numRecEvents
)

func (e recEvent) String() string {
	return [...]string{"fed", "takeover", "leave", "delete", "grace expired", "sink failed", "close"}[e]
}

type recStep struct {
	from recState
	ev   recEvent
}

// recTransitions is the recording's whole life. Read it beside the README's presenter who
// drops and comes back: she connects (unfed), speaks (live), her network drops (grace), she
// comes back within --grace and the same file goes on, the gap filled with silence (live), she
// presses Stop (closed). A pair that is not here is an illegal transition: step refuses it and
// says so, and the state does not change.
var recTransitions = map[recStep]recState{
	{recUnfed, evFed}:      recLive,   // the first packet opens the sink
	{recUnfed, evTakeover}: recUnfed,  // she reconnected before sending anything
	{recUnfed, evLeave}:    recClosed, // gone before sending anything: nothing to keep
	{recUnfed, evDelete}:   recClosed,
	{recUnfed, evClose}:    recClosed,

	{recLive, evFed}:        recLive,
	{recLive, evTakeover}:   recLive,  // she reconnected before the server saw the old connection die
	{recLive, evLeave}:      recGrace, // her connection dropped: keep the file open for --grace
	{recLive, evDelete}:     recClosed,
	{recLive, evSinkFailed}: recStopped,
	{recLive, evClose}:      recClosed,

	{recGrace, evTakeover}:     recLive, // back within --grace: the same file goes on
	{recGrace, evGraceExpired}: recClosed,
	{recGrace, evSinkFailed}:   recStopped, // the writer failed on what was still queued
	{recGrace, evClose}:        recClosed,

	{recStopped, evTakeover}:     recClosed, // her new session starts a new file; this one ends
	{recStopped, evLeave}:        recClosed, // nothing to resume
	{recStopped, evDelete}:       recClosed,
	{recStopped, evGraceExpired}: recClosed, // it failed while waiting; the wait ends as it would have
	{recStopped, evClose}:        recClosed,

	{recClosed, evSinkFailed}: recClosed, // failed writing out its queue: it is closing anyway
	{recClosed, evClose}:      recClosed, // close is idempotent
}

// errIllegalTransition is what step returns for a pair the table does not have.
var errIllegalTransition = errors.New("illegal recording transition")

// next looks ev up in the table.
func (s recState) next(ev recEvent) (recState, error) {
	to, ok := recTransitions[recStep{s, ev}]
	if !ok {
		return s, fmt.Errorf("%w: %v in state %v", errIllegalTransition, ev, s)
	}
	return to, nil
}
