// Package metrics counts what the lab does, for Prometheus: sessions by
// how they ended, alerts sent, handshakes completed, messages accepted.
// It is the one package that imports the Prometheus client; the lab, the
// servers and the API are handed its observers and its handler.
package metrics

import (
	"net/http"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mxlab/mxlab/msgstore"
	"github.com/mxlab/mxlab/server"
)

// Metrics holds the lab's counters (docs/api.md, Metrics).
type Metrics struct {
	reg        *prometheus.Registry
	sessions   *prometheus.CounterVec
	alerts     *prometheus.CounterVec
	handshakes *prometheus.CounterVec
	messages   *prometheus.CounterVec
	bytes      *prometheus.CounterVec
}

// New registers the counters in a registry of their own; every scenario
// named starts at zero, so a scrape shows each one before its first
// session.
func New(scenarioNames []string) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxlab_sessions_total", Help: "SMTP sessions that ended, by scenario and end reason.",
		}, []string{"scenario", "end_reason"}),
		alerts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxlab_alerts_sent_total", Help: "TLS alerts the lab sent during STARTTLS, by scenario and alert number.",
		}, []string{"scenario", "code"}),
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxlab_handshakes_total", Help: "Completed TLS handshakes, by scenario and TLS version.",
		}, []string{"scenario", "version"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxlab_messages_accepted_total", Help: "Messages accepted (answered 250 and stored), by scenario.",
		}, []string{"scenario"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mxlab_received_bytes_total", Help: "Bytes of accepted message data, by scenario.",
		}, []string{"scenario"}),
	}
	m.reg.MustRegister(m.sessions, m.alerts, m.handshakes, m.messages, m.bytes)
	for _, name := range scenarioNames {
		m.messages.WithLabelValues(name)
		m.bytes.WithLabelValues(name)
	}
	return m
}

// Session counts a session event; only ends count (registered with
// server.SessionLog.WatchSessions).
func (m *Metrics) Session(e server.Event) {
	if e.Type != server.SessionEnd || e.Record == nil {
		return
	}
	r := e.Record
	m.sessions.WithLabelValues(r.Scenario, string(r.EndReason)).Inc()
	if r.AlertSent != nil {
		m.alerts.WithLabelValues(r.Scenario, strconv.Itoa(r.AlertSent.Code)).Inc()
	}
	if r.TLS != nil {
		m.handshakes.WithLabelValues(r.Scenario, r.TLS.Version).Inc()
	}
}

// Message counts a stored message (msgstore.Config.OnDeliver).
func (m *Metrics) Message(msg msgstore.Message) {
	m.messages.WithLabelValues(msg.Scenario).Inc()
	m.bytes.WithLabelValues(msg.Scenario).Add(float64(msg.Size))
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
