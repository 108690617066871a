package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stsorgsync/stsorgsync/consumer"
)

// metrics are the daemon's Prometheus metrics, registered on their own registry (no globals).
type metrics struct {
	registry      *prometheus.Registry
	events        *prometheus.CounterVec
	eventDuration *prometheus.HistogramVec
	stsCalls      *prometheus.CounterVec
	stsDuration   *prometheus.HistogramVec
}

func newMetrics(ready func() bool) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stsorgsync_events_total",
			Help: "OS2MO events settled, by object type, outcome (done, unhandled, deadlettered, requeued) and error class.",
		}, []string{"type", "outcome", "class"}),
		eventDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stsorgsync_event_duration_seconds",
			Help:    "Time from picking up an OS2MO event to settling it, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12),
		}, []string{"type"}),
		stsCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stsorgsync_sts_calls_total",
			Help: "SOAP calls to STS Organisation by object kind, operation and result (ok, or the error).",
		}, []string{"kind", "operation", "result"}),
		stsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stsorgsync_sts_call_duration_seconds",
			Help:    "Duration of SOAP calls to STS Organisation.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2.5, 10),
		}, []string{"kind", "operation"}),
	}
	readyGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stsorgsync_consumer_ready",
		Help: "1 while the consumer has a live RabbitMQ session, else 0.",
	}, func() float64 {
		if ready() {
			return 1
		}
		return 0
	})
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "stsorgsync_build_info",
		Help:        "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.registry.MustRegister(m.events, m.eventDuration, m.stsCalls, m.stsDuration, readyGauge, build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Delivery implements consumer.Observer.
func (m *metrics) Delivery(ev consumer.Event, outcome consumer.Outcome, class string, took time.Duration) {
	m.events.WithLabelValues(string(ev.Type), string(outcome), class).Inc()
	m.eventDuration.WithLabelValues(string(ev.Type)).Observe(took.Seconds())
}

// stsCall records one STS call.
func (m *metrics) stsCall(kind, operation, result string, took time.Duration) {
	m.stsCalls.WithLabelValues(kind, operation, result).Inc()
	m.stsDuration.WithLabelValues(kind, operation).Observe(took.Seconds())
}
