package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/bridge"
	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/pipeline"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient"
)

// errUncleanShutdown says in-flight events had to be cancelled at shutdown (they were requeued).
var errUncleanShutdown = errors.New("unclean shutdown")

// deps are the daemon's connections to the outside world, built from Config.
type deps struct {
	redis redis.UniversalClient
	store *state.Redis
	mo    *moclient.Client
	sts   *stsclient.Client
	// trail is the audit trail every STS write is recorded in (AUDIT_STREAM).
	trail *audit.Stream
	// amqpTLS is the client TLS configuration for amqps:// (nil for amqp://); amqp dials
	// AMQP_URL's nodes with it (`check`).
	amqpTLS *tls.Config
	amqp    *amqpdial.Dialer
	// stsToken obtains (or reuses) the STS token; nil when STS_SECURITY is false.
	stsToken func(context.Context) error
	// certificates are the organisation certificate and KOMBIT's certificates loaded (none when
	// STS_SECURITY is false), for the expiry metric.
	certificates []loadedCertificate
	// redisCfg is how redis was built (the topology `check` reports).
	redisCfg state.RedisConfig
}

// observers are told of the clients' work for the metrics; nil fields are not told.
type observers struct {
	mo    func(operation, result string, took time.Duration) // moclient.Config.Observe
	audit func(records int, err error)                       // audit.StreamConfig.Observe
}

// newDeps builds the clients from cfg.
func newDeps(cfg Config, logger *slog.Logger, obs observers) (*deps, error) {
	rdb, rcfg, err := newRedisClient(cfg)
	if err != nil {
		return nil, err
	}
	instance := uuid.NewString()
	store, err := state.NewRedis(rdb, state.RedisOptions{
		Prefix:  cfg.RedisKeyPrefix,
		HashTTL: cfg.StateHashTTL,
		Token:   func() string { return instance + ":" + uuid.NewString() },
		// A Sentinel's master has replicas: leases and forgotten records are on one before
		// the work they guard goes on (README: High availability: Redis).
		ReplicaAcks: replicaAcks(rcfg),
	})
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	mo, err := moclient.New(moclient.Config{
		URL:            cfg.MOURL,
		GraphQLVersion: cfg.MOGraphQLVersion,
		AuthServer:     cfg.MOAuthServer,
		Realm:          cfg.MOAuthRealm,
		ClientID:       cfg.MOClientID,
		ClientSecret:   cfg.MOClientSecret,
		Timeout:        cfg.MOTimeout,
		Logger:         logger.With("component", "moclient"),
		Observe:        obs.mo,
		// A user's location may come from its engagement's unit (EMPLOYEE_ENGAGEMENT_ADDRESS).
		EngagementUnitAddresses: len(cfg.Mapping.EngagementAddressTypes) > 0,
	})
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("OS2MO client: %w", err)
	}
	httpClient, err := stsHTTPClient(cfg)
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	sec, err := newSTSSecurity(cfg, httpClient, logger, time.Now())
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	sts, err := stsclient.New(stsclient.Config{
		BaseURL:    cfg.STSBaseURL,
		HTTPClient: httpClient,
		Timeout:    cfg.STSTimeout,
		Logger:     logger.With("component", "stsclient"),
		Security:   sec.security,
	})
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("STS client: %w", err)
	}
	dialer, amqpTLS, err := amqpDialer(cfg, logger.With("component", "amqp"))
	if err != nil {
		_ = rdb.Close()
		return nil, err
	}
	trail, err := audit.NewStream(audit.StreamConfig{
		URL: cfg.AMQPURL, TLS: amqpTLS, Name: cfg.AuditStream, MaxAge: cfg.AuditRetention, MaxBytes: cfg.AuditMaxBytes,
		Observe: obs.audit, Logger: logger.With("component", "audit"),
	})
	if err != nil {
		_ = rdb.Close()
		return nil, fmt.Errorf("audit trail: %w", err)
	}
	return &deps{redis: rdb, redisCfg: rcfg, store: store, mo: mo, sts: sts, trail: trail, amqpTLS: amqpTLS, amqp: dialer,
		stsToken: sec.token, certificates: sec.certificates}, nil
}

func (d *deps) close() {
	_ = d.trail.Close()
	_ = d.redis.Close()
}

func consumerConfig(cfg Config, logger *slog.Logger) consumer.Config {
	breakerThreshold := cfg.BreakerThreshold
	if breakerThreshold == 0 {
		breakerThreshold = -1 // STS_BREAKER_THRESHOLD=0 disables the breaker
	}
	return consumer.Config{
		URL:                  cfg.AMQPURL,
		MOExchange:           cfg.AMQPMOExchange,
		Exchange:             cfg.AMQPExchange,
		Queue:                cfg.AMQPQueue,
		DeadLetterExchange:   cfg.AMQPDLX,
		DeadLetterQueue:      cfg.AMQPDLQ,
		RoutingKeys:          cfg.AMQPRoutingKeys,
		LegacyKeys:           cfg.AMQPLegacyEvents,
		Workers:              cfg.Workers,
		Prefetch:             cfg.AMQPPrefetch,
		DeliveryLimit:        cfg.AMQPDeliveryLimit,
		RetryInitial:         cfg.RetryInitial,
		RetryMax:             cfg.RetryMax,
		RetryMaxElapsed:      cfg.RetryMaxElapsed,
		RetryMaxAttempts:     cfg.RetryMaxAttempts,
		ShutdownTimeout:      cfg.ShutdownTimeout,
		BreakerThreshold:     breakerThreshold,
		BreakerProbeInterval: cfg.BreakerProbeInterval,
		ReconnectMax:         cfg.AMQPReconnectMax,
		NoMOExchange:         !cfg.hasSource(sourceAMQP),
		Logger:               logger,
	}
}

// runDaemon consumes events until ctx is cancelled, serving /healthz, /readyz and /metrics.
func runDaemon(ctx context.Context, cfg Config, logger *slog.Logger) error {
	var cons *consumer.Consumer
	m := newMetrics(func() consumerStats {
		if cons == nil {
			return nil // a nil *Consumer in the interface would not compare equal to nil
		}
		return cons
	})
	d, err := newDeps(cfg, logger, observers{mo: m.moRequest, audit: m.auditAppend})
	if err != nil {
		return err
	}
	defer d.close()
	m.certificates(d.certificates)
	handler := &pipeline.Pipeline{
		MO:       d.mo,
		STS:      &stsService{client: d.sts, observe: m.stsCall, now: time.Now},
		Store:    d.store,
		Settings: cfg.Mapping,
		Keep:     cfg.SyncKeepUUIDs,
		LeaseTTL: cfg.LeaseTTL,
		Trail:    d.trail,
		Logger:   logger.With("component", "pipeline"),
	}
	ccfg := consumerConfig(cfg, logger)
	ccfg.TLS = d.amqpTLS
	cons, err = consumer.New(ccfg, handler, m)
	if err != nil {
		return err
	}
	handler.Cascade = cons // a unit's persons and subtree are queued as events of their own
	checks := readinessChecks(cons.Ready, d)
	var br *bridge.Bridge
	if cfg.hasSource(sourceGraphQL) {
		br, err = bridge.New(bridge.Config{
			RoutingKeys:   cfg.AMQPRoutingKeys,
			UserKeyPrefix: cfg.EventListenerPrefix,
			Parallelism:   cfg.EventParallelism,
			PollInterval:  cfg.EventPollInterval,
			RetryMax:      cfg.EventRetryMax,
			Observer:      m,
			Logger:        logger,
		}, d.mo, cons)
		if err != nil {
			return err
		}
		checks = append(checks, readinessCheck{"OS2MO events", func(context.Context) error { return br.Healthy() }})
	}

	ln, err := net.Listen("tcp", cfg.HTTPListen)
	if err != nil {
		return fmt.Errorf("HTTP_LISTEN %s: %w", cfg.HTTPListen, err)
	}
	srv := &http.Server{
		Handler:           opsHandler(m, checks, cfg.HTTPPprof),
		ReadHeaderTimeout: 5 * time.Second,
	}
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()

	logger.Info("started", "version", version, "http", ln.Addr().String(),
		"amqp", redactURLs(cfg.AMQPURL), "queue", cfg.AMQPQueue, "redis", redisDescription(d.redisCfg),
		"mo", cfg.MOURL, "sts", cfg.STSBaseURL, "workers", cfg.Workers, "event_source", strings.Join(cfg.EventSources, ","))

	// The scheduled full sync (SYNC_INTERVAL) shares the leases and records with the pipeline.
	syncCtx, stopSync := context.WithCancel(ctx)
	syncDone := make(chan struct{})
	go func() {
		defer close(syncDone)
		if cfg.SyncInterval > 0 {
			scheduleSync(syncCtx, cfg.SyncInterval, newEngine(cfg, d, logger, m.stsCall), logger.With("component", "sync"))
		}
	}()

	runErr, bridgeErr := runConsumerAndBridge(ctx, cons, br)
	stopSync()
	<-syncDone

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("HTTP server shutdown", "error", err)
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("HTTP server", "error", err)
	}
	switch {
	case bridgeErr != nil:
		return fmt.Errorf("GraphQL event bridge: %w", bridgeErr)
	case errors.Is(runErr, consumer.ErrShutdownDeadline):
		return fmt.Errorf("%w: %w", errUncleanShutdown, runErr)
	case runErr != nil:
		return runErr
	}
	logger.Info("stopped cleanly")
	return nil
}

// runConsumerAndBridge runs the consumer and, when br is not nil, the GraphQL event bridge that
// publishes through it, until ctx ends or one of them fails. The bridge stops first: what it has
// fetched it still publishes through the consumer's broker session and acknowledges in OS2MO.
func runConsumerAndBridge(ctx context.Context, cons *consumer.Consumer, br *bridge.Bridge) (runErr, bridgeErr error) {
	bridgeCtx, stopBridge := context.WithCancel(ctx)
	defer stopBridge()
	consCtx, stopCons := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCons()
	bridgeDone := make(chan struct{})
	go func() {
		defer close(bridgeDone)
		if br != nil {
			bridgeErr = br.Run(bridgeCtx)
		}
	}()
	consDone := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		select {
		case <-ctx.Done():
		case <-consDone:
		case <-bridgeDone:
			if bridgeErr == nil { // no bridge, or it stopped because ctx ended
				select {
				case <-ctx.Done():
				case <-consDone:
				}
			}
		}
		stopBridge()
		<-bridgeDone
		stopCons()
	}()
	runErr = cons.Run(consCtx)
	close(consDone)
	<-watchDone
	return runErr, bridgeErr
}

// readinessCheck is one condition of /readyz.
type readinessCheck struct {
	name  string
	check func(context.Context) error
}

// readinessChecks are the conditions of /readyz: a live RabbitMQ session, Redis answering, and,
// with STS_SECURITY, a valid STS token (cached tokens cost nothing).
func readinessChecks(consumerReady func() bool, d *deps) []readinessCheck {
	checks := []readinessCheck{
		{"RabbitMQ", func(context.Context) error {
			if !consumerReady() {
				return errors.New("no session")
			}
			return nil
		}},
		{"Redis", d.store.Ping},
		{"audit trail", d.trail.Ping},
	}
	if d.stsToken != nil {
		checks = append(checks, readinessCheck{"STS token", d.stsToken})
	}
	return checks
}

// opsHandler serves the operational endpoints: /healthz (the process is alive), /readyz (every
// readiness check passes) and /metrics (Prometheus), and with pprof Go's profiler under
// /debug/pprof/ (HTTP_PPROF).
func opsHandler(m *metrics, checks []readinessCheck, pprof bool) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		var problems []string
		for _, c := range checks {
			if err := c.check(ctx); err != nil {
				problems = append(problems, c.name+": "+err.Error())
			}
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				fmt.Fprintln(w, p)
			}
			return
		}
		fmt.Fprintln(w, "ready")
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry}))
	if pprof {
		mux.HandleFunc("/debug/pprof/", httppprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	}
	return mux
}
