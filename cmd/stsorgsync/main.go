// Command stsorgsync keeps KOMBIT's STS Organisation in step with a municipality's OS2MO.
//
// Usage:
//
//	stsorgsync [--config FILE] run       consume OS2MO events and write STS Organisation (default)
//	stsorgsync [--config FILE] check     validate the configuration and report what can be reached
//	stsorgsync [--config FILE] sync [--dry-run] [--adopt] [--max-deactivations N] [--orphans POLICY]
//	                                     bring all of STS Organisation in line with OS2MO
//	stsorgsync [--config FILE] verify [--json] [--html FILE]
//	                                     compare STS Organisation with OS2MO (exit 0 in sync, 1 drift, 2 error)
//	stsorgsync [--config FILE] dlq list|export|replay [flags]
//	                                     inspect, export and replay the dead-letter queue
//	stsorgsync settings                  print every setting with its default and meaning
//	stsorgsync healthcheck [--ready]     GET the daemon's /healthz (or /readyz) for container health checks
//	stsorgsync version                   print the version
//
// Configuration comes from environment variables, optionally from a KEY=VALUE file named by
// --config or STSORGSYNC_CONFIG (the environment wins); dlq reads only LOG_LEVEL and the AMQP_
// settings. See README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/stsorgsync/stsorgsync/internal/healthprobe"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1 // runtime failure, or `check` found something unreachable
	exitConfig      = 2 // invalid configuration or usage
	exitUnclean     = 3 // shutdown deadline hit: in-flight events were cancelled and requeued
	defaultLogLevel = slog.LevelInfo
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without process globals, so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("stsorgsync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configFile := fs.String("config", getenv("STSORGSYNC_CONFIG"), "optional KEY=VALUE configuration file (environment variables take precedence)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: stsorgsync [--config FILE] run|check|sync|verify|dlq|settings|healthcheck|version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	cmd := "run"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, "stsorgsync", version)
		return exitOK
	case "settings":
		printSettings(stdout)
		return exitOK
	case "healthcheck":
		return healthcheck(ctx, fs.Args()[1:], getenv, stderr)
	case "dlq":
		// dlq needs only the broker: LOG_LEVEL and the AMQP_ settings.
		return runDLQ(ctx, fs.Args()[1:], func() (Config, error) { return loadDLQConfig(getenv, *configFile) }, stdout, stderr)
	case "run", "check", "sync", "verify":
	default:
		fmt.Fprintf(stderr, "stsorgsync: unknown command %q\n", cmd)
		fs.Usage()
		return exitConfig
	}

	// The command's own flags first: --help needs no configuration.
	var cmdArgs []string
	if fs.NArg() > 0 {
		cmdArgs = fs.Args()[1:]
	}
	var execute func(Config, *slog.Logger) int
	var err error
	switch cmd {
	case "check":
		err = parseNoFlags("check", "validate the configuration and certificates, then report for each dependency whether it can be reached", cmdArgs, stderr)
		execute = func(cfg Config, logger *slog.Logger) int { return check(ctx, cfg, logger, stdout) }
	case "sync":
		var f *syncFlags
		f, err = parseSyncFlags(cmdArgs, stderr)
		execute = func(cfg Config, _ *slog.Logger) int { return runSync(ctx, f, cfg, stdout, stderr) }
	case "verify":
		var f *verifyFlags
		f, err = parseVerifyFlags(cmdArgs, stderr)
		execute = func(cfg Config, _ *slog.Logger) int { return runVerify(ctx, f, cfg, stdout, stderr) }
	default:
		err = parseNoFlags("run", "consume OS2MO events and write STS Organisation until SIGTERM or SIGINT", cmdArgs, stderr)
		execute = func(cfg Config, logger *slog.Logger) int {
			return daemonExitCode(runDaemon(ctx, cfg, logger), logger, stderr)
		}
	}
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitConfig
	}

	cfg, err := loadConfig(getenv, *configFile)
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync: invalid configuration:\n%s\nRun `stsorgsync settings` for every setting and its meaning.\n", indent(err.Error()))
		return exitConfig
	}
	return execute(cfg, newLogger(stderr, cfg.LogLevel))
}

// daemonExitCode maps the daemon's outcome to the exit code and reports it.
func daemonExitCode(err error, logger *slog.Logger, stderr io.Writer) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUncleanShutdown):
		logger.Error("stopped", "error", err)
		return exitUnclean
	case errors.As(err, new(configError)):
		fmt.Fprintf(stderr, "stsorgsync: invalid configuration:\n%s\n", indent(err.Error()))
		return exitConfig
	default:
		logger.Error("stopped", "error", err)
		return exitFailure
	}
}

// parseNoFlags parses the arguments of a command that takes none, so that --help prints what it
// does and anything else is refused (exit 2) instead of ignored.
func parseNoFlags(name, what string, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: stsorgsync [--config FILE] %s\n\n%s%s.\n", name, strings.ToUpper(what[:1]), what[1:])
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stsorgsync %s: unexpected argument %q\n", name, fs.Arg(0))
		fs.Usage()
		return errors.New("unexpected argument")
	}
	return nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = defaultLogLevel
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})).With("service", "stsorgsync")
}

func indent(s string) string {
	out := "  "
	for _, r := range s {
		out += string(r)
		if r == '\n' {
			out += "  "
		}
	}
	return out
}

// printSettings prints the settings as Markdown tables, one per section (the README's
// configuration section).
func printSettings(w io.Writer) {
	section := "-"
	for _, s := range settings() {
		if s.Section != section {
			if section != "-" {
				fmt.Fprintln(w)
			}
			if s.Section != "" {
				fmt.Fprintf(w, "#### %s\n\n", s.Section)
			}
			fmt.Fprintln(w, "| Setting | Default | Meaning |")
			fmt.Fprintln(w, "|---|---|---|")
			section = s.Section
		}
		def := "`" + s.Default + "`"
		switch {
		case s.Required:
			def = "**required**"
		case s.Default == "":
			def = "(empty)"
		}
		help := s.Help
		if s.Secret {
			help += " Secret: may be given as `" + s.Name + "_FILE`; never logged."
		}
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", s.Name, def, help)
	}
}

// healthcheck probes /healthz (or, with --ready, /readyz) of a daemon listening on HTTP_LISTEN. It needs no other
// configuration, so it works in a container whose secrets are only visible to the daemon.
func healthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ready := fs.Bool("ready", false, "probe /readyz (broker session, Redis, STS token) instead of /healthz")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: stsorgsync healthcheck [--ready]\n\nProbe the running daemon's /healthz (or /readyz) on HTTP_LISTEN; exit 0 when it answers 200. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return exitOK
	} else if err != nil {
		return exitConfig
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	listen := getenv("HTTP_LISTEN")
	if listen == "" {
		listen = ":9090"
	}
	return healthprobe.Probe(ctx, "stsorgsync", listen, path, stderr)
}
