package rtc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HTTPLimits bound what HTTP clients can hold of a server: podium-server and the app's
// built-in server serve through NewHTTPServer, so both have the same limits.
type HTTPLimits struct {
	// MaxConns bounds open connections. At the limit a new connection takes the place of the
	// oldest that holds no request (an idle keep-alive, or one that has not finished its
	// headers: a real client sends them at once, so under a flood of silent connections it
	// is always among the newest); when every one is busy with a request, the newcomer is
	// answered 503. Default 1000.
	MaxConns int
	// WriteStall ends a connection whose client has stopped taking what is written to it:
	// every write to a connection (headers, body, anything) has a deadline WriteStall away,
	// pushed on for as long as the client keeps acknowledging at least writeProgress bytes
	// per WriteStall (on Linux and macOS, from the kernel's TCP counters; elsewhere each write
	// must simply finish within WriteStall). So a client that stops reading holds its
	// connection, its goroutine and any file it was sent for no longer than that, while one
	// that keeps reading, however slowly, downloads as long a recording as it likes.
	// Default 15 s.
	WriteStall time.Duration
}

const (
	defaultMaxConns   = 1000
	defaultWriteStall = 15 * time.Second
	// writeProgress is the least a client must take per WriteStall to keep its deadline
	// moving: 20 KiB in 15 s is about 1.3 KiB/s, far below any listener's connection.
	writeProgress = 20 << 10
	// headerTimeout, readTimeout and idleTimeout bound the request side: headers within
	// 10 s, the whole request (an offer is at most 64 KiB) within 20 s, an idle keep-alive
	// for 2 minutes.
	headerTimeout = 10 * time.Second
	readTimeout   = 20 * time.Second
	idleTimeout   = 2 * time.Minute
)

// HTTPServer serves a handler with every read and write bounded in time and the number of
// connections capped (HTTPLimits). Serve it on any number of listeners; they share the cap.
type HTTPServer struct {
	hs    *http.Server
	conns *connTracker
}

// NewHTTPServer wraps h with Podium's limits.
func NewHTTPServer(h http.Handler, lim HTTPLimits) *HTTPServer {
	orDefault(&lim.MaxConns, defaultMaxConns)
	orDefault(&lim.WriteStall, defaultWriteStall)
	s := &HTTPServer{conns: &connTracker{max: lim.MaxConns, stall: lim.WriteStall, open: map[*trackedConn]struct{}{}}}
	s.hs = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: headerTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ConnState:         s.conns.state,
	}
	return s
}

// Serve accepts connections on ln until Shutdown or Close; like http.Server.Serve it always
// returns an error (http.ErrServerClosed after Shutdown).
func (s *HTTPServer) Serve(ln net.Listener) error {
	return s.hs.Serve(&limitListener{Listener: ln, t: s.conns})
}

// Shutdown stops accepting, lets requests under way finish until ctx ends, then closes the
// connections still open (a client that stops reading cannot hold a shutdown up).
func (s *HTTPServer) Shutdown(ctx context.Context) error {
	err := s.hs.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return s.hs.Close()
	}
	return err
}

// Conns is how many connections are open now.
func (s *HTTPServer) Conns() int { return s.conns.count() }

// Collectors are the server's HTTP connection metrics, for Server.RegisterMetrics.
func (s *HTTPServer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "podium_http_connections", Help: "HTTP connections open now."},
			func() float64 { return float64(s.Conns()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_http_connections_refused_total", Help: "HTTP connections answered 503 because every connection was busy."},
			func() float64 { return float64(s.conns.refused.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_http_connections_evicted_total", Help: "Idle or silent HTTP connections closed to make room for a new one."},
			func() float64 { return float64(s.conns.evicted.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_http_write_stalls_total", Help: "HTTP connections ended because the client stopped reading."},
			func() float64 { return float64(s.conns.stalled.Load()) }),
	}
}

// connTracker counts the open connections and knows which may be closed to make room.
type connTracker struct {
	max                       int
	stall                     time.Duration
	mu                        sync.Mutex
	open                      map[*trackedConn]struct{}
	refused, evicted, stalled atomic.Uint64
	refusing                  atomic.Int32 // 503 answers being written now
}

// trackedConn is one admitted connection: counted until closed, and every write bounded.
type trackedConn struct {
	net.Conn
	t     *connTracker
	state http.ConnState // under t.mu
	since time.Time      // when it entered state
	once  sync.Once

	// The write under way (one at a time: http.Server writes from the connection's own
	// goroutine), watched by timer.
	wmu      sync.Mutex
	writing  bool
	timer    *time.Timer
	base     uint64 // what the kernel said the client had taken, when last it moved on enough
	haveBase bool   // the kernel says (Linux, macOS)
	stalled  bool
}

// Write gives every write a deadline WriteStall away, which check pushes on while the client
// keeps taking data.
func (c *trackedConn) Write(p []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.t.stall))
	base, ok := bytesTaken(c.Conn)
	c.wmu.Lock()
	c.writing, c.base, c.haveBase = true, base, ok
	if c.timer == nil {
		c.timer = time.AfterFunc(c.t.stall/3, c.check)
	} else {
		c.timer.Reset(c.t.stall / 3)
	}
	c.wmu.Unlock()
	n, err := c.Conn.Write(p)
	c.wmu.Lock()
	c.writing = false
	c.timer.Stop()
	first := err != nil && !c.stalled && errors.Is(err, os.ErrDeadlineExceeded)
	c.stalled = c.stalled || first
	c.wmu.Unlock()
	if first {
		c.t.stalled.Add(1)
		// What the kernel still holds for a client that stopped reading is of no use to it:
		// the close that follows resets the connection instead of leaving megabytes queued
		// in an orphaned socket.
		if tcp, ok := c.Conn.(*net.TCPConn); ok {
			_ = tcp.SetLinger(0)
		}
	}
	return n, err
}

// check runs every WriteStall/3 while a write blocks: if the client has taken writeProgress
// bytes since the last time it had, the deadline moves to WriteStall from now.
func (c *trackedConn) check() {
	taken, ok := bytesTaken(c.Conn)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if !c.writing || !ok || !c.haveBase {
		return
	}
	if taken-c.base >= writeProgress {
		c.base = taken
		_ = c.Conn.SetWriteDeadline(time.Now().Add(c.t.stall))
	}
	c.timer.Reset(c.t.stall / 3)
}

func (c *trackedConn) Close() error {
	c.once.Do(c.forget)
	return c.Conn.Close()
}

func (c *trackedConn) forget() {
	c.t.mu.Lock()
	delete(c.t.open, c)
	c.t.mu.Unlock()
}

func (t *connTracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.open)
}

// state follows http.Server's view of each connection.
func (t *connTracker) state(c net.Conn, st http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	if st == http.StateClosed {
		tc.once.Do(tc.forget)
		return
	}
	t.mu.Lock()
	tc.state, tc.since = st, time.Now()
	t.mu.Unlock()
}

// admit registers c, making room if it must; nil means there is none.
func (t *connTracker) admit(c net.Conn) *trackedConn {
	tc := &trackedConn{Conn: c, t: t, state: http.StateNew, since: time.Now()}
	t.mu.Lock()
	var victim *trackedConn
	if len(t.open) >= t.max {
		for o := range t.open {
			evictable := o.state == http.StateIdle || o.state == http.StateNew
			if evictable && (victim == nil || o.since.Before(victim.since)) {
				victim = o
			}
		}
		if victim == nil {
			t.mu.Unlock()
			return nil
		}
		delete(t.open, victim)
	}
	t.open[tc] = struct{}{}
	t.mu.Unlock()
	if victim != nil {
		t.evicted.Add(1)
		victim.once.Do(func() {}) // already forgotten
		_ = victim.Conn.Close()
	}
	return tc
}

// refuse answers a connection there is no room for with 503 and closes it, without
// blocking the accept loop; beyond a few such answers at once it just closes.
func (t *connTracker) refuse(c net.Conn) {
	t.refused.Add(1)
	if t.refusing.Add(1) > 32 {
		t.refusing.Add(-1)
		_ = c.Close()
		return
	}
	go func() {
		defer t.refusing.Add(-1)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(250 * time.Millisecond))
		// The answer comes after the request's headers (a client does not expect one before
		// it has asked); a connection that sends none in time is simply closed.
		buf := make([]byte, 0, 8<<10)
		for !bytes.Contains(buf, []byte("\r\n\r\n")) {
			if len(buf) == cap(buf) {
				break
			}
			n, err := c.Read(buf[len(buf):cap(buf)])
			buf = buf[:len(buf)+n]
			if err != nil {
				return
			}
		}
		_, _ = io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Retry-After: 5\r\nConnection: close\r\nContent-Length: 24\r\n\r\nserver busy, try again\r\n")
		// Read what else the client sent, so closing does not reset the connection before
		// it has read the answer.
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

// limitListener admits connections through a connTracker.
type limitListener struct {
	net.Listener
	t *connTracker
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.t.admit(c); tc != nil {
			return tc, nil
		}
		l.t.refuse(c)
	}
}
