package rtc

import (
	"reflect"
	"strings"
	"testing"

	"podium/scripts/testkit"
)

// Every counter in ServerStats is on /metrics under its own name, with a type Prometheus
// knows and a help line; a field added without its tags fails here.
func TestMetricsCoverEveryStat(t *testing.T) {
	env := newTestEnv(t, func(c *ServerConfig) { c.MetricsTokens = []string{"prom"} })
	got := testkit.Metrics(t, env.ts.URL+"/metrics", "prom")
	st := reflect.TypeOf(ServerStats{})
	seen := map[string]bool{}
	for i := range st.NumField() {
		f := st.Field(i)
		name, typ, _ := strings.Cut(f.Tag.Get("metric"), " ")
		if name == "" || (typ != "counter" && typ != "gauge") || f.Tag.Get("help") == "" {
			t.Errorf("ServerStats.%s: metric tag %q, help %q", f.Name, f.Tag.Get("metric"), f.Tag.Get("help"))
			continue
		}
		if seen[name] {
			t.Errorf("ServerStats.%s: metric %s named twice", f.Name, name)
		}
		seen[name] = true
		if _, ok := got[name]; !ok {
			t.Errorf("ServerStats.%s: %s missing from /metrics", f.Name, name)
		}
	}
}
