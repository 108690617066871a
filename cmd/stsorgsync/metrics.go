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

// consumerStats is what the metrics read from the consumer (nil until it exists).
type consumerStats interface {
	Ready() bool
	CircuitOpen() bool
	InFlight() int64
	Retries() uint64
	Reconnects() uint64
}

// knownOutcomes returns the (outcome, class) label pairs of stsorgsync_events_total that exist
// from the start (as 0), so that rate() and alerts work before the first such event.
func knownOutcomes() [][2]string {
	return [][2]string{
		{string(consumer.OutcomeDone), ""},
		{string(consumer.OutcomeUnhandled), ""},
		{string(consumer.OutcomeRequeued), ""},
		{string(consumer.OutcomeDeadLettered), "malformed"},
		{string(consumer.OutcomeDeadLettered), "permanent"},
		{string(consumer.OutcomeDeadLettered), "retries-exhausted"},
	}
}

// newMetrics registers the metrics; stats returns the consumer once it exists (or nil).
func newMetrics(stats func() consumerStats) *metrics {
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
		if c := stats(); c != nil && c.Ready() {
			return 1
		}
		return 0
	})
	circuitGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stsorgsync_sts_circuit_open",
		Help: "1 while the circuit breaker is open (STS unavailable; consumption paused), else 0.",
	}, func() float64 {
		if c := stats(); c != nil && c.CircuitOpen() {
			return 1
		}
		return 0
	})
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "stsorgsync_events_in_flight",
		Help: "OS2MO events being handled now (retrying and waiting for the circuit breaker included).",
	}, func() float64 {
		if c := stats(); c != nil {
			return float64(c.InFlight())
		}
		return 0
	})
	retries := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "stsorgsync_event_retries_total",
		Help: "Handler attempts that retried an event after a transient failure.",
	}, func() float64 {
		if c := stats(); c != nil {
			return float64(c.Retries())
		}
		return 0
	})
	reconnects := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "stsorgsync_amqp_reconnects_total",
		Help: "RabbitMQ sessions that were lost (or failed to start) and are re-established.",
	}, func() float64 {
		if c := stats(); c != nil {
			return float64(c.Reconnects())
		}
		return 0
	})
	for _, t := range consumer.DefaultRoutingKeys() {
		for _, oc := range knownOutcomes() {
			m.events.WithLabelValues(t, oc[0], oc[1])
		}
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "stsorgsync_build_info",
		Help:        "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.registry.MustRegister(m.events, m.eventDuration, m.stsCalls, m.stsDuration, readyGauge, circuitGauge, inFlight, retries, reconnects, build,
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
