package whip

import (
	"errors"
	"testing"
)

// TestClientTransitions steps a client in every phase by every event and checks the outcome
// against the story of a presenter whose network drops, written here once more by hand: a
// legal pair lands where the story says and does what landing there takes (the time live
// runs exactly while packets go out, and the first live phase lets queued packets go), an
// illegal pair is an error and changes nothing.
func TestClientTransitions(t *testing.T) {
	const (
		no                                               = phase(-1) // illegal
		idl, dia, con, liv, itr, rst, rch, wai, fai, drn = phIdle, phDialing, phConnecting, phLive, phInterrupted, phRestarting, phRechecking, phWaiting, phFailed, phDraining
		clo                                              = phClosed
	)
	want := [numPhases][numEvents]phase{
		//    start dialed dialFailed refused up interrupted lost gone restarted retry close drained
		phIdle:        {dia, no, no, no, no, no, no, no, no, no, clo, no},
		phDialing:     {no, con, wai, fai, no, no, no, no, no, no, clo, no},
		phConnecting:  {no, no, no, no, liv, itr, rst, no, no, no, clo, no},
		phLive:        {no, no, no, no, no, itr, rst, no, no, no, drn, no},
		phInterrupted: {no, no, no, no, liv, no, rst, wai, no, no, clo, no},
		phRestarting:  {no, no, no, no, no, no, no, wai, rch, no, clo, no},
		phRechecking:  {no, no, no, no, liv, itr, no, wai, no, no, clo, no},
		phWaiting:     {no, no, no, no, no, no, no, no, no, dia, clo, no},
		phFailed:      {no, no, no, no, no, no, no, no, no, no, clo, no},
		phDraining:    {no, no, no, no, no, clo, clo, no, no, no, no, clo},
		phClosed:      {no, no, no, no, no, no, no, no, no, no, no, clo},
	}
	// path puts a new client in phase p the way a presenter's would get there.
	path := map[phase][]event{
		phIdle:        nil,
		phDialing:     {evStart},
		phConnecting:  {evStart, evDialed},
		phLive:        {evStart, evDialed, evUp},
		phInterrupted: {evStart, evDialed, evUp, evInterrupted},
		phRestarting:  {evStart, evDialed, evUp, evLost},
		phRechecking:  {evStart, evDialed, evUp, evLost, evRestarted},
		phWaiting:     {evStart, evDialFailed},
		phFailed:      {evStart, evRefused},
		phDraining:    {evStart, evDialed, evUp, evClose},
		phClosed:      {evClose},
	}
	for p := phIdle; p < numPhases; p++ {
		for ev := evStart; ev < numEvents; ev++ {
			t.Run(p.String()+"/"+ev.String(), func(t *testing.T) {
				c := &Client{firstLive: make(chan struct{}), log: t.Logf}
				for _, e := range path[p] {
					if err := c.step(e); err != nil {
						t.Fatalf("on the way to %v: %v", p, err)
					}
				}
				if c.current() != p {
					t.Fatalf("reached %v, not %v", c.current(), p)
				}
				wasLive := c.wasLive()
				err := c.step(ev)
				if got, _ := p.next(ev); want[p][ev] == no {
					if !errors.Is(err, errIllegalTransition) || c.current() != p || got != p {
						t.Errorf("illegal: got %v, err %v", c.current(), err)
					}
				} else if err != nil || c.current() != want[p][ev] || got != want[p][ev] {
					t.Errorf("got %v, err %v, want %v", c.current(), err, want[p][ev])
				}
				now := c.current()
				if live := !c.liveSince.IsZero(); live != now.sending() {
					t.Errorf("%v: time live running %v", now, live)
				}
				if now == phLive && !c.wasLive() || !wasLive && now != phLive && c.wasLive() {
					t.Errorf("%v: first live %v (before: %v)", now, c.wasLive(), wasLive)
				}
			})
		}
	}
	// Every pair of the table is one of the pairs above.
	if n := len(transitions); n > int(numPhases)*int(numEvents) {
		t.Errorf("%d transitions", n)
	}
	for tr := range transitions {
		if tr.from < 0 || tr.from >= numPhases || tr.ev < 0 || tr.ev >= numEvents {
			t.Errorf("transition %v out of range", tr)
		}
	}
}
