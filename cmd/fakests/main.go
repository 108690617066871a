// Command fakests runs the fake STS Organisation 6 service and the fake KOMBIT security token
// service from package stsclient/ststest for demos and local development: SOAP at
// /organisation/{kind}/6/ and /runtime/services/kombittrust/14/certificatemixed, GET /healthz,
// the inspection API and the test-only control API of its faults (controlHelp, printed by -h).
// Logs are JSON on stderr.
//
// Flags (environment variables in brackets):
//
//	-listen            address to listen on, default :8081 [FAKESTS_LISTEN]
//	-latency           fixed delay added to every Organisation response, e.g. 200ms [FAKESTS_LATENCY]
//	-latency-tail      mean of an exponentially distributed extra delay (long tail) [FAKESTS_LATENCY_TAIL]
//	-error-rate        fraction 0..1 of Organisation calls answered with HTTP 503 [FAKESTS_ERROR_RATE]
//	-outage            outage windows relative to start, START+DURATION[,…], e.g. 1m+30s [FAKESTS_OUTAGES]
//	-max-concurrent    cap on concurrently served Organisation calls (0 = none) [FAKESTS_MAX_CONCURRENT]
//	-seed              seed of the random latency and errors (0 = random) [FAKESTS_SEED]
//	-security          require the WS-Security profile (tokens, signatures) and sign responses;
//	                   default off [FAKESTS_SECURITY]
//	-pki-dir           directory holding the fake's CA, STS and service certificates and keys;
//	                   created on first start and reused afterwards, so certificates handed to
//	                   clients stay valid. The daemon trusts sts.pem (STS) and service.pem
//	                   (Organisation responses) from it. Without it the identities live in
//	                   memory only [FAKESTS_PKI_DIR]
//	-write-client-p12  write an anvendersystem PKCS#12 (certificate from the fake CA) to this
//	                   path unless it exists; needs -pki-dir [FAKESTS_CLIENT_P12]
//	-client-cvr        CVR in that certificate's subject, default 11111111 [FAKESTS_CLIENT_CVR]
//	-entity-id         STS entity id (Issuer of assertions), default ststest.DefaultEntityID [FAKESTS_ENTITY_ID]
//	-agreements        service agreements CVR=rw|r[,…]; default: every CVR may read and write [FAKESTS_AGREEMENTS]
//	-organisation      UUID of the municipality's Organisation object, created at start as a
//	                   municipality's STS Organisation holds it (stsorgsync check reads it;
//	                   STS_ORGANISATION_UUID); it owns the objects that belong to it, so writes
//	                   with another CVR's token are refused and fremsoegobjekthierarki lists them
//	                   for its CVR's token only. Default: none [FAKESTS_ORGANISATION]
//	-organisation-cvr  the Organisation's CVR number, default -client-cvr [FAKESTS_ORGANISATION_CVR]
//	-load              start holding the objects of a `stsorgsync export` file (package stsexport),
//	                   each as its latest registration; the file is checked whole (header, counts,
//	                   every object as the schema allows) and a bad one stops the start (exit 1).
//	                   Without -organisation, the export's Organisation is owned by the export's
//	                   CVR as -organisation would make it [FAKESTS_LOAD]
//	-debug             log every SOAP call
//	-healthcheck       probe /healthz of a fakests on -listen and exit 0 or 1 (container health checks)
//
// The flags set the faults the server starts with; the control API switches them while it runs.
//
// The PKCS#12 password is read from the file named by FAKESTS_CLIENT_P12_PASSWORD_FILE or from
// FAKESTS_CLIENT_P12_PASSWORD, and defaults to "fakests" (this is test material); it is never
// logged.
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
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/healthprobe"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/stsexport"
)

func main() { os.Exit(run()) }

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return runWith(ctx, os.Args[1:], os.Getenv, os.Stderr, nil)
}

// outageSpec is an outage relative to the start of the server.
type outageSpec struct {
	start, length time.Duration
}

// config is the parsed command line.
type config struct {
	listen        string
	latency       time.Duration
	latencyTail   time.Duration
	errorRate     float64
	outages       []outageSpec
	maxConcurrent int
	seed          uint64
	security      bool
	pkiDir        string
	clientP12     string
	clientCVR     string
	entityID      string
	agreements    map[string]ststest.Access
	organisation  uuid.UUID // uuid.Nil: none
	orgCVR        string
	load          string // an export file to load at start; "": none
	debug         bool
	healthcheck   bool
}

// controlHelp describes the HTTP inspection and control API (-h prints it after the flags).
const controlHelp = `
Inspection API (JSON):
  GET    /_inspect/calls               SOAP calls by kind/operation since start or the last reset
  DELETE /_inspect/calls               reset the call counters
  GET    /_inspect/objects/{kind}      the objects stored, e.g. /_inspect/objects/organisationenhed
  GET    /_inspect/concurrent-writes   {"concurrent_writes": n}: importer/ret calls that overlapped
                                       another write of the same object (0 for a correct client)

Control API (test-only: switches faults while the server runs; every change answers with the
switches in effect, a bad body with 400):
  GET    /_control                     outage, latency, error rate, queued failures, concurrent writes
  PUT    /_control/outage              {"on": true} every Organisation call gets HTTP 503; {"on": false} ends it
  PUT    /_control/latency             {"latency": "200ms", "tail": "50ms"} replaces -latency and -latency-tail
  PUT    /_control/error-rate          {"rate": 0.1} replaces -error-rate
  POST   /_control/failures            the next calls fail: {"times": 3, "status_kode": 40} (STS refusal
                                       40, 41, 44, 49, ...), {"http_status": 503} or {"fault_reason": "..."};
                                       optional "kind" (e.g. "organisationenhed") and "operation"
                                       (importer, ret, laes, list, soeg, passiver, fremsoegobjekthierarki)
  DELETE /_control/failures            drop the queued failures
  POST   /_control/reset               all of the above back to the flags' values

Example: curl -X PUT localhost:8081/_control/outage -d '{"on": true}'
`

// defaultP12Password protects the throwaway client certificate when no password is given.
const defaultP12Password = "fakests"

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var latency, tail, errorRate, outages, maxConc, seed, agreements, organisation string
	var errs []error
	securityDefault, err := strconv.ParseBool(env("FAKESTS_SECURITY", "false"))
	if err != nil {
		errs = append(errs, fmt.Errorf("FAKESTS_SECURITY must be true or false, got %q", getenv("FAKESTS_SECURITY")))
	}
	fs := flag.NewFlagSet("fakests", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.listen, "listen", env("FAKESTS_LISTEN", ":8081"), "address to listen on [FAKESTS_LISTEN]")
	fs.StringVar(&latency, "latency", env("FAKESTS_LATENCY", "0s"), "fixed delay added to every Organisation response [FAKESTS_LATENCY]")
	fs.StringVar(&tail, "latency-tail", env("FAKESTS_LATENCY_TAIL", "0s"), "mean of an exponential extra delay [FAKESTS_LATENCY_TAIL]")
	fs.StringVar(&errorRate, "error-rate", env("FAKESTS_ERROR_RATE", "0"), "fraction of Organisation calls answered with HTTP 503 [FAKESTS_ERROR_RATE]")
	fs.StringVar(&outages, "outage", env("FAKESTS_OUTAGES", ""), "outage windows START+DURATION[,...] relative to start [FAKESTS_OUTAGES]")
	fs.StringVar(&maxConc, "max-concurrent", env("FAKESTS_MAX_CONCURRENT", "0"), "cap on concurrent Organisation calls [FAKESTS_MAX_CONCURRENT]")
	fs.StringVar(&seed, "seed", env("FAKESTS_SEED", "0"), "seed of random latency and errors, 0 = random [FAKESTS_SEED]")
	fs.BoolVar(&c.security, "security", securityDefault, "require WS-Security and sign responses [FAKESTS_SECURITY]")
	fs.StringVar(&c.pkiDir, "pki-dir", env("FAKESTS_PKI_DIR", ""), "directory of the fake's certificates and keys [FAKESTS_PKI_DIR]")
	fs.StringVar(&c.clientP12, "write-client-p12", env("FAKESTS_CLIENT_P12", ""), "write a client PKCS#12 here unless it exists [FAKESTS_CLIENT_P12]")
	fs.StringVar(&c.clientCVR, "client-cvr", env("FAKESTS_CLIENT_CVR", "11111111"), "CVR of the client certificate [FAKESTS_CLIENT_CVR]")
	fs.StringVar(&c.entityID, "entity-id", env("FAKESTS_ENTITY_ID", ststest.DefaultEntityID), "STS entity id [FAKESTS_ENTITY_ID]")
	fs.StringVar(&agreements, "agreements", env("FAKESTS_AGREEMENTS", ""), "service agreements CVR=rw|r[,...] [FAKESTS_AGREEMENTS]")
	fs.StringVar(&organisation, "organisation", env("FAKESTS_ORGANISATION", ""), "UUID of the municipality's Organisation object, created at start [FAKESTS_ORGANISATION]")
	fs.StringVar(&c.orgCVR, "organisation-cvr", env("FAKESTS_ORGANISATION_CVR", ""), "CVR of that Organisation, default -client-cvr [FAKESTS_ORGANISATION_CVR]")
	fs.StringVar(&c.load, "load", env("FAKESTS_LOAD", ""), "start holding the objects of this stsorgsync export `FILE` [FAKESTS_LOAD]")
	fs.BoolVar(&c.debug, "debug", false, "log every SOAP call")
	fs.BoolVar(&c.healthcheck, "healthcheck", false, "probe /healthz of a fakests listening on -listen and exit 0 (healthy) or 1")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: fakests [flags]\n\nA fake STS Organisation 6 and KOMBIT security token service for tests and demos. Flags:")
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), controlHelp)
	}
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	dur := func(name, v string) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("-%s must be a non-negative duration, got %q", name, v))
		}
		return d
	}
	c.latency = dur("latency", latency)
	c.latencyTail = dur("latency-tail", tail)
	if c.errorRate, err = strconv.ParseFloat(errorRate, 64); err != nil || c.errorRate < 0 || c.errorRate > 1 {
		errs = append(errs, fmt.Errorf("-error-rate must be between 0 and 1, got %q", errorRate))
	}
	if c.maxConcurrent, err = strconv.Atoi(maxConc); err != nil || c.maxConcurrent < 0 {
		errs = append(errs, fmt.Errorf("-max-concurrent must be a non-negative integer, got %q", maxConc))
	}
	if c.seed, err = strconv.ParseUint(seed, 10, 64); err != nil {
		errs = append(errs, fmt.Errorf("-seed: %w", err))
	}
	if outages != "" {
		for _, spec := range strings.Split(outages, ",") {
			start, length, ok := strings.Cut(strings.TrimSpace(spec), "+")
			s, err1 := time.ParseDuration(start)
			l, err2 := time.ParseDuration(length)
			if !ok || err1 != nil || err2 != nil || s < 0 || l <= 0 {
				errs = append(errs, fmt.Errorf("-outage %q is not START+DURATION (e.g. 1m+30s)", spec))
				continue
			}
			c.outages = append(c.outages, outageSpec{start: s, length: l})
		}
	}
	if agreements != "" {
		c.agreements = map[string]ststest.Access{}
		for _, spec := range strings.Split(agreements, ",") {
			cvr, level, _ := strings.Cut(strings.TrimSpace(spec), "=")
			switch level {
			case "rw":
				c.agreements[cvr] = ststest.AccessReadWrite
			case "r":
				c.agreements[cvr] = ststest.AccessRead
			default:
				errs = append(errs, fmt.Errorf("-agreements %q is not CVR=rw or CVR=r", spec))
			}
		}
	}
	if organisation != "" {
		if c.organisation, err = uuid.Parse(organisation); err != nil || c.organisation == uuid.Nil {
			errs = append(errs, fmt.Errorf("-organisation must be a UUID, got %q", organisation))
		}
		if c.orgCVR == "" {
			c.orgCVR = c.clientCVR
		}
		if _, err := strconv.ParseUint(c.orgCVR, 10, 64); err != nil || len(c.orgCVR) != 8 {
			errs = append(errs, fmt.Errorf("-organisation-cvr must be 8 digits, got %q", c.orgCVR))
		}
	} else if c.orgCVR != "" {
		errs = append(errs, errors.New("-organisation-cvr needs -organisation"))
	}
	if c.clientP12 != "" && c.pkiDir == "" {
		errs = append(errs, errors.New("-write-client-p12 needs -pki-dir (the certificate must outlive this process)"))
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
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
		return healthprobe.Probe(ctx, "fakests", cfg.listen, "/healthz", stderr)
	}
	level := slog.LevelInfo
	if cfg.debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	opts := ststest.Options{Latency: cfg.latency, LatencyTail: cfg.latencyTail, ErrorRate: cfg.errorRate,
		MaxConcurrent: cfg.maxConcurrent, Seed: cfg.seed, Logger: log, RequireSecurity: cfg.security,
		EntityID: cfg.entityID, Agreements: cfg.agreements}
	if cfg.organisation != uuid.Nil {
		opts.Organisations = []ststest.Organisation{{UUID: cfg.organisation, CVR: cfg.orgCVR}}
	}
	started := time.Now()
	for _, o := range cfg.outages {
		opts.Outages = append(opts.Outages, ststest.Outage{From: started.Add(o.start), To: started.Add(o.start + o.length)})
	}
	if cfg.pkiDir != "" {
		pki, created, err := ststest.LoadOrCreatePKI(cfg.pkiDir, ststest.PKIConfig{})
		if err != nil {
			log.Error("pki", slog.String("dir", cfg.pkiDir), slog.Any("error", err))
			return 1
		}
		opts.PKI = pki
		log.Info("fakests certificates", slog.String("dir", cfg.pkiDir), slog.Bool("created", created),
			slog.String("sts_certificate", ststest.FileSTSCert), slog.String("service_certificate", ststest.FileServiceCert))
		if cfg.clientP12 != "" {
			if err := writeClientP12(pki, cfg, getenv, log); err != nil {
				log.Error("client p12", slog.String("path", cfg.clientP12), slog.Any("error", err))
				return 1
			}
		}
	}

	var export *loadedExport
	if cfg.load != "" {
		if export, err = readExport(cfg.load); err != nil {
			log.Error("load", slog.String("file", cfg.load), slog.Any("error", err))
			return 1
		}
		h := export.header
		if cfg.organisation == uuid.Nil && h.Organisation != uuid.Nil && h.CVR != "" {
			opts.OrganisationCVR = map[uuid.UUID]string{h.Organisation: h.CVR}
		}
	}
	fake := ststest.NewServer(opts)
	if export != nil {
		if err := fake.Load(export.objects); err != nil {
			log.Error("load", slog.String("file", cfg.load), slog.Any("error", err))
			return 1
		}
		h := export.header
		log.Info("fakests loaded an export", slog.String("file", cfg.load), slog.Time("exported_at", h.ExportedAt),
			slog.String("cvr", h.CVR), slog.String("organisation", h.Organisation.String()), slog.Int("objects", len(export.objects)),
			slog.Any("counts", h.Counts), slog.String("cpr", h.CPR))
	}
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
	log.Info("fakests listening", slog.String("addr", ln.Addr().String()), slog.Duration("latency", cfg.latency),
		slog.Duration("latency_tail", cfg.latencyTail), slog.Float64("error_rate", cfg.errorRate),
		slog.Int("outages", len(cfg.outages)), slog.Int("max_concurrent", cfg.maxConcurrent),
		slog.Bool("security", cfg.security), slog.String("entity_id", cfg.entityID), slog.String("sts_path", ststest.STSPath),
		slog.String("organisation", orgAttr(cfg)))
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
	log.Info("fakests stopped", slog.Int("calls", fake.TotalCalls()), slog.Int("tokens", fake.TokensIssued()))
	return 0
}

// orgAttr describes the Organisation created at start for the log: "UUID (CVR n)", or "".
func orgAttr(cfg config) string {
	if cfg.organisation == uuid.Nil {
		return ""
	}
	return cfg.organisation.String() + " (CVR " + cfg.orgCVR + ")"
}

// writeClientP12 writes the client PKCS#12 unless the file exists.
func writeClientP12(pki *ststest.PKI, cfg config, getenv func(string) string, log *slog.Logger) error {
	if _, err := os.Stat(cfg.clientP12); err == nil {
		log.Info("client p12 exists, kept", slog.String("path", cfg.clientP12))
		return nil
	}
	password, err := stsclient.ReadPassword(getenv("FAKESTS_CLIENT_P12_PASSWORD_FILE"), "FAKESTS_CLIENT_P12_PASSWORD", getenv)
	defaulted := false
	if err != nil {
		if getenv("FAKESTS_CLIENT_P12_PASSWORD_FILE") != "" {
			return err
		}
		password, defaulted = []byte(defaultP12Password), true
	}
	id, err := pki.WriteClientP12(cfg.clientP12, password, cfg.clientCVR)
	if err != nil {
		return err
	}
	log.Info("client p12 written", slog.String("path", cfg.clientP12), slog.String("cvr", cfg.clientCVR),
		slog.String("subject", id.Certificate.Subject.String()), slog.Bool("default_password", defaulted))
	return nil
}

// loadedExport is an export file read for -load.
type loadedExport struct {
	header  stsexport.Header
	objects []*oio.Object
}

// readExport reads and checks a `stsorgsync export` file.
func readExport(path string) (*loadedExport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h, objs, err := stsexport.ReadAll(f)
	if err != nil {
		return nil, err
	}
	return &loadedExport{header: h, objects: objs}, nil
}
