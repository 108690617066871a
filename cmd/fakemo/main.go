// Command fakemo runs the fake OS2MO from package motest as a server for demos and local
// development: GraphQL v25 at /graphql/v25, a Keycloak-style token endpoint at
// /auth/realms/mo/protocol/openid-connect/token, a JSON mutation API under /api/ and /healthz.
// With -amqp-url it publishes OS2MO-style events for changes made through the API.
//
// Flags (environment variables in brackets):
//
//	-listen         address to listen on, default :5000 [FAKEMO_LISTEN]
//	-units          number of generated org units, default 20
//	-persons        number of generated persons (with engagements, AD accounts, …), default 0
//	-seed           generator seed, default 1
//	-client-id      accepted client id, default dipex [FAKEMO_CLIENT_ID]
//	-client-secret  accepted client secret, default OS2MO's dev secret [FAKEMO_CLIENT_SECRET]
//	-amqp-url       RabbitMQ URL for events; none when empty [FAKEMO_AMQP_URL]
//	-publish-seed   publish one org_unit event per generated unit (and one person event per
//	                generated person) after start
//	-legacy-events  also publish OS2MO's deprecated <service>.<type>.<action> messages
//	-duplicate-events  probability (0…1) that an event is published twice, default 0
//	-event-delay    publish each event after a random delay up to this, default 0 (at once)
//	-healthcheck    probe /healthz of a fakemo on -listen and exit 0 or 1 (container health checks)
//
// "fakemo -units 3000 -persons 45000" (a Copenhagen-sized municipality) starts in a few seconds.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/healthprobe"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runWith(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
}

// config is the parsed command line.
type config struct {
	listen, clientID, clientSecret, amqpURL string
	units, persons                          int
	seed                                    int64
	publishSeed                             bool
	healthcheck                             bool
	legacyEvents                            bool
	duplicateEvents                         float64
	eventDelay                              time.Duration
	unitAccounts                            bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var c config
	fs := flag.NewFlagSet("fakemo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", env("FAKEMO_LISTEN", ":5000"), "address to listen on [FAKEMO_LISTEN]")
	fs.IntVar(&c.units, "units", 20, "number of generated org units")
	fs.IntVar(&c.persons, "persons", 0, "number of generated persons")
	fs.Int64Var(&c.seed, "seed", 1, "generator seed")
	fs.StringVar(&c.clientID, "client-id", env("FAKEMO_CLIENT_ID", motest.DefaultClientID), "accepted client id [FAKEMO_CLIENT_ID]")
	fs.StringVar(&c.clientSecret, "client-secret", env("FAKEMO_CLIENT_SECRET", motest.DefaultClientSecret), "accepted client secret [FAKEMO_CLIENT_SECRET]")
	fs.StringVar(&c.amqpURL, "amqp-url", env("FAKEMO_AMQP_URL", ""), "RabbitMQ URL for OS2MO events; none when empty [FAKEMO_AMQP_URL]")
	fs.BoolVar(&c.publishSeed, "publish-seed", false, "publish one org_unit event per generated unit (and person event per person) after start")
	fs.BoolVar(&c.legacyEvents, "legacy-events", false, "also publish the deprecated <service>.<type>.<action> messages")
	fs.Float64Var(&c.duplicateEvents, "duplicate-events", 0, "probability (0…1) that an event is published twice")
	fs.DurationVar(&c.eventDelay, "event-delay", 0, "publish each event after a random delay up to this (0: at once)")
	fs.BoolVar(&c.unitAccounts, "unit-accounts", false, "give units the IT accounts kept for FK Organisation: FK-ORG-UUID on local MED committees, an \"OS2sync UUID\" account holding the FK UUID on self-governing institutions")
	fs.BoolVar(&c.healthcheck, "healthcheck", false, "probe /healthz of a fakemo listening on -listen and exit 0 (healthy) or 1")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.units < 1 {
		return config{}, fmt.Errorf("-units must be at least 1, got %d", c.units)
	}
	if c.persons < 0 {
		return config{}, fmt.Errorf("-persons must not be negative, got %d", c.persons)
	}
	if c.duplicateEvents < 0 || c.duplicateEvents > 1 {
		return config{}, fmt.Errorf("-duplicate-events must be between 0 and 1, got %v", c.duplicateEvents)
	}
	if c.eventDelay < 0 {
		return config{}, fmt.Errorf("-event-delay must not be negative, got %v", c.eventDelay)
	}
	if c.publishSeed && c.amqpURL == "" {
		return config{}, errors.New("-publish-seed needs -amqp-url (or FAKEMO_AMQP_URL)")
	}
	return c, nil
}

// runWith runs the server until ctx is cancelled; ready, if set, gets the listening address.
func runWith(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(net.Addr)) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		_, _ = fmt.Fprintln(stderr, "fakemo:", err)
		return 2
	}
	if cfg.healthcheck {
		return healthprobe.Probe(ctx, "fakemo", cfg.listen, "/healthz", stderr)
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if err := serve(ctx, cfg, log, ready); err != nil {
		log.Error("fakemo failed", "error", err)
		return 1
	}
	return 0
}

func serve(ctx context.Context, cfg config, log *slog.Logger, ready func(net.Addr)) error {
	started := time.Now()
	opts := motest.Options{ClientID: cfg.clientID, ClientSecret: cfg.clientSecret, Logger: log}
	var pub *motest.Publisher
	if cfg.amqpURL != "" {
		var err error
		pub, err = motest.DialPublisherWithOptions(cfg.amqpURL, motest.PublisherOptions{
			Legacy: cfg.legacyEvents, Duplicates: cfg.duplicateEvents, MaxDelay: cfg.eventDelay,
			Seed: uint64(cfg.seed), Logger: log,
		})
		if err != nil {
			return err
		}
		defer func() {
			if err := pub.Close(); err != nil {
				log.Warn("closing AMQP publisher", "error", err)
			}
		}()
		opts.Events = pub
	}
	srv := motest.NewServer(opts)
	data := motest.GenerateOrg(motest.GenOptions{Seed: cfg.seed, Units: cfg.units, Persons: cfg.persons, Today: time.Now(),
		UnitAccounts: cfg.unitAccounts})
	if err := srv.Load(data); err != nil {
		return fmt.Errorf("loading generated organisation: %w", err)
	}
	municipality, nUnits, nPersons := data.Municipality, len(data.Units), len(data.Persons)
	data = motest.Dataset{} // the server holds its own copy; let the generated one go
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cfg.listen, err)
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	log.Info("fakemo listening", "addr", ln.Addr().String(), "municipality", municipality, "units", nUnits, "persons", nPersons,
		"seed", cfg.seed, "events", pub != nil, "graphql", "/graphql/v25", "auth_server", "/auth",
		"startup_ms", time.Since(started).Milliseconds())
	if ready != nil {
		ready(ln.Addr())
	}
	if cfg.publishSeed {
		if err := publishSeed(ctx, pub, srv, log); err != nil {
			_ = hs.Close()
			return err
		}
	}
	select {
	case err := <-errc:
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutting down HTTP server: %w", err)
	}
	return nil
}

// publishSeed publishes an org_unit event per unit and a person event per person; being asked
// to stop meanwhile is not an error.
func publishSeed(ctx context.Context, pub *motest.Publisher, srv *motest.Server, log *slog.Logger) error {
	for _, set := range []struct {
		objectType string
		ids        []uuid.UUID
	}{{motest.ObjectOrgUnit, srv.OrgUnitIDs()}, {motest.ObjectPerson, srv.PersonIDs()}} {
		if len(set.ids) == 0 {
			continue
		}
		for _, id := range set.ids {
			if err := pub.Publish(ctx, set.objectType, id); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("publishing seed events: %w", err)
			}
		}
		log.Info("published seed events", "object_type", set.objectType, "count", len(set.ids))
	}
	return nil
}
