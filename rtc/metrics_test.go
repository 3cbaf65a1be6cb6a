package rtc

import (
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"podium/scripts/testkit"
)

// Every figure of ServerStats is on /metrics under a name of its own, with a help line: a
// field added to ServerStats without its line in serverMetrics fails here.
func TestMetricsCoverEveryStat(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.MetricsTokens = []string{"prom"} })
	got := testkit.Metrics(t, env.ts.URL+"/metrics", "prom")

	// Each field gets a value no other has; each must come out of some metric.
	var st ServerStats
	v := reflect.ValueOf(&st).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Kind() {
		case reflect.Int:
			f.SetInt(int64(i + 1))
		case reflect.Uint64:
			f.SetUint(uint64(i + 1))
		default:
			t.Fatalf("ServerStats.%s is a %s: serverMetrics takes int gauges and uint64 counters", v.Type().Field(i).Name, f.Kind())
		}
	}
	served := map[int]bool{}
	names := map[string]bool{}
	for _, m := range serverMetrics {
		name := descName(t, m.desc)
		if names[name] {
			t.Errorf("metric %s named twice", name)
		}
		names[name] = true
		served[m.value(&st)] = true
		if _, ok := got[name]; !ok {
			t.Errorf("%s missing from /metrics", name)
		}
	}
	for i := range v.NumField() {
		if !served[i+1] {
			t.Errorf("ServerStats.%s is on no metric", v.Type().Field(i).Name)
		}
	}
}

// descName reads a Desc's metric name back, as client_golang keeps it private.
func descName(t *testing.T, d *prometheus.Desc) string {
	t.Helper()
	s := d.String() // Desc{fqName: "name", help: ...}
	_, after, _ := strings.Cut(s, `fqName: "`)
	name, _, _ := strings.Cut(after, `"`)
	if name == "" {
		t.Fatalf("no name in %s", s)
	}
	return name
}

// What an operator expects from a client_golang exporter: the Go runtime and the process,
// request latencies by route and code, the recording's write latency, and OpenMetrics to a
// scraper that asks for it, where a gauge never shares a family name with a counter (the
// text format keeps the older gauge names beside their twins).
func TestMetricsFormats(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.MetricsTokens = []string{"prom"} })
	// podium-server's recorder counts recordings opened: a counter whose OpenMetrics family
	// is the gauge podium_recordings's name.
	env.srv.RegisterMetrics(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "podium_recordings_total", Help: "Recordings opened."},
		func() float64 { return 0 }))
	testkit.Get(t, env.ts.URL+"/healthz", "")

	text := scrape(t, env.ts.URL, "")
	if ct := text.ctype; !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("text format served as %q", ct)
	}
	for _, want := range []string{
		"go_goroutines gauge", "process_cpu_seconds_total counter", "process_resident_memory_bytes gauge",
		"podium_http_request_duration_seconds histogram", "podium_recording_write_seconds histogram",
		"podium_sessions gauge", "podium_sessions_connected gauge", "podium_sessions_total counter",
		"podium_recordings gauge", "podium_recordings_open gauge",
		"podium_listeners gauge", "podium_listeners_connected gauge", "podium_listeners_total counter",
	} {
		if !text.types[want] {
			t.Errorf("text format lacks # TYPE %s", want)
		}
	}
	if !strings.Contains(text.body, `podium_http_request_duration_seconds_count{code="200",route="GET /healthz"} 1`) {
		t.Errorf("no GET /healthz in the request histogram:\n%s", text.body)
	}

	om := scrape(t, env.ts.URL, "application/openmetrics-text; version=1.0.0")
	if !strings.HasPrefix(om.ctype, "application/openmetrics-text") {
		t.Fatalf("asked for OpenMetrics, got %q", om.ctype)
	}
	if !strings.HasSuffix(om.body, "# EOF\n") {
		t.Errorf("OpenMetrics without # EOF:\n%s", testkit.Tail(om.body, 300))
	}
	families := map[string]string{}
	for tl := range om.types {
		name, typ, _ := strings.Cut(tl, " ")
		if other, ok := families[name]; ok {
			t.Errorf("OpenMetrics family %s is both a %s and a %s", name, typ, other)
		}
		families[name] = typ
	}
	// OpenMetrics names a counter family without _total.
	for name, typ := range map[string]string{"podium_sessions": "counter", "podium_sessions_connected": "gauge",
		"podium_listeners": "counter", "podium_recordings": "counter", "podium_recordings_open": "gauge", "go_goroutines": "gauge"} {
		if families[name] != typ {
			t.Errorf("OpenMetrics family %s is a %q, want a %s", name, families[name], typ)
		}
	}
}

type scraped struct {
	ctype, body string
	types       map[string]bool // "name type" of each # TYPE line
}

func scrape(t *testing.T, base, accept string) scraped {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer prom")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, b)
	}
	s := scraped{ctype: resp.Header.Get("Content-Type"), body: string(b), types: map[string]bool{}}
	for _, line := range strings.Split(s.body, "\n") {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			s.types[f[2]+" "+f[3]] = true
		}
	}
	return s
}
