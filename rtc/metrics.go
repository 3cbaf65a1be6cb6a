package rtc

import (
	"bufio"
	"fmt"
	"net/http"
)

// handleMetrics writes the Prometheus text exposition format by hand: a handful of
// counters does not justify a client library.
func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	st := s.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	bw := bufio.NewWriter(w)
	for _, m := range []struct {
		name, typ, help string
		v               any
	}{
		{"podium_sessions", "gauge", "Publisher sessions connected now.", st.Sessions},
		{"podium_recordings", "gauge", "Recordings open now, including those waiting for their publisher to return.", st.Recordings},
		{"podium_sessions_total", "counter", "Publisher sessions created.", st.SessionsTotal},
		{"podium_packets_received_total", "counter", "RTP packets received.", st.PacketsReceived},
		{"podium_packets_lost_total", "counter", "RTP packets that never arrived in time to be recorded.", st.PacketsLost},
		{"podium_packets_late_total", "counter", "RTP packets dropped as duplicates or too late.", st.PacketsLate},
		{"podium_bytes_received_total", "counter", "RTP payload bytes received.", st.BytesReceived},
		{"podium_sink_errors_total", "counter", "Failed writes to a recording.", st.SinkErrors},
		{"podium_listeners", "gauge", "WHEP listeners connected now.", st.Listeners},
		{"podium_listeners_total", "counter", "WHEP listeners admitted.", st.ListenersTotal},
		{"podium_listener_packets_sent_total", "counter", "RTP packets sent to listeners.", st.ListenerPacketsSent},
		{"podium_listener_packets_dropped_total", "counter", "RTP packets dropped from full listener queues.", st.ListenerPacketsDropped},
	} {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", m.name, m.help, m.name, m.typ, m.name, m.v)
	}
	if s.cfg.ExtraMetrics != nil {
		s.cfg.ExtraMetrics(bw)
	}
	_ = bw.Flush()
}
