// Package pipeline is the event path's handler: it resolves an OS2MO change event (from package
// consumer) to the units and persons it concerns (its bundles), reads each from OS2MO, translates
// it, skips it when its last-sent record says STS already has it, and otherwise converges it with
// package converge — the same lease, read and write protocol as the full sync — queueing a unit's
// persons and subtree as events of their own when its change cascades to them.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Fetcher reads the current state of OS2MO objects. OrgUnit and Person return an error matching
// moclient.ErrNotFound when OS2MO does not know the UUID, and moclient.ErrNotCurrent when the
// object exists but is not in effect now (terminated or future). Owners resolves an object of
// another type (address, engagement, …) to the units and persons it belongs to; UnitPersons and
// Subtree find what a unit's change cascades to.
type Fetcher interface {
	OrgUnit(ctx context.Context, id uuid.UUID) (*model.OrgUnit, error)
	Person(ctx context.Context, id uuid.UUID) (*model.Person, error)
	Owners(ctx context.Context, objectType string, id uuid.UUID) (moclient.Owners, error)
	UnitPersons(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error)
	Subtree(ctx context.Context, id uuid.UUID) ([]uuid.UUID, error)
}

// STS reads and writes STS Organisation objects: bulk reads and searches (converge.STS, for the
// bundle's reads) and writes (converge.Applier).
type STS interface {
	converge.STS
	converge.Applier
}

// Enqueuer queues work items as events of this integration (durably, confirmed by the broker),
// for the units and persons a unit's change cascades to. *consumer.Consumer implements it.
type Enqueuer interface {
	Enqueue(ctx context.Context, typ consumer.ObjectType, ids []uuid.UUID, cause string) error
}

// Pipeline is the Handler that brings STS Organisation in line with OS2MO. An event is resolved
// to work items (OS2MO units and persons); each is converged under its lease:
// fetch → translate → compare with the last-sent record (skip) → read the changed objects from
// STS → plan → forget the record → write → record.
//
// An item with a record whose lease is free is first checked without the lease (see handleItem): the
// record is read, then OS2MO; if they agree the item is done with no lease, which is what makes
// a refresh storm cheap.
type Pipeline struct {
	MO       Fetcher
	STS      STS
	Store    converge.Store
	Settings translate.Settings
	// Cascade queues the persons and subtree a unit's change affects. nil converges them inline,
	// in the same Handle call (for one-shot use and tests).
	Cascade Enqueuer
	// Keep are the STS UUIDs of units and users the full sync never ends as orphans
	// (SYNC_KEEP_UUIDS). The event path leaves alone what the full sync keeps: a function linked
	// to a kept unit, or to a unit below one in STS, that OS2MO does not export, and a function
	// linked to a kept user other than the bundle's own.
	Keep []uuid.UUID
	// LeaseTTL bounds how long one object stays locked if this process dies mid-write (default 2m).
	LeaseTTL time.Duration
	Now      func() time.Time
	// NewID returns the TransactionUUID of each STS write, logged in its audit line (default
	// uuid.New).
	NewID func() uuid.UUID
	// Trail, if set, is the audit trail every STS write is recorded in before it is made.
	Trail  converge.Trail
	Logger *slog.Logger
}

// workItem is one OS2MO unit or person to converge.
type workItem struct {
	typ consumer.ObjectType // consumer.TypeOrgUnit or consumer.TypePerson
	id  uuid.UUID
}

// Handle implements Handler: it resolves the event to the units and persons it concerns and
// converges each, stopping at the first error (the event is then retried as a whole; items
// already converged are skipped by their record).
func (p *Pipeline) Handle(ctx context.Context, ev consumer.Event) error {
	items, err := p.workItems(ctx, ev)
	if err != nil {
		return err
	}
	for _, it := range items {
		if err := p.handleItem(ctx, ev, it); err != nil {
			return err
		}
	}
	return nil
}

// workItems resolves an event to work items: a unit or person event is its own item; a legacy
// event names its owner; any other type is looked up in OS2MO (Owners).
func (p *Pipeline) workItems(ctx context.Context, ev consumer.Event) ([]workItem, error) {
	switch {
	case ev.Legacy && ev.Service == "employee":
		return []workItem{{consumer.TypePerson, ev.UUID}}, nil
	case ev.Legacy:
		return []workItem{{consumer.TypeOrgUnit, ev.UUID}}, nil
	case ev.Type == consumer.TypeOrgUnit || ev.Type == consumer.TypePerson:
		return []workItem{{ev.Type, ev.UUID}}, nil
	}
	owners, err := p.MO.Owners(ctx, string(ev.Type), ev.UUID)
	switch {
	case errors.Is(err, moclient.ErrUnsupportedObjectType):
		return nil, fmt.Errorf("%w: %s", consumer.ErrUnhandled, ev.Type)
	case errors.Is(err, moclient.ErrNotFound):
		p.log().Info("object unknown to OS2MO; nothing to do", "routing_key", ev.RoutingKey, "event_object", ev.UUID.String())
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("find the owners of %s %s in OS2MO: %w", ev.Type, ev.UUID, err)
	}
	items := make([]workItem, 0, len(owners.OrgUnits)+len(owners.Persons))
	for _, id := range owners.OrgUnits {
		items = append(items, workItem{consumer.TypeOrgUnit, id})
	}
	for _, id := range owners.Persons {
		items = append(items, workItem{consumer.TypePerson, id})
	}
	return items, nil
}

func (p *Pipeline) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

func (p *Pipeline) log() *slog.Logger {
	if p.Logger == nil {
		return slog.Default()
	}
	return p.Logger
}

// handleItem converges one work item under its lease.
//
// Unless the event is forced, it first peeks at the item's record and lease. With a record and
// no lease held, it reads OS2MO and, if the translation's hash equals the record's, is done: the
// record was read before OS2MO, after the event's change was committed, so a writer that takes
// the lease later reads OS2MO later still and cannot write an older state. Otherwise it takes the
// lease and converges; the translation made before the lease is reused only if the record is
// still the one peeked at (no write happened in between), else OS2MO is read again.
func (p *Pipeline) handleItem(ctx context.Context, ev consumer.Event, it workItem) error {
	key := translate.BundleKey(string(it.typ), it.id)
	var early *translation
	if !ev.Force {
		last, ok, leased, err := p.Store.Peek(ctx, key)
		if err != nil {
			return fmt.Errorf("read last-sent record of %s: %w", key, err)
		}
		if ok && !leased {
			tr, found, err := p.translate(ctx, ev, key, it)
			if err != nil || !found {
				return err
			}
			if prev, ok := translate.RecordHash(last); ok && prev == tr.desired.Hash() {
				p.log().Debug("unchanged since last write; skipped", "object", key)
				return nil
			}
			tr.peeked = last
			early = &tr
		}
	}
	var cascade []workItem
	err := p.writer().Leased(ctx, key, func(leased context.Context) error {
		var err error
		cascade, err = p.handleLeased(leased, ev, key, it, early)
		return err
	})
	if err != nil {
		return err
	}
	// Without an Enqueuer the cascade runs here, after the lease is released (the cascaded
	// items take their own leases; a unit's subtree never includes the unit itself).
	for _, c := range cascade {
		if err := p.handleItem(ctx, ev, c); err != nil {
			return fmt.Errorf("cascade of %s: %w", key, err)
		}
	}
	return nil
}

// writer is the converge.Writer of the pipeline's bundles. Its Attempts is 1: a failed write
// fails the event, which the consumer retries as a whole (reading OS2MO and STS again).
func (p *Pipeline) writer() *converge.Writer {
	return &converge.Writer{Store: p.Store, STS: p.STS, LeaseTTL: p.LeaseTTL, NewID: p.NewID, Trail: p.Trail, Now: p.Now, Logger: p.log()}
}

// eventSource is the audit trail's source of writes made for ev.
func eventSource(ev consumer.Event) audit.Source {
	kind := audit.SourceEvent
	if ev.Replayed {
		kind = audit.SourceReplay
	}
	return audit.Source{Kind: kind, EventID: ev.ID, RoutingKey: ev.RoutingKey, Object: ev.UUID.String()}
}

// translation is what STS should hold for one work item and, when it was made before the lease
// was taken, the record it was compared with.
type translation struct {
	desired translate.Desired
	peeked  string
}

// translate reads one OS2MO unit or person and translates it: everything STS should hold for it
// (the OrganisationEnhed, its Adresse objects, its manager and Henvendelsessted functions; or
// the person's Bruger objects, their addresses and position functions, the STS Person). found is
// false when OS2MO does not know the object (nothing to do).
func (p *Pipeline) translate(ctx context.Context, ev consumer.Event, key string, it workItem) (tr translation, found bool, err error) {
	if it.typ == consumer.TypePerson {
		var person *model.Person
		person, err = p.MO.Person(ctx, it.id)
		switch {
		case errors.Is(err, moclient.ErrNotCurrent):
			tr.desired = translate.PersonGone(p.Settings, it.id)
		case err == nil:
			tr.desired = translate.PersonDesired(p.Settings, person, p.now())
		}
	} else {
		var unit *model.OrgUnit
		unit, err = p.MO.OrgUnit(ctx, it.id)
		switch {
		case errors.Is(err, moclient.ErrNotCurrent):
			tr.desired = translate.UnitGone(p.Settings, it.id)
		case err == nil:
			tr.desired = translate.UnitDesired(p.Settings, unit, p.now())
		}
	}
	switch {
	case errors.Is(err, moclient.ErrNotFound):
		p.log().Info("unknown to OS2MO; nothing to do", "object", key, "routing_key", ev.RoutingKey)
		return tr, false, nil
	case err != nil && !errors.Is(err, moclient.ErrNotCurrent):
		return tr, false, fmt.Errorf("fetch %s from OS2MO: %w", key, err)
	}
	return tr, true, nil
}

// handleLeased converges one work item; the caller holds its lease. early is the translation made
// before the lease was taken, or nil. It returns the cascade to run inline when the Pipeline has
// no Enqueuer.
func (p *Pipeline) handleLeased(ctx context.Context, ev consumer.Event, key string, it workItem, early *translation) ([]workItem, error) {
	last, ok, err := p.Store.LastSent(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read last-sent record of %s: %w", key, err)
	}
	var tr translation
	if early != nil && ok && last == early.peeked {
		tr = *early
	} else {
		var found bool
		if tr, found, err = p.translate(ctx, ev, key, it); err != nil || !found {
			return nil, err
		}
	}
	return p.writeBundle(ctx, ev, key, it, tr, last, ok)
}

// writeBundle writes what changed in the bundle since its last-sent record (last, if ok). With a
// valid record (and no Force) it reads and plans only the changed objects
// (translate.Desired.Since); without one (first write, lost Redis, a forced replay) it reads the
// whole bundle, including the users and functions STS links to the person or unit (which retires
// objects written with other UUIDs, e.g. by OS2sync), and plans it all. The record is removed
// before the first write and kept again only after every write succeeded.
func (p *Pipeline) writeBundle(ctx context.Context, ev consumer.Event, key string, it workItem, tr translation, last string, ok bool) ([]workItem, error) {
	// Only the bundle's hash was needed to find it unchanged before the lease (the no-op path);
	// the record's per-object hashes are made here, when something may be written.
	desired, record := tr.desired, tr.desired.Record()
	for _, pr := range desired.Problems {
		p.log().Warn("translation problem", "object", string(pr.Kind)+":"+pr.UUID.String(), "field", pr.Field, "problem", pr.Message)
	}
	var prev translate.Record
	var err error
	incremental := false
	if ok && !ev.Force {
		if prev, err = translate.ParseRecord(last); err != nil {
			p.log().Warn("unreadable last-sent record; reading the whole bundle", "object", key, "error", err)
		} else {
			incremental = true
		}
	}
	if incremental && prev.Bundle == record.Bundle {
		p.log().Debug("unchanged since last write; skipped", "object", key)
		return nil, nil
	}
	plan := desired
	var current map[uuid.UUID]*oio.Object
	idx := converge.LiveIndex{STS: p.STS}
	if incremental {
		plan = desired.Since(prev, record)
		current, err = converge.ReadRefs(ctx, idx, plan.Refs())
	} else {
		current, err = converge.Read(ctx, idx, desired.Lookups())
	}
	if err != nil {
		return nil, err
	}
	cascade, err := p.cascade(ctx, key, it, plan, current)
	if err != nil {
		return nil, err
	}
	_, err = p.writer().Write(ctx, converge.Job{
		Key:       key,
		Record:    record.String(),
		HadRecord: ok,
		Plan: func(ctx context.Context, _ bool) ([]translate.Operation, error) {
			ops := translate.PlanAll(p.Settings, plan, current, p.now())
			ops, err := p.leaveKept(ctx, key, plan, current, ops)
			if err == nil && len(ops) == 0 {
				p.log().Info("STS already up to date", "object", key, "routing_key", ev.RoutingKey)
			}
			return ops, err
		},
		Source: eventSource(ev),
	})
	if err != nil {
		return nil, err
	}
	return cascade, nil
}

// cascade works out, before a unit's bundle is written, whether its persons or subtree must be
// re-evaluated (translate.UnitCascade), and queues them with the Enqueuer, or returns them to be
// converged inline. It is done before the writes, so a retry after a failed write still cascades.
func (p *Pipeline) cascade(ctx context.Context, key string, it workItem, plan translate.Desired, current map[uuid.UUID]*oio.Object) ([]workItem, error) {
	unit := plan.UnitUUID() // the unit's UUID in STS
	if it.typ != consumer.TypeOrgUnit || unit == uuid.Nil {
		return nil, nil
	}
	var c translate.Cascade
	if slices.ContainsFunc(plan.Refs(), func(r translate.Ref) bool { return r.UUID == unit }) {
		c = translate.UnitCascade(unit, plan, current[unit], p.now())
	}
	// Users' locations may come from their unit's addresses (EngagementAddressTypes): a changed
	// address of the unit re-evaluates its persons (unchanged ones cost no STS call).
	if len(p.Settings.EngagementAddressTypes) > 0 && slices.ContainsFunc(plan.Refs(), func(r translate.Ref) bool { return r.Kind == oio.KindAdresse }) {
		c.Persons = true
	}
	if !c.Persons && !c.Subtree {
		return nil, nil // a person, or the unit object itself did not change
	}
	var persons, subtree []uuid.UUID
	var err error
	if c.Persons {
		if persons, err = p.MO.UnitPersons(ctx, it.id); err != nil {
			return nil, fmt.Errorf("cascade of %s: %w", key, err)
		}
	}
	if c.Subtree {
		if subtree, err = p.MO.Subtree(ctx, it.id); err != nil {
			return nil, fmt.Errorf("cascade of %s: %w", key, err)
		}
	}
	if len(persons)+len(subtree) == 0 {
		return nil, nil
	}
	p.log().Info("unit change cascades", "object", key, "persons", len(persons), "subtree_units", len(subtree))
	if p.Cascade != nil {
		for _, q := range []struct {
			typ consumer.ObjectType
			ids []uuid.UUID
		}{{consumer.TypeOrgUnit, subtree}, {consumer.TypePerson, persons}} {
			if len(q.ids) == 0 {
				continue
			}
			if err := p.Cascade.Enqueue(ctx, q.typ, q.ids, key); err != nil {
				return nil, fmt.Errorf("queue the %d %s item(s) %s cascades to: %w", len(q.ids), q.typ, key, err)
			}
		}
		return nil, nil
	}
	var items []workItem
	for _, id := range subtree {
		items = append(items, workItem{consumer.TypeOrgUnit, id})
	}
	for _, id := range persons {
		items = append(items, workItem{consumer.TypePerson, id})
	}
	return items, nil
}

// leaveKept drops the operations that would end a function the full sync keeps (Pipeline.Keep):
// one linked to a kept user that is not the bundle's own, or to a unit that is kept (listed, or
// below a listed unit by Overordnet in STS) and that OS2MO does not export. The units' ancestors
// are read from STS, one bulk read per level, only when such an operation is planned.
func (p *Pipeline) leaveKept(ctx context.Context, key string, plan translate.Desired, current map[uuid.UUID]*oio.Object, ops []translate.Operation) ([]translate.Operation, error) {
	if len(p.Keep) == 0 {
		return ops, nil
	}
	today := translate.Day(p.now())
	ending := func(op translate.Operation) *oio.Object {
		if op.Object.Kind != oio.KindOrganisationFunktion || plan.Object(op.Object.UUID) != nil {
			return nil
		}
		return current[op.Object.UUID]
	}
	var units []uuid.UUID
	for _, op := range ops {
		if f := ending(op); f != nil {
			units = append(units, f.LiveRefs(today, oio.RelTilknyttedeEnheder)...)
		}
	}
	if len(units) == 0 {
		return ops, nil
	}
	kept, err := p.keptUnits(ctx, units, today)
	if err != nil {
		return nil, fmt.Errorf("check SYNC_KEEP_UUIDS for %s: %w", key, err)
	}
	return slices.DeleteFunc(ops, func(op translate.Operation) bool {
		f := ending(op)
		if f == nil {
			return false
		}
		protected := slices.ContainsFunc(f.LiveRefs(today, oio.RelTilknyttedeBrugere), func(u uuid.UUID) bool {
			return slices.Contains(p.Keep, u) && !slices.Contains(plan.Users, u)
		}) || slices.ContainsFunc(f.LiveRefs(today, oio.RelTilknyttedeEnheder), func(u uuid.UUID) bool { return kept[u] })
		if protected {
			p.log().Info("left as it is: linked to a kept unit or user (SYNC_KEEP_UUIDS)", "object", op.Ref().String(), "for", key)
		}
		return protected
	}), nil
}

// keptUnits returns which of units are kept orphans: not exported by OS2MO (read first: most
// functions ended point at units OS2MO has) and in a kept subtree (the unit or an ancestor by
// Overordnet in STS is in Pipeline.Keep).
func (p *Pipeline) keptUnits(ctx context.Context, units []uuid.UUID, today time.Time) (map[uuid.UUID]bool, error) {
	var orphans []uuid.UUID
	for _, id := range units {
		if slices.Contains(orphans, id) {
			continue
		}
		// Keeping protects orphans only: a unit OS2MO exports is synced as usual.
		u, err := p.MO.OrgUnit(ctx, id)
		switch {
		case errors.Is(err, moclient.ErrNotFound) || errors.Is(err, moclient.ErrNotCurrent):
		case err != nil:
			return nil, fmt.Errorf("read unit %s from OS2MO: %w", id, err)
		case translate.UnitDesired(p.Settings, u, p.now()).Object(id) != nil:
			continue
		}
		orphans = append(orphans, id)
	}
	parent := map[uuid.UUID]uuid.UUID{}
	read := map[uuid.UUID]bool{}
	for level := orphans; len(level) > 0; {
		var ask []uuid.UUID
		for _, id := range level {
			if !read[id] && !slices.Contains(p.Keep, id) {
				read[id] = true
				ask = append(ask, id)
			}
		}
		if len(ask) == 0 {
			break
		}
		objs, err := converge.Objects(ctx, converge.LiveIndex{STS: p.STS}, map[oio.Kind][]uuid.UUID{oio.KindOrganisationEnhed: ask})
		if err != nil {
			return nil, err
		}
		level = nil
		for _, id := range ask {
			if up := objs[id].RefOn(oio.RelOverordnet, today); up != uuid.Nil {
				parent[id] = up
				level = append(level, up)
			}
		}
	}
	out := map[uuid.UUID]bool{}
	for _, id := range orphans {
		seen := map[uuid.UUID]bool{}
		for u := id; u != uuid.Nil && !seen[u]; u = parent[u] {
			seen[u] = true
			if slices.Contains(p.Keep, u) {
				out[id] = true
				break
			}
		}
	}
	return out, nil
}
