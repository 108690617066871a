package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/consumer"
)

const dlqUsage = `usage: stsorgsync [--config FILE] dlq list
       stsorgsync [--config FILE] dlq export [--out FILE]
       stsorgsync [--config FILE] dlq replay [--dry-run] [--limit N] [--rate N/s] [--routing-key KEY]
                  [--object UUID] [--class CLASS] [--older-than AGE] [--newer-than AGE] [--force]

  list    count the dead-lettered events by error class and routing key, with their ages
  export  write every dead-lettered event as one JSON object per line
  replay  re-publish matching events to AMQP_EXCHANGE with their original routing key and remove
          them from the dead-letter queue once the broker has confirmed them

Every command leaves the messages it does not replay in the dead-letter queue.`

// dlqRequest is a parsed `dlq` command line.
type dlqRequest struct {
	cmd    string // list, export or replay
	out    string // export: output file ("" = standard output)
	replay consumer.ReplayOptions
}

// parseDLQArgs parses the arguments after `dlq`.
func parseDLQArgs(args []string, stderr io.Writer) (dlqRequest, error) {
	if len(args) == 0 {
		return dlqRequest{}, errors.New("missing command: list, export or replay")
	}
	req := dlqRequest{cmd: args[0]}
	switch req.cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stderr, dlqUsage)
		return req, flag.ErrHelp
	}
	fs := flag.NewFlagSet("dlq "+req.cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, dlqUsage); fs.PrintDefaults() }
	var rate, object, olderThan, newerThan string
	switch req.cmd {
	case "list":
	case "export":
		fs.StringVar(&req.out, "out", "", "write to this file instead of standard output")
	case "replay":
		o := &req.replay
		fs.BoolVar(&o.DryRun, "dry-run", false, "show what would be replayed; change nothing")
		fs.IntVar(&o.Limit, "limit", 0, "replay at most this many events (0: all that match)")
		fs.StringVar(&rate, "rate", "", "at most this many events per second: N, N/s, N/m or N/h (default: unlimited)")
		fs.StringVar(&o.Filter.RoutingKey, "routing-key", "", "only events with this original routing key (object type), e.g. org_unit")
		fs.StringVar(&object, "object", "", "only events about the object with this UUID")
		fs.StringVar(&o.Filter.Class, "class", "", "only events of this error class: malformed, permanent, retries-exhausted, delivery-limit")
		fs.StringVar(&olderThan, "older-than", "", "only events dead-lettered at least this long ago, e.g. 30m, 12h, 7d")
		fs.StringVar(&newerThan, "newer-than", "", "only events dead-lettered at most this long ago")
		fs.BoolVar(&o.Force, "force", false, "write each object even if its last-sent hash says it is unchanged")
	default:
		return req, fmt.Errorf("unknown command %q: want list, export or replay", req.cmd)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return req, fmt.Errorf("dlq %s: %w", req.cmd, err)
	}
	if fs.NArg() > 0 {
		return req, fmt.Errorf("dlq %s: unexpected argument %q", req.cmd, fs.Arg(0))
	}
	if req.cmd != "replay" {
		return req, nil
	}
	var errs []error
	o := &req.replay
	if o.Limit < 0 {
		errs = append(errs, fmt.Errorf("--limit must not be negative, got %d", o.Limit))
	}
	if rate != "" {
		r, err := parseRate(rate)
		if err != nil {
			errs = append(errs, fmt.Errorf("--rate: %w", err))
		}
		o.Rate = r
	}
	if object != "" {
		id, err := uuid.Parse(object)
		if err != nil || len(object) != 36 {
			errs = append(errs, fmt.Errorf("--object: expected a UUID, got %q", object))
		}
		o.Filter.Object = id
	}
	for _, a := range []struct {
		flag, v string
		dst     *time.Duration
	}{{"--older-than", olderThan, &o.Filter.OlderThan}, {"--newer-than", newerThan, &o.Filter.NewerThan}} {
		if a.v == "" {
			continue
		}
		d, err := parseAge(a.v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.flag, err))
		}
		*a.dst = d
	}
	if f := o.Filter; f.OlderThan > 0 && f.NewerThan > 0 && f.NewerThan <= f.OlderThan {
		errs = append(errs, fmt.Errorf("--newer-than (%s) must be longer than --older-than (%s), or nothing matches", f.NewerThan, f.OlderThan))
	}
	return req, errors.Join(errs...)
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

// runDLQ runs `stsorgsync dlq …`: it parses the command line (usage errors exit exitConfig), then
// loads the configuration with load (loadDLQConfig: LOG_LEVEL and the AMQP_ settings; an invalid
// one exits exitConfig), connects to RabbitMQ and works on AMQP_DLQ. It exits
// exitFailure if the broker cannot be used or, for replay, if any matching event could not be
// replayed.
func runDLQ(ctx context.Context, args []string, load func() (Config, error), stdout, stderr io.Writer) int {
	req, err := parseDLQArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync: %v\n%s\n", err, dlqUsage)
		return exitConfig
	}
	cfg, err := load()
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync: invalid configuration:\n%s\nRun `stsorgsync settings` for every setting and its meaning.\n", indent(err.Error()))
		return exitConfig
	}
	logger := newLogger(stderr, cfg.LogLevel)
	conn, err := amqp.DialConfig(cfg.AMQPURL, amqp.Config{
		Heartbeat:  10 * time.Second,
		Dial:       amqp.DefaultDial(15 * time.Second),
		Properties: amqp.Table{"connection_name": "stsorgsync dlq"},
	})
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync: connect to RabbitMQ %s: %v\n", redactURL(cfg.AMQPURL), err)
		return exitFailure
	}
	defer conn.Close()
	dlq, err := consumer.NewDLQ(conn, consumer.Config{
		Exchange: cfg.AMQPExchange, DeadLetterQueue: cfg.AMQPDLQ, Logger: logger, Now: time.Now,
	})
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync: %v\n", err)
		return exitFailure
	}
	switch req.cmd {
	case "list":
		err = dlqList(ctx, dlq, stdout)
	case "export":
		err = dlqExport(ctx, dlq, req.out, stdout, stderr)
	default:
		err = dlqReplay(ctx, dlq, req.replay, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync: dlq %s: %v\n", req.cmd, err)
		return exitFailure
	}
	return exitOK
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
func dlqExport(ctx context.Context, dlq *consumer.DLQ, path string, stdout, stderr io.Writer) (err error) {
	w := stdout
	if path != "" {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("create export file: %w", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("write export file %s: %w", path, cerr)
			}
		}()
		w = f
	}
	n, err := dlq.Export(ctx, w)
	fmt.Fprintf(stderr, "exported %d %s from %s; they stay in the queue\n", n, plural(n, "message", "messages"), dlq.Queue())
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
