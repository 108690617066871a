package reconcile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Verify compares STS Organisation with OS2MO without writing anything: it plans like Sync
// (without leases, last-sent records or guards) and reports every planned write as a difference:
// objects missing in STS (or inactive there), field differences (name, user key, parent,
// addresses, positions, manager, KLE, status, …, found by comparing each relation and attribute
// of the object as STS holds it with the object as the sync would write it), stale objects the
// sync would end, orphans, and objects other tools wrote that the sync would end. Orphans are
// reported whatever Options.Orphans says; the orphans Options.Keep keeps are counted in the
// summary (and marked kept in the tree), not reported as differences. The report's tree is
// OS2MO's exported unit hierarchy with the units only STS holds attached where STS puts them.
func (e *Engine) Verify(ctx context.Context) (*report.Report, error) {
	o := e.Options.withDefaults()
	o.Orphans = OrphanPolicy{} // an orphan is drift, whether the sync deactivates it or not
	eng := *e
	eng.Store = nil // read-only: no leases, no records
	plan, err := eng.plan(ctx, o, true)
	if err != nil {
		return nil, err
	}
	// Read the Adresse objects other tools wrote that the sync would unlink, to show their text.
	var foreign []uuid.UUID
	for _, op := range plan.Ops {
		for _, r := range op.foreign {
			foreign = append(foreign, r.Ref)
		}
	}
	if len(foreign) > 0 {
		if err := eng.readObjects(ctx, o, plan.snap, map[oio.Kind][]uuid.UUID{oio.KindAdresse: foreign}); err != nil {
			return nil, err
		}
		plan.ObjectsRead = plan.snap.read
	}
	return buildReport(o, plan), nil
}

// describer names objects and classes for people reading the report.
type describer struct {
	snap    *snapshot
	classes map[uuid.UUID]string // KLE numbers and IT systems, from OS2MO
	desired map[uuid.UUID]*oio.Object
	today   time.Time
}

func newDescriber(plan *Plan, today time.Time) *describer {
	d := &describer{snap: plan.snap, classes: map[uuid.UUID]string{}, desired: map[uuid.UUID]*oio.Object{}, today: today}
	for _, u := range plan.snap.units {
		if u == nil {
			continue
		}
		for _, k := range u.KLE {
			for _, n := range k.Numbers {
				d.classes[n.UUID] = strings.TrimSpace(n.UserKey + " " + n.Name)
			}
		}
		for _, it := range u.ITUsers {
			d.classes[it.ITSystem.UUID] = it.ITSystem.Name
		}
	}
	for _, b := range plan.bundles {
		for i := range b.desired().Objects {
			obj := &b.desired().Objects[i]
			d.desired[obj.UUID] = obj
		}
	}
	return d
}

// name returns a readable name for a referenced object or class.
func (d *describer) name(id uuid.UUID) string {
	if n, ok := d.classes[id]; ok && n != "" {
		return n
	}
	if o := d.desired[id]; o != nil {
		if n := objectName(o, d.today); n != "" {
			return n
		}
	}
	if o := d.snap.sts.get(id); o != nil {
		if n := objectName(o, d.today); n != "" {
			return n
		}
	}
	switch id {
	case translate.EnhedstypeAfdeling:
		return "Afdeling"
	case translate.EnhedstypeTeam:
		return "Team"
	case translate.FunktionstypeLeder:
		return "Lederrolle"
	case translate.FunktionstypeStilling:
		return "Enhedsrolle"
	case translate.FunktionstypeHenvendelsessted:
		return "Henvendelsessted"
	}
	return id.String()[:8]
}

// address describes an Adresser relation: "Email: x@kommune.dk".
func (d *describer) address(r oio.Relation) string {
	label := roleLabel(r.Rolle)
	value := ""
	if o := d.desired[r.Ref]; o != nil {
		value = egenskabOn(o, d.today).AdresseTekst
	} else if o := d.snap.sts.get(r.Ref); o != nil {
		value = egenskabOn(o, d.today).AdresseTekst
	}
	if value == "" {
		value = "object " + r.Ref.String()[:8]
	}
	return label + ": " + value
}

// roleLabel names an address role.
func roleLabel(role uuid.UUID) string {
	labels := map[uuid.UUID]string{
		translate.RoleUnitEmail: "Email", translate.RoleUnitPhone: "Telefon", translate.RoleUnitLandline: "FastnetTelefon",
		translate.RoleUnitLocation: "Lokation", translate.RoleUnitPost: "Postadresse", translate.RoleUnitPostReturn: "Returadresse",
		translate.RoleUnitContact: "Henvendelsessted", translate.RoleUnitContactOpenHours: "Åbningstid henvendelse",
		translate.RoleUnitPhoneOpenHours: "Åbningstid telefon", translate.RoleUnitEmailRemarks: "Email bemærkninger",
		translate.RoleUnitEAN: "EAN", translate.RoleUnitURL: "URL", translate.RoleUnitLOSShortName: "LOS kort navn",
		translate.RoleUnitLOSID: "LOS-id", translate.RoleUnitDTRID: "DTR-id", translate.RoleUnitFOA: "FOA",
		translate.RoleUnitPNumber: "P-nummer", translate.RoleUnitSOR: "SOR",
		translate.RoleUserEmail: "Email", translate.RoleUserPhone: "Mobil", translate.RoleUserLandline: "FastnetTelefon",
		translate.RoleUserLocation: "Lokation", translate.RoleUserRACF: "RACF", translate.RoleUserFMK: "FMK",
	}
	if l, ok := labels[role]; ok {
		return l
	}
	return "Adresse"
}

// relationField names the report field of a relation of an object of the kind.
func relationField(kind oio.Kind, name oio.RelationName) string {
	switch name {
	case oio.RelAdresser:
		return "addresses"
	case oio.RelOverordnet:
		return "parent"
	case oio.RelOpgaver:
		return "kle"
	case oio.RelEnhedstype:
		return "unit_type"
	case oio.RelTilknyttedeItSystemer:
		return "it_systems"
	case oio.RelTilhoerer:
		return "organisation"
	case oio.RelTilknyttedePersoner:
		return "person"
	}
	return "relations"
}

// liveTargets describes the relations of one name in effect today or later, sorted.
func (d *describer) liveTargets(o *oio.Object, name oio.RelationName) []string {
	var out []string
	if o == nil {
		return nil
	}
	for _, r := range o.Registration.Relationer {
		if r.Name != name || !live(r.Virkning, d.today) {
			continue
		}
		if name == oio.RelAdresser {
			out = append(out, d.address(r))
		} else {
			out = append(out, d.name(r.Ref))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// describeFunction summarises a function: a position's title, unit and user; a manager's user
// and unit; a contact place's tasks.
func (d *describer) describeFunction(f *oio.Object) string {
	if f == nil {
		return ""
	}
	if f.StatusOn(d.today) != oio.Aktiv {
		return "inactive"
	}
	units := strings.Join(d.liveTargets(f, oio.RelTilknyttedeEnheder), ", ")
	users := strings.Join(d.liveTargets(f, oio.RelTilknyttedeBrugere), ", ")
	switch f.RefOn(oio.RelFunktionstype, d.today) {
	case translate.FunktionstypeLeder:
		return fmt.Sprintf("%s in %s", or(users, "nobody"), or(units, "no unit"))
	case translate.FunktionstypeHenvendelsessted:
		return fmt.Sprintf("tasks %s", or(strings.Join(d.liveTargets(f, oio.RelTilknyttedeOpgaver), ", "), "none"))
	}
	return fmt.Sprintf("%q in %s (%s)", objectName(f, d.today), or(units, "no unit"), or(users, "no user"))
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// fieldDifferences compares an object as STS holds it (before) with the object as the sync
// would write it (after): the attributes and state in effect today and every relation in effect
// today or later. Relations the sync does not manage are written back unchanged, so they never
// differ. A function is described as a whole.
func (d *describer) fieldDifferences(before, after *oio.Object) []report.Difference {
	kind := after.Kind
	if kind == oio.KindOrganisationFunktion {
		field := functionField(after, d.today)
		mo, sts := d.describeFunction(after), d.describeFunction(before)
		if mo == sts {
			return []report.Difference{{Field: "validity"}}
		}
		return []report.Difference{{Field: field, MO: mo, STS: sts}}
	}
	var out []report.Difference
	add := func(field, mo, sts string) {
		if mo != sts {
			out = append(out, report.Difference{Field: field, MO: mo, STS: sts})
		}
	}
	eb, ea := egenskabOn(before, d.today), egenskabOn(after, d.today)
	add("name", ea.Navn, eb.Navn)
	add("user_key", ea.BrugervendtNoegle, eb.BrugervendtNoegle)
	add("value", ea.AdresseTekst, eb.AdresseTekst)
	if ea.CPR != eb.CPR { // never the number itself
		sts := presence(eb.CPR)
		if ea.CPR != "" && eb.CPR != "" {
			sts = "another number"
		}
		add("cpr", presence(ea.CPR), sts)
	}
	add("status", string(after.StatusOn(d.today)), string(before.StatusOn(d.today)))
	names := map[oio.RelationName]bool{}
	for _, r := range append(slices.Clone(before.Registration.Relationer), after.Registration.Relationer...) {
		names[r.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(names)) {
		add(relationField(kind, name), strings.Join(d.liveTargets(after, name), "; "), strings.Join(d.liveTargets(before, name), "; "))
	}
	if len(out) == 0 {
		out = append(out, report.Difference{Field: "validity"}) // only periods differ
	}
	return out
}

// functionField names the report field a function belongs to.
func functionField(f *oio.Object, today time.Time) string {
	switch functionLabel(f, today) {
	case "manager":
		return "manager"
	case "contact place":
		return "kle"
	}
	return "positions"
}

func presence(s string) string {
	if s == "" {
		return "not set"
	}
	return "set"
}

// homeUnit is the unit a bundle's differences are shown under: the unit itself, or the unit of
// a person's first position.
func homeUnit(b *bundle, cur map[uuid.UUID]*oio.Object, today time.Time) uuid.UUID {
	if b.unit {
		return b.unitID()
	}
	for _, o := range b.desired().Objects {
		if o.Kind == oio.KindOrganisationFunktion {
			if u := firstTarget(&o, oio.RelTilknyttedeEnheder, today); u != uuid.Nil {
				return u
			}
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(cur), compareUUID) {
		if o := cur[id]; o.Kind == oio.KindOrganisationFunktion && slices.ContainsFunc(b.desired().Users, func(u uuid.UUID) bool { return hasRelation(o, oio.RelTilknyttedeBrugere, u) }) {
			if u := firstTarget(o, oio.RelTilknyttedeEnheder, today); u != uuid.Nil {
				return u
			}
		}
	}
	return uuid.Nil
}

// firstTarget returns the first target of the relation in effect today or later (else any).
func firstTarget(o *oio.Object, name oio.RelationName, today time.Time) uuid.UUID {
	var any uuid.UUID
	for _, r := range o.Registration.Relationer {
		if r.Name != name {
			continue
		}
		if live(r.Virkning, today) {
			return r.Ref
		}
		any = r.Ref
	}
	return any
}

// buildReport turns a plan into the verification report.
func buildReport(o Options, plan *Plan) *report.Report {
	today := translate.Day(plan.GeneratedAt)
	d := newDescriber(plan, today)
	r := &report.Report{
		GeneratedAt:  plan.GeneratedAt,
		CVR:          o.CVR,
		Organisation: o.Settings.Organisation,
		Summary: report.Summary{UnitsMO: plan.Exported, UnitsSTS: plan.UnitsSTS, PersonsMO: plan.PersonsMO,
			UsersSTS: plan.UsersSTS, ObjectsSTS: plan.ObjectsRead, KeptUnits: plan.KeptUnits, KeptUsers: plan.KeptUsers},
		Differences: []report.Difference{},
	}
	bundles := map[string]*bundle{}
	for _, b := range plan.bundles {
		bundles[b.key()] = b
	}
	homes := map[string]uuid.UUID{}
	// An object two bundles end (a function of a user and a unit both deactivated) is reported
	// once, as the strongest reason: orphan, foreign, stale, ended relations.
	ended := map[uuid.UUID]int{} // object → index in r.Differences
	rank := func(d report.Difference) int {
		switch {
		case d.Kind == report.Orphan:
			return 3
		case d.Kind == report.Foreign:
			return 2
		case d.Field == "status":
			return 1
		}
		return 0
	}
	for _, op := range plan.Ops {
		b := bundles[op.Bundle]
		home, ok := homes[b.key()]
		if !ok {
			home = homeUnit(b, plan.snap.sts.lookup(b.desired().Lookups()), today)
			homes[b.key()] = home
		}
		unit := home
		switch {
		case op.Kind == oio.KindOrganisationEnhed:
			unit = op.UUID
		case op.Kind == oio.KindOrganisationFunktion:
			f := op.desired
			if f == nil {
				f = op.current
			}
			if u := firstTarget(f, oio.RelTilknyttedeEnheder, today); u != uuid.Nil {
				unit = u
			}
		}
		base := report.Difference{ObjectKind: op.Kind, UUID: op.UUID, Name: op.Name, Owner: b.key(), Unit: unit}
		add := func(diff report.Difference) {
			diff.ObjectKind, diff.UUID, diff.Owner, diff.Unit = base.ObjectKind, base.UUID, base.Owner, base.Unit
			if diff.Name == "" {
				diff.Name = base.Name
			}
			if op.desired == nil {
				if i, dup := ended[diff.UUID]; dup {
					if rank(diff) > rank(r.Differences[i]) {
						r.Differences[i] = diff
					}
					return
				}
				ended[diff.UUID] = len(r.Differences)
			}
			r.Differences = append(r.Differences, diff)
		}
		switch op.Action {
		case ActionCreate:
			add(report.Difference{Kind: report.MissingInSTS})
		case ActionReactivate:
			add(report.Difference{Kind: report.MissingInSTS, Field: "status", MO: string(oio.Aktiv), STS: string(op.current.StatusOn(today))})
		case ActionUpdate:
			for _, fd := range d.fieldDifferences(op.current, op.object) {
				fd.Kind = report.Field
				add(fd)
			}
			for _, rel := range op.foreign {
				r.Differences = append(r.Differences, report.Difference{Kind: report.Foreign, ObjectKind: oio.KindAdresse,
					UUID: rel.Ref, Name: d.address(rel), Owner: b.key(), Unit: unit, Field: "addresses",
					STS: "referenced by " + base.Name})
			}
		case ActionDeactivate:
			add(report.Difference{Kind: report.Stale, Field: "status", MO: string(oio.Inaktiv), STS: string(op.current.StatusOn(today))})
		case ActionEndRelations:
			add(report.Difference{Kind: report.Stale, Field: "relations", MO: "ended", STS: "points at a unit or user to end"})
		case ActionOrphan:
			why := b.why
			if op.Kind == oio.KindOrganisationFunktion {
				why = "linked to an orphan"
			}
			add(report.Difference{Kind: report.Orphan, Field: "status", MO: why, STS: string(op.current.StatusOn(today))})
		case ActionForeign:
			add(report.Difference{Kind: report.Foreign, Field: functionField(op.current, today), STS: d.describeFunction(op.current)})
		}
	}
	r.Tree = buildTree(plan, d, r)
	return r
}

// buildTree builds the unit tree: the units OS2MO exports, under their parents as the sync
// writes them, and the units STS holds active that OS2MO does not export, under their STS
// parents (at the top when that is not in the tree), kept orphans marked kept. Each difference is
// attached to its unit's node, or moved to the top (Unit uuid.Nil) when its unit is not in the
// tree.
func buildTree(plan *Plan, d *describer, r *report.Report) []*report.Node {
	today := d.today
	kept := map[uuid.UUID]bool{}
	for _, orp := range plan.OrphanList {
		if orp.Action == OrphanKeep {
			kept[orp.UUID] = true
		}
	}
	nodes := map[uuid.UUID]*report.Node{}
	parents := map[uuid.UUID]uuid.UUID{}
	var order []uuid.UUID
	for _, b := range plan.bundles {
		if !b.unit {
			continue
		}
		id := b.unitID()
		if u := b.desired().Object(id); u != nil {
			nodes[id] = &report.Node{UUID: id, Name: objectName(u, today), Status: report.StatusOK}
			parents[id] = firstTarget(u, oio.RelOverordnet, today)
			order = append(order, id)
		}
	}
	for _, id := range plan.snap.hierarchy[oio.KindOrganisationEnhed] {
		o := plan.snap.sts.get(id)
		if nodes[id] != nil || !o.ActiveOn(today) {
			continue
		}
		nodes[id] = &report.Node{UUID: id, Name: objectName(o, today), Status: report.StatusOnlyInSTS}
		if kept[id] {
			nodes[id].Status = report.StatusKept
		}
		parents[id] = firstTarget(o, oio.RelOverordnet, today)
		order = append(order, id)
	}
	for i := range r.Differences {
		diff := &r.Differences[i]
		n := nodes[diff.Unit]
		if n == nil {
			diff.Unit = uuid.Nil
			continue
		}
		n.Differences = append(n.Differences, i)
		switch {
		case diff.ObjectKind == oio.KindOrganisationEnhed && diff.UUID == n.UUID && diff.Kind == report.MissingInSTS:
			n.Status = report.StatusMissingInSTS
		case n.Status == report.StatusOK:
			n.Status = report.StatusDiffers
		}
	}
	// Attach children to parents, never making a cycle.
	var roots []*report.Node
	for _, id := range order {
		p := parents[id]
		if nodes[p] == nil || ancestorOf(id, p, parents) {
			roots = append(roots, nodes[id])
			continue
		}
		nodes[p].Children = append(nodes[p].Children, nodes[id])
	}
	return roots
}

// ancestorOf reports whether id is p or one of p's ancestors (by parents).
func ancestorOf(id, p uuid.UUID, parents map[uuid.UUID]uuid.UUID) bool {
	seen := map[uuid.UUID]bool{}
	for p != uuid.Nil && !seen[p] {
		if p == id {
			return true
		}
		seen[p] = true
		p = parents[p]
	}
	return false
}
