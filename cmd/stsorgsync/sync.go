package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// newEngine wires a full synchronisation: OS2MO, STS (counted in the metrics through observe)
// and the Redis leases and last-sent records the event path uses.
func newEngine(cfg Config, d *deps, logger *slog.Logger, observe func(kind, operation, result string, took time.Duration)) *reconcile.Engine {
	if observe == nil {
		observe = func(string, string, string, time.Duration) {}
	}
	return &reconcile.Engine{
		MO:    d.mo,
		STS:   &stsService{client: d.sts, observe: observe, now: time.Now},
		Store: d.store,
		Options: reconcile.Options{
			Settings:             cfg.Mapping,
			CVR:                  cfg.STSCVR,
			Concurrency:          cfg.SyncConcurrency,
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

// syncFlags are the flags of `stsorgsync sync`.
type syncFlags struct {
	dryRun, adopt    bool
	maxDeactivations int
	// orphans replaces SYNC_ORPHANS when set.
	orphans *reconcile.OrphanPolicy
}

// parseSyncFlags parses `sync [--dry-run] [--adopt] [--max-deactivations N] [--orphans POLICY]`
// without the configuration (so --help works without one). The error is flag.ErrHelp after
// --help, or another one already reported on stderr.
func parseSyncFlags(args []string, stderr io.Writer) (*syncFlags, error) {
	f := &syncFlags{}
	fs := flag.NewFlagSet("sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan (writes per kind and one line per write) and write nothing")
	fs.BoolVar(&f.adopt, "adopt", false, "also list every object written by another tool (OS2sync) that the sync ends or takes over")
	fs.IntVar(&f.maxDeactivations, "max-deactivations", -1, "deactivate at most N units and users (replaces SYNC_MAX_DEACTIVATION_PERCENT); the sync refuses a plan with more")
	fs.Func("orphans", "what to do with orphans this run: deactivate, report, or per kind such as units=report,users=deactivate (replaces SYNC_ORPHANS)", func(v string) error {
		p, err := reconcile.ParseOrphanPolicy(v)
		f.orphans = &p
		return err
	})
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: stsorgsync [--config FILE] sync [--dry-run] [--adopt] [--max-deactivations N] [--orphans deactivate|report]")
		fmt.Fprintln(stderr, "\nBring all of STS Organisation in line with OS2MO. Flags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "stsorgsync sync: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return nil, errors.New("unexpected argument")
	}
	return f, nil
}

// runSync is `stsorgsync sync`: the plan summary (with the orphans left active, and with
// --dry-run one line per write and the kept orphans too) on stdout, progress and logs on stderr.
// Exit 0 when STS was brought in line (or the dry run planned), 1 when a guard refused or a
// bundle failed.
func runSync(ctx context.Context, f *syncFlags, cfg Config, stdout, stderr io.Writer) int {
	dryRun, adopt, maxDeactivations := &f.dryRun, &f.adopt, &f.maxDeactivations
	orphans := cfg.SyncOrphans
	if f.orphans != nil {
		orphans = *f.orphans
	}
	progress := reconcile.NewProgressPrinter(stderr, isTerminal(stderr), time.Now, 5*time.Second)
	defer progress.Finish()
	logger := newLogger(progress.LogWriter(), cfg.LogLevel)
	d, err := newDeps(cfg, logger, nil)
	if err != nil {
		fmt.Fprintf(stderr, "stsorgsync sync: %v\n", err)
		return exitFailure
	}
	defer d.close()
	eng := newEngine(cfg, d, logger, nil)
	eng.Options.DryRun = *dryRun
	eng.Options.Adopt = *adopt
	eng.Options.Progress = progress.Update
	eng.Options.Orphans = orphans
	if *maxDeactivations >= 0 {
		eng.Options.MaxDeactivations = maxDeactivations
	}
	res, err := eng.Sync(ctx)
	progress.Finish()
	if res != nil && res.Plan != nil {
		_ = res.Plan.WriteSummary(stdout)
		switch {
		case *dryRun:
			fmt.Fprintln(stdout)
			_ = res.Plan.WriteOps(stdout, *adopt)
		case *adopt && !res.Plan.Adoption.Empty():
			fmt.Fprintln(stdout, "Adopted:")
			_ = res.Plan.WriteAdoption(stdout)
		}
		// The orphans left active: reported ones always (to review), kept ones with --dry-run.
		if res.Plan.OrphansReported > 0 || (*dryRun && res.Plan.KeptUnits+res.Plan.KeptUsers > 0) {
			fmt.Fprintln(stdout, "Orphans left active:")
			_ = res.Plan.WriteOrphans(stdout, *dryRun)
		}
	}
	if res != nil && res.Plan != nil && !*dryRun && !errors.Is(err, reconcile.ErrRefused) {
		_ = res.WriteSummary(stdout)
	}
	if err != nil {
		logger.Error("sync failed", "error", err)
		fmt.Fprintf(stderr, "stsorgsync sync: %v\n", err)
		return exitFailure
	}
	if res.Plan != nil && !res.Plan.Adoption.Empty() {
		logger.Info("sync adopted data written by other tools", "adoption", res.Plan.Adoption.String(), "dry_run", *dryRun)
	}
	logger.Info("sync done", "dry_run", *dryRun, "converged", res.Converged, "in_sync", res.InSync,
		"left_to_event_path", res.Busy+res.Changed, "sts_reads", res.Reads, "sts_writes", res.Writes, "took", res.Took.String())
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
		logger.Info("scheduled sync starting", "interval", interval.String())
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
				"kept_units", res.Plan.KeptUnits, "kept_users", res.Plan.KeptUsers, "took", res.Took.String())
		}
	}
}
