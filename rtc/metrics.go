package rtc

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// metrics is one Server's /metrics: its own registry (never the process-wide default, as a
// test process runs several servers), the server's counters, the Go runtime and process
// collectors, and the latencies the server measures itself.
type metrics struct {
	reg        *prometheus.Registry
	text, open http.Handler // the Prometheus text format; OpenMetrics, when asked for
	requests   *prometheus.HistogramVec
	writes     prometheus.Histogram
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "podium_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route (the pattern it matched, with its method) and status code; a WHEP or WHIP offer includes its ICE gathering.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "code"})
	m.writes = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "podium_recording_write_seconds",
		Help: "Time a recording's writer took for one packet: decoding, encoding and writing it to disk (and to HLS). A slow disk shows here before packets overrun.",
		// 100 µs to 6.5 s: a packet is 20 ms of audio, and the writer's queue holds 30 s.
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
	})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		statsCollector{s},
		m.requests,
		m.writes,
	)
	// A collector that fails (the process collector where /proc is not readable, say) costs
	// its own figures, logged and counted, never the whole page.
	opts := promhttp.HandlerOpts{ErrorLog: errorLog{s.log}, ErrorHandling: promhttp.ContinueOnError, Registry: m.reg}
	m.text = promhttp.HandlerFor(m.reg, opts)
	opts.EnableOpenMetrics = true
	m.open = promhttp.HandlerFor(openMetricsGatherer{m.reg}, opts)
	return m
}

// RegisterMetrics adds collectors to GET /metrics (the recorder's, the HTTP server's...). A
// name registered twice panics: that is a programming error, as in prometheus.MustRegister.
func (s *Server) RegisterMetrics(cs ...prometheus.Collector) { s.metrics.reg.MustRegister(cs...) }

// handleMetrics serves the registry to those who may read it, as OpenMetrics to a scraper
// that asks for it and as the Prometheus text format to everyone else.
func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	if !s.access.check(r, actMetrics, "").ok {
		unauthorized(w)
		return
	}
	if expfmt.NegotiateIncludingOpenMetrics(r.Header).FormatType() == expfmt.TypeOpenMetrics {
		s.metrics.open.ServeHTTP(w, r)
		return
	}
	s.metrics.text.ServeHTTP(w, r)
}

// openMetricsGatherer leaves out each gauge whose name is a counter's without "_total"
// (podium_sessions beside podium_sessions_total): OpenMetrics names a counter family without
// its suffix, so the two would be one family twice. Those gauges were served before
// OpenMetrics was, and stay in the text format for the dashboards built on them; each has a
// twin under a name that clashes with nothing (podium_sessions_connected), in both formats.
type openMetricsGatherer struct{ g prometheus.Gatherer }

func (o openMetricsGatherer) Gather() ([]*dto.MetricFamily, error) {
	mfs, err := o.g.Gather()
	counters := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetType() == dto.MetricType_COUNTER {
			counters[strings.TrimSuffix(mf.GetName(), "_total")] = true
		}
	}
	return slices.DeleteFunc(mfs, func(mf *dto.MetricFamily) bool {
		return mf.GetType() != dto.MetricType_COUNTER && counters[mf.GetName()]
	}), err
}

// errorLog is promhttp's logger: the server's own.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Println(v ...any) {
	e.log.Error("metrics: " + strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}

// statsCollector serves the server's counters from one Stats snapshot per scrape, so the
// figures of one scrape agree with each other.
type statsCollector struct{ s *Server }

// serverMetric is one figure of ServerStats on /metrics.
type serverMetric struct {
	desc  *prometheus.Desc
	typ   prometheus.ValueType
	value func(*ServerStats) int
}

func gauge(name, help string, v func(*ServerStats) int) serverMetric {
	return serverMetric{prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, v}
}

func counter(name, help string, v func(*ServerStats) uint64) serverMetric {
	return serverMetric{prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, func(st *ServerStats) int { return int(v(st)) }}
}

// serverMetrics is every ServerStats figure, by its metric's name, help and type: the one
// place they are defined (TestMetricsCoverEveryStat checks no field is left out).
var serverMetrics = []serverMetric{
	gauge("podium_sessions_connected", "Publisher sessions connected now.", func(s *ServerStats) int { return s.Sessions }),
	gauge("podium_sessions", "Publisher sessions connected now (text format only: podium_sessions_connected under a name OpenMetrics can carry).", func(s *ServerStats) int { return s.Sessions }),
	gauge("podium_recordings_open", "Recordings open now, including those waiting for their publisher to return.", func(s *ServerStats) int { return s.Recordings }),
	gauge("podium_recordings", "Recordings open now, including those waiting for their publisher to return (text format only: podium_recordings_open under a name OpenMetrics can carry).", func(s *ServerStats) int { return s.Recordings }),
	gauge("podium_recordings_waiting", "Recordings whose publisher is gone, kept open for it to return; they count against --max-sessions.", func(s *ServerStats) int { return s.RecordingsWait }),
	counter("podium_sessions_total", "Publisher sessions created.", func(s *ServerStats) uint64 { return s.SessionsTotal }),
	counter("podium_packets_received_total", "RTP packets received.", func(s *ServerStats) uint64 { return s.PacketsReceived }),
	counter("podium_packets_lost_total", "RTP packets that never arrived in time to be recorded.", func(s *ServerStats) uint64 { return s.PacketsLost }),
	counter("podium_packets_late_total", "RTP packets dropped as duplicates or too late.", func(s *ServerStats) uint64 { return s.PacketsLate }),
	counter("podium_packets_ahead_total", "RTP packets dropped because they would have put a recording ahead of the wall clock.", func(s *ServerStats) uint64 { return s.PacketsAhead }),
	counter("podium_bytes_received_total", "RTP payload bytes received.", func(s *ServerStats) uint64 { return s.BytesReceived }),
	counter("podium_packets_overrun_total", "RTP packets not recorded because their recording's writer was 30 s behind (a stalled disk).", func(s *ServerStats) uint64 { return s.PacketsOverrun }),
	counter("podium_recordings_failed_total", "Recordings stopped early because their recorder failed (a full disk, say); each file keeps what was written.", func(s *ServerStats) uint64 { return s.RecordingsFail }),

	counter("podium_ice_remote_candidates_total", "Remote ICE candidates (in offers and PATCHes) the server checks.", func(s *ServerStats) uint64 { return s.RemoteCandidates }),
	counter("podium_ice_remote_candidates_refused_total", "Remote ICE candidates ignored for their address: not UDP to an IP, or an address the server never sends to (loopback, private, link-local, multicast... see the README).", func(s *ServerStats) uint64 { return s.RemoteCandidatesRefused }),
	counter("podium_ice_remote_candidates_over_limit_total", "Remote ICE candidates ignored beyond the 32 one session may have checked.", func(s *ServerStats) uint64 { return s.RemoteCandidatesOverLimit }),

	gauge("podium_listeners_connected", "WHEP listeners connected now.", func(s *ServerStats) int { return s.Listeners }),
	gauge("podium_listeners", "WHEP listeners connected now (text format only: podium_listeners_connected under a name OpenMetrics can carry).", func(s *ServerStats) int { return s.Listeners }),
	counter("podium_listeners_total", "WHEP listeners admitted.", func(s *ServerStats) uint64 { return s.ListenersTotal }),
	counter("podium_listener_packets_sent_total", "RTP packets sent to listeners.", func(s *ServerStats) uint64 { return s.ListenerPacketsSent }),
	counter("podium_listener_packets_dropped_total", "RTP packets dropped from full listener queues.", func(s *ServerStats) uint64 { return s.ListenerPacketsDropped }),
	counter("podium_listener_backlog_skipped_total", "Packets of a presenter's connect-time backlog not sent to listeners, who start at the live edge.", func(s *ServerStats) uint64 { return s.ListenerBacklogSkipped }),
}

func (statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range serverMetrics {
		ch <- m.desc
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats()
	for _, m := range serverMetrics {
		ch <- prometheus.MustNewConstMetric(m.desc, m.typ, float64(m.value(&st)))
	}
}

// instrument times each request into the request histogram, by the route the mux matched
// (a bounded set, unlike paths: ServeMux sets r.Pattern on the request it routes, which is
// this one) and the status code.
func (m *metrics) instrument(h http.Handler) http.Handler {
	return promhttp.InstrumentHandlerDuration(m.requests, h,
		promhttp.WithLabelFromRequest("route", func(r *http.Request) string {
			switch {
			case r.Pattern != "":
				return r.Pattern
			case r.Method == http.MethodOptions:
				return "OPTIONS" // a CORS preflight, answered before routing
			}
			return "unmatched"
		}))
}

// observeWrite counts one packet's write into the write-latency histogram.
func (m *metrics) observeWrite(since time.Time) { m.writes.Observe(time.Since(since).Seconds()) }
