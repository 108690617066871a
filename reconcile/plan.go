package reconcile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// origin says why a bundle is part of the sync.
type origin int

const (
	// originExported: a unit or person OS2MO has in effect and exports.
	originExported origin = iota
	// originNotExported: a unit OS2MO has in effect but does not export (relevance rules).
	originNotExported
	// originNotInEffect: OS2MO listed it, but it was no longer in effect when read.
	originNotInEffect
	// originOrphan: STS holds the unit or user active and OS2MO does not list it.
	originOrphan
)

// phase orders the convergence: units top-down, then persons, then deactivations.
type phase int

const (
	phaseUnits phase = iota
	phasePersons
	phaseDeactivations
)

// bundle is one OS2MO unit or person (or an orphan STS unit or user) with what STS should hold
// for it.
type bundle struct {
	id   uuid.UUID
	unit bool // a unit bundle (else a person's, or an orphan user's)
	// d is what STS should hold for the bundle (desired); nil while a deferred bundle is not
	// translated and once a converged one is released, so a bundle in wait costs no Desired.
	d      *translate.Desired
	origin origin
	// why explains an orphan ("terminated in OS2MO", "unknown to OS2MO").
	why   string
	phase phase
	// depth is a unit's distance from the root: parents converge first, and are deactivated
	// last.
	depth int
	// deferred says desired is translated only while the bundle is planned or converged, from
	// the OS2MO person of the snapshot's store, batch batch (a person in effect).
	deferred bool
	batch    int
	// settled says the plan found nothing to write and the last-sent record current: the sync
	// leaves the bundle alone.
	settled bool
	// taken says the sync has taken the bundle's person from the store to converge it (once,
	// even when it is tried again after finding its lease held).
	taken bool
}

// bundleType is the bundle's type in its key (translate.BundleUnit or BundlePerson; an orphan
// user's bundle is a person's).
func (b *bundle) bundleType() string {
	if b.unit {
		return translate.BundleUnit
	}
	return translate.BundlePerson
}

// key is the bundle's key (translate.BundleKey), the name of its lease and last-sent record. It
// is made when asked for, so a bundle in wait holds no string.
func (b *bundle) key() string { return translate.BundleKey(b.bundleType(), b.id) }

// compareBundles orders bundles as their keys do, without making them.
func compareBundles(a, b *bundle) int {
	return cmp.Or(strings.Compare(a.bundleType(), b.bundleType()), compareUUID(a.id, b.id))
}

// desired returns what STS should hold for the bundle: the empty Desired when it is not
// translated (deferred, or released after converging).
func (b *bundle) desired() *translate.Desired {
	if b.d == nil {
		return &translate.Desired{}
	}
	return b.d
}

// unitID returns the UUID a unit bundle's unit has in STS (translate.Settings.UUIDFromITSystems
// may give it another than OS2MO's), else the bundle's id.
func (b *bundle) unitID() uuid.UUID {
	if id := b.desired().UnitUUID(); id != uuid.Nil {
		return id
	}
	return b.id
}

// Action says what a planned write does.
type Action string

// The actions of planned writes.
const (
	// ActionCreate creates a desired object STS does not hold (importer).
	ActionCreate Action = "create"
	// ActionUpdate changes a desired object STS holds (ret).
	ActionUpdate Action = "update"
	// ActionReactivate makes a desired object STS holds inactive active again (ret).
	ActionReactivate Action = "reactivate"
	// ActionDeactivate ends an object the sync wrote that OS2MO no longer has: a unit OS2MO does
	// not export, a user without positions, a terminated position, a vacant manager function.
	ActionDeactivate Action = "deactivate"
	// ActionOrphan ends a unit or user OS2MO does not list (and its functions).
	ActionOrphan Action = "orphan"
	// ActionForeign ends a function another tool wrote (e.g. OS2sync's random-UUID positions
	// and manager functions) that the sync replaces with its own.
	ActionForeign Action = "foreign"
	// ActionEndRelations ends the relations of a function to a unit or user being deactivated.
	ActionEndRelations Action = "end-relations"
)

// PlannedOp is one planned STS write with why it is made. It names the object it writes; the
// object as planned is kept only by Engine.Plan and Verify (a sync plans each bundle again
// against STS right before writing it).
type PlannedOp struct {
	// Op is the STS operation (importer or ret); Kind and UUID name the object it writes.
	Op     translate.OpKind
	Kind   oio.Kind
	UUID   uuid.UUID
	Action Action
	// Bundle is the key of the bundle it belongs to (translate.BundleKey).
	Bundle string
	// Name is the object's name, for people reading the plan.
	Name string
	// ForeignAddresses counts the address references of other tools the write ends.
	ForeignAddresses int
	// Deactivation says the write makes an active unit or user inactive.
	Deactivation bool

	// object is the object as planned; current as STS holds it (nil: missing); desired as the
	// bundle wants it (nil: an object to end). All three are nil in a sync's plan.
	object, current, desired *oio.Object
	// foreign are the address references of other tools the write ends (ForeignAddresses).
	foreign []oio.Relation
}

// Ref returns the object the write writes.
func (op PlannedOp) Ref() translate.Ref { return translate.Ref{Kind: op.Kind, UUID: op.UUID} }

// Adoption is what a sync recognised of data written by other tools (OS2sync) and ended or took
// over.
type Adoption struct {
	// ForeignFunctions counts the functions with other tools' UUIDs that are ended, by type
	// ("position", "manager", "contact place").
	ForeignFunctions map[string]int
	// ForeignAddresses counts the address references with other tools' UUIDs that are ended on
	// the municipality's units and users (replaced by the sync's own Adresse objects).
	ForeignAddresses int
	// TakenOverUnits and TakenOverUsers count the units and users STS already held with the
	// UUIDs the sync writes but that the sync had never written (no last-sent record): they are
	// updated in place. Counted only when a Store is used.
	TakenOverUnits, TakenOverUsers int
}

// Empty reports whether nothing was recognised.
func (a Adoption) Empty() bool {
	n := a.ForeignAddresses + a.TakenOverUnits + a.TakenOverUsers
	for _, c := range a.ForeignFunctions {
		n += c
	}
	return n == 0
}

// String summarises the adoption on one line.
func (a Adoption) String() string {
	var fs []string
	for _, t := range []string{"position", "manager", "contact place", "other"} {
		if n := a.ForeignFunctions[t]; n > 0 {
			fs = append(fs, fmt.Sprintf("%d %s", n, plural(n, t+" function", t+" functions")))
		}
	}
	nf := 0
	for _, n := range a.ForeignFunctions {
		nf += n
	}
	funcs := "no functions"
	if nf > 0 {
		funcs = fmt.Sprintf("%d %s (%s)", nf, plural(nf, "function", "functions"), strings.Join(fs, ", "))
	}
	return fmt.Sprintf("written by other tools: %s and %d address %s ended and replaced; %d %s and %d %s taken over in place",
		funcs, a.ForeignAddresses, plural(a.ForeignAddresses, "reference", "references"),
		a.TakenOverUnits, plural(a.TakenOverUnits, "unit", "units"), a.TakenOverUsers, plural(a.TakenOverUsers, "user", "users"))
}

// Plan is what a sync would write, in the order it writes it, with what it was planned from.
type Plan struct {
	// Ops are the planned writes: units top-down, persons, then deactivations. A sync that
	// writes (not Options.DryRun) keeps only those that end, reactivate or adopt something here
	// (the creates and updates of an initial load would be most of its memory); Writes counts
	// them all.
	Ops []PlannedOp
	// Writes counts the planned writes.
	Writes int
	// Bundles counts the bundles planned; Changed those with at least one write.
	Bundles, Changed int
	// UnitsMO and PersonsMO count what OS2MO listed as in effect; Exported the units it exports.
	UnitsMO, PersonsMO, Exported int
	// UnitsSTS, UsersSTS and FunctionsSTS count the active objects of the municipality's
	// hierarchy in STS; ObjectsRead every object read from STS.
	UnitsSTS, UsersSTS, FunctionsSTS, ObjectsRead int
	// Deactivations counts the units and users the plan deactivates; Limit is the most allowed.
	Deactivations, Limit int
	// Orphans counts the units and users STS holds active that no OS2MO unit or person accounts
	// for, kept ones excluded; OrphansReported those of them the sync leaves active
	// (OrphanReport). KeptUnits and KeptUsers count the orphans Options.Keep keeps.
	Orphans, OrphansReported int
	KeptUnits, KeptUsers     int
	// OrphanList lists every orphan, kept ones included, with what the sync does with it: those
	// deactivated, then those reported, then those kept.
	OrphanList []Orphan
	// Problems counts the adjustments the translation made to OS2MO's data.
	Problems int
	Adoption Adoption
	// GeneratedAt is when the plan was made.
	GeneratedAt time.Time

	bundles []*bundle
	snap    *snapshot
	// counts counts the planned writes by action and object kind.
	counts map[writeKind]int
}

// writeKind is an action on a kind of object.
type writeKind struct {
	action Action
	kind   oio.Kind
}

// listed reports whether a sync that writes keeps op in Plan.Ops.
func listed(op PlannedOp) bool {
	return (op.Action != ActionCreate && op.Action != ActionUpdate) || op.ForeignAddresses > 0
}

// plan reads the snapshot, builds every bundle, reads the objects they name, and plans them.
// With objects, the planned writes keep the objects as planned, as STS holds them and as desired
// (for Verify); without, they only name them (a sync's plan: the sync plans each bundle again
// before writing it), and OS2MO's units are not kept either.
func (e *Engine) plan(ctx context.Context, o Options, objects bool) (*Plan, error) {
	// The plan is made as of when the snapshot is read: the persons are translated as they are
	// read.
	now := o.Now()
	snap, err := e.readSnapshot(ctx, o, now)
	if err != nil {
		return nil, err
	}
	bundles := buildBundles(o.Settings, snap, now)
	orphans, err := e.orphans(ctx, o, snap, bundles, now)
	if err != nil {
		return nil, err
	}
	bundles = append(bundles, orphans.bundles...)
	snap.protected = orphans.protected

	// A deferred bundle has no desired objects yet: its are read as it is planned (feedBatches).
	if err := e.readObjects(ctx, o, snap, snap.toRead(bundles)); err != nil {
		return nil, err
	}

	p := &Plan{GeneratedAt: now, bundles: bundles, snap: snap, UnitsMO: len(snap.unitIDs), PersonsMO: len(snap.personIDs),
		Adoption: Adoption{ForeignFunctions: map[string]int{}}, OrphanList: orphans.list, counts: map[writeKind]int{}}
	for _, orp := range orphans.list {
		switch {
		case orp.Action == OrphanKeep && orp.Kind == oio.KindOrganisationEnhed:
			p.KeptUnits++
		case orp.Action == OrphanKeep:
			p.KeptUsers++
		case orp.Action == OrphanReport:
			p.Orphans++
			p.OrphansReported++
		default:
			p.Orphans++
		}
	}
	today := translate.Day(now)
	for _, kind := range []oio.Kind{oio.KindOrganisationEnhed, oio.KindBruger, oio.KindOrganisationFunktion} {
		n := 0
		for _, id := range snap.hierarchy[kind] {
			if snap.sts.get(id).ActiveOn(today) {
				n++
			}
		}
		switch kind {
		case oio.KindOrganisationEnhed:
			p.UnitsSTS = n
		case oio.KindBruger:
			p.UsersSTS = n
		default:
			p.FunctionsSTS = n
		}
	}
	owned := ownedUUIDs(bundles, snap)
	snap.recordedFunctions = nil
	sortBundles(bundles)
	ending := endingRefs(bundles)
	// Plan the bundles in the order the sync writes them, each against STS as the writes before
	// it leave it (sim), so that an object two bundles end is planned once. The deferred person
	// bundles are translated (and the objects they name read) a batch at a time, a few batches
	// ahead of the planning, and forgotten once planned.
	sim := snap.sts.overlay(o.Settings, now)
	feed := e.feedBatches(ctx, o, snap, bundles, now)
	defer feed.stop()
	var batch []*bundle // the deferred bundles being planned
	release := func() {
		for _, b := range batch {
			if e.retain {
				continue
			}
			snap.release(b, ending, objects)
		}
		batch = nil
	}
	planned := 0
	for _, b := range bundles {
		if b.deferred && (len(batch) == 0 || batch[0].batch != b.batch) {
			release()
			var err error
			if batch, err = feed.next(ctx); err != nil {
				return nil, err
			}
			if len(batch) == 0 || batch[0] != b {
				return nil, fmt.Errorf("plan: persons batch out of order at %s", b.key()) // cannot happen: both follow the bundles' order
			}
		}
		if b.unit && b.desired().Object(b.unitID()) != nil {
			p.Exported++
		}
		p.Problems += len(b.desired().Problems)
		for _, pr := range b.desired().Problems {
			o.Logger.Debug("translation problem", "bundle", b.key(), "object", string(pr.Kind)+":"+pr.UUID.String(), "field", pr.Field, "problem", pr.Message)
		}
		cur := sim.lookup(b.desired().Lookups())
		ops := planBundle(o, snap, b, cur, now)
		classified := p.classify(o, b, cur, ops, owned, today, objects)
		if len(classified) > 0 {
			p.Changed++
		}
		for _, op := range ops {
			// A refused operation would fail in STS too; the plan shows it. A deferred bundle's
			// writes matter to no later bundle (each person's objects are its own) but those to an
			// object linked to a unit or user a later bundle ends.
			if !b.deferred || linkedTo(&op.Object, ending) {
				_ = sim.applyPlanned(op, b.desired().Object(op.Object.UUID))
			}
		}
		for _, op := range classified {
			p.Writes++
			p.counts[writeKind{op.Action, op.Kind}]++
			if objects || o.DryRun || listed(op) {
				p.Ops = append(p.Ops, op)
			}
		}
		sent, recorded := snap.sent[bundleRef{unit: b.unit, id: b.id}]
		if e.Store != nil && !recorded {
			for _, id := range append(slices.Clone(b.desired().Units), b.desired().Users...) {
				if obj := b.desired().Object(id); obj != nil && cur[id] != nil && cur[id].Exists() {
					if obj.Kind == oio.KindOrganisationEnhed {
						p.Adoption.TakenOverUnits++
					} else {
						p.Adoption.TakenOverUsers++
					}
				}
			}
		}
		if b.deferred {
			b.settled = len(ops) == 0 && (objects || recorded && sent == sumRecord(b.desired().Record().String()))
		}
		planned++
		o.Progress(Progress{Phase: "plan", Done: planned, Total: len(bundles)})
	}
	release()
	if err := feed.stop(); err != nil {
		return nil, err
	}
	p.ObjectsRead = snap.read
	p.Bundles = len(bundles)
	p.Limit = o.deactivationLimit(p.UnitsSTS + p.UsersSTS)
	if !objects {
		snap.units = nil // only Verify's report names classes from them
	}
	return p, nil
}

// planBundle plans a bundle against the objects its lookups found (translate.PlanAll), never
// writing the top unit, a kept orphan or a function linked to one (snapshot.protected) other
// than as desired.
func planBundle(o Options, snap *snapshot, b *bundle, cur map[uuid.UUID]*oio.Object, now time.Time) []translate.Operation {
	ops := translate.PlanAll(o.Settings, *b.desired(), cur, now)
	top := o.Settings.TopUnit
	if top == uuid.Nil && len(snap.protected) == 0 {
		return ops
	}
	return slices.DeleteFunc(ops, func(op translate.Operation) bool {
		id := op.Object.UUID
		switch {
		case b.desired().Object(id) != nil:
			return false
		case top != uuid.Nil && op.Object.Kind == oio.KindOrganisationEnhed && id == top:
			o.Logger.Error("refusing to end the top unit", "object", op.Ref().String(), "for", b.key())
			return true
		case snap.protected[id]:
			o.Logger.Debug("left as it is: a kept orphan or linked to one (SYNC_KEEP_UUIDS)", "object", op.Ref().String(), "for", b.key())
			return true
		}
		return false
	})
}

// deactivationLimit is the most units and users one sync may deactivate, of active ones.
func (o Options) deactivationLimit(active int) int {
	if o.MaxDeactivations != nil {
		return max(*o.MaxDeactivations, 0)
	}
	return int(math.Floor(o.MaxDeactivationShare*float64(active) + 1e-9))
}

// guard refuses a plan that deactivates units or users when OS2MO returned none of them, or
// more than the limit.
func (p *Plan) guard(o Options) error {
	if p.Deactivations == 0 {
		return nil
	}
	if p.UnitsMO == 0 {
		return fmt.Errorf("%w: OS2MO returned no units, and the plan would deactivate %d units and users in STS; check OS2MO and MO_TOP_UNIT_UUID", ErrRefused, p.Deactivations)
	}
	users := 0
	for _, op := range p.Ops {
		if op.Kind == oio.KindBruger && op.Deactivation {
			users++
		}
	}
	if p.PersonsMO == 0 && users > 0 {
		return fmt.Errorf("%w: OS2MO returned no persons, and the plan would deactivate %d users in STS; check OS2MO", ErrRefused, users)
	}
	if p.Deactivations > p.Limit {
		how := fmt.Sprintf("%s of the %d active units and users in STS (SYNC_MAX_DEACTIVATION_PERCENT)", percent(o.MaxDeactivationShare), p.UnitsSTS+p.UsersSTS)
		if o.MaxDeactivations != nil {
			how = "--max-deactivations"
		}
		return fmt.Errorf("%w: the plan deactivates %d units and users, more than the limit of %d (%s); check with --dry-run, then raise the limit with --max-deactivations N",
			ErrRefused, p.Deactivations, p.Limit, how)
	}
	return nil
}

func percent(share float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", share*100), "0"), ".") + " %"
}

// deactivates reports whether op makes an active object inactive today.
func deactivates(op PlannedOp, today time.Time) bool {
	return op.desired == nil && op.current != nil && op.Op == translate.OpUpdate &&
		op.current.StatusOn(today) == oio.Aktiv && op.object.StatusOn(today) != oio.Aktiv
}

// classify turns a bundle's operations into planned writes, and counts deactivations and
// adoption. With objects, the planned writes keep the objects (PlannedOp).
func (p *Plan) classify(o Options, b *bundle, cur map[uuid.UUID]*oio.Object, ops []translate.Operation, owned map[uuid.UUID]bool, today time.Time, objects bool) []PlannedOp {
	var out []PlannedOp
	for _, op := range ops {
		po := PlannedOp{Op: op.Op, Kind: op.Object.Kind, UUID: op.Object.UUID, Bundle: b.key(),
			object: &op.Object, current: cur[op.Object.UUID], desired: b.desired().Object(op.Object.UUID)}
		if po.current != nil && !po.current.Exists() {
			po.current = nil
		}
		po.Name = objectName(&op.Object, today)
		if po.Name == "" && po.current != nil {
			po.Name = objectName(po.current, today)
		}
		po.Deactivation = deactivates(po, today)
		switch {
		case po.desired != nil && op.Op == translate.OpImport:
			po.Action = ActionCreate
		case po.desired != nil && po.current != nil && po.current.StatusOn(today) != oio.Aktiv && po.desired.StatusOn(today) == oio.Aktiv:
			po.Action = ActionReactivate
		case po.desired != nil:
			po.Action = ActionUpdate
		case !po.Deactivation && op.Object.StatusOn(today) == po.current.StatusOn(today):
			po.Action = ActionEndRelations
		case b.origin == originOrphan:
			po.Action = ActionOrphan
		case op.Object.Kind == oio.KindOrganisationFunktion && !owned[op.Object.UUID] && !derivedFunction(po.current):
			po.Action = ActionForeign
			p.Adoption.ForeignFunctions[functionLabel(po.current, today)]++
		default:
			po.Action = ActionDeactivate
		}
		if po.Action == ActionEndRelations && b.origin == originOrphan {
			po.Action = ActionOrphan
		}
		if po.desired != nil && po.current != nil {
			po.foreign = foreignAddresses(po.current, &op.Object, today)
			po.ForeignAddresses = len(po.foreign)
			p.Adoption.ForeignAddresses += po.ForeignAddresses
		}
		if (op.Object.Kind == oio.KindOrganisationEnhed || op.Object.Kind == oio.KindBruger) && po.Deactivation {
			p.Deactivations++
		}
		if !objects {
			po.object, po.current, po.desired = nil, nil, nil
		}
		out = append(out, po)
	}
	return out
}

// foreignAddresses returns the Adresser relations of current in effect today or later that point
// at an Adresse the sync did not derive for the owner and role, and that after (the object as
// planned) no longer has in effect.
func foreignAddresses(current, after *oio.Object, today time.Time) []oio.Relation {
	var out []oio.Relation
	for _, r := range current.Registration.Relationer {
		if r.Name != oio.RelAdresser || !live(r.Virkning, today) || r.Ref == translate.AddressUUID(current.UUID, r.Rolle) {
			continue
		}
		if !slices.ContainsFunc(after.Registration.Relationer, func(a oio.Relation) bool {
			return a.Name == r.Name && a.Ref == r.Ref && a.Rolle == r.Rolle && live(a.Virkning, today)
		}) {
			out = append(out, r)
		}
	}
	return out
}

// live reports whether v is in effect on today or later.
func live(v oio.Virkning, today time.Time) bool { return v.To.IsZero() || v.To.After(today) }

// buildBundles translates every unit OS2MO listed, and returns their bundles and the persons'
// (translated as they were read), in listing order.
func buildBundles(s translate.Settings, snap *snapshot, now time.Time) []*bundle {
	out := make([]*bundle, 0, len(snap.unitIDs)+len(snap.personIDs))
	for _, id := range snap.unitIDs {
		out = append(out, unitBundle(s, id, snap.units[id], now))
	}
	for _, id := range snap.personIDs {
		b := snap.persons[id]
		if b == nil {
			b = personBundle(s, id, nil, now) // not read (cannot happen: every batch is)
		}
		out = append(out, b)
	}
	snap.persons = nil // in the bundles now
	return out
}

func unitBundle(s translate.Settings, id uuid.UUID, u *model.OrgUnit, now time.Time) *bundle {
	b := &bundle{id: id, unit: true, origin: originExported}
	switch {
	case u == nil:
		b.d, b.origin, b.phase = new(translate.UnitGone(s, id)), originNotInEffect, phaseDeactivations
	default:
		b.d = new(translate.UnitDesired(s, u, now))
		b.depth = len(u.Ancestors)
		b.phase = phaseUnits
		if b.desired().Object(b.unitID()) == nil {
			b.origin, b.phase = originNotExported, phaseDeactivations
		}
	}
	return b
}

func personBundle(s translate.Settings, id uuid.UUID, p *model.Person, now time.Time) *bundle {
	b := &bundle{id: id, origin: originExported, phase: phasePersons}
	if p == nil {
		b.d, b.origin, b.phase = new(translate.PersonGone(s, id)), originNotInEffect, phaseDeactivations
	} else {
		b.d = new(translate.PersonDesired(s, p, now))
	}
	return b
}

// orphanUser is the bundle of an STS user no OS2MO person accounts for: the user is deactivated
// and its positions with it (and, if it is an OS2MO person's user, whatever PersonGone ends).
func orphanUser(s translate.Settings, id uuid.UUID) translate.Desired {
	return translate.Merge(translate.PersonGone(s, id),
		translate.Desired{Users: []uuid.UUID{id}, Deactivate: []translate.Ref{{Kind: oio.KindBruger, UUID: id}}})
}

// orphans finds the units and users of the municipality's hierarchy that STS holds active and
// that no listed OS2MO unit or person accounts for, asks OS2MO about them (one may have been
// created after the listing, or be terminated), decides what the sync does with each
// (Options.Keep, then Options.Orphans), and returns the bundles of those to deactivate and of
// those OS2MO has after all.
func (e *Engine) orphans(ctx context.Context, o Options, snap *snapshot, bundles []*bundle, now time.Time) (*orphanSet, error) {
	today := translate.Day(now)
	for _, id := range o.Keep {
		if obj := snap.sts.get(id); obj == nil || !belongsTo(obj, o.Settings.Organisation) ||
			(obj.Kind != oio.KindOrganisationEnhed && obj.Kind != oio.KindBruger) {
			o.Logger.Warn("SYNC_KEEP_UUIDS names no unit or user of the municipality's hierarchy in STS", "uuid", id.String())
		}
	}
	// The units the listed OS2MO units are written as (their UUIDs in STS).
	listedUnits := map[uuid.UUID]bool{}
	users := map[uuid.UUID]bool{}
	for _, b := range bundles {
		if b.unit {
			for _, id := range b.desired().Units {
				listedUnits[id] = true
			}
		}
		for _, id := range b.desired().Users {
			users[id] = true
		}
		if b.desired().Person != uuid.Nil {
			for id := range snap.sts.lookup(translate.Lookups{UsersOfPerson: b.desired().Person}) {
				users[id] = true
			}
		}
	}
	// The deferred person bundles' (translated when read).
	maps.Copy(users, snap.personUsers)
	for _, person := range snap.personRefs {
		for id := range snap.sts.lookup(translate.Lookups{UsersOfPerson: person}) {
			users[id] = true
		}
	}
	snap.personUsers, snap.personRefs = nil, nil
	var units, brugere []uuid.UUID
	for _, id := range snap.hierarchy[oio.KindOrganisationEnhed] {
		if !listedUnits[id] && snap.sts.get(id).ActiveOn(today) && id != o.Settings.TopUnit {
			units = append(units, id)
		}
	}
	for _, id := range snap.hierarchy[oio.KindBruger] {
		if !users[id] && snap.sts.get(id).ActiveOn(today) {
			brugere = append(brugere, id)
		}
	}
	out := &orphanSet{}
	if len(units)+len(brugere) == 0 {
		return out, nil
	}
	if err := e.readLastSent(ctx, refsOf(units, brugere), snap); err != nil {
		return nil, err
	}
	moPersons := map[uuid.UUID]*model.Person{}
	moUnits, err := e.readMO(ctx, o, units, brugere, "OS2MO (orphans)", func(_ int, _ []uuid.UUID, got map[uuid.UUID]*model.Person) (func(), error) {
		return func() { maps.Copy(moPersons, got) }, nil
	})
	if err != nil {
		return nil, err
	}
	var found []Orphan
	for _, id := range units {
		u, known := moUnits[id]
		if u != nil {
			out.bundles = append(out.bundles, unitBundle(o.Settings, id, u, now)) // created after the listing
			continue
		}
		orp := Orphan{Kind: oio.KindOrganisationEnhed, UUID: id, Name: objectName(snap.sts.get(id), today), Why: "unknown to OS2MO", Action: o.Orphans.units()}
		if known {
			orp.Why = "not in effect in OS2MO"
		}
		found = append(found, orp)
	}
	for _, id := range brugere {
		p, known := moPersons[id]
		if p != nil {
			out.bundles = append(out.bundles, personBundle(o.Settings, id, p, now))
			continue
		}
		orp := Orphan{Kind: oio.KindBruger, UUID: id, Name: objectName(snap.sts.get(id), today), Why: "no OS2MO person", Action: o.Orphans.users()}
		if known {
			orp.Why = "person not in effect in OS2MO"
		}
		found = append(found, orp)
	}
	out.protected = keepOrphans(o.Keep, snap.sts, found, today)
	for _, orp := range found {
		switch {
		case orp.Action != OrphanDeactivate:
			continue
		case orp.Kind == oio.KindOrganisationEnhed:
			out.bundles = append(out.bundles, &bundle{id: orp.UUID, unit: true,
				d: new(translate.UnitGone(o.Settings, orp.UUID)), origin: originOrphan, phase: phaseDeactivations,
				why: orp.Why, depth: stsDepth(snap.sts, orp.UUID)})
		default:
			out.bundles = append(out.bundles, &bundle{id: orp.UUID,
				d: new(orphanUser(o.Settings, orp.UUID)), origin: originOrphan, phase: phaseDeactivations, why: orp.Why})
		}
	}
	sortOrphans(found)
	out.list = found
	return out, nil
}

// stsDepth returns how many ancestors a unit has in STS (by Overordnet).
func stsDepth(s *stsState, id uuid.UUID) int {
	n := 0
	seen := map[uuid.UUID]bool{id: true}
	for {
		o := s.get(id)
		if o == nil {
			return n
		}
		parent := uuid.Nil
		for _, r := range o.Registration.Relationer {
			if r.Name == oio.RelOverordnet {
				parent = r.Ref
			}
		}
		if parent == uuid.Nil || seen[parent] {
			return n
		}
		seen[parent] = true
		id = parent
		n++
	}
}

// sortBundles orders bundles for convergence: units top-down, persons, then deactivations
// (users, then units bottom-up); by key within a level.
func sortBundles(bs []*bundle) {
	slices.SortStableFunc(bs, func(a, b *bundle) int {
		if c := cmp.Compare(a.phase, b.phase); c != 0 {
			return c
		}
		if a.phase == phaseDeactivations {
			if a.unit != b.unit {
				if a.unit {
					return 1
				}
				return -1
			}
			return cmp.Or(cmp.Compare(b.depth, a.depth), compareBundles(a, b))
		}
		return cmp.Or(cmp.Compare(a.depth, b.depth), compareBundles(a, b))
	})
}

// level is the group of bundles that may converge at once: one depth of units, all persons, the
// users to deactivate, one depth of units to deactivate.
func level(b *bundle) [3]int {
	switch {
	case b.phase == phasePersons:
		return [3]int{int(b.phase), 0, 0}
	case b.phase == phaseDeactivations && !b.unit:
		return [3]int{int(b.phase), 0, 0}
	case b.phase == phaseDeactivations:
		return [3]int{int(b.phase), 1, -b.depth}
	}
	return [3]int{int(b.phase), 0, b.depth}
}

// ownedUUIDs returns the function UUIDs the sync writes: every one a bundle desires or names, or
// a last-sent record lists (snapshot.recordedFunctions).
func ownedUUIDs(bundles []*bundle, snap *snapshot) map[uuid.UUID]bool {
	owned := maps.Clone(snap.recordedFunctions)
	if owned == nil {
		owned = map[uuid.UUID]bool{}
	}
	maps.Copy(owned, snap.owned) // the deferred bundles'
	snap.owned = nil
	for _, b := range bundles {
		for _, o := range b.desired().Objects {
			if o.Kind == oio.KindOrganisationFunktion {
				owned[o.UUID] = true
			}
		}
		for _, r := range b.desired().Deactivate {
			if r.Kind == oio.KindOrganisationFunktion {
				owned[r.UUID] = true
			}
		}
	}
	return owned
}

// derivedFunction reports whether a function's UUID is one the sync derives: the manager or
// Henvendelsessted function of a unit it points at, or a name-based (version 5) UUID as every
// UUID the sync derives is (other tools, OS2sync among them, use random version 4 UUIDs).
func derivedFunction(f *oio.Object) bool {
	if f == nil {
		return true
	}
	for _, r := range f.Registration.Relationer {
		if r.Name == oio.RelTilknyttedeEnheder && (f.UUID == translate.ManagerUUID(r.Ref) || f.UUID == translate.ContactPlaceUUID(r.Ref)) {
			return true
		}
	}
	return f.UUID.Version() == 5 && f.UUID.Variant() == uuid.RFC4122
}

// functionLabel names a function's type.
func functionLabel(f *oio.Object, today time.Time) string {
	switch f.RefOn(oio.RelFunktionstype, today) {
	case translate.FunktionstypeStilling:
		return "position"
	case translate.FunktionstypeLeder:
		return "manager"
	case translate.FunktionstypeHenvendelsessted:
		return "contact place"
	}
	return "other"
}

// egenskabOn returns the attributes of o in effect at day (else the latest that starts later,
// else the last), or the zero Egenskab.
func egenskabOn(o *oio.Object, day time.Time) oio.Egenskab {
	if o == nil || len(o.Registration.Egenskaber) == 0 {
		return oio.Egenskab{}
	}
	es := o.Registration.Egenskaber
	for _, e := range es {
		if e.Virkning.Covers(day) {
			return e
		}
	}
	for _, e := range es {
		if e.Virkning.From.After(day) {
			return e
		}
	}
	return es[len(es)-1]
}

// objectName is an object's name on day (Navn, else the address text, else the user key).
func objectName(o *oio.Object, day time.Time) string {
	if o == nil {
		return ""
	}
	e := egenskabOn(o, day)
	switch {
	case e.Navn != "":
		return e.Navn
	case e.AdresseTekst != "":
		return e.AdresseTekst
	}
	return e.BrugervendtNoegle
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
