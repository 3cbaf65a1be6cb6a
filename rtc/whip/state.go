package whip

import (
	"errors"
	"fmt"
)

// phase is where a Client is in its life. One field holds it (Client.phase) and one
// function changes it (Client.step), by the table below. Status, what a UI is told, follows
// from the phases but says more (the attempt, the next try, the error).
type phase int32

const (
	// phIdle: before Start; nothing was sent.
	phIdle phase = iota
	// phDialing: POSTing an offer for a new session.
	phDialing
	// phConnecting: a new session; ICE and DTLS are not up yet.
	phConnecting
	// phLive: media flows.
	phLive
	// phInterrupted: ICE reports no connectivity; Pion may still recover within
	// DisconnectTimeout.
	phInterrupted
	// phRestarting: the connection was lost; PATCHing an ICE restart on the same session,
	// which keeps the server's clock and recording.
	phRestarting
	// phRechecking: ICE was restarted; it is not up yet.
	phRechecking
	// phWaiting: no connection; a new session is due after a backoff (none right after a
	// connection that held).
	phWaiting
	// phFailed: the server refused for good (token, endpoint, offer).
	phFailed
	// phDraining: Close was called while live: WritePacket refuses, and the sender sends what
	// is still queued, for up to drainWait.
	phDraining
	// phClosed: Close was called; nothing more is sent.
	phClosed
	numPhases
)

func (p phase) String() string {
	return [...]string{"idle", "dialing", "connecting", "live", "interrupted", "restarting",
		"rechecking", "waiting", "failed", "draining", "closed"}[p]
}

// sending says whether packets go out to the network in p.
func (p phase) sending() bool { return p == phLive || p == phDraining }

// event is what happens to a Client.
type event int

const (
	evStart       event = iota // Start was called
	evDialed                   // a new session was made
	evDialFailed               // no session, for now (network, server error, overload)
	evRefused                  // no session, for good
	evUp                       // ICE and DTLS connected: media flows
	evInterrupted              // ICE disconnected
	evLost                     // the connection is gone (failed, closed, timed out): restart its ICE
	evGone                     // gone, and an ICE restart cannot help (the last never came up, or it failed)
	evRestarted                // the server answered the ICE restart and its answer applies
	evRetry                    // the backoff is over
	evClose                    // Close was called
	evDrained                  // Close sent what was queued, or stopped waiting for it
	numEvents
)

func (e event) String() string {
	return [...]string{"start", "dialed", "dial failed", "refused", "up", "interrupted", "lost",
		"gone", "restarted", "retry", "close", "drained"}[e]
}

type transition struct {
	from phase
	ev   event
}

// transitions is the client's whole life. Read it beside the README's presenter whose
// network drops: she presses Go live (dialing), the server answers (connecting), audio flows
// (live), her Wi-Fi stalls (interrupted), it does not come back in time (lost: restarting),
// the server takes the ICE restart on the same session (rechecking), audio flows again
// (live), she presses Stop (draining, then closed). If the server is away instead, the
// client waits and dials new sessions until it is back. A pair that is not here is an
// illegal transition: step refuses it and the phase does not change.
var transitions = map[transition]phase{
	{phIdle, evStart}: phDialing,
	{phIdle, evClose}: phClosed, // closed without ever starting

	{phDialing, evDialed}:     phConnecting,
	{phDialing, evDialFailed}: phWaiting,
	{phDialing, evRefused}:    phFailed,
	{phDialing, evClose}:      phClosed,

	{phConnecting, evUp}:          phLive,
	{phConnecting, evInterrupted}: phInterrupted,
	{phConnecting, evLost}:        phRestarting, // never up: the session may still be fine
	{phConnecting, evClose}:       phClosed,

	{phLive, evInterrupted}: phInterrupted,
	{phLive, evLost}:        phRestarting,
	{phLive, evClose}:       phDraining,

	{phInterrupted, evUp}:    phLive, // Pion recovered by itself
	{phInterrupted, evLost}:  phRestarting,
	{phInterrupted, evGone}:  phWaiting, // a restart that never came up: the session may be the trouble
	{phInterrupted, evClose}: phClosed,

	{phRestarting, evRestarted}: phRechecking,
	{phRestarting, evGone}:      phWaiting, // the restart failed: a new session
	{phRestarting, evClose}:     phClosed,

	{phRechecking, evUp}:          phLive,
	{phRechecking, evInterrupted}: phInterrupted,
	{phRechecking, evGone}:        phWaiting,
	{phRechecking, evClose}:       phClosed,

	{phWaiting, evRetry}: phDialing,
	{phWaiting, evClose}: phClosed,

	{phFailed, evClose}: phClosed,

	{phDraining, evDrained}:     phClosed,
	{phDraining, evInterrupted}: phClosed, // nowhere to send what is left: it is counted as dropped
	{phDraining, evLost}:        phClosed,

	{phClosed, evDrained}: phClosed, // the connection dropped while draining
}

// errIllegalTransition is what step returns for a pair the table does not have.
var errIllegalTransition = errors.New("illegal WHIP client transition")

// next looks ev up in the table.
func (p phase) next(ev event) (phase, error) {
	to, ok := transitions[transition{p, ev}]
	if !ok {
		return p, fmt.Errorf("%w: %v in phase %v", errIllegalTransition, ev, p)
	}
	return to, nil
}
