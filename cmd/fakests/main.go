// Command fakests runs the fake STS Organisation 6 service from package stsclient/ststest for
// demos and local development: SOAP at /organisation/{kind}/6/, GET /healthz, and the
// inspection API GET /_inspect/calls and GET /_inspect/objects/{kind}. Logs are JSON on stderr.
//
// Flags (environment variables in brackets):
//
//	-listen    address to listen on, default :8081 [FAKESTS_LISTEN]
//	-latency   delay added to every SOAP response, e.g. 200ms; default 0 [FAKESTS_LATENCY]
//	-debug     log every SOAP call
//	-healthcheck probe /healthz of a fakests on -listen and exit 0 or 1 (container health checks)
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

	"github.com/stsorgsync/stsorgsync/internal/healthprobe"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runWith(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
}

// config is the parsed command line.
type config struct {
	listen      string
	latency     time.Duration
	debug       bool
	healthcheck bool
}

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	listen := ":8081"
	if v := getenv("FAKESTS_LISTEN"); v != "" {
		listen = v
	}
	var latency time.Duration
	if v := getenv("FAKESTS_LATENCY"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return config{}, fmt.Errorf("FAKESTS_LATENCY: %w", err)
		}
		latency = d
	}
	fs := flag.NewFlagSet("fakests", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", listen, "address to listen on [FAKESTS_LISTEN]")
	fs.DurationVar(&c.latency, "latency", latency, "delay added to every SOAP response [FAKESTS_LATENCY]")
	fs.BoolVar(&c.debug, "debug", false, "log every SOAP call")
	fs.BoolVar(&c.healthcheck, "healthcheck", false, "probe /healthz of a fakests listening on -listen and exit 0 (healthy) or 1")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if c.latency < 0 {
		return config{}, fmt.Errorf("-latency must not be negative, got %v", c.latency)
	}
	return c, nil
}

// runWith serves until ctx is done and returns the exit code. ready, if not nil, receives the
// listening address once the server accepts connections.
func runWith(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, ready func(addr string)) int {
	cfg, err := parseFlags(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "fakests:", err)
		return 2
	}
	if cfg.healthcheck {
		return probe(ctx, cfg.listen, stderr)
	}
	level := slog.LevelInfo
	if cfg.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	fake := ststest.NewServer(ststest.Options{Latency: cfg.latency, Logger: log})
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		log.Error("listen", slog.String("addr", cfg.listen), slog.Any("error", err))
		return 1
	}
	srv := &http.Server{
		Handler:           fake.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("fakests listening", slog.String("addr", ln.Addr().String()), slog.Duration("latency", cfg.latency))
	if ready != nil {
		ready(ln.Addr().String())
	}

	select {
	case err := <-errc:
		log.Error("serve", slog.Any("error", err))
		return 1
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Error("shutdown", slog.Any("error", err))
		return 1
	}
	log.Info("fakests stopped", slog.Int("calls", fake.TotalCalls()))
	return 0
}

// probe implements -healthcheck for container health checks (the image has no shell or curl).
func probe(ctx context.Context, listen string, stderr io.Writer) int {
	url, err := healthprobe.URL(listen, "/healthz")
	if err == nil {
		err = healthprobe.Check(ctx, url, 3*time.Second)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", "fakests", err)
		return 1
	}
	return 0
}
