package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stsorgsync/stsorgsync/consumer"
)

func (a *app) dlqCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dlq",
		Short: "Inspect, export and replay the dead-letter queue",
		Long: `Work on the dead-letter queue (AMQP_DLQ): list counts the dead-lettered events by error class and
routing key, export writes them as JSON lines, replay re-publishes the matching ones to
AMQP_EXCHANGE and removes them from the queue once the broker has confirmed them. Every command
leaves the messages it does not replay in the queue. Reads only LOG_LEVEL and the AMQP_ settings.`,
		Example: `  stsorgsync dlq list
  stsorgsync dlq replay --dry-run --class permanent --older-than 1h`,
		Args: unknownCommand,
		RunE: func(*cobra.Command, []string) error {
			return errors.New("missing command: list, export or replay")
		},
	}
	cmd.AddCommand(a.dlqListCommand(), a.dlqExportCommand(), a.dlqReplayCommand())
	return cmd
}

func (a *app) dlqListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Count the dead-lettered events by error class and routing key, with their ages",
		Args:  noArgs,
		RunE: func(*cobra.Command, []string) error {
			return a.withDLQ("list", func(dlq *consumer.DLQ, _ *slog.Logger) error { return dlqList(a.ctx, dlq, a.stdout) })
		},
	}
}

func (a *app) dlqExportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:     "export",
		Short:   "Write every dead-lettered event as one JSON object per line; they stay in the queue",
		Example: "  stsorgsync dlq export --out dlq.jsonl",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			return a.withDLQ("export", func(dlq *consumer.DLQ, logger *slog.Logger) error {
				return dlqExport(a.ctx, dlq, out, a.stdout, logger)
			})
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "write to `FILE` instead of standard output")
	_ = cmd.MarkFlagFilename("out", "jsonl", "json")
	return cmd
}

// replayFlags are the flags of `dlq replay` as given; replayOptions checks and converts them.
type replayFlags struct {
	opts                               consumer.ReplayOptions
	rate, object, olderThan, newerThan string
	class, routingKey                  string
}

func (a *app) dlqReplayCommand() *cobra.Command {
	f := &replayFlags{}
	cmd := &cobra.Command{
		Use:   "replay",
		Short: "Re-publish matching dead-lettered events and remove them once the broker has confirmed them",
		Long: `Re-publish the matching dead-lettered events to AMQP_EXCHANGE with their original routing key, and
remove each from the dead-letter queue once the broker has confirmed it. Events that do not match,
or could not be replayed, stay in the queue. Exit 1 if any matching event could not be replayed.`,
		Example: `  stsorgsync dlq replay --dry-run --class permanent --older-than 1h
  stsorgsync dlq replay --class permanent --routing-key org_unit --limit 100 --rate 10/s
  stsorgsync dlq replay --object 89cba575-d106-4732-87ab-45c09ac56874 --force`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			opts, err := f.replayOptions()
			if err != nil {
				return err
			}
			return a.withDLQ("replay", func(dlq *consumer.DLQ, _ *slog.Logger) error { return dlqReplay(a.ctx, dlq, opts, a.stdout) })
		},
	}
	fl := cmd.Flags()
	o := &f.opts
	fl.BoolVar(&o.DryRun, "dry-run", false, "show what would be replayed; change nothing")
	fl.IntVar(&o.Limit, "limit", 0, "replay at most `N` events (0: all that match)")
	fl.StringVar(&f.rate, "rate", "", "at most this many events per second: N, N/s, N/m or N/h (default: unlimited)")
	fl.StringVar(&f.routingKey, "routing-key", "", "only events with this original routing key: an OS2MO object type ("+strings.Join(moObjectTypes(), ", ")+") or a legacy <service>.<type>.<action>")
	fl.StringVar(&f.object, "object", "", "only events about the object with this `UUID`")
	fl.StringVar(&f.class, "class", "", "only events of this error class: "+strings.Join(consumer.DeadLetterClasses(), ", "))
	fl.StringVar(&f.olderThan, "older-than", "", "only events dead-lettered at least this long ago, e.g. 30m, 12h, 7d")
	fl.StringVar(&f.newerThan, "newer-than", "", "only events dead-lettered at most this long ago")
	fl.BoolVar(&o.Force, "force", false, "write each object even if its last-sent hash says it is unchanged")
	_ = cmd.RegisterFlagCompletionFunc("class", cobra.FixedCompletions(consumer.DeadLetterClasses(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("routing-key", cobra.FixedCompletions(moObjectTypes(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// replayOptions checks the replay flags and converts them; every problem is reported at once.
func (f *replayFlags) replayOptions() (consumer.ReplayOptions, error) {
	var errs []error
	o := f.opts
	if o.Limit < 0 {
		errs = append(errs, fmt.Errorf("--limit must not be negative, got %d", o.Limit))
	}
	if f.rate != "" {
		r, err := parseRate(f.rate)
		if err != nil {
			errs = append(errs, fmt.Errorf("--rate: %w", err))
		}
		o.Rate = r
	}
	if f.class != "" {
		if !slices.Contains(consumer.DeadLetterClasses(), f.class) {
			errs = append(errs, fmt.Errorf("--class: unknown error class %q%s; want one of %s", f.class, didYouMean(f.class, consumer.DeadLetterClasses()), strings.Join(consumer.DeadLetterClasses(), ", ")))
		}
		o.Filter.Class = f.class
	}
	if f.routingKey != "" {
		if !moRoutingKey(f.routingKey) {
			errs = append(errs, fmt.Errorf("--routing-key: %q is not an OS2MO routing key%s; want an object type (%s) or a legacy key <service>.<type>.<action>", f.routingKey, didYouMean(f.routingKey, moObjectTypes()), strings.Join(moObjectTypes(), ", ")))
		}
		o.Filter.RoutingKey = f.routingKey
	}
	if f.object != "" {
		id, err := uuid.Parse(f.object)
		if err != nil || len(f.object) != 36 {
			errs = append(errs, fmt.Errorf("--object: expected a UUID, got %q", f.object))
		}
		o.Filter.Object = id
	}
	for _, a := range []struct {
		flag, v string
		dst     *time.Duration
	}{{"--older-than", f.olderThan, &o.Filter.OlderThan}, {"--newer-than", f.newerThan, &o.Filter.NewerThan}} {
		if a.v == "" {
			continue
		}
		d, err := parseAge(a.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.flag, err))
		}
		*a.dst = d
	}
	if flt := o.Filter; flt.OlderThan > 0 && flt.NewerThan > 0 && flt.NewerThan <= flt.OlderThan {
		errs = append(errs, fmt.Errorf("--newer-than (%s) must be longer than --older-than (%s), or nothing matches", flt.NewerThan, flt.OlderThan))
	}
	return o, errors.Join(errs...)
}

// moObjectTypes returns every object type OS2MO publishes events for: those stsorgsync acts on
// (objectTypes) and the others, whose events reach a dead-letter queue only if a binding for
// them was made by hand.
func moObjectTypes() []string {
	return append(objectTypes(), "class", "facet", "itsystem", "owner", "related_unit", "rolebinding")
}

// moRoutingKey reports whether k is a routing key OS2MO publishes: an object type, or the legacy
// <service>.<type>.<action> form with a known type.
func moRoutingKey(k string) bool {
	if slices.Contains(moObjectTypes(), k) {
		return true
	}
	parts := strings.Split(k, ".")
	return len(parts) == 3 && (parts[0] == "employee" || parts[0] == "org_unit") && slices.Contains(moObjectTypes(), parts[1]) && parts[2] != ""
}

// didYouMean returns " (did you mean X?)" for the candidate nearest s, or "".
func didYouMean(s string, candidates []string) string {
	if c := closest(s, candidates); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}

// parseRate parses "N", "N/s", "N/m" or "N/h" (N may have decimals) into events per second.
func parseRate(s string) (float64, error) {
	num, unit, _ := strings.Cut(s, "/")
	per := map[string]float64{"": 1, "s": 1, "m": 60, "h": 3600}[unit]
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || per == 0 || n <= 0 {
		return 0, fmt.Errorf("expected a positive number of events per second, minute or hour such as 10, 10/s or 600/m, got %q", s)
	}
	return n / per, nil
}

// parseAge parses a Go duration (90s, 30m, 12h) or a whole number of days (7d).
func parseAge(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("expected a positive duration such as 30m, 12h or 7d, got %q", s)
	}
	return d, nil
}

// withDLQ loads what `dlq` needs (LOG_LEVEL and the AMQP_ settings; a fault exits exitConfig),
// connects to RabbitMQ and runs do on AMQP_DLQ. It exits exitFailure if the broker cannot be used
// or do fails.
func (a *app) withDLQ(name string, do func(*consumer.DLQ, *slog.Logger) error) error {
	cfg, err := loadDLQConfig(a.getenv, a.configFile)
	if err != nil {
		return a.invalidConfiguration(err)
	}
	logger := newLogger(a.stderr, cfg.LogLevel)
	dialer, _, err := amqpDialer(cfg, logger)
	if err != nil {
		return a.invalidConfiguration(err)
	}
	conn, _, err := dialer.Dial(a.ctx, "stsorgsync dlq")
	if err != nil {
		fmt.Fprintf(a.stderr, "stsorgsync: connect to RabbitMQ %s: %v\n", redactURLs(cfg.AMQPURL), err)
		return exitCode(exitFailure)
	}
	defer conn.Close()
	dlq, err := consumer.NewDLQ(conn, consumer.Config{
		Exchange: cfg.AMQPExchange, DeadLetterQueue: cfg.AMQPDLQ, Logger: logger, Now: time.Now,
	})
	if err != nil {
		fmt.Fprintf(a.stderr, "stsorgsync: %v\n", err)
		return exitCode(exitFailure)
	}
	if err := do(dlq, logger); err != nil {
		fmt.Fprintf(a.stderr, "stsorgsync: dlq %s: %v\n", name, err)
		return exitCode(exitFailure)
	}
	return nil
}

// dlqList prints the DLQ's messages grouped by class and routing key.
func dlqList(ctx context.Context, dlq *consumer.DLQ, out io.Writer) error {
	stats, err := dlq.List(ctx)
	if err != nil {
		return err
	}
	if stats.Total == 0 {
		fmt.Fprintf(out, "dead-letter queue %s is empty\n", dlq.Queue())
		return nil
	}
	fmt.Fprintf(out, "dead-letter queue %s: %d %s\n\n", dlq.Queue(), stats.Total, plural(stats.Total, "message", "messages"))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CLASS\tROUTING KEY\tCOUNT\tOLDEST\tNEWEST")
	for _, g := range stats.Groups {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\n", g.Class, g.RoutingKey, g.Count, humanAge(stats.At, g.Oldest), humanAge(stats.At, g.Newest))
	}
	return tw.Flush()
}

// dlqExport writes the DLQ as JSON lines to path, or to standard output if path is empty.
func dlqExport(ctx context.Context, dlq *consumer.DLQ, path string, stdout io.Writer, logger *slog.Logger) error {
	w := stdout
	var out *outputFile
	if path != "" {
		var err error
		if out, err = createOutput(path); err != nil {
			return err
		}
		defer out.Discard()
		w = out
	}
	n, err := dlq.Export(ctx, w)
	if err == nil && out != nil {
		err = out.Commit()
	}
	logger.Info("dlq export done; the messages stay in the queue", "messages", n, "out", cmp.Or(path, "stdout"), "queue", dlq.Queue())
	return err
}

// dlqReplay replays and prints one line per matching message and a summary. Partial failure is
// an error.
func dlqReplay(ctx context.Context, dlq *consumer.DLQ, opts consumer.ReplayOptions, out io.Writer) error {
	verb := "replayed"
	if opts.DryRun {
		verb = "would replay"
	}
	opts.Report = func(m consumer.DeadLetter, err error) {
		what := m.Object.String()
		if m.Object == uuid.Nil {
			what = strconv.Quote(shorten(string(m.Body), 60))
		}
		if err != nil {
			fmt.Fprintf(out, "FAILED  %s %s (%s): %v\n", m.RoutingKey, what, m.Class, err)
			return
		}
		when := "at an unknown time"
		if !m.FailedAt.IsZero() {
			when = humanAge(time.Now(), m.FailedAt) + " ago"
		}
		fmt.Fprintf(out, "%s %s %s (%s, failed %s)\n", verb, m.RoutingKey, what, m.Class, when)
	}
	sum, err := dlq.Replay(ctx, opts)
	if sum.DryRun {
		fmt.Fprintf(out, "dry run: read %d, %d match and would be replayed, %d do not match; nothing was changed\n", sum.Scanned, sum.Matched, sum.Skipped)
	} else {
		fmt.Fprintf(out, "read %d, matched %d, replayed %d, failed %d, skipped %d (not matching); failed and skipped events stay in %s\n",
			sum.Scanned, sum.Matched, sum.Replayed, sum.Failed, sum.Skipped, dlq.Queue())
	}
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d of %d matching %s could not be replayed", sum.Failed, sum.Matched, plural(sum.Matched, "event", "events"))
	}
	return nil
}

// humanAge formats now-t compactly (3d4h, 5h12m, 4m30s, 12s), or "-" for an unknown time.
func humanAge(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := max(now.Sub(t), 0).Round(time.Second)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
