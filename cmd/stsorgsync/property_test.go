package main

// The convergence property (issue 16): for random municipalities with awkward shapes and random
// sequences of changes made through the fake OS2MO's API and handled by the event path, STS
// Organisation ends in line with OS2MO: verify finds nothing, and a second full sync writes
// nothing. Everything runs in this process against the fakes over HTTP, the real clients and the
// real Redis, with one clock for OS2MO, STS and the daemon, so that days can pass.
//
//	STSORGSYNC_PROPERTY_CASES=N   run N seeded cases (default 32; CI runs the default)
//	STSORGSYNC_PROPERTY_FIRST=S   the first seed (default 1), for longer runs over other seeds
//	STSORGSYNC_PROPERTY_SEED=S    run only case S, logging every operation and the first change
//	                              after which STS differs (to replay a failure)

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/pipeline"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/state"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// propWorld is one property case: the fakes, the event path and the full sync over one clock.
type propWorld struct {
	rng      *rand.Rand
	clock    *testclock.Clock
	loc      *time.Location
	mo       *motest.Server
	sts      *stsclient.Client
	writer   *stsService
	store    *state.Redis
	moc      *moclient.Client
	settings translate.Settings
	pipeline *pipeline.Pipeline
	logger   *slog.Logger
	// what the generated municipality uses, for changes
	jobs, addressTypes, visibilities, kleNumbers, kleAspects []model.Class
	adSystem                                                 model.Class
	excluded                                                 uuid.UUID
	ops                                                      []string // the operations applied, in order
	events                                                   int
}

func TestConvergenceProperty(t *testing.T) {
	cases, first := 32, int64(1)
	if v := os.Getenv("STSORGSYNC_PROPERTY_CASES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("STSORGSYNC_PROPERTY_CASES=%q: want a positive number", v)
		}
		cases = n
	}
	if v := os.Getenv("STSORGSYNC_PROPERTY_FIRST"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("STSORGSYNC_PROPERTY_FIRST=%q: want a number", v)
		}
		first = s
	}
	replay := false
	if v := os.Getenv("STSORGSYNC_PROPERTY_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("STSORGSYNC_PROPERTY_SEED=%q: want a number", v)
		}
		cases, first, replay = 1, s, true
	}
	rdb, prefix := testenv.Redis(t)
	start := time.Now()
	steps, events := 0, 0
	for seed := first; seed < first+int64(cases); seed++ {
		ok := t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			w := newPropWorld(t, seed, rdb.Options().Addr, fmt.Sprintf("%scase%d:", prefix, seed), replay)
			defer func() { steps += len(w.ops); events += w.events }()
			w.run(t, replay)
		})
		if !ok {
			t.Logf("replay with: STSORGSYNC_PROPERTY_SEED=%d go test ./cmd/stsorgsync -run 'TestConvergenceProperty' -v", seed)
		}
	}
	t.Logf("%d cases, %d changes, %d events in %s", cases, steps, events, time.Since(start).Round(time.Millisecond))
}

func newPropWorld(t *testing.T, seed int64, redisAddr, prefix string, verbose bool) *propWorld {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(seed), 0x70726f70))
	clock := testclock.New(time.Date(2026, 3, 2, 9, 0, 0, 0, loc).Add(time.Duration(rng.IntN(8*3600)) * time.Second))
	w := &propWorld{rng: rng, clock: clock, loc: loc}
	level := slog.LevelError
	if verbose {
		level = slog.LevelInfo
	}
	w.logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	if verbose {
		w.logger = slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: level}))
	}

	data := motest.GenerateOrg(motest.GenOptions{Seed: seed, Units: 8 + rng.IntN(16), Persons: 12 + rng.IntN(36), Today: clock.Now(),
		UnitAccounts: rng.IntN(2) == 0})
	w.collectClasses(data)
	w.mo = motest.NewServer(motest.Options{Now: clock.Now})
	if err := w.mo.Load(data); err != nil {
		t.Fatalf("load: %v", err)
	}
	moSrv := httptest.NewServer(w.mo.Handler())
	t.Cleanup(moSrv.Close)
	stsFake := ststest.NewServer(ststest.Options{Now: clock.Now})
	stsSrv := httptest.NewServer(stsFake.Handler())
	t.Cleanup(stsSrv.Close)

	if w.moc, err = moclient.New(moclient.Config{URL: moSrv.URL, AuthServer: moSrv.URL + "/auth", ClientID: motest.DefaultClientID,
		ClientSecret: motest.DefaultClientSecret, Now: clock.Now, HTTPClient: moSrv.Client()}); err != nil {
		t.Fatal(err)
	}
	if w.sts, err = stsclient.New(stsclient.Config{BaseURL: stsSrv.URL, HTTPClient: stsSrv.Client()}); err != nil {
		t.Fatal(err)
	}
	w.writer = &stsService{client: w.sts, observe: func(string, string, string, time.Duration) {}, now: clock.Now}
	rdb := redisClient(t, redisAddr)
	if w.store, err = state.NewRedis(rdb, state.RedisOptions{Prefix: prefix, Token: uuid.NewString}); err != nil {
		t.Fatal(err)
	}
	w.settings = w.randomSettings(data)
	w.pipeline = &pipeline.Pipeline{MO: w.moc, STS: w.writer, Store: w.store, Settings: w.settings,
		LeaseTTL: 30 * time.Second, Now: clock.Now, Logger: w.logger}
	return w
}

// randomSettings draws the mapping a case runs with: user mode, managers, contact places, an
// excluded subtree, the hierarchy filter, CPR.
func (w *propWorld) randomSettings(data motest.Dataset) translate.Settings {
	s := translate.Settings{Organisation: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11"), TopUnit: data.Units[0].UUID}
	if w.rng.IntN(3) == 0 {
		s.UserMode = translate.UsersPerITUser
	}
	s.DisableManagers = w.rng.IntN(4) == 0
	s.ContactForTasks = w.rng.IntN(3) == 0
	s.SyncCPR = w.rng.IntN(2) == 0
	if len(data.Units) > 3 && w.rng.IntN(2) == 0 {
		w.excluded = data.Units[1+w.rng.IntN(len(data.Units)-1)].UUID
		s.ExcludedSubtrees = []uuid.UUID{w.excluded}
	}
	if w.rng.IntN(3) == 0 {
		s.HierarchyNames = []string{"Linjeorganisation", "Selvejende institution"}
	}
	if w.rng.IntN(3) == 0 {
		s.UUIDFromITSystems = []string{motest.UnitAccountSystem().Name}
	}
	return s
}

// collectClasses notes the classes the generated municipality uses, for changes.
func (w *propWorld) collectClasses(data motest.Dataset) {
	add := func(list *[]model.Class, c model.Class) {
		if c.UUID != uuid.Nil && !slices.ContainsFunc(*list, func(x model.Class) bool { return x.UUID == c.UUID }) {
			*list = append(*list, c)
		}
	}
	for _, u := range data.Units {
		for _, k := range u.KLE {
			for _, n := range k.Numbers {
				add(&w.kleNumbers, n)
			}
			for _, a := range k.Aspects {
				add(&w.kleAspects, a)
			}
		}
	}
	for _, p := range data.Persons {
		for _, e := range p.Engagements {
			add(&w.jobs, e.JobFunction)
		}
		for _, a := range p.Addresses {
			add(&w.addressTypes, a.Type)
			if a.Visibility != nil {
				add(&w.visibilities, *a.Visibility)
			}
		}
		for _, it := range p.ITUsers {
			if it.ITSystem.UserKey == "Active Directory" {
				w.adSystem = it.ITSystem
			}
		}
	}
}

// run loads the municipality with a full sync, applies random changes through the event path
// (and lets days pass), then checks the property.
func (w *propWorld) run(t *testing.T, verbose bool) {
	ctx := t.Context()
	if _, err := w.engine().Sync(ctx); err != nil {
		t.Fatalf("initial load: %v", err)
	}
	n := 6 + w.rng.IntN(14)
	for range n {
		name, events, err := w.step(ctx)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v\noperations so far:\n  %s", name, err, strings.Join(w.ops, "\n  "))
		}
		w.ops = append(w.ops, name)
		if verbose {
			t.Logf("%s (%d events)", name, len(events))
		}
		for _, ev := range events {
			w.events++
			e := consumer.Event{RoutingKey: ev.ObjectType, Type: consumer.ObjectType(ev.ObjectType), UUID: ev.UUID}
			if err := w.pipeline.Handle(ctx, e); err != nil {
				t.Fatalf("event %s %s after %s: %v\noperations:\n  %s", ev.ObjectType, ev.UUID, name, err, strings.Join(w.ops, "\n  "))
			}
		}
		if verbose { // replaying: say after which change STS first differs
			if r, err := w.engine().Verify(ctx); err == nil && !r.InSync() {
				t.Logf("  STS differs after it: %d differences, first %s %s %s %s: %q → %q", len(r.Differences),
					r.Differences[0].Kind, r.Differences[0].ObjectKind, r.Differences[0].UUID, r.Differences[0].Field, r.Differences[0].MO, r.Differences[0].STS)
			}
		}
	}
	// The events alone brought STS in line with OS2MO.
	r, err := w.engine().Verify(ctx)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !r.InSync() {
		var b strings.Builder
		for i, d := range r.Differences {
			if i == 8 {
				fmt.Fprintf(&b, "\n  … %d more", len(r.Differences)-i)
				break
			}
			fmt.Fprintf(&b, "\n  %s %s %s %s: %s: %q → %q (%s)", d.Kind, d.ObjectKind, d.Name, d.UUID, d.Field, d.MO, d.STS, d.Owner)
			if objs, err := w.writer.ReadMany(ctx, d.ObjectKind, []uuid.UUID{d.UUID}); err == nil && objs[d.UUID] != nil {
				today := translate.Day(w.clock.Now())
				fmt.Fprintf(&b, " units %v users %v", objs[d.UUID].LiveRefs(today, "TilknyttedeEnheder"), objs[d.UUID].LiveRefs(today, "TilknyttedeBrugere"))
			}
		}
		t.Fatalf("after the events verify finds %d differences (settings %s):%s\noperations:\n  %s", len(r.Differences),
			w.describeSettings(), b.String(), strings.Join(w.ops, "\n  "))
	}
	// A full sync finds nothing to write, and a second one neither.
	for i := 1; i <= 2; i++ {
		res, err := w.engine().Sync(ctx)
		if err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
		if res.Writes != 0 {
			t.Fatalf("sync %d wrote %d times after the events (settings %s)\noperations:\n  %s", i, res.Writes, w.describeSettings(), strings.Join(w.ops, "\n  "))
		}
	}
}

func (w *propWorld) describeSettings() string {
	s := w.settings
	return fmt.Sprintf("mode=%s managers=%v contact=%v cpr=%v excluded=%v hierarchies=%v uuid-systems=%v",
		cmpOr(string(s.UserMode), "person"), !s.DisableManagers, s.ContactForTasks, s.SyncCPR, s.ExcludedSubtrees, s.HierarchyNames, s.UUIDFromITSystems)
}

func cmpOr(a, b string) string {
	if a == "" {
		return b
	}
	return a
}

// engine is a full sync or verify over the case's clients, store and clock.
func (w *propWorld) engine() *reconcile.Engine {
	many := 1 << 20
	return &reconcile.Engine{MO: w.moc, STS: w.writer, Store: w.store, Options: reconcile.Options{
		Settings: w.settings, CVR: "29189846", Concurrency: 4, MaxDeactivations: &many, LeaseTTL: 30 * time.Second,
		RetryDelay: time.Millisecond, Now: w.clock.Now, Logger: w.logger}}
}

// errSkip says a drawn change does not apply to the municipality as it is (nothing to pick).
var errSkip = errors.New("nothing to change")

// step applies one random change and returns its description and the events OS2MO emitted.
func (w *propWorld) step(ctx context.Context) (string, []motest.Event, error) {
	type op struct {
		weight int
		do     func() (string, motest.Change, error)
	}
	ops := []op{
		{3, w.renameUnit}, {3, w.moveUnit}, {2, w.createUnit}, {2, w.terminateUnitWithPeople}, {1, w.changeUnitType},
		{3, w.addEngagement}, {4, w.moveEngagement}, {2, w.moveAndEndSameDay}, {3, w.endEngagement}, {2, w.terminatePerson},
		{2, w.createPerson}, {3, w.flipAddressVisibility}, {2, w.addAddress}, {1, w.endAddress},
		{3, w.setManager}, {1, w.clearManager}, {2, w.addKLE}, {2, w.removeKLE},
		{2, w.addADAccount}, {1, w.removeITUser}, {2, w.relinkADAccount},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	if w.rng.IntN(8) == 0 {
		return w.passDays()
	}
	x := w.rng.IntN(total)
	for _, o := range ops {
		if x < o.weight {
			name, ch, err := o.do()
			if err != nil && strings.Contains(err.Error(), "not in effect at or after") {
				return name, nil, errSkip // a change dated after the object ends: OS2MO refuses it too
			}
			if errors.Is(err, motest.ErrRefused) && len(ch.Events) == 0 {
				return name, nil, errSkip // OS2MO would refuse it too
			}
			if errors.Is(err, motest.ErrRefused) {
				return name + " (refused at the end: partly done)", ch.Events, nil
			}
			return name, ch.Events, err
		}
		x -= o.weight
	}
	return "", nil, errSkip
}

// passDays moves the clock one or two days on and returns OS2MO's events for the validities
// that began or ended meanwhile.
func (w *propWorld) passDays() (string, []motest.Event, error) {
	before := w.clock.Now()
	days := 1 + w.rng.IntN(2)
	w.clock.Advance(time.Duration(days) * 24 * time.Hour)
	return fmt.Sprintf("%d day(s) pass", days), w.mo.BoundaryEvents(before, w.clock.Now()), nil
}

// when returns the date a change takes effect: mostly today, sometimes tomorrow or backdated.
func (w *propWorld) when() (time.Time, string) {
	today := translate.Day(w.clock.Now())
	switch w.rng.IntN(6) {
	case 0:
		return today.AddDate(0, 0, 1), "tomorrow"
	case 1:
		return today.AddDate(0, 0, -1-w.rng.IntN(20)), "backdated"
	}
	return time.Time{}, "today"
}

func (w *propWorld) newUUID() uuid.UUID {
	var u uuid.UUID
	a, b := w.rng.Uint64(), w.rng.Uint64()
	for i := range 8 {
		u[i], u[8+i] = byte(a>>(8*i)), byte(b>>(8*i))
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

func pick[T any](rng *rand.Rand, list []T) (T, bool) {
	var zero T
	if len(list) == 0 {
		return zero, false
	}
	return list[rng.IntN(len(list))], true
}

// units returns the units in effect now (the top unit last, so callers can leave it out).
func (w *propWorld) units(withTop bool) []model.OrgUnit {
	var out []model.OrgUnit
	now := w.clock.Now()
	for _, id := range w.mo.OrgUnitIDs() {
		u, ok := w.mo.OrgUnit(id)
		if !ok || !current(u.Validity, now) || (!withTop && id == w.settings.TopUnit) {
			continue
		}
		out = append(out, u)
	}
	return out
}

func (w *propWorld) persons() []model.Person {
	var out []model.Person
	for _, id := range w.mo.PersonIDs() {
		if p, ok := w.mo.Person(id); ok {
			out = append(out, p)
		}
	}
	return out
}

func current(v model.Validity, t time.Time) bool {
	return !t.Before(v.From) && (v.To.IsZero() || t.Before(v.To))
}

func (w *propWorld) renameUnit() (string, motest.Change, error) {
	u, ok := pick(w.rng, w.units(true))
	if !ok {
		return "rename unit", motest.Change{}, errSkip
	}
	from, when := w.when()
	name := fmt.Sprintf("%s %d", strings.Fields(u.Name)[0], w.rng.IntN(1000))
	ch, err := w.mo.RenameUnit(context.Background(), u.UUID, name, from)
	return fmt.Sprintf("rename unit %s to %q (%s)", u.UUID, name, when), ch, err
}

// moveUnit moves a unit below another (never below itself), often into or out of the excluded
// subtree.
func (w *propWorld) moveUnit() (string, motest.Change, error) {
	u, ok := pick(w.rng, w.units(false))
	if !ok {
		return "move unit", motest.Change{}, errSkip
	}
	var targets []model.OrgUnit
	for _, t := range w.units(true) {
		if t.UUID != u.UUID && !slices.Contains(t.Ancestors, u.UUID) && (u.Parent == nil || t.UUID != *u.Parent) {
			targets = append(targets, t)
		}
	}
	if w.excluded != uuid.Nil && w.rng.IntN(2) == 0 {
		if x, ok := w.mo.OrgUnit(w.excluded); ok && x.UUID != u.UUID && !slices.Contains(x.Ancestors, u.UUID) {
			targets = []model.OrgUnit{x}
		}
	}
	t, ok := pick(w.rng, targets)
	if !ok {
		return "move unit", motest.Change{}, errSkip
	}
	from, when := w.when()
	ch, err := w.mo.MoveUnit(context.Background(), u.UUID, t.UUID, from)
	return fmt.Sprintf("move unit %s below %s (%s)", u.UUID, t.UUID, when), ch, err
}

func (w *propWorld) createUnit() (string, motest.Change, error) {
	parent, ok := pick(w.rng, w.units(true))
	if !ok {
		return "create unit", motest.Change{}, errSkip
	}
	id := w.newUUID()
	req := motest.OrgUnitRequest{UUID: &id, Name: fmt.Sprintf("Ny enhed %d", w.rng.IntN(1000)), Parent: &parent.UUID}
	if parent.UnitType != nil {
		req.UnitType = &parent.UnitType.UUID
	}
	if parent.Hierarchy != nil {
		req.Hierarchy = &parent.Hierarchy.UUID
	}
	ch, err := w.mo.CreateUnit(context.Background(), req)
	return fmt.Sprintf("create unit %s below %s", id, parent.UUID), ch, err
}

// terminateUnitWithPeople ends every engagement in a leaf unit and the unit itself on the same
// day (OS2MO refuses to end a unit that still has people).
func (w *propWorld) terminateUnitWithPeople() (string, motest.Change, error) {
	var leaves []model.OrgUnit
	all := w.units(true)
	for _, u := range all {
		if u.UUID == w.settings.TopUnit || slices.ContainsFunc(all, func(c model.OrgUnit) bool { return c.Parent != nil && *c.Parent == u.UUID }) {
			continue
		}
		leaves = append(leaves, u)
	}
	u, ok := pick(w.rng, leaves)
	if !ok {
		return "terminate unit", motest.Change{}, errSkip
	}
	ctx := context.Background()
	today := translate.Day(w.clock.Now())
	var all2 motest.Change
	for _, p := range w.persons() {
		for _, e := range p.Engagements {
			// Engagements that start later keep the unit alive: OS2MO then refuses to end it.
			if e.OrgUnit == u.UUID && !e.Validity.From.After(today) && (e.Validity.To.IsZero() || e.Validity.To.After(today)) {
				ch, err := w.mo.EndEngagement(ctx, e.UUID, today)
				if err != nil {
					return "terminate unit", motest.Change{}, err
				}
				all2.Events = append(all2.Events, ch.Events...)
			}
		}
	}
	ch, err := w.mo.TerminateUnit(ctx, u.UUID, today)
	all2.Events = append(all2.Events, ch.Events...)
	return fmt.Sprintf("terminate unit %s with its people", u.UUID), all2, err
}

func (w *propWorld) changeUnitType() (string, motest.Change, error) {
	u, ok := pick(w.rng, w.units(false))
	other, ok2 := pick(w.rng, w.units(true))
	if !ok || !ok2 || other.UnitType == nil || other.Hierarchy == nil {
		return "change unit type", motest.Change{}, errSkip
	}
	from, when := w.when()
	ch, err := w.mo.EditUnit(context.Background(), u.UUID, motest.UnitChange{UnitType: &other.UnitType.UUID, Hierarchy: &other.Hierarchy.UUID}, from)
	return fmt.Sprintf("unit %s gets %s's type and hierarchy (%s)", u.UUID, other.UUID, when), ch, err
}

// addEngagement gives a person a current, future or already ended engagement.
func (w *propWorld) addEngagement() (string, motest.Change, error) {
	p, ok := pick(w.rng, w.persons())
	u, ok2 := pick(w.rng, w.units(true))
	job, ok3 := pick(w.rng, w.jobs)
	if !ok || !ok2 || !ok3 {
		return "add engagement", motest.Change{}, errSkip
	}
	today := translate.Day(w.clock.Now())
	e := model.Engagement{UUID: w.newUUID(), UserKey: strconv.Itoa(w.rng.IntN(99999)), OrgUnit: u.UUID, JobFunction: job}
	kind := "current"
	switch w.rng.IntN(4) {
	case 0:
		e.Validity.From, kind = today.AddDate(0, 0, 1+w.rng.IntN(3)), "future"
	case 1:
		e.Validity = model.Validity{From: today.AddDate(0, 0, -30), To: today.AddDate(0, 0, -1)}
		kind = "past"
	default:
		e.Validity.From = today.AddDate(0, 0, -w.rng.IntN(100))
	}
	if e.Validity.From.Before(u.Validity.From) {
		e.Validity.From = u.Validity.From
		if !e.Validity.To.IsZero() && !e.Validity.To.After(e.Validity.From) {
			return "add engagement", motest.Change{}, errSkip
		}
	}
	ch, err := w.mo.AddEngagement(context.Background(), p.UUID, e)
	return fmt.Sprintf("add %s engagement %s of %s in %s", kind, e.UUID, p.UUID, u.UUID), ch, err
}

func (w *propWorld) engagements(now bool) []model.Engagement {
	var out []model.Engagement
	today := w.clock.Now()
	for _, p := range w.persons() {
		for _, e := range p.Engagements {
			if !now || current(e.Validity, today) {
				out = append(out, e)
			}
		}
	}
	return out
}

func (w *propWorld) moveEngagement() (string, motest.Change, error) {
	e, ok := pick(w.rng, w.engagements(true))
	u, ok2 := pick(w.rng, w.units(true))
	if !ok || !ok2 || u.UUID == e.OrgUnit {
		return "move engagement", motest.Change{}, errSkip
	}
	from, when := w.when()
	c := motest.EngagementChange{OrgUnit: &u.UUID}
	if j, ok := pick(w.rng, w.jobs); ok && w.rng.IntN(3) == 0 {
		c.JobFunction = &j
	}
	ch, err := w.mo.ChangeEngagement(context.Background(), e.UUID, c, from)
	return fmt.Sprintf("move engagement %s to %s (%s)", e.UUID, u.UUID, when), ch, err
}

// moveAndEndSameDay moves an engagement and ends it on the same day.
func (w *propWorld) moveAndEndSameDay() (string, motest.Change, error) {
	e, ok := pick(w.rng, w.engagements(true))
	u, ok2 := pick(w.rng, w.units(true))
	if !ok || !ok2 || u.UUID == e.OrgUnit {
		return "move and end engagement", motest.Change{}, errSkip
	}
	ctx := context.Background()
	today := translate.Day(w.clock.Now())
	ch, err := w.mo.ChangeEngagement(ctx, e.UUID, motest.EngagementChange{OrgUnit: &u.UUID}, today)
	if err != nil {
		return "move and end engagement", ch, err
	}
	end, err := w.mo.EndEngagement(ctx, e.UUID, today.AddDate(0, 0, w.rng.IntN(2)))
	ch.Events = append(ch.Events, end.Events...)
	return fmt.Sprintf("move engagement %s to %s and end it the same day", e.UUID, u.UUID), ch, err
}

func (w *propWorld) endEngagement() (string, motest.Change, error) {
	e, ok := pick(w.rng, w.engagements(true))
	if !ok {
		return "end engagement", motest.Change{}, errSkip
	}
	to, when := w.when()
	if to.IsZero() {
		to = translate.Day(w.clock.Now())
	}
	if !to.After(e.Validity.From) {
		to = translate.Day(w.clock.Now())
	}
	ch, err := w.mo.EndEngagement(context.Background(), e.UUID, to)
	return fmt.Sprintf("end engagement %s (%s)", e.UUID, when), ch, err
}

func (w *propWorld) terminatePerson() (string, motest.Change, error) {
	p, ok := pick(w.rng, w.persons())
	if !ok {
		return "terminate person", motest.Change{}, errSkip
	}
	ch, err := w.mo.TerminatePerson(context.Background(), p.UUID, translate.Day(w.clock.Now()))
	return fmt.Sprintf("terminate person %s", p.UUID), ch, err
}

// createPerson creates a person with up to two engagements (some only future), an AD account
// linked to some of them or to none, and addresses of random visibility.
func (w *propWorld) createPerson() (string, motest.Change, error) {
	units := w.units(true)
	job, ok := pick(w.rng, w.jobs)
	if !ok || len(units) == 0 {
		return "create person", motest.Change{}, errSkip
	}
	today := translate.Day(w.clock.Now())
	p := model.Person{UUID: w.newUUID(), GivenName: "Ny", Surname: fmt.Sprintf("Person %d", w.rng.IntN(1000)),
		CPR: fmt.Sprintf("01019%05d", w.rng.IntN(99999)), Validity: model.Validity{From: today.AddDate(-1, 0, 0)}}
	for range w.rng.IntN(3) {
		u := units[w.rng.IntN(len(units))]
		e := model.Engagement{UUID: w.newUUID(), UserKey: strconv.Itoa(w.rng.IntN(99999)), OrgUnit: u.UUID, JobFunction: job,
			Validity: model.Validity{From: today}}
		if w.rng.IntN(3) == 0 {
			e.Validity.From = today.AddDate(0, 0, 2)
		}
		p.Engagements = append(p.Engagements, e)
	}
	if w.adSystem.UUID != uuid.Nil && w.rng.IntN(4) != 0 {
		ad := model.ITUser{UUID: w.newUUID(), UserKey: fmt.Sprintf("ny%d", w.rng.IntN(10000)), ExternalID: w.newUUID().String(), ITSystem: w.adSystem,
			Validity: model.Validity{From: today}}
		for _, e := range p.Engagements {
			if w.rng.IntN(2) == 0 {
				ad.Engagements = append(ad.Engagements, e.UUID)
			}
		}
		p.ITUsers = append(p.ITUsers, ad)
	}
	if typ, ok := pick(w.rng, w.addressTypes); ok {
		a := model.Address{UUID: w.newUUID(), Type: typ, Value: "ny@example.org", Name: "ny@example.org", Validity: model.Validity{From: today}}
		if v, ok := pick(w.rng, w.visibilities); ok && w.rng.IntN(2) == 0 {
			a.Visibility = &v
		}
		p.Addresses = append(p.Addresses, a)
	}
	ch, err := w.mo.CreatePerson(context.Background(), p)
	return fmt.Sprintf("create person %s with %d engagement(s)", p.UUID, len(p.Engagements)), ch, err
}

// addresses returns the addresses of persons and units in effect now.
func (w *propWorld) addresses() []model.Address {
	var out []model.Address
	now := w.clock.Now()
	for _, p := range w.persons() {
		for _, a := range p.Addresses {
			if current(a.Validity, now) {
				out = append(out, a)
			}
		}
	}
	for _, u := range w.units(true) {
		for _, a := range u.Addresses {
			if current(a.Validity, now) {
				out = append(out, a)
			}
		}
	}
	return out
}

func (w *propWorld) flipAddressVisibility() (string, motest.Change, error) {
	a, ok := pick(w.rng, w.addresses())
	if !ok {
		return "flip address visibility", motest.Change{}, errSkip
	}
	c := motest.AddressChange{NoVisibility: true}
	label := "none"
	if v, ok := pick(w.rng, w.visibilities); ok && w.rng.IntN(3) != 0 {
		c = motest.AddressChange{Visibility: &v}
		label = v.Scope
	}
	from, when := w.when()
	ch, err := w.mo.ChangeAddress(context.Background(), a.UUID, c, from)
	return fmt.Sprintf("address %s visibility → %s (%s)", a.UUID, label, when), ch, err
}

func (w *propWorld) addAddress() (string, motest.Change, error) {
	p, ok := pick(w.rng, w.persons())
	typ, ok2 := pick(w.rng, w.addressTypes)
	if !ok || !ok2 {
		return "add address", motest.Change{}, errSkip
	}
	a := model.Address{UUID: w.newUUID(), Type: typ, Value: fmt.Sprintf("%08d", w.rng.IntN(1e8)), Validity: model.Validity{From: translate.Day(w.clock.Now())}}
	if len(p.Engagements) > 0 && w.rng.IntN(3) == 0 {
		a.Engagement = &p.Engagements[0].UUID
	}
	if v, ok := pick(w.rng, w.visibilities); ok && w.rng.IntN(2) == 0 {
		a.Visibility = &v
	}
	ch, err := w.mo.AddAddress(context.Background(), p.UUID, a)
	return fmt.Sprintf("add address %s to %s", a.UUID, p.UUID), ch, err
}

func (w *propWorld) endAddress() (string, motest.Change, error) {
	a, ok := pick(w.rng, w.addresses())
	if !ok {
		return "end address", motest.Change{}, errSkip
	}
	ch, err := w.mo.EndAddress(context.Background(), a.UUID, translate.Day(w.clock.Now()))
	return fmt.Sprintf("end address %s", a.UUID), ch, err
}

// setManager makes a random person the manager of a random unit: often a person without a
// position there, or without any position.
func (w *propWorld) setManager() (string, motest.Change, error) {
	u, ok := pick(w.rng, w.units(true))
	if !ok {
		return "set manager", motest.Change{}, errSkip
	}
	var person *uuid.UUID
	if p, ok := pick(w.rng, w.persons()); ok && w.rng.IntN(6) != 0 {
		person = &p.UUID
	}
	from, when := w.when()
	ch, err := w.mo.SetManager(context.Background(), u.UUID, person, from)
	return fmt.Sprintf("manager of %s → %v (%s)", u.UUID, person, when), ch, err
}

func (w *propWorld) clearManager() (string, motest.Change, error) {
	var managed []model.OrgUnit
	for _, u := range w.units(true) {
		if len(u.Managers) > 0 {
			managed = append(managed, u)
		}
	}
	u, ok := pick(w.rng, managed)
	if !ok {
		return "clear manager", motest.Change{}, errSkip
	}
	ch, err := w.mo.ClearManager(context.Background(), u.UUID, translate.Day(w.clock.Now()))
	if errors.Is(err, motest.ErrUnknownObject) {
		return "clear manager", ch, errSkip
	}
	return fmt.Sprintf("clear manager of %s", u.UUID), ch, err
}

func (w *propWorld) addKLE() (string, motest.Change, error) {
	u, ok := pick(w.rng, w.units(true))
	n, ok2 := pick(w.rng, w.kleNumbers)
	a, ok3 := pick(w.rng, w.kleAspects)
	if !ok || !ok2 || !ok3 {
		return "add KLE", motest.Change{}, errSkip
	}
	ch, err := w.mo.AddKLE(context.Background(), u.UUID, []model.Class{n}, []model.Class{a}, time.Time{})
	return fmt.Sprintf("add KLE %s (%s) to %s", n.UserKey, a.Name, u.UUID), ch, err
}

func (w *propWorld) removeKLE() (string, motest.Change, error) {
	var kles []model.KLE
	now := w.clock.Now()
	for _, u := range w.units(true) {
		for _, k := range u.KLE {
			if current(k.Validity, now) {
				kles = append(kles, k)
			}
		}
	}
	k, ok := pick(w.rng, kles)
	if !ok {
		return "remove KLE", motest.Change{}, errSkip
	}
	ch, err := w.mo.RemoveKLE(context.Background(), k.UUID, translate.Day(now))
	return fmt.Sprintf("remove KLE %s", k.UUID), ch, err
}

func (w *propWorld) addADAccount() (string, motest.Change, error) {
	p, ok := pick(w.rng, w.persons())
	if !ok || w.adSystem.UUID == uuid.Nil {
		return "add AD account", motest.Change{}, errSkip
	}
	it := model.ITUser{UUID: w.newUUID(), UserKey: fmt.Sprintf("ad%d", w.rng.IntN(10000)), ExternalID: w.newUUID().String(),
		ITSystem: w.adSystem, Validity: model.Validity{From: translate.Day(w.clock.Now())}}
	for _, e := range p.Engagements {
		if w.rng.IntN(2) == 0 {
			it.Engagements = append(it.Engagements, e.UUID)
		}
	}
	ch, err := w.mo.AddITUser(context.Background(), p.UUID, it)
	return fmt.Sprintf("add AD account %s to %s linked to %d engagement(s)", it.UUID, p.UUID, len(it.Engagements)), ch, err
}

// itUsers returns the persons' IT users in effect now.
func (w *propWorld) itUsers() []model.ITUser {
	var out []model.ITUser
	now := w.clock.Now()
	for _, p := range w.persons() {
		for _, it := range p.ITUsers {
			if current(it.Validity, now) {
				out = append(out, it)
			}
		}
	}
	return out
}

func (w *propWorld) removeITUser() (string, motest.Change, error) {
	it, ok := pick(w.rng, w.itUsers())
	if !ok {
		return "remove IT user", motest.Change{}, errSkip
	}
	ch, err := w.mo.RemoveITUser(context.Background(), it.UUID, translate.Day(w.clock.Now()))
	return fmt.Sprintf("remove IT user %s (%s)", it.UUID, it.ITSystem.UserKey), ch, err
}

// relinkADAccount links an AD account to a random subset of its person's engagements.
func (w *propWorld) relinkADAccount() (string, motest.Change, error) {
	var ads []model.ITUser
	for _, it := range w.itUsers() {
		if it.ITSystem.UUID == w.adSystem.UUID {
			ads = append(ads, it)
		}
	}
	it, ok := pick(w.rng, ads)
	if !ok {
		return "relink AD account", motest.Change{}, errSkip
	}
	var owner model.Person
	for _, p := range w.persons() {
		if slices.ContainsFunc(p.ITUsers, func(x model.ITUser) bool { return x.UUID == it.UUID }) {
			owner = p
		}
	}
	links := []uuid.UUID{}
	for _, e := range owner.Engagements {
		if w.rng.IntN(2) == 0 {
			links = append(links, e.UUID)
		}
	}
	ch, err := w.mo.ChangeITUser(context.Background(), it.UUID, motest.ITUserChange{Engagements: links}, time.Time{})
	return fmt.Sprintf("link AD account %s to %d engagement(s)", it.UUID, len(links)), ch, err
}

// redisClient returns a client of the test Redis at addr, closed at cleanup.
func redisClient(t *testing.T, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}
