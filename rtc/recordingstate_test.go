package rtc

import (
	"errors"
	"testing"
	"time"

	"podium/scripts/testkit"
)

type nopSink struct{}

func (nopSink) WritePacket(int64, []byte) error { return nil }
func (nopSink) Close() error                    { return nil }

// TestRecordingTransitions steps a recording in every state by every event and checks the
// outcome against the README's story, written here once more by hand: a legal pair lands where
// the story says and does what landing there takes (a waiting recording has no session and a
// running grace, a closed one has neither and its sink closes), an illegal pair is an error
// and changes nothing.
func TestRecordingTransitions(t *testing.T) {
	const no = recState(-1) // illegal
	want := [numRecStates][numRecEvents]recState{
		//           fed      takeover   leave      delete     grace expired sink failed close
		recUnfed:   {recLive, recUnfed, recClosed, recClosed, no, no, recClosed},
		recLive:    {recLive, recLive, recGrace, recClosed, no, recStopped, recClosed},
		recGrace:   {no, recLive, no, no, recClosed, recStopped, recClosed},
		recStopped: {no, recClosed, recClosed, recClosed, recClosed, no, recClosed},
		recClosed:  {no, no, no, no, no, recClosed, recClosed},
	}
	// reach puts a new recording in state st the way a presenter would.
	path := map[recState][]recEvent{
		recUnfed:   nil,
		recLive:    {evFed},
		recGrace:   {evFed, evLeave},
		recStopped: {evFed, evSinkFailed},
		recClosed:  {evClose},
	}
	srv := &Server{
		cfg: ServerConfig{Grace: time.Hour, Record: func(string, time.Time) (Sink, error) { return nopSink{}, nil }},
		log: testkit.Logger(t),
	}
	for st := recUnfed; st < numRecStates; st++ {
		for ev := evFed; ev < numRecEvents; ev++ {
			t.Run(st.String()+"/"+ev.String(), func(t *testing.T) {
				sess := &session{}
				r := newRecording(srv, "talk", "tok", sess)
				r.mu.Lock()
				defer r.mu.Unlock()
				for _, e := range path[st] {
					if _, err := r.step(e); err != nil {
						t.Fatalf("on the way to %v: %v", st, err)
					}
				}
				if r.state != st {
					t.Fatalf("reached %v, not %v", r.state, st)
				}
				from, err := r.step(ev)
				if from != st {
					t.Errorf("step said it left %v, not %v", from, st)
				}
				if got, _ := st.next(ev); want[st][ev] == no {
					if !errors.Is(err, errIllegalTransition) || r.state != st || got != st {
						t.Errorf("illegal: got %v, err %v", r.state, err)
					}
				} else if err != nil || r.state != want[st][ev] || got != want[st][ev] {
					t.Errorf("got %v, err %v, want %v", r.state, err, want[st][ev])
				}
				if ev == evTakeover && err == nil && r.state != recClosed {
					sess = &session{}
					r.owner = sess // as takeOver does: the new session owns it
				}
				switch r.state {
				case recUnfed, recLive:
					if r.owner != sess {
						t.Errorf("%v without its session", r.state)
					}
				case recGrace:
					if r.owner != nil || r.grace == nil {
						t.Errorf("grace: owner %v, wait %v", r.owner, r.grace)
					}
				case recClosed:
					if r.owner != nil || r.grace != nil {
						t.Errorf("closed: owner %v, wait %v", r.owner, r.grace)
					}
				}
				if r.state != recClosed {
					_, _ = r.step(evClose)
				}
				r.mu.Unlock()
				select {
				case <-r.done: // the sink (if any) is closed
				case <-time.After(5 * time.Second):
					t.Error("closed, but the sink was not")
				}
				r.mu.Lock()
			})
		}
	}
	// Every pair of the table is one of the pairs above.
	if n := len(recTransitions); n > int(numRecStates)*int(numRecEvents) {
		t.Errorf("%d transitions", n)
	}
	for step := range recTransitions {
		if step.from < 0 || step.from >= numRecStates || step.ev < 0 || step.ev >= numRecEvents {
			t.Errorf("transition %v out of range", step)
		}
	}
}
