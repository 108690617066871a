package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// newEngine wires a full synchronisation: OS2MO, STS (counted in the metrics through observe)
// and the Redis leases and last-sent records the event path uses.
func newEngine(cfg Config, d *deps, logger *slog.Logger, observe func(kind, operation, result string, took time.Duration)) *reconcile.Engine {
	if observe == nil {
		observe = func(string, string, string, time.Duration) {}
	}
	// The engine's own client keeps SYNC_CONCURRENCY calls on the wire and twice as many bundles
	// at work, so signing requests and checking answers overlap STS's service time (an
	// in-process scheduled sync shares the transport and token with the event path, not the
	// bound).
	return &reconcile.Engine{
		MO:    d.mo,
		STS:   &stsService{client: d.sts.WithMaxInFlight(cfg.SyncConcurrency), observe: observe, now: time.Now},
		Store: d.store,
		Trail: d.trail,
		Options: reconcile.Options{
			Settings:             cfg.Mapping,
			CVR:                  cfg.STSCVR,
			Concurrency:          cfg.SyncConcurrency,
			Workers:              2 * cfg.SyncConcurrency,
			MaxDeactivationShare: cfg.SyncMaxDeactivationPercent / 100,
			Orphans:              cfg.SyncOrphans,
			Keep:                 cfg.SyncKeepUUIDs,
			LeaseTTL:             cfg.LeaseTTL,
			Logger:               logger.With("component", "reconcile"),
		},
	}
}

// HierarchyPage reads one page of the municipality's hierarchy (fremsoegobjekthierarki), for
// reconcile.STS.
func (w *stsService) HierarchyPage(ctx context.Context, first, max int) (*oio.Hierarchy, error) {
	start := w.now()
	h, err := w.client.SearchHierarchy(ctx, &oio.HierarchyInput{First: first, Max: max})
	w.observe(string(oio.KindOrganisationSystem), string(oio.OpFremsoegObjekthierarki), resultOf(err), w.now().Sub(start))
	if err != nil {
		return nil, markUnavailable(err)
	}
	return h, nil
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLog returns the logger and the progress display of sync and verify: on a terminal a
// redrawn bar with the log lines above it; otherwise JSON log records only (progress too).
func progressLog(stderr io.Writer, level string) (*slog.Logger, *reconcile.ProgressPrinter) {
	if isTerminal(stderr) {
		pp := reconcile.NewProgressPrinter(stderr, true, time.Now, 5*time.Second)
		return newLogger(pp.LogWriter(), level), pp
	}
	logger := newLogger(stderr, level)
	return logger, reconcile.NewProgressLog(logger, time.Now, 5*time.Second)
}

// failed reports a command's failure: a JSON record, and on a terminal also a plain last line.
func failed(stderr io.Writer, logger *slog.Logger, name string, err error) {
	logger.Error(name+" failed", "error", err)
	if isTerminal(stderr) {
		fmt.Fprintf(stderr, "stsorgsync %s: %v\n", name, err)
	}
}

// syncFlags are the flags of `stsorgsync sync`.
type syncFlags struct {
	dryRun, adopt    bool
	maxDeactivations int // used when set on the command line
	maxSet           bool
	orphans          string // replaces SYNC_ORPHANS when set
}

func (a *app) syncCommand() *cobra.Command {
	f := &syncFlags{}
	cmd := &cobra.Command{
		Use:   "sync",
		Short: "Bring all of STS Organisation in line with OS2MO",
		Long: `Read every unit and person of OS2MO and the municipality's hierarchy in STS Organisation, plan the
writes that bring STS in line, check the plan against the guards (SYNC_MAX_DEACTIVATION_PERCENT or
--max-deactivations), and write it, sharing leases and last-sent records with a running daemon.
The plan summary and the result go to stdout; logs (and progress, when stderr is not a terminal)
go to stderr as JSON lines. Exit 0 when STS was brought in line (or the dry run planned), 1 when a
guard refused the plan or a bundle failed, 2 for a usage or configuration error.`,
		Example: `  stsorgsync sync --dry-run --adopt        # print the plan, write nothing
  stsorgsync sync --max-deactivations 500  # allow up to 500 deactivations this run
  stsorgsync sync --orphans units=report,users=deactivate`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.maxSet = cmd.Flags().Changed("max-deactivations")
			if f.maxSet && f.maxDeactivations < 0 {
				return fmt.Errorf("invalid argument %d for --max-deactivations: must not be negative", f.maxDeactivations)
			}
			var orphans *reconcile.OrphanPolicy
			if f.orphans != "" {
				p, err := reconcile.ParseOrphanPolicy(f.orphans)
				if err != nil {
					return fmt.Errorf("invalid argument %q for --orphans: %w", f.orphans, err)
				}
				orphans = &p
			}
			cfg, err := a.config()
			if err != nil {
				return err
			}
			if orphans != nil {
				cfg.SyncOrphans = *orphans
			}
			return exitWith(a.runSync(f, cfg))
		},
	}
	fl := cmd.Flags()
	fl.BoolVar(&f.dryRun, "dry-run", false, "print the plan (writes per kind and one line per write) and write nothing")
	fl.BoolVar(&f.adopt, "adopt", false, "also list every object written by another tool (OS2sync) that the sync ends or takes over")
	fl.IntVar(&f.maxDeactivations, "max-deactivations", 0, "deactivate at most `N` units and users (replaces SYNC_MAX_DEACTIVATION_PERCENT); the sync refuses a plan with more")
	fl.StringVar(&f.orphans, "orphans", "", "what to do with orphans this run: deactivate, report, or per kind such as units=report,users=deactivate (replaces SYNC_ORPHANS)")
	_ = cmd.RegisterFlagCompletionFunc("orphans", cobra.FixedCompletions([]string{"deactivate", "report", "units=report,users=deactivate", "units=deactivate,users=report"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

// runSync is `stsorgsync sync`: the plan summary (with the orphans left active, and with
// --dry-run one line per write and the kept orphans too) on stdout, progress and logs on stderr.
// Exit 0 when STS was brought in line (or the dry run planned), 1 when a guard refused or a
// bundle failed, 2 when the certificates are not usable.
func (a *app) runSync(f *syncFlags, cfg Config) int {
	stdout := a.stdout
	logger, progress := progressLog(a.stderr, cfg.LogLevel)
	defer progress.Finish()
	d, code := a.openDeps("sync", cfg, logger, exitFailure)
	if d == nil {
		return code
	}
	defer d.close()
	defer a.batchMemory(logger)()
	eng := newEngine(cfg, d, logger, nil)
	eng.Options.DryRun = f.dryRun
	eng.Options.Adopt = f.adopt
	eng.Options.Progress = progress.Update
	if f.maxSet {
		eng.Options.MaxDeactivations = &f.maxDeactivations
	}
	res, err := eng.Sync(a.ctx)
	progress.Finish()
	if res != nil && res.Plan != nil {
		_ = res.Plan.WriteSummary(stdout)
		switch {
		case f.dryRun:
			fmt.Fprintln(stdout)
			_ = res.Plan.WriteOps(stdout, f.adopt)
		case f.adopt && !res.Plan.Adoption.Empty():
			fmt.Fprintln(stdout, "Adopted:")
			_ = res.Plan.WriteAdoption(stdout)
		}
		// The orphans left active: reported ones always (to review), kept ones with --dry-run.
		if res.Plan.OrphansReported > 0 || (f.dryRun && res.Plan.KeptUnits+res.Plan.KeptUsers > 0) {
			fmt.Fprintln(stdout, "Orphans left active:")
			_ = res.Plan.WriteOrphans(stdout, f.dryRun)
		}
	}
	if res != nil && res.Plan != nil && !f.dryRun && !errors.Is(err, reconcile.ErrRefused) {
		_ = res.WriteSummary(stdout)
	}
	if err != nil {
		failed(a.stderr, logger, "sync", err)
		return exitFailure
	}
	if res.Plan != nil && !res.Plan.Adoption.Empty() {
		logger.Info("sync adopted data written by other tools", "adoption", res.Plan.Adoption.String(), "dry_run", f.dryRun)
	}
	logger.Info("sync done", "dry_run", f.dryRun, "converged", res.Converged, "in_sync", res.InSync,
		"left_to_event_path", res.Busy+res.Changed, "sts_reads", res.Reads, "sts_writes", res.Writes, "took", res.Took)
	return exitOK
}

// scheduleSync runs a sync every interval until ctx ends, sharing the leases with the event
// path; a failed sync is logged and tried again at the next interval.
func scheduleSync(ctx context.Context, interval time.Duration, eng *reconcile.Engine, logger *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		logger.Info("scheduled sync starting", "interval", interval)
		res, err := eng.Sync(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			logger.Error("scheduled sync failed", "error", err)
		default:
			logger.Info("scheduled sync done", "converged", res.Converged, "in_sync", res.InSync,
				"left_to_event_path", res.Busy+res.Changed, "sts_reads", res.Reads, "sts_writes", res.Writes,
				"orphans", res.Plan.Orphans, "orphans_reported", res.Plan.OrphansReported,
				"kept_units", res.Plan.KeptUnits, "kept_users", res.Plan.KeptUsers, "took", res.Took)
		}
	}
}
