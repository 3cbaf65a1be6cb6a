// Command benchtab serves the browser tab make bench measures the presenter's window against:
// index.html, a page doing a presenter's web page's job (the microphone with the browser's
// default voice processing, WHIP to a podium-server, a MediaRecorder local copy, a 10 Hz meter
// and clock). It listens on a free loopback port, prints "page on URL", and prints each
// report the page posts to /result as one "tab: ..." line, so the benchmark can check the tab
// really did the job it is measured for.
package main

import (
	_ "embed"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
)

//go:embed index.html
var page []byte

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtab:", err)
		os.Exit(1)
	}
	fmt.Printf("page on http://%s/\n", ln.Addr())
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	mux.HandleFunc("POST /result", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 4096))
		fmt.Printf("tab: %s\n", strings.Join(strings.Fields(string(b)), " "))
		w.WriteHeader(http.StatusNoContent)
	})
	if err := http.Serve(ln, mux); err != nil {
		fmt.Fprintln(os.Stderr, "benchtab:", err)
		os.Exit(1)
	}
}
