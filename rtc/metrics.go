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
	metric := func(name, typ, help string, v any) {
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
	}
	metric("podium_sessions", "gauge", "Publisher sessions connected now.", st.Sessions)
	metric("podium_recordings", "gauge", "Recordings open now, including those waiting for their publisher to return.", st.Recordings)
	metric("podium_sessions_total", "counter", "Publisher sessions created.", st.SessionsTotal)
	metric("podium_packets_received_total", "counter", "RTP packets received.", st.PacketsReceived)
	metric("podium_packets_lost_total", "counter", "RTP packets that never arrived in time to be recorded.", st.PacketsLost)
	metric("podium_packets_late_total", "counter", "RTP packets dropped as duplicates or too late.", st.PacketsLate)
	metric("podium_bytes_received_total", "counter", "RTP payload bytes received.", st.BytesReceived)
	metric("podium_sink_errors_total", "counter", "Failed writes to a recording.", st.SinkErrors)
	metric("podium_listeners", "gauge", "WHEP listeners connected now.", st.Listeners)
	metric("podium_listeners_total", "counter", "WHEP listeners admitted.", st.ListenersTotal)
	metric("podium_listener_packets_sent_total", "counter", "RTP packets sent to listeners.", st.ListenerPacketsSent)
	metric("podium_listener_packets_dropped_total", "counter", "RTP packets dropped from full listener queues.", st.ListenerPacketsDropped)
	if s.cfg.ExtraMetrics != nil {
		s.cfg.ExtraMetrics(bw)
	}
	_ = bw.Flush()
}
