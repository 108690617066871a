package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/stsorgsync/stsorgsync/bridge"
	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/moclient"
)

// metrics are the daemon's Prometheus metrics, registered on their own registry (no globals).
type metrics struct {
	registry      *prometheus.Registry
	events        *prometheus.CounterVec
	eventDuration *prometheus.HistogramVec
	stsCalls      *prometheus.CounterVec
	stsDuration   *prometheus.HistogramVec
	moRequests    *prometheus.CounterVec
	moDuration    *prometheus.HistogramVec
	bridgeSteps   *prometheus.CounterVec
	bridgeErrors  *prometheus.CounterVec
	auditRecords  prometheus.Counter
	auditFailures prometheus.Counter
	certExpiry    *prometheus.GaugeVec
	// moOperations are the operation label values of the MO metrics (moclient.Operations);
	// anything else is counted as "other", so the label stays bounded.
	moOperations map[string]bool
}

// consumerStats is what the metrics read from the consumer (nil until it exists).
type consumerStats interface {
	Ready() bool
	CircuitOpen() bool
	InFlight() int64
	Retries() uint64
	Reconnects() uint64
	Cascaded() uint64
}

// knownOutcomes returns the (outcome, class) label pairs of stsorgsync_events_total that exist
// from the start (as 0), so that rate() and alerts work before the first such event.
func knownOutcomes() [][2]string {
	return [][2]string{
		{string(consumer.OutcomeDone), ""},
		{string(consumer.OutcomeUnhandled), ""},
		{string(consumer.OutcomeRequeued), ""},
		{string(consumer.OutcomeCoalesced), ""},
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
			Help: "OS2MO events settled, by object type, outcome (done, unhandled, deadlettered, requeued, coalesced) and error class.",
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
		moRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stsorgsync_mo_requests_total",
			Help: "HTTP requests to OS2MO (every attempt and page) by operation (GraphQL operation, or token for Keycloak) and result (ok, graphql_error, auth, http_4xx, http_5xx, bad_response, timeout, canceled, transport).",
		}, []string{"operation", "result"}),
		moDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "stsorgsync_mo_request_duration_seconds",
			Help:    "Duration of HTTP requests to OS2MO by operation.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}, []string{"operation"}),
		bridgeSteps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stsorgsync_mo_events_total",
			Help: "OS2MO GraphQL events moved by the bridge (EVENT_SOURCE graphql), by type and step: fetched, published (confirmed by RabbitMQ), acknowledged (in OS2MO), empty_poll (nothing was due).",
		}, []string{"type", "step"}),
		bridgeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "stsorgsync_mo_event_errors_total",
			Help: "Failures of the GraphQL event bridge by type and stage: declare (a listener, at start), fetch (OS2MO unreachable or refusing), publish (RabbitMQ; the event stays in OS2MO), acknowledge (the event is offered again later, a harmless duplicate).",
		}, []string{"type", "stage"}),
		auditRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stsorgsync_audit_records_total",
			Help: "Records appended to the audit trail (AUDIT_STREAM) and confirmed by RabbitMQ: an intent before each STS write and an outcome after it.",
		}),
		auditFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "stsorgsync_audit_append_failures_total",
			Help: "Appends to the audit trail that failed. A failed intent stops its STS write (the event is retried); a failed outcome leaves the write with its intent record alone.",
		}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "stsorgsync_certificate_expiry_timestamp_seconds",
			Help: "When a certificate the daemon loaded at start expires (its NotAfter, Unix time), one series per certificate: certificate is organisation (STS_P12_FILE), token_service (each in STS_TOKEN_CERT_FILE) or service (each in STS_SERVICE_CERT_FILE); serial (hexadecimal, as openssl x509 -serial prints it) and subject identify it.",
		}, []string{"certificate", "serial", "subject"}),
		moOperations: map[string]bool{},
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
	cascaded := prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "stsorgsync_cascade_events_total",
		Help: "Events queued for the persons and subtree of a changed unit (each is then settled like an OS2MO event).",
	}, func() float64 {
		if c := stats(); c != nil {
			return float64(c.Cascaded())
		}
		return 0
	})
	for _, t := range consumer.DefaultRoutingKeys() {
		for _, oc := range knownOutcomes() {
			m.events.WithLabelValues(t, oc[0], oc[1])
		}
	}
	for _, t := range consumer.DefaultRoutingKeys() {
		for _, step := range []bridge.Step{bridge.StepFetched, bridge.StepPublished, bridge.StepAcknowledged, bridge.StepEmpty} {
			m.bridgeSteps.WithLabelValues(t, string(step))
		}
		for _, stage := range []bridge.Stage{bridge.StageDeclare, bridge.StageFetch, bridge.StagePublish, bridge.StageAcknowledge} {
			m.bridgeErrors.WithLabelValues(t, string(stage))
		}
	}
	for _, op := range moclient.Operations() {
		m.moOperations[op] = true
		m.moRequests.WithLabelValues(op, moclient.ResultOK)
		m.moDuration.WithLabelValues(op)
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "stsorgsync_build_info",
		Help:        "Always 1; the version label says which build runs.",
		ConstLabels: prometheus.Labels{"version": version},
	})
	build.Set(1)
	m.registry.MustRegister(m.events, m.eventDuration, m.stsCalls, m.stsDuration, m.moRequests, m.moDuration, m.bridgeSteps, m.bridgeErrors, m.auditRecords, m.auditFailures, m.certExpiry, readyGauge, circuitGauge, inFlight, retries, reconnects, cascaded, build,
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

// moRequest records one HTTP request to OS2MO (moclient.Config.Observe).
func (m *metrics) moRequest(operation, result string, took time.Duration) {
	if !m.moOperations[operation] {
		operation = "other"
	}
	m.moRequests.WithLabelValues(operation, result).Inc()
	m.moDuration.WithLabelValues(operation).Observe(took.Seconds())
}

// auditAppend records one append to the audit trail (audit.StreamConfig.Observe).
func (m *metrics) auditAppend(records int, err error) {
	if err != nil {
		m.auditFailures.Inc()
		return
	}
	m.auditRecords.Add(float64(records))
}

// certificates sets the expiry of each certificate loaded (stsorgsync_certificate_expiry_timestamp_seconds).
func (m *metrics) certificates(certs []loadedCertificate) {
	for _, c := range certs {
		m.certExpiry.WithLabelValues(c.role, serialHex(c.cert), c.cert.Subject.String()).Set(float64(c.cert.NotAfter.Unix()))
	}
}

// BridgeStep implements bridge.Observer.
func (m *metrics) BridgeStep(routingKey string, step bridge.Step) {
	m.bridgeSteps.WithLabelValues(routingKey, string(step)).Inc()
}

// BridgeError implements bridge.Observer.
func (m *metrics) BridgeError(routingKey string, stage bridge.Stage) {
	m.bridgeErrors.WithLabelValues(routingKey, string(stage)).Inc()
}
