package rtc

import (
	"bufio"
	"fmt"
	"net/http"
	"reflect"
	"strings"
)

// handleMetrics writes the Prometheus text exposition format by hand: a handful of
// counters does not justify a client library.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.access.check(r, actMetrics, "").ok {
		unauthorized(w)
		return
	}
	st := s.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	// Each field of ServerStats says its metric's name, type and help in its tags: the one
	// place a metric is defined.
	v := reflect.ValueOf(st)
	for i := range v.NumField() {
		f := v.Type().Field(i)
		name, typ, _ := strings.Cut(f.Tag.Get("metric"), " ")
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, f.Tag.Get("help"), name, typ, name, v.Field(i))
	}
	if s.cfg.ExtraMetrics != nil {
		s.cfg.ExtraMetrics(bw)
	}
	_ = bw.Flush()
}
