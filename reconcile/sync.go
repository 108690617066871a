package reconcile

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"golang.org/x/sync/errgroup"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Result is the outcome of a sync.
type Result struct {
	// Plan is what was planned before the first write (the dry run's output).
	Plan *Plan
	// Converged counts the bundles written (at least one STS write); InSync those that needed no
	// write; Recorded those whose last-sent record the sync (re)wrote.
	Converged, InSync, Recorded int
	// Writes counts the STS writes made; Reads the STS calls that read (snapshot and retries).
	Writes, Reads int
	// Busy counts the bundles left to the event path because it held their lease; Changed those
	// the event path wrote while the sync ran (their last-sent record changed).
	Busy, Changed int
	// Failed lists the bundles whose writes failed.
	Failed []BundleError
	// Took is how long the sync took.
	Took time.Duration
}

// BundleError is a bundle that could not be converged, and why.
type BundleError struct {
	Bundle string
	Err    error
}

// Error says which bundle failed and why.
func (e BundleError) Error() string { return e.Bundle + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e BundleError) Unwrap() error { return e.Err }

// Plan reads OS2MO and STS and returns what a sync would write, without writing (the dry run).
func (e *Engine) Plan(ctx context.Context) (*Plan, error) {
	o := e.Options.withDefaults()
	calls := &countingSTS{STS: e.STS}
	eng := *e
	eng.STS = calls
	return eng.plan(ctx, o, true)
}

// Sync brings STS Organisation in line with OS2MO: it plans every bundle (Plan), refuses when a
// guard trips (ErrRefused), and otherwise converges the bundles — units top-down, persons, then
// deactivations (users, then units bottom-up), Options.Workers at once — each under its
// lease, re-planned against what STS holds at that moment, and records each bundle's last-sent
// record after its writes succeeded, so the event path skips it afterwards. A bundle whose lease
// the event path holds, or that the event path wrote after the sync began, is left to it. With
// Options.DryRun it returns the plan without writing. When bundles failed, the error names the
// first and Result.Failed lists them all; the Result is returned with every error.
func (e *Engine) Sync(ctx context.Context) (*Result, error) {
	o := e.Options.withDefaults()
	start := o.Now()
	calls := &countingSTS{STS: e.STS}
	eng := *e
	eng.STS = calls
	res := &Result{}
	defer func() {
		res.Took = o.Now().Sub(start)
		res.Reads = int(calls.reads.Load())
		res.Writes = int(calls.writes.Load())
	}()
	plan, err := eng.plan(ctx, o, false)
	if err != nil {
		return res, err
	}
	res.Plan = plan
	o.Logger.Info("sync planned", "bundles", plan.Bundles, "changed", plan.Changed, "writes", plan.Writes,
		"deactivations", plan.Deactivations, "limit", plan.Limit, "orphans", plan.Orphans, "orphans_reported", plan.OrphansReported,
		"kept_units", plan.KeptUnits, "kept_users", plan.KeptUsers, "problems", plan.Problems)
	for _, orp := range plan.OrphanList {
		switch orp.Action {
		case OrphanReport:
			o.Logger.Info("orphan left active (SYNC_ORPHANS=report)", "object", string(orp.Kind)+":"+orp.UUID.String(), "name", orp.Name, "why", orp.Why)
		case OrphanKeep:
			o.Logger.Debug("orphan kept (SYNC_KEEP_UUIDS)", "object", string(orp.Kind)+":"+orp.UUID.String(), "name", orp.Name, "why", orp.Why, "kept", orp.Kept)
		}
	}
	if !plan.Adoption.Empty() {
		o.Logger.Info("adoption", "summary", plan.Adoption.String())
	}
	if err := plan.guard(o); err != nil {
		return res, err
	}
	if o.DryRun {
		return res, nil
	}
	if e.Store == nil {
		return res, errors.New("sync: no Store for leases and last-sent records")
	}
	if err := eng.converge(ctx, o, plan, res); err != nil {
		return res, err
	}
	if len(res.Failed) > 0 {
		return res, fmt.Errorf("sync: %d of %d bundles failed (Result.Failed lists them), the first: %w", len(res.Failed), plan.Bundles, res.Failed[0])
	}
	return res, nil
}

// errBundleBusy says the event path holds a bundle's lease.
var errBundleBusy = errors.New("busy")

// converge runs the bundles level by level; bundles of one level run concurrently. A bundle
// found busy is tried again once at the end of its level.
func (e *Engine) converge(ctx context.Context, o Options, plan *Plan, res *Result) error {
	var mu sync.Mutex // guards res
	var done atomic.Int64
	total := len(plan.bundles)
	failures := 0
	tally := func(f func()) {
		mu.Lock()
		defer mu.Unlock()
		f()
	}
	ending := endingRefs(plan.bundles)
	run := func(bs []*bundle) ([]*bundle, error) {
		var busy []*bundle
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(o.Workers)
		for _, b := range bs {
			g.Go(func() error {
				out, err := e.convergeDeferred(gctx, o, plan, b, ending)
				if !errors.Is(err, errBundleBusy) {
					// What the bundle wants is in STS (and in plan.snap) now, or it failed: either
					// way nothing reads it again.
					b.d = nil
				}
				switch {
				case errors.Is(err, errBundleBusy):
					tally(func() { busy = append(busy, b) })
					return nil
				case err != nil && gctx.Err() != nil:
					return gctx.Err()
				case err != nil:
					o.Logger.Error("bundle failed", "bundle", b.key(), "error", err)
					var tooMany bool
					tally(func() {
						res.Failed = append(res.Failed, BundleError{Bundle: b.key(), Err: err})
						failures++
						tooMany = failures >= o.MaxFailures
					})
					if tooMany {
						return fmt.Errorf("sync stopped after %d failed bundles, the last %s: %w", failures, b.key(), err)
					}
				default:
					tally(func() {
						switch out {
						case outcomeWritten:
							res.Converged++
							res.Recorded++
						case outcomeRecorded:
							res.InSync++
							res.Recorded++
						case outcomeInSync:
							res.InSync++
						case outcomeChanged:
							res.Changed++
						}
					})
				}
				o.Progress(Progress{Phase: "sync", Done: int(done.Add(1)), Total: total})
				return nil
			})
		}
		return busy, g.Wait()
	}
	for _, lvl := range levels(plan.bundles) {
		busy, err := run(lvl)
		if err != nil {
			return err
		}
		if len(busy) == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(o.RetryDelay):
		}
		if busy, err = run(busy); err != nil {
			return err
		}
		for _, b := range busy {
			o.Logger.Warn("bundle left to the event path: its lease is held", "bundle", b.key())
			res.Busy++
			o.Progress(Progress{Phase: "sync", Done: int(done.Add(1)), Total: total})
		}
	}
	return nil
}

// levels splits sorted bundles into the groups that may converge at once.
func levels(bs []*bundle) [][]*bundle {
	var out [][]*bundle
	for i, b := range bs {
		if i == 0 || level(b) != level(bs[i-1]) {
			out = append(out, nil)
		}
		out[len(out)-1] = append(out[len(out)-1], b)
	}
	return out
}

// convergeDeferred converges a bundle (convergeBundle); a deferred one is translated again
// first, unless the plan found it settled, and the objects it wrote are forgotten afterwards (but
// those linked to a unit or user a later bundle ends): each person's objects are its own.
func (e *Engine) convergeDeferred(ctx context.Context, o Options, plan *Plan, b *bundle, ending map[uuid.UUID]bool) (outcome, error) {
	if !b.deferred {
		return e.convergeBundle(ctx, o, plan.snap, b)
	}
	if b.settled {
		return outcomeInSync, nil
	}
	if !b.taken { // a busy bundle tried again is translated already
		p, err := plan.snap.store.take(b.batch, b.id)
		if err != nil {
			return 0, err
		}
		b.taken = true
		b.d = personBundle(o.Settings, b.id, p, plan.GeneratedAt).d
		plan.snap.translated(1)
	}
	out, err := e.convergeBundle(ctx, o, plan.snap, b)
	if errors.Is(err, errBundleBusy) {
		return out, err
	}
	defer plan.snap.translated(-1) // run forgets it
	plan.snap.forget(b, ending, false)
	return out, err
}

// outcome is what converging one bundle did.
type outcome int

const (
	outcomeInSync   outcome = iota // nothing to write, record current
	outcomeRecorded                // nothing to write, record (re)written
	outcomeWritten                 // written and recorded
	outcomeChanged                 // the event path wrote it meanwhile; left alone
)

// convergeBundle converges one bundle under its lease (see Sync) with converge's write protocol:
// planned against the model of STS, re-planned after a failed write from the bundle's objects
// read again, the model updated after each write.
func (e *Engine) convergeBundle(ctx context.Context, o Options, snap *snapshot, b *bundle) (outcome, error) {
	record := b.desired().Record().String()
	before, recorded := snap.sent[bundleRef{unit: b.unit, id: b.id}]
	same := recorded && before == sumRecord(record)
	lookups := b.desired().Lookups()
	if same && len(planBundle(o, snap, b, snap.sts.lookup(lookups), o.Now())) == 0 {
		return outcomeInSync, nil
	}
	w := &converge.Writer{Store: e.Store, STS: e.STS, LeaseTTL: o.LeaseTTL, Attempts: o.Attempts, RetryDelay: o.RetryDelay,
		NewID: o.NewID, Trail: e.Trail, Now: o.Now, Logger: o.Logger}
	out := outcomeInSync
	err := w.Leased(ctx, b.key(), func(ctx context.Context) error {
		now, had, err := e.Store.LastSent(ctx, b.key())
		if err != nil {
			return fmt.Errorf("read the last-sent record of %s: %w", b.key(), err)
		}
		if had != recorded || (had && sumRecord(now) != before) {
			o.Logger.Info("bundle written by the event path while the sync ran; left as it is", "bundle", b.key())
			out = outcomeChanged
			return nil
		}
		written, err := w.Write(ctx, converge.Job{
			Key:                 b.key(),
			Record:              record,
			RecordOnlyIfWritten: same,
			HadRecord:           recorded,
			Plan: func(ctx context.Context, retry bool) ([]translate.Operation, error) {
				if retry {
					// What STS holds after a failed write is uncertain: read the bundle's objects again.
					if err := e.refresh(ctx, o, snap, lookups); err != nil {
						return nil, err
					}
				}
				return planBundle(o, snap, b, snap.sts.lookup(lookups), o.Now()), nil
			},
			Applied: func(ctx context.Context, op translate.Operation) error {
				if err := snap.sts.apply(op); err != nil {
					o.Logger.Warn("model of STS out of step; rereading the object", "object", op.Ref().String(), "error", err)
					return e.refresh(ctx, o, snap, translate.Lookups{Read: []translate.Ref{op.Ref()}})
				}
				return nil
			},
			Source: audit.Source{Kind: audit.SourceSync},
		})
		switch {
		case err != nil:
		case written > 0:
			out = outcomeWritten
		case !same:
			out = outcomeRecorded
		}
		return err
	})
	if errors.Is(err, state.ErrLeaseHeld) {
		return 0, errBundleBusy
	}
	return out, err
}

// refresh reads the objects a bundle's lookups find (and names) again from STS.
func (e *Engine) refresh(ctx context.Context, o Options, snap *snapshot, l translate.Lookups) error {
	byKind := map[oio.Kind][]uuid.UUID{}
	for _, r := range l.Read {
		byKind[r.Kind] = append(byKind[r.Kind], r.UUID)
	}
	for id, obj := range snap.sts.lookup(l) {
		byKind[obj.Kind] = append(byKind[obj.Kind], id)
	}
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		ids := unique(byKind[kind])
		for chunk := range slices.Chunk(ids, o.ListChunk) {
			objs, err := e.STS.ReadMany(ctx, kind, chunk)
			if err != nil {
				return fmt.Errorf("read %d %s objects from STS again: %w", len(chunk), kind, err)
			}
			for _, id := range chunk {
				if obj := objs[id]; obj != nil && obj.Exists() {
					snap.sts.put(obj)
				} else {
					snap.sts.remove(id)
				}
			}
		}
	}
	return nil
}

// remove forgets an object STS no longer holds.
func (s *stsState) remove(id uuid.UUID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.objects, id)
}

// countingSTS counts the calls made through it.
type countingSTS struct {
	STS
	reads, writes atomic.Int64
}

func (c *countingSTS) HierarchyPage(ctx context.Context, first, max int) (*oio.Hierarchy, error) {
	c.reads.Add(1)
	return c.STS.HierarchyPage(ctx, first, max)
}

func (c *countingSTS) ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	c.reads.Add(1)
	return c.STS.ReadMany(ctx, kind, ids)
}

func (c *countingSTS) Apply(ctx context.Context, op translate.Operation) error {
	c.writes.Add(1)
	return c.STS.Apply(ctx, op)
}
