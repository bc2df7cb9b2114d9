package follower

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the follower's Prometheus metrics.
type Metrics struct {
	TipSlot          prometheus.Gauge
	CursorSlot       prometheus.Gauge
	LagBlocks        prometheus.Gauge
	LagSeconds       prometheus.Gauge
	BlocksPublished  prometheus.Counter
	BatchesPublished *prometheus.CounterVec
	BytesPublished   prometheus.Counter
	Rollbacks        prometheus.Counter
	// ReintersectRollbacks counts the rollbacks published on a start near
	// the tip (Batcher.Add); UndecodableHeaders the blocks forwarded whose
	// header did not decode.
	ReintersectRollbacks prometheus.Counter
	UndecodableHeaders   prometheus.Counter
	Reconnects           prometheus.Counter
	SendErrors           prometheus.Counter
	InFlight             prometheus.Gauge
}

// NewMetrics creates the metrics and registers them with reg (nil: not registered).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "nectar", Subsystem: "follower", Name: name, Help: help})
	}
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "nectar", Subsystem: "follower", Name: name, Help: help})
	}
	m := &Metrics{
		TipSlot:         g("tip_slot", "Slot of the node's tip."),
		CursorSlot:      g("cursor_slot", "Slot of the newest acknowledged point (the persisted cursor)."),
		LagBlocks:       g("lag_blocks", "Blocks between the node's tip and the cursor."),
		LagSeconds:      g("lag_seconds", "Seconds between the cursor's slot time and now."),
		BlocksPublished: c("blocks_published_total", "Blocks acknowledged by the sink."),
		BatchesPublished: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "nectar", Subsystem: "follower",
			Name: "batches_published_total", Help: "Messages acknowledged by the sink, by queue and kind."}, []string{"queue", "kind"}),
		BytesPublished: c("bytes_published_total", "Encoded message bytes acknowledged by the sink."),
		Rollbacks:      c("rollbacks_total", "Rollbacks received from the source."),
		ReintersectRollbacks: c("reintersect_rollbacks_total",
			"Rollbacks published to the intersection on a start within k of the tip (blocks published after the saved cursor may have been abandoned)."),
		UndecodableHeaders: c("undecodable_headers_total", "Blocks whose header did not decode, forwarded alone for quarantine."),
		Reconnects:         c("reconnects_total", "Reconnections to the source."),
		SendErrors:         c("send_errors_total", "Publish calls that failed."),
		InFlight:           g("in_flight", "Message groups being published."),
	}
	if reg != nil {
		reg.MustRegister(m.TipSlot, m.CursorSlot, m.LagBlocks, m.LagSeconds, m.BlocksPublished, m.BatchesPublished,
			m.BytesPublished, m.Rollbacks, m.ReintersectRollbacks, m.UndecodableHeaders, m.Reconnects, m.SendErrors, m.InFlight)
	}
	return m
}

func (m *Metrics) observePublished(group []Message) {
	for _, msg := range group {
		m.BatchesPublished.WithLabelValues(msg.Route.String(), msg.Env.Kind.String()).Inc()
		m.BlocksPublished.Add(float64(len(msg.Env.Blocks)))
		m.BytesPublished.Add(float64(len(msg.Encoded)))
	}
}
