package testkit

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
)

// ParseMetrics reads Prometheus text exposition: each sample's name (with its labels, as
// written) to its value. Comments and malformed lines are skipped.
func ParseMetrics(r io.Reader) map[string]float64 {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			continue
		}
		out[strings.TrimSpace(line[:i])] = v
	}
	return out
}

// Metrics fetches url (a /metrics endpoint; token, when set, as a Bearer token) with Get and
// parses it; anything but 200 fails.
func Metrics(t testing.TB, url, token string) map[string]float64 {
	t.Helper()
	code, body := Get(t, url, token)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, Tail(body, 500))
	}
	return ParseMetrics(strings.NewReader(body))
}

// Exposition is what cs serve on /metrics, in the Prometheus text format, for tests of one
// package's collectors.
func Exposition(t testing.TB, cs ...prometheus.Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(cs...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatalf("write metric %s: %v", mf.GetName(), err)
		}
	}
	return b.String()
}
