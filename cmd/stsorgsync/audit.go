package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/translate"
)

// auditFlags are the flags of `stsorgsync audit` as given.
type auditFlags struct {
	unit, person, object, since, until, source, operation string
	asJSON                                                bool
	idle                                                  time.Duration
}

func (a *app) auditCommand() *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Show what was written to STS Organisation, when and why, from the audit trail",
		Long: `Read the audit trail (AUDIT_STREAM on AMQP_URL's broker): every STS write the daemon, the full sync
and DLQ replays made, with its source (event id and routing key, or sync), the OS2MO unit or person
it was for, the STS object, the operation, the fields and relations it changed (never a CPR number),
KOMBIT's transaction UUID and STS's result. The table shows one line per write; --json prints every
record (intent and outcome) as a JSON line. With --since the read starts at that time in the stream
instead of its beginning. A write whose result is "unknown" has an intent record but no outcome: the
process stopped between the two; ask KOMBIT by the transaction UUID. Reads only LOG_LEVEL, AMQP_URL
and AUDIT_STREAM.`,
		Example: `  stsorgsync audit --person 5b8f0a1e-3c1d-4d3c-9f0a-1c2d3e4f5a6b --since 2026-03-01 --until 2026-04-01
  stsorgsync audit --unit 9f2c0a3e-1b2d-4c5e-8f9a-0b1c2d3e4f5a --since 7d
  stsorgsync audit --object 0d2a4f5e-6b7c-4d8e-9f0a-1b2c3d4e5f6a --json`,
		Args: noArgs,
		RunE: func(*cobra.Command, []string) error {
			filter, err := f.filter(time.Now())
			if err != nil {
				return err
			}
			return a.runAudit(filter, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.unit, "unit", "", "only writes for this OS2MO unit (`UUID`)")
	fl.StringVar(&f.person, "person", "", "only writes for this OS2MO person (`UUID`)")
	fl.StringVar(&f.object, "object", "", "only writes of this STS object (`UUID`)")
	fl.StringVar(&f.since, "since", "", "from this time: RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01, UTC) or an age (90m, 12h, 7d)")
	fl.StringVar(&f.until, "until", "", "before this time (same forms as --since)")
	fl.StringVar(&f.source, "source", "", "only writes made by: event, replay or sync")
	fl.StringVar(&f.operation, "operation", "", "only writes of this operation: importer or ret (stsorgsync never passivates)")
	fl.BoolVar(&f.asJSON, "json", false, "print every record (intent and outcome) as a JSON line instead of the table")
	fl.DurationVar(&f.idle, "wait", time.Second, "stop when no record has arrived for this long (the stream has no end)")
	_ = cmd.RegisterFlagCompletionFunc("source", cobra.FixedCompletions([]string{audit.SourceEvent, audit.SourceReplay, audit.SourceSync}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("operation", cobra.FixedCompletions(auditOperations(), cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// auditOperations are the operations a write can be (translate's OpKinds).
func auditOperations() []string {
	return []string{string(translate.OpImport), string(translate.OpUpdate)}
}

// filter checks the flags and converts them; every problem is reported at once.
func (f *auditFlags) filter(now time.Time) (audit.Filter, error) {
	var flt audit.Filter
	var errs []error
	for _, id := range []struct {
		flag, v string
		dst     *uuid.UUID
	}{{"--unit", f.unit, &flt.Unit}, {"--person", f.person, &flt.Person}, {"--object", f.object, &flt.Object}} {
		if id.v == "" {
			continue
		}
		u, err := uuid.Parse(id.v)
		if err != nil || len(id.v) != 36 {
			errs = append(errs, fmt.Errorf("%s: expected a UUID, got %q", id.flag, id.v))
		}
		*id.dst = u
	}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--since", f.since, &flt.Since}, {"--until", f.until, &flt.Until}} {
		if t.v == "" {
			continue
		}
		at, err := parseWhen(t.v, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t.flag, err))
		}
		*t.dst = at
	}
	if !flt.Since.IsZero() && !flt.Until.IsZero() && !flt.Until.After(flt.Since) {
		errs = append(errs, fmt.Errorf("--until (%s) must be after --since (%s)", flt.Until.Format(time.RFC3339), flt.Since.Format(time.RFC3339)))
	}
	sources := []string{audit.SourceEvent, audit.SourceReplay, audit.SourceSync}
	if f.source != "" && !slices.Contains(sources, f.source) {
		errs = append(errs, fmt.Errorf("--source: unknown source %q%s; want one of %s", f.source, didYouMean(f.source, sources), strings.Join(sources, ", ")))
	}
	flt.Source = f.source
	ops := auditOperations()
	if f.operation != "" && !slices.Contains(ops, f.operation) {
		errs = append(errs, fmt.Errorf("--operation: unknown operation %q%s; want one of %s", f.operation, didYouMean(f.operation, ops), strings.Join(ops, ", ")))
	}
	flt.Operation = f.operation
	if f.idle <= 0 {
		errs = append(errs, fmt.Errorf("--wait must be positive, got %s", f.idle))
	}
	return flt, errors.Join(errs...)
}

// parseWhen parses an RFC 3339 time, a date (midnight UTC) or an age before now (parseAge).
func parseWhen(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	if d, err := parseAge(v); err == nil {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("expected RFC 3339 (2026-03-01T12:00:00Z), a date (2026-03-01) or an age (12h, 7d), got %q", v)
}

// runAudit reads the trail and prints the matching writes.
func (a *app) runAudit(flt audit.Filter, f *auditFlags) error {
	cfg, err := loadSettings(a.getenv, a.configFile, setting.usedByAudit)
	if err != nil {
		return a.invalidConfiguration(err)
	}
	dialer, _, err := amqpDialer(cfg, newLogger(a.stderr, cfg.LogLevel))
	if err != nil {
		return a.invalidConfiguration(err)
	}
	conn, _, err := dialer.Dial(a.ctx, "stsorgsync audit reader")
	if err != nil {
		fmt.Fprintf(a.stderr, "stsorgsync: connect to RabbitMQ %s: %v\n", redactURLs(cfg.AMQPURL), err)
		return exitCode(exitFailure)
	}
	defer conn.Close()
	opts := audit.ReadOptions{Idle: f.idle}
	if f.asJSON {
		enc := json.NewEncoder(a.stdout)
		err = audit.Read(a.ctx, conn, cfg.AuditStream, flt, opts, func(r audit.Record) error { return enc.Encode(r) })
	} else {
		var writes []*auditWrite
		byTxn := map[uuid.UUID]*auditWrite{}
		err = audit.Read(a.ctx, conn, cfg.AuditStream, flt, opts, func(r audit.Record) error {
			w := byTxn[r.TransactionUUID]
			if w == nil {
				w = &auditWrite{}
				byTxn[r.TransactionUUID] = w
				writes = append(writes, w)
			}
			w.add(r)
			return nil
		})
		if err == nil {
			err = writeAuditTable(a.stdout, writes)
		}
	}
	if err != nil {
		fmt.Fprintf(a.stderr, "stsorgsync audit: %v\n", err)
		return exitCode(exitFailure)
	}
	return nil
}

// auditWrite is one write: its intent and, once read, its outcome.
type auditWrite struct {
	intent, outcome *audit.Record
}

func (w *auditWrite) add(r audit.Record) {
	if r.Phase == audit.PhaseOutcome {
		w.outcome = &r
	} else {
		w.intent = &r
	}
}

// writeAuditTable prints one line per write.
func writeAuditTable(out io.Writer, writes []*auditWrite) error {
	if len(writes) == 0 {
		fmt.Fprintln(out, "no STS writes match")
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tRESULT\tSOURCE\tFOR\tOPERATION\tSTS OBJECT\tTRANSACTION\tCHANGED")
	for _, w := range writes {
		r := w.intent
		if r == nil {
			r = w.outcome // the intent is older than --since
		}
		result := "unknown"
		if w.outcome != nil {
			result = w.outcome.Result
			if w.outcome.StatusKode != 0 {
				result += fmt.Sprintf(" (StatusKode %d)", w.outcome.StatusKode)
			}
		}
		src := r.Source.Kind
		if r.Source.RoutingKey != "" {
			src += " " + r.Source.RoutingKey
		}
		var changed []string
		if w.intent != nil {
			for _, c := range w.intent.Changes {
				changed = append(changed, c.Field)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s:%s\t%s\t%s\n", r.Time.Format(time.RFC3339), result, src, r.Bundle, r.Operation,
			r.Kind, r.Object, r.TransactionUUID, strings.Join(changed, ","))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "\n%d %s\n", len(writes), plural(len(writes), "write", "writes"))
	return nil
}
