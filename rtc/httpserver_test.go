package rtc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"podium/scripts/testkit"
)

// serveHTTP serves h through NewHTTPServer on a loopback port; Cleanup shuts it down.
func serveHTTP(t *testing.T, h http.Handler, lim HTTPLimits) (*HTTPServer, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(h, lim)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return hs, ln.Addr().String()
}

// bigBody answers every request with n bytes (or ?n= bytes), written as http.ServeContent
// writes a file (32 KiB at a time), and reports on done when the handler returns and how it
// ended.
func bigBody(n int, done chan<- error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("n"); q != "" {
			n, _ = strconv.Atoi(q)
		}
		w.Header().Set("Content-Length", fmt.Sprint(n))
		_, err := io.CopyBuffer(w, io.LimitReader(zeros{}, int64(n)), make([]byte, 32<<10))
		done <- err
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// A client that stops reading a long response is cut off WriteStall after its last progress,
// the handler returns (its goroutine and file are free) and the stall is counted; a client
// that reads slowly but steadily gets the whole response, though it takes many WriteStalls.
func TestHTTPWriteStall(t *testing.T) {
	const stall = time.Second
	const size = 24 << 20
	done := make(chan error, 4)
	hs, addr := serveHTTP(t, bigBody(size, done), HTTPLimits{WriteStall: stall})

	// Stalled: asks, reads nothing.
	c, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(16 << 10)
	began := time.Now()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	select {
	case err := <-done:
		took := time.Since(began)
		if !isTimeout(err) {
			t.Errorf("the stalled response ended with %v, want a deadline", err)
		}
		if took < stall || took > stall+2*time.Second {
			t.Errorf("the stalled response ended after %v, want about %v after the kernel's buffers filled", took, stall)
		}
		t.Logf("stalled response ended after %v", took)
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled response is still being written after 10 s")
	}
	if m := testkit.Exposition(t, hs.Collectors()...); !strings.Contains(m, "podium_http_write_stalls_total 1\n") {
		t.Errorf("metrics:\n%s", m)
	}
	// The server reset the connection: the client finds it gone at once, and no orphaned
	// socket keeps megabytes queued for it.
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := io.Copy(io.Discard, c); isTimeout(err) || n >= size {
		t.Errorf("stalled client then read %d bytes, %v: want less than %d and the connection reset", n, err, size)
	}

	// Slow but steady: 128 KiB every 100 ms (1.25 MiB/s) of 8 MiB, so over 6 s in all, while
	// one write can wait seconds for the kernel's send buffer (megabytes) to drain by half.
	const want = 8 << 20
	slow, err := net.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.(*net.TCPConn).SetReadBuffer(64 << 10)
	began = time.Now()
	fmt.Fprintf(slow, "GET /?n=%d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", want)
	br := bufio.NewReader(slow)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got int64
	buf := make([]byte, 128<<10)
	for {
		n, err := io.ReadFull(resp.Body, buf)
		got += int64(n)
		if err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := time.Since(began)
	if err := <-done; err != nil || got != want {
		t.Errorf("slow reader got %d of %d bytes in %v (handler: %v)", got, want, took, err)
	}
	if took < 4*stall {
		t.Errorf("the slow read took only %v: it proves nothing against a %v stall", took, stall)
	}
	t.Logf("slow reader: %d MiB in %v", got>>20, took.Round(time.Millisecond))
}

// At MaxConns a new connection takes the place of the oldest silent one (no request yet) or
// idle keep-alive; when every one is busy it is answered 503.
func TestHTTPMaxConns(t *testing.T) {
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/busy" {
			<-release
		}
		io.WriteString(w, "ok")
	})
	hs, addr := serveHTTP(t, h, HTTPLimits{MaxConns: 4})
	defer close(release)

	// Four silent connections fill the server.
	var silent []net.Conn
	for range 4 {
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		silent = append(silent, c)
	}
	testkit.WaitFor(t, 5*time.Second, "4 connections", func() bool { return hs.Conns() == 4 })
	// A real request gets through; the oldest silent connection made room.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a request at the limit: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("a request at the limit: %d", resp.StatusCode)
	}
	silent[0].SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := silent[0].Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the oldest silent connection: %v, want EOF (closed to make room)", err)
	}
	if n := hs.Conns(); n > 4 {
		t.Errorf("%d connections open with MaxConns 4", n)
	}

	// Four busy requests: no room, a fifth connection is answered 503.
	for _, c := range silent {
		c.Close()
	}
	testkit.WaitFor(t, 5*time.Second, "the silent connections gone", func() bool { return hs.Conns() == 0 })
	busy := make(chan int, 4)
	for range 4 {
		go func() {
			resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + addr + "/busy")
			if err != nil {
				busy <- -1
				return
			}
			resp.Body.Close()
			busy <- resp.StatusCode
		}()
	}
	testkit.WaitFor(t, 5*time.Second, "4 busy connections", func() bool { return hs.Conns() == 4 })
	time.Sleep(100 * time.Millisecond) // busy ones are never evicted, however old
	resp, err = client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatalf("a request with every connection busy: %v, want a 503 answer", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("a request with every connection busy: %d %q, Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	release <- struct{}{}
	release <- struct{}{}
	release <- struct{}{}
	release <- struct{}{}
	for range 4 {
		if code := <-busy; code != 200 {
			t.Errorf("a busy request ended %d", code)
		}
	}
	m := testkit.Exposition(t, hs.Collectors()...)
	for _, want := range []string{"podium_http_connections_refused_total 1\n", "podium_http_connections_evicted_total 1\n"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
}

// Shutdown does not wait on a client that stopped reading: at its deadline it closes what is
// left.
func TestHTTPShutdownStalled(t *testing.T) {
	done := make(chan error, 1)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := NewHTTPServer(bigBody(64<<20, done), HTTPLimits{WriteStall: time.Minute})
	go hs.Serve(ln)
	c, err := net.Dial("tcp4", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(300 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := hs.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the stalled response outlived Shutdown")
	}
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Shutdown took %v with a stalled client", took)
	}
}

// SetListenerTokens: the old listener token is refused at once, the new one admitted, and
// the publisher's is untouched.
func TestSetListenerTokens(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.Tokens = []string{"pub"}; c.ListenerTokens = []string{"old"} })
	status := func(token string) int {
		resp, err := env.ts.Client().Do(authRequest(t, "GET", env.ts.URL+"/streams", token, ""))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status("old"); got != 200 {
		t.Fatalf("old token before: %d", got)
	}
	env.srv.SetListenerTokens([]string{"new"})
	for tok, want := range map[string]int{"old": 401, "new": 200, "pub": 200, "": 401} {
		if got := status(tok); got != want {
			t.Errorf("token %q after SetListenerTokens: %d, want %d", tok, got, want)
		}
	}
}
