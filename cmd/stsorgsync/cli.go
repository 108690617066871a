package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/stsorgsync/stsorgsync/internal/healthprobe"
)

// exitCode is what a command returns once it has reported its outcome itself: the process exits
// with it and prints nothing more. Any other error from the command tree is a usage error
// (unknown command, flag or argument; invalid flag value): it is printed and exits exitConfig.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// exitWith returns nil for exitOK and the exitCode otherwise.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return exitCode(code)
}

// app is one invocation of the command line: its context, environment and outputs, and the
// global flags. Nothing here is package state, so tests run invocations side by side.
type app struct {
	ctx            context.Context
	getenv         func(string) string
	stdout, stderr io.Writer
	configFile     string
}

// run is main without process globals, so tests can drive it: it runs the command line args and
// returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	a := &app{ctx: ctx, getenv: getenv, stdout: stdout, stderr: stderr}
	root := a.rootCommand()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	}
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "stsorgsync: %v\nRun '%s --help' for usage.\n", strings.TrimRight(err.Error(), "\n"), cmd.CommandPath())
	return exitConfig
}

// rootCommand builds the command tree.
func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "stsorgsync",
		Short: "Keep KOMBIT's STS Organisation in step with OS2MO",
		Long: `stsorgsync keeps KOMBIT's STS Organisation (FK Organisation) in step with a municipality's OS2MO:
the daemon (run) follows OS2MO's changes, sync brings all of STS in line, verify compares the two.

Configuration comes from environment variables and, optionally, a KEY=VALUE file named by --config
or STSORGSYNC_CONFIG (the environment wins; an unknown key in the file is an error). ` + "`stsorgsync settings`" + `
lists every setting. Exit codes: 0 ok, 1 failure (verify: drift), 2 usage or configuration error
(verify: any error), 3 unclean shutdown of run.`,
		Example: `  stsorgsync --config /etc/stsorgsync.env check
  stsorgsync --config /etc/stsorgsync.env run
  stsorgsync --config /etc/stsorgsync.env verify --html report.html
  stsorgsync help sync`,
		Version:           version,
		SilenceErrors:     true,
		SilenceUsage:      true,
		Args:              unknownCommand,
		ValidArgsFunction: cobra.NoFileCompletions,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help() // no command: say what there is
		},
	}
	root.SetOut(a.stdout) // before InitDefaultCompletionCmd, which keeps the writer it finds
	root.SetErr(a.stderr)
	root.SetVersionTemplate("stsorgsync {{.Version}}\n")
	root.PersistentFlags().StringVar(&a.configFile, "config", a.getenv("STSORGSYNC_CONFIG"),
		"optional KEY=VALUE configuration `FILE` (environment variables take precedence; default $STSORGSYNC_CONFIG)")
	_ = root.MarkPersistentFlagFilename("config", "env", "conf", "")
	root.SetFlagErrorFunc(suggestFlag)
	root.AddCommand(
		a.runCommand(), a.checkCommand(), a.syncCommand(), a.verifyCommand(), a.exportCommand(), a.dlqCommand(),
		a.auditCommand(), a.settingsCommand(), a.healthcheckCommand(), a.versionCommand(),
	)
	root.SetHelpCommand(helpCommand())
	// cobra's completion command, made strict: `completion` alone or with an unknown shell is a
	// usage error instead of help with exit 0.
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Args = unknownCommand
			c.RunE = func(*cobra.Command, []string) error {
				return errors.New("missing shell: bash, zsh, fish or powershell")
			}
		}
	}
	return root
}

// helpCommand is `stsorgsync help [command]`; an unknown topic is a usage error.
func helpCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help for any command: stsorgsync help [command [subcommand]]; the same as the command with --help.",
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			parent, _, err := cmd.Root().Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, c := range parent.Commands() {
				if c.IsAvailableCommand() && strings.HasPrefix(c.Name(), toComplete) {
					out = append(out, cobra.CompletionWithDesc(c.Name(), c.Short))
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil {
				return err
			}
			if len(rest) > 0 {
				return unknownCommand(target, rest)
			}
			return target.Help()
		},
	}
}

// unknownCommand is the Args of a command that has subcommands: any argument names a command
// that does not exist.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return errors.New(msg)
}

// noArgs is the Args of a command that takes none.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unexpected argument %q: %s takes no arguments", args[0], cmd.CommandPath())
	}
	return nil
}

// suggestFlag adds "did you mean --x?" to an unknown flag, and points a single-dash long flag
// (-json, as Go's flag package took it) at its two-dash spelling.
func suggestFlag(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) {
		return err
	}
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	name := ne.GetSpecifiedName()
	if short := ne.GetSpecifiedShortnames(); len(short) > 1 {
		name = short // -json: a long name given with one dash
	}
	if s := closest(name, names); s != "" {
		return fmt.Errorf("%w (did you mean --%s?)", err, s)
	}
	return err
}

// closest returns the candidate nearest to s (by edit distance, at most a third of its length
// and at least 2 edits allowed), or "" if none is near.
func closest(s string, candidates []string) string {
	best, bestD := "", max(2, len(s)/3)+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// loadConfig loads the whole configuration for a command; a fault is reported and becomes
// exitConfig.
func (a *app) config() (Config, error) {
	cfg, err := loadConfig(a.getenv, a.configFile)
	if err != nil {
		return Config{}, a.invalidConfiguration(err)
	}
	return cfg, nil
}

// invalidConfiguration reports a configuration fault, whether found while loading the settings
// or while building the clients from them (an unreadable certificate, a wrong password), the same
// way for every command, and returns exitConfig.
func (a *app) invalidConfiguration(err error) exitCode {
	fmt.Fprintf(a.stderr, "stsorgsync: invalid configuration:\n%s\nRun `stsorgsync settings` for every setting and its meaning.\n", indent(err.Error()))
	return exitCode(exitConfig)
}

// openDeps builds the clients of a command that uses them. If it cannot, d is nil and code the
// exit code: a configuration fault is reported by invalidConfiguration (exitConfig), anything
// else is logged and becomes failCode.
func (a *app) openDeps(name string, cfg Config, logger *slog.Logger, failCode int) (d *deps, code int) {
	d, err := newDeps(cfg, logger, observers{})
	switch {
	case err == nil:
		return d, exitOK
	case errors.As(err, new(configError)):
		return nil, int(a.invalidConfiguration(err))
	default:
		logger.Error(name+" failed", "error", err)
		return nil, failCode
	}
}

func (a *app) runCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Consume OS2MO events and write STS Organisation until SIGTERM or SIGINT",
		Long: `Run the daemon: follow OS2MO's changes (GraphQL events or AMQP, EVENT_SOURCE), write each changed
object to STS Organisation, and serve /healthz, /readyz and /metrics on HTTP_LISTEN. It stops on
SIGTERM or SIGINT after finishing the events in flight (exit 3 if SHUTDOWN_TIMEOUT cut them off;
they are redelivered).`,
		Example: "  stsorgsync --config /etc/stsorgsync.env run",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			logger := newLogger(a.stderr, cfg.LogLevel)
			err = runDaemon(a.ctx, cfg, logger)
			switch {
			case err == nil:
				return nil
			case errors.Is(err, errUncleanShutdown):
				logger.Error("stopped", "error", err)
				return exitCode(exitUnclean)
			case errors.As(err, new(configError)):
				return a.invalidConfiguration(err)
			default:
				logger.Error("stopped", "error", err)
				return exitCode(exitFailure)
			}
		},
	}
}

func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Validate the configuration and certificates, then report whether each dependency can be reached",
		Long: `Validate the configuration and load the certificates (exit 2 with what to fix if they are not
valid), then report, one line per dependency, whether RabbitMQ, Redis, OS2MO (token, GraphQL and
its event listeners), the STS token service and STS Organisation (the municipality's Organisation
object) can be reached with the configured credentials. Exit 1 if any cannot.`,
		Example: "  stsorgsync --config /etc/stsorgsync.env check",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := a.config()
			if err != nil {
				return err
			}
			logger := newLogger(a.stderr, cfg.LogLevel)
			d, code := a.openDeps("check", cfg, logger, exitFailure)
			if d == nil {
				return exitCode(code)
			}
			defer d.close()
			return exitWith(check(a.ctx, cfg, d, a.stdout))
		},
	}
}

func (a *app) settingsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "settings",
		Short: "Print every setting with its default and meaning (Markdown)",
		Long: `Print every setting as Markdown tables: name, default and meaning. README.md's configuration
section is this output. Needs no configuration.`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			printSettings(a.stdout)
			return nil
		},
	}
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintln(a.stdout, "stsorgsync", version)
			return nil
		},
	}
}

func (a *app) healthcheckCommand() *cobra.Command {
	var ready bool
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe the running daemon's /healthz (or /readyz) for container health checks",
		Long: `GET /healthz (or, with --ready, /readyz) of the daemon listening on HTTP_LISTEN and exit 0 when it
answers 200, 1 otherwise. It reads only HTTP_LISTEN (from the environment or --config), so it works
in a container whose secrets only the daemon can read.`,
		Example: "  stsorgsync healthcheck --ready",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			cfg, err := loadSettings(a.getenv, a.configFile, func(s setting) bool { return s.Name == "HTTP_LISTEN" })
			if err != nil {
				return a.invalidConfiguration(err)
			}
			path := "/healthz"
			if ready {
				path = "/readyz"
			}
			return exitWith(healthprobe.Probe(a.ctx, "stsorgsync", cfg.HTTPListen, path, a.stderr))
		},
	}
	cmd.Flags().BoolVar(&ready, "ready", false, "probe /readyz (event source, broker session, Redis, STS token) instead of /healthz")
	return cmd
}

// newLogger returns the JSON logger of every command: level from LOG_LEVEL, durations in
// seconds under a key ending in _seconds, so every duration in the log has one format.
func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		l = defaultLogLevel
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l, ReplaceAttr: durationSeconds})).With("service", "stsorgsync")
}

// durationSeconds writes a time.Duration attribute as seconds (a number), its key suffixed
// _seconds.
func durationSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() != slog.KindDuration {
		return a
	}
	key := a.Key
	if !strings.HasSuffix(key, "_seconds") {
		key += "_seconds"
	}
	return slog.Float64(key, a.Value.Duration().Seconds())
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
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
