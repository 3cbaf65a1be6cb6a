package rtc

import (
	"sync"
	"time"
)

// The pump writes a stream's packets to its listeners. One goroutine per stream writes each
// packet to every listener in turn, inline: waking a goroutine per listener per packet cost
// more than the write itself (a futex wake-up and a scheduler round each, 50 times a
// second per listener). The isolation of a goroutine per listener stays for the listener
// that needs it: one whose write does not return within stuckAfter (a blocked socket, a
// PeerConnection busy closing) is left to its own writer goroutine from then on
// (listener.write, fed by its bounded queue, dropping its oldest packets), and a new pump
// goes on with the same packet where the stuck one stopped. The stuck pump, when its write
// returns, sees it was replaced and ends. The watchdog is the publisher's own goroutine,
// which calls in for every packet (check), so nothing wakes on a timer.

// stuckAfter is how long one listener's write may take before that listener gets its own
// goroutine. A write takes microseconds; this is scheduling noise on a loaded machine, many
// times over.
const stuckAfter = 50 * time.Millisecond

// pumpQueue is how many packets a stream's pump may fall behind before the oldest go (for
// every listener: the pump itself fell behind, not one listener).
const pumpQueue = 64

type pump struct {
	ch    *fanout
	batch batcher // the shared port's sockets: each packet's writes to all go out in one batch

	mu      sync.Mutex
	gen     int       // the running pump's; a pump that finds another ends
	pending []*outPkt // oldest first, at most pumpQueue
	cur     *pumpAt   // the write in progress, nil between packets
	step    uint64    // writes started, for the watchdog
	seen    uint64    // step as the watchdog last saw it changing, and when
	seenAt  time.Time
	quit    bool
	inBatch bool // the running pump has a batch open (a replaced pump's is ended for it)

	wake chan struct{} // one token: packets are pending
}

// pumpAt is where a pump is: writing p to subs[i].
type pumpAt struct {
	p    *outPkt
	subs []*listener
	i    int
}

func newPump(ch *fanout, batch batcher) *pump {
	pm := &pump{ch: ch, batch: batch, wake: make(chan struct{}, 1)}
	go pm.run(0, nil)
	return pm
}

// push queues p (and held first, if any) for every listener, never blocking, and checks that
// the running pump is not stuck in one listener's write.
func (pm *pump) push(held, p *outPkt, subs []*listener, now time.Time) {
	pm.mu.Lock()
	for _, q := range []*outPkt{held, p} {
		if q == nil {
			continue
		}
		if len(pm.pending) == pumpQueue {
			pm.pending = pm.pending[1:]
			for _, l := range subs {
				l.drop()
			}
		}
		pm.pending = append(pm.pending, q)
	}
	pm.check(now)
	pm.mu.Unlock()
	select {
	case pm.wake <- struct{}{}:
	default:
	}
}

// check is the watchdog: a write in progress that has not moved on for stuckAfter leaves its
// listener to its own goroutine, and a new pump carries on after it. Called with pm.mu held.
func (pm *pump) check(now time.Time) {
	if pm.cur == nil || pm.step != pm.seen {
		pm.seen, pm.seenAt = pm.step, now
		return
	}
	if now.Sub(pm.seenAt) < stuckAfter {
		return
	}
	at := pm.cur
	at.subs[at.i].slow.Store(true)
	pm.replace()
	go pm.run(pm.gen, at)
}

// replace makes the running pump stop at its next step, and ends its batch for it (it
// may be stuck in a write for good). Called with pm.mu held.
func (pm *pump) replace() {
	pm.gen++
	pm.cur = nil
	if pm.inBatch {
		pm.inBatch = false
		pm.batch.end()
	}
}

// stop ends the pump once its current write returns.
func (pm *pump) stop() {
	pm.mu.Lock()
	pm.quit = true
	pm.replace()
	pm.mu.Unlock()
	select {
	case pm.wake <- struct{}{}:
	default:
	}
}

// run is pump number gen; from, when set, is where a stuck pump stopped: the same packet to
// the listeners after the stuck one.
func (pm *pump) run(gen int, from *pumpAt) {
	if from != nil {
		pm.mu.Lock()
		if pm.gen != gen {
			pm.mu.Unlock()
			return
		}
		pm.open()
		pm.mu.Unlock()
		if !pm.send(gen, from.p, from.subs, from.i+1) {
			return
		}
	}
	for {
		pm.mu.Lock()
		if pm.gen != gen {
			pm.mu.Unlock()
			return
		}
		if len(pm.pending) == 0 {
			pm.mu.Unlock()
			<-pm.wake
			continue
		}
		pm.open()
		p := pm.pending[0]
		pm.pending[0] = nil
		pm.pending = pm.pending[1:]
		if len(pm.pending) == 0 {
			pm.pending = pm.pending[:0:0] // let the backing array go round again from the start
		}
		pm.mu.Unlock()
		var subs []*listener
		if l := pm.ch.subs.Load(); l != nil {
			subs = *l
		}
		if !pm.send(gen, p, subs, 0) {
			return
		}
	}
}

// send writes p to subs[i:], inline, or to the queue of those that have their own goroutine.
// false: this pump was replaced or stopped meanwhile.
func (pm *pump) send(gen int, p *outPkt, subs []*listener, i int) bool {
	at := pumpAt{p: p, subs: subs}
	for ; i < len(subs); i++ {
		l := subs[i]
		if l.slow.Load() {
			l.enqueue(p)
			continue
		}
		pm.mu.Lock()
		if pm.gen != gen {
			pm.mu.Unlock()
			return false
		}
		at.i = i
		pm.cur = &at
		pm.step++
		pm.mu.Unlock()
		l.send(p)
	}
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if pm.gen != gen {
		return false
	}
	pm.cur = nil
	if pm.inBatch {
		pm.inBatch = false
		pm.batch.end()
	}
	return true
}

// open starts a batch for the packet the pump takes. Called with pm.mu held.
func (pm *pump) open() {
	pm.inBatch = true
	pm.batch.begin()
}
