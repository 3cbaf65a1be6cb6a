package main_test

import (
	"bufio"
	"flag"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"podium/scripts/testkit"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/metrics.golden from what the binary serves")

// The metric families the real binary serves (with a bucket, so the S3 ones are there too),
// by name and type, are exactly those in testdata/metrics.golden: a dashboard or alert built
// on a name keeps working, and a name added, renamed or retyped shows in the golden file's
// diff. The Go runtime's and the process's families in it must be there too; more of those
// (a newer toolchain's) may be. Run with -update to rewrite it on purpose.
func TestMetricsGolden(t *testing.T) {
	s3 := testkit.StartS3(t, "lectures")
	_, base := startS3Server(t, s3, t.TempDir(), "talks/")
	if code, _ := testkit.Get(t, base+"/healthz", ""); code != http.StatusOK {
		t.Fatalf("GET /healthz: %d", code)
	}
	code, body := testkit.Get(t, base+"/metrics", "op-secret")
	if code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", code, testkit.Tail(body, 500))
	}
	got := metricTypes(body)
	checkOpenMetrics(t, base)
	golden := filepath.Join("testdata", "metrics.golden")
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s: %d families", golden, len(got))
		return
	}
	b, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	want := strings.Split(strings.TrimSpace(string(b)), "\n")
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("/metrics lacks %q", w)
		}
	}
	// Podium's own families are exactly the golden ones; the Go runtime's and the process's
	// may grow with the toolchain or the client library.
	for _, g := range got {
		if strings.HasPrefix(g, "podium_") && !slices.Contains(want, g) {
			t.Errorf("/metrics has %q, not in %s (run with -update if it is meant)", g, golden)
		}
	}
}

// metricTypes is each family's "name type" from its # TYPE line, sorted.
func metricTypes(exposition string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(exposition))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			out = append(out, f[2]+" "+f[3])
		}
	}
	slices.Sort(out)
	return out
}

// checkOpenMetrics scrapes as a scraper that prefers OpenMetrics does: each family once,
// though OpenMetrics names a counter without its _total (podium_sessions_total's family is
// podium_sessions, the name of a gauge the text format still serves).
func checkOpenMetrics(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer op-secret")
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Fatalf("GET /metrics as Prometheus asks: %d %q", resp.StatusCode, ct)
	}
	seen := map[string]bool{}
	for _, tl := range metricTypes(string(b)) {
		name, _, _ := strings.Cut(tl, " ")
		if seen[name] {
			t.Errorf("OpenMetrics family %s served twice", name)
		}
		seen[name] = true
	}
}
