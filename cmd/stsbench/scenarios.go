package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// callStats are STS calls by "kind/operation".
type callStats struct {
	ByOp   map[string]int `json:"by_operation"`
	Total  int            `json:"total"`
	Reads  int            `json:"reads"`
	Writes int            `json:"writes"`
}

func newCallStats(m map[string]int) callStats {
	c := callStats{ByOp: map[string]int{}}
	for k, v := range m {
		if v == 0 {
			continue
		}
		c.ByOp[k] = v
		c.Total += v
		switch op := oio.Operation(k[strings.LastIndexByte(k, '/')+1:]); op {
		case oio.OpImporter, oio.OpRet, oio.OpPassiver, oio.OpOpret, oio.OpSlet:
			c.Writes += v
		default:
			c.Reads += v
		}
	}
	return c
}

// byOp formats the calls as "kind/op n, …" sorted by count, then name.
func (c callStats) byOp() string {
	if c.Total == 0 {
		return "none"
	}
	keys := slices.Collect(maps.Keys(c.ByOp))
	slices.SortFunc(keys, func(a, b string) int {
		if d := c.ByOp[b] - c.ByOp[a]; d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, c.ByOp[k])
	}
	return strings.Join(parts, ", ")
}

// --- initial load ------------------------------------------------------------------------------

// Paths of an initial load.
const (
	pathSync   = "sync"   // `stsorgsync sync`
	pathEvents = "events" // every unit and person published, the daemons consume
)

// loadResult is one initial load into an empty fake STS.
type loadResult struct {
	Path              string         `json:"path"` // pathSync or pathEvents
	Processes         int            `json:"processes"`
	Units             int            `json:"units"`
	Persons           int            `json:"persons"`
	EventsPublished   int            `json:"events_published"`
	EventsConsumed    int            `json:"events_consumed"` // routed to the daemons' queue
	EventsSettled     int            `json:"events_settled"`  // including the events the daemons queued themselves (cascades)
	Outcomes          eventCounts    `json:"outcomes"`
	PersonsHandled    bool           `json:"persons_handled"`
	WallSeconds       float64        `json:"wall_seconds"`
	Calls             callStats      `json:"calls"`
	Objects           map[string]int `json:"objects_created"`
	ObjectsTotal      int            `json:"objects_created_total"`
	CallsPerObject    float64        `json:"calls_per_object"`
	LimitSeconds      float64        `json:"limit_seconds"` // calls × latency ÷ cap
	RatioToLimit      float64        `json:"ratio_to_limit"`
	EventsPerSecond   float64        `json:"events_per_second"`
	ObjectsPerSecond  float64        `json:"objects_per_second"`
	PeakRSSMB         float64        `json:"peak_rss_mb"`        // largest VmHWM of the daemons, or the sync's
	DaemonCPUSeconds  float64        `json:"daemon_cpu_seconds"` // the daemons' or the sync's
	DriverCPUSeconds  float64        `json:"driver_cpu_seconds"` // the fakes (and the driver)
	ConcurrentWrites  int            `json:"concurrent_writes"`  // the fake's detector
	OverlappingWrites int            `json:"overlapping_writes"` // whole-call overlaps seen by the tap
	Verified          string         `json:"verified"`
	// Sync and Verify are the `stsorgsync sync` and `stsorgsync verify` runs of a sync-made load.
	Sync   *cliRun `json:"sync,omitempty"`
	Verify *cliRun `json:"verify,omitempty"`
	// Profiled says the daemon's CPU profile was being recorded (HTTP_PPROF) during the load.
	Profiled bool `json:"profiled,omitempty"`
}

// seedEvents are the events OS2MO's seed publishing sends: one org_unit event per unit (parents
// first) and one person event per person, as `fakemo -publish-seed` does.
func (s *stack) seedEvents() []event {
	out := make([]event, 0, len(s.unitIDs)+len(s.persIDs))
	for _, id := range s.unitIDs {
		out = append(out, event{motest.ObjectOrgUnit, id})
	}
	for _, id := range s.persIDs {
		out = append(out, event{motest.ObjectPerson, id})
	}
	return out
}

func countBound(keys []string, events []event) int {
	n := 0
	for _, e := range events {
		if bound(keys, e.key) {
			n++
		}
	}
	return n
}

// initialLoad publishes the seed into the running daemons with an empty STS and waits until every
// event is settled and STS converged.
func (s *stack) initialLoad(ctx context.Context, timeout time.Duration) (loadResult, error) {
	r := loadResult{Path: pathEvents, Processes: len(s.daemons), Units: len(s.unitIDs), Persons: len(s.persIDs)}
	keys, err := s.boundKeys()
	if err != nil {
		return r, err
	}
	events := s.seedEvents()
	r.EventsPublished = len(events)
	r.EventsConsumed = countBound(keys, events)
	if r.EventsConsumed == 0 {
		return r, fmt.Errorf("no seed event is routed to the daemons' queue (bound keys %v)", keys)
	}
	base, err := s.counts(ctx)
	if err != nil {
		return r, err
	}
	s.sts.ResetCalls()
	cpu0, self0 := s.daemonCPU(), selfCPU()
	start := time.Now()
	if err := s.pub.publish(ctx, events); err != nil {
		return r, err
	}
	delta, reached, err := s.waitSettled(ctx, base, r.EventsConsumed, timeout, time.Second)
	if err != nil {
		return r, fmt.Errorf("initial load: %w", err)
	}
	wall := reached.Sub(start)
	r.Outcomes = delta
	r.EventsSettled = delta.total()
	r.PersonsHandled = delta["person/done"] > 0
	r.WallSeconds = wall.Seconds()
	r.Calls = newCallStats(s.sts.Calls())
	if err := s.loadFigures(&r); err != nil {
		return r, fmt.Errorf("%w (%d events settled: %v)", err, r.EventsConsumed, delta)
	}
	for _, d := range s.daemons {
		if st, err := d.stats(); err == nil {
			r.PeakRSSMB = math.Max(r.PeakRSSMB, float64(st.peakKB)/1024)
		}
	}
	r.DaemonCPUSeconds = (s.daemonCPU() - cpu0).Seconds()
	r.DriverCPUSeconds = (selfCPU() - self0).Seconds()
	r.ConcurrentWrites = s.sts.ConcurrentWritesSeen()
	r.OverlappingWrites = s.tap.overlapCount()

	if err := s.verify(ctx, unitBundle, s.unitIDs); err != nil {
		return r, fmt.Errorf("initial load: %w", err)
	}
	r.Verified = fmt.Sprintf("%d unit bundles", len(s.unitIDs))
	if r.PersonsHandled {
		if err := s.verify(ctx, personBundle, s.persIDs); err != nil {
			return r, fmt.Errorf("initial load: %w", err)
		}
		r.Verified += fmt.Sprintf(", %d person bundles", len(s.persIDs))
	}
	return r, nil
}

// --- no-op storm ---------------------------------------------------------------------------------

// stormResult is one refresh storm with nothing changed.
type stormResult struct {
	Processes        int         `json:"processes"`
	Events           int         `json:"events"`
	EventType        string      `json:"event_type"`
	WallSeconds      float64     `json:"wall_seconds"`
	EventsPerSecond  float64     `json:"events_per_second"`
	PerProcess       float64     `json:"events_per_second_per_process"`
	Outcomes         eventCounts `json:"outcomes"`
	Calls            callStats   `json:"calls"`
	DaemonCPUSeconds float64     `json:"daemon_cpu_seconds"`
	DriverCPUSeconds float64     `json:"driver_cpu_seconds"`
	ConcurrentWrites int         `json:"concurrent_writes"`
	// Profiled says the daemon's CPU profile was being recorded (HTTP_PPROF) during the storm.
	Profiled bool `json:"profiled,omitempty"`
}

// stormEvents returns n no-op events: person events cycling over the persons when the daemons
// handle person events, else (until they do) org_unit events cycling over the units, so that the
// no-op path (MO fetch, translate, hash compare, ack) is measured either way. n = 0 means one per
// person (one per unit without persons).
func (s *stack) stormEvents(personsHandled bool, n int) ([]event, string) {
	if n == 0 {
		n = len(s.persIDs)
		if n == 0 {
			n = len(s.unitIDs)
		}
	}
	out := make([]event, 0, n)
	if personsHandled && len(s.persIDs) > 0 {
		for i := range n {
			out = append(out, event{motest.ObjectPerson, s.persIDs[i%len(s.persIDs)]})
		}
		return out, motest.ObjectPerson
	}
	for i := range n {
		out = append(out, event{motest.ObjectOrgUnit, s.unitIDs[i%len(s.unitIDs)]})
	}
	return out, motest.ObjectOrgUnit
}

// storm sends events (by AMQP to OS2MO's exchange, or into the fake OS2MO's GraphQL event system
// when the daemons bridge it) and measures until the daemons settled them.
func (s *stack) storm(ctx context.Context, events []event, typ string) (stormResult, error) {
	r := stormResult{Processes: len(s.daemons), EventType: typ}
	keys, err := s.boundKeys()
	if err != nil {
		return r, err
	}
	r.Events = countBound(keys, events)
	if r.Events == 0 {
		return r, fmt.Errorf("no storm event is routed to the daemons' queue (bound keys %v)", keys)
	}
	base, err := s.counts(ctx)
	if err != nil {
		return r, err
	}
	s.sts.ResetCalls()
	cw0 := s.sts.ConcurrentWritesSeen()
	cpu0, self0 := s.daemonCPU(), selfCPU()
	start := time.Now()
	if err := s.send(ctx, events); err != nil {
		return r, err
	}
	delta, reached, err := s.waitSettled(ctx, base, r.Events, 10*time.Minute, 500*time.Millisecond)
	if err != nil {
		return r, fmt.Errorf("no-op storm: %w", err)
	}
	r.WallSeconds = reached.Sub(start).Seconds()
	r.EventsPerSecond = float64(r.Events) / r.WallSeconds
	r.PerProcess = r.EventsPerSecond / float64(r.Processes)
	r.Outcomes = delta
	r.Calls = newCallStats(s.sts.Calls())
	r.DaemonCPUSeconds = (s.daemonCPU() - cpu0).Seconds()
	r.DriverCPUSeconds = (selfCPU() - self0).Seconds()
	r.ConcurrentWrites = s.sts.ConcurrentWritesSeen() - cw0
	if delta.outcome("done") == 0 {
		return r, fmt.Errorf("no-op storm: no event was handled (%v)", delta)
	}
	return r, nil
}

// send delivers events the way the daemons take them: published to OS2MO's exchange, or, with
// EVENT_SOURCE graphql, stored in the fake OS2MO's GraphQL event system for the daemons'
// listeners (as OS2MO does for its changes and refresh mutations; one pending event per subject).
func (s *stack) send(ctx context.Context, events []event) error {
	if s.source != "graphql" {
		return s.pub.publish(ctx, events)
	}
	for _, e := range events {
		if s.mo.SendEvent(motest.MONamespace, e.key, e.id.String(), motest.DefaultEventPriority) == 0 {
			return fmt.Errorf("no GraphQL listener for routing key %q: the daemons have not declared theirs", e.key)
		}
	}
	return nil
}

// --- call economy --------------------------------------------------------------------------------

// economyResult is one change scenario's STS calls.
type economyResult struct {
	Name            string         `json:"name"`
	Status          string         `json:"status"` // ok, unhandled, not-consumed
	Detail          string         `json:"detail,omitempty"`
	Events          []string       `json:"events"` // routing keys of the events the change emitted
	EventsConsumed  int            `json:"events_consumed"`
	Outcomes        eventCounts    `json:"outcomes"`
	Calls           callStats      `json:"calls"`
	Changed         int            `json:"objects_changed"`
	ChangedByKind   map[string]int `json:"objects_changed_by_kind,omitempty"`
	CallsPerChanged float64        `json:"calls_per_changed_object,omitempty"`
	Target          string         `json:"target"`
	Met             bool           `json:"met"`
	Verified        string         `json:"verified,omitempty"`
}

// change is what a scenario did: the events it caused and the OS2MO objects whose STS state
// must then match OS2MO.
type change struct {
	events  []event
	units   []uuid.UUID
	persons []uuid.UUID
	noop    bool // nothing changed: the target is 0 calls
}

type economyScenario struct {
	name string
	run  func(ctx context.Context) (change, error)
}

// mutate calls the fake OS2MO's mutation API and returns the events it published.
func (s *stack) mutate(ctx context.Context, path string, body any) ([]event, error) {
	var buf bytes.Buffer
	if body != nil {
		if err := json.NewEncoder(&buf).Encode(body); err != nil {
			return nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.moURL+path, &buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fake OS2MO %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("fake OS2MO %s: HTTP %d: %s", path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	var cr motest.ChangeResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		return nil, fmt.Errorf("fake OS2MO %s: %w", path, err)
	}
	if !cr.EventPublished {
		return nil, fmt.Errorf("fake OS2MO %s: change stored but its events were not published: %s", path, cr.Error)
	}
	out := make([]event, 0, len(cr.Events))
	for _, e := range cr.Events {
		out = append(out, event{e.ObjectType, e.UUID})
	}
	return out, nil
}

// targets are the OS2MO objects the scenarios change, chosen so that no two scenarios touch the
// same person.
type targets struct {
	dupUnit, renameUnit   uuid.UUID
	emailUnit, emailAddr  uuid.UUID
	move                  personEng
	moveTo                uuid.UUID
	second                personEng
	secondUnit            uuid.UUID
	terminate             uuid.UUID
	mgrUnit, mgrNewPerson uuid.UUID
}

// personEng is a person with exactly one engagement, current, in a unit in effect.
type personEng struct {
	person, eng, unit, job uuid.UUID
}

func current(v model.Validity, now time.Time) bool {
	return !v.From.After(now) && (v.To.IsZero() || v.To.After(now))
}

// singleEngagement returns the persons with exactly one engagement, current and in a current unit.
func (s *stack) singleEngagement() []personEng {
	now := time.Now()
	var out []personEng
	for _, id := range s.persIDs {
		p, ok := s.mo.Person(id)
		if !ok || len(p.Engagements) != 1 {
			continue
		}
		e := p.Engagements[0]
		if !current(e.Validity, now) || e.Unit == nil {
			continue
		}
		out = append(out, personEng{person: id, eng: e.UUID, unit: e.OrgUnit, job: e.JobFunction.UUID})
	}
	return out
}

// emailUnits returns units with exactly one e-mail address that may be shown externally (the
// one the sync writes), with that address.
func (s *stack) emailUnits() [][2]uuid.UUID {
	now := time.Now()
	var out [][2]uuid.UUID
	for _, id := range s.unitIDs {
		u, ok := s.mo.OrgUnit(id)
		if !ok || !current(u.Validity, now) {
			continue
		}
		var found []uuid.UUID
		for _, a := range u.Addresses {
			if strings.EqualFold(a.Type.Scope, "EMAIL") && (a.Visibility == nil || strings.EqualFold(a.Visibility.Scope, "PUBLIC")) {
				found = append(found, a.UUID)
			}
		}
		if len(found) == 1 {
			out = append(out, [2]uuid.UUID{id, found[0]})
		}
	}
	return out
}

// otherUnit returns a unit other than not, chosen by i.
func (s *stack) otherUnit(i int, not uuid.UUID) uuid.UUID {
	for j := range len(s.unitIDs) {
		u := s.unitIDs[(i*7919+j)%len(s.unitIDs)]
		if u != not {
			return u
		}
	}
	return not
}

func (s *stack) pickTargets() (targets, error) {
	var t targets
	if len(s.unitIDs) < 3 {
		return t, fmt.Errorf("the scenarios need at least 3 units")
	}
	t.dupUnit = s.unitIDs[len(s.unitIDs)/3]
	t.renameUnit = s.unitIDs[len(s.unitIDs)/2]
	if eu := s.emailUnits(); len(eu) > 0 {
		t.emailUnit, t.emailAddr = eu[len(eu)/2][0], eu[len(eu)/2][1]
	}
	singles := s.singleEngagement()
	if len(singles) < 4 {
		return t, fmt.Errorf("the person scenarios need at least 4 persons with one current engagement; have %d (raise -persons)", len(singles))
	}
	t.move, t.second, t.terminate = singles[0], singles[1], singles[2].person
	t.moveTo = s.otherUnit(1, t.move.unit)
	t.secondUnit = s.otherUnit(2, t.second.unit)
	used := map[uuid.UUID]bool{t.move.person: true, t.second.person: true, t.terminate: true}
	// Change manager: a unit with a filled manager role gets another of its staff as manager.
	now := time.Now()
	for _, pe := range singles[3:] {
		if used[pe.person] {
			continue
		}
		u, ok := s.mo.OrgUnit(pe.unit)
		if !ok {
			continue
		}
		for _, m := range u.Managers {
			if m.Person != nil && *m.Person != pe.person && current(m.Validity, now) && !used[*m.Person] {
				t.mgrUnit, t.mgrNewPerson = pe.unit, pe.person
				break
			}
		}
		if t.mgrUnit != uuid.Nil {
			break
		}
	}
	if t.mgrUnit == uuid.Nil { // small municipalities: any unit with a manager, any unused person
		for _, id := range s.unitIDs {
			u, _ := s.mo.OrgUnit(id)
			if !slices.ContainsFunc(u.Managers, func(m model.Manager) bool { return m.Person != nil && current(m.Validity, now) }) {
				continue
			}
			for _, pe := range singles[3:] {
				if !slices.ContainsFunc(u.Managers, func(m model.Manager) bool { return m.Person != nil && *m.Person == pe.person }) {
					t.mgrUnit, t.mgrNewPerson = id, pe.person
					break
				}
			}
			if t.mgrUnit != uuid.Nil {
				break
			}
		}
	}
	return t, nil
}

// copenhagen is OS2MO's time zone.
var copenhagen = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		panic(err)
	}
	return loc
}()

// today returns midnight of the current day in Copenhagen, plus days. Changes are made from
// (and terminations to) a date, as in OS2MO's UI: OS2MO is date-granular, and the fake treats a
// change "from now" as starting at that instant, which would make an engagement terminated "now"
// current for the rest of the day in one query and gone in the next.
func today(days int) *time.Time {
	n := time.Now().In(copenhagen)
	t := time.Date(n.Year(), n.Month(), n.Day()+days, 0, 0, 0, 0, copenhagen)
	return &t
}

func (s *stack) economyScenarios(t targets) []economyScenario {
	return []economyScenario{
		{"duplicate event", func(ctx context.Context) (change, error) {
			ev := []event{{motest.ObjectOrgUnit, t.dupUnit}}
			return change{events: ev, units: []uuid.UUID{t.dupUnit}, noop: true}, s.pub.publish(ctx, ev)
		}},
		{"rename unit", func(ctx context.Context) (change, error) {
			u, _ := s.mo.OrgUnit(t.renameUnit)
			ev, err := s.mutate(ctx, "/api/org_unit", motest.OrgUnitRequest{UUID: &t.renameUnit, Name: u.Name + " (omdøbt)", From: today(0)})
			return change{events: ev, units: []uuid.UUID{t.renameUnit}}, err
		}},
		{"change a unit's email", func(ctx context.Context) (change, error) {
			if t.emailUnit == uuid.Nil {
				return change{}, fmt.Errorf("no unit with one public e-mail address")
			}
			v := "ny.postkasse@stsbench.invalid"
			ev, err := s.mutate(ctx, "/api/address/"+t.emailAddr.String(), motest.AddressRequest{Value: &v, Name: &v, From: today(0)})
			return change{events: ev, units: []uuid.UUID{t.emailUnit}}, err
		}},
		{"move an employee", func(ctx context.Context) (change, error) {
			ev, err := s.mutate(ctx, "/api/engagement/"+t.move.eng.String(), motest.EngagementRequest{OrgUnit: &t.moveTo, From: today(0)})
			return change{events: ev, persons: []uuid.UUID{t.move.person}}, err
		}},
		{"add a second position", func(ctx context.Context) (change, error) {
			ev, err := s.mutate(ctx, "/api/person/"+t.second.person.String()+"/engagement",
				motest.EngagementRequest{OrgUnit: &t.secondUnit, JobFunction: t.second.job.String(), From: today(0)})
			return change{events: ev, persons: []uuid.UUID{t.second.person}}, err
		}},
		{"terminate an employee", func(ctx context.Context) (change, error) {
			// The employee's last day is today.
			ev, err := s.mutate(ctx, "/api/person/"+t.terminate.String()+"/terminate", motest.TerminateRequest{To: today(1)})
			return change{events: ev, persons: []uuid.UUID{t.terminate}}, err
		}},
		{"change manager", func(ctx context.Context) (change, error) {
			if t.mgrUnit == uuid.Nil {
				return change{}, fmt.Errorf("no unit with a manager and another employee")
			}
			ev, err := s.mutate(ctx, "/api/org_unit/"+t.mgrUnit.String()+"/manager", motest.ManagerRequest{Person: &t.mgrNewPerson, From: today(0)})
			return change{events: ev, units: []uuid.UUID{t.mgrUnit}, persons: []uuid.UUID{t.mgrNewPerson}}, err
		}},
		{"refresh storm (every unit and person, nothing changed)", func(ctx context.Context) (change, error) {
			ev := s.seedEvents()
			return change{events: ev, noop: true}, s.pub.publish(ctx, ev)
		}},
	}
}

// economy runs the change scenarios one at a time on a converged stack and counts the STS calls
// each one causes.
func (s *stack) economy(ctx context.Context) ([]economyResult, error) {
	t, err := s.pickTargets()
	if err != nil {
		return nil, err
	}
	keys, err := s.boundKeys()
	if err != nil {
		return nil, err
	}
	var out []economyResult
	for _, sc := range s.economyScenarios(t) {
		r, err := s.economyOne(ctx, sc, keys)
		if err != nil {
			return out, fmt.Errorf("call economy, %s: %w", sc.name, err)
		}
		s.e.log.Info("economy scenario", "scenario", r.Name, "status", r.Status, "calls", r.Calls.Total, "changed", r.Changed)
		out = append(out, r)
	}
	return out, nil
}

func (s *stack) economyOne(ctx context.Context, sc economyScenario, keys []string) (economyResult, error) {
	r := economyResult{Name: sc.name}
	base, err := s.counts(ctx)
	if err != nil {
		return r, err
	}
	before := s.snapshot()
	s.sts.ResetCalls()
	ch, err := sc.run(ctx)
	if err != nil {
		return r, err
	}
	types := map[string]bool{}
	var unbound []string
	for _, e := range ch.events {
		if !types[e.key] {
			types[e.key] = true
			r.Events = append(r.Events, e.key)
			if !bound(keys, e.key) {
				unbound = append(unbound, e.key)
			}
		}
	}
	if len(ch.events) > 20 {
		r.Events = []string{fmt.Sprintf("%d events: %s", len(ch.events), strings.Join(r.Events, ", "))}
	}
	r.EventsConsumed = countBound(keys, ch.events)
	if r.EventsConsumed > 0 {
		delta, _, err := s.waitSettled(ctx, base, r.EventsConsumed, 5*time.Minute, 300*time.Millisecond)
		if err != nil {
			return r, err
		}
		r.Outcomes = delta
	} else {
		time.Sleep(300 * time.Millisecond) // nothing reaches the queue; make sure nothing happens
	}
	r.Calls = newCallStats(s.sts.Calls())
	var byKind map[oio.Kind]int
	r.Changed, byKind = changedObjects(before, s.snapshot())
	if len(byKind) > 0 {
		r.ChangedByKind = map[string]int{}
		for k, n := range byKind {
			r.ChangedByKind[string(k)] = n
		}
	}
	if r.Changed > 0 {
		r.CallsPerChanged = float64(r.Calls.Total) / float64(r.Changed)
	}
	done := r.Outcomes.outcome("done")
	switch {
	case r.EventsConsumed == 0:
		r.Status = "not-consumed"
		r.Detail = "routing key " + strings.Join(unbound, ", ") + " not bound by the daemon"
	case done == 0:
		r.Status = "unhandled"
		r.Detail = fmt.Sprintf("%d event(s) acknowledged as unhandled by the daemon", r.Outcomes.outcome("unhandled"))
	default:
		r.Status = "ok"
		if len(unbound) > 0 {
			r.Detail = "not bound: " + strings.Join(unbound, ", ")
		}
		if n := r.Outcomes.outcome("unhandled"); n > 0 {
			r.Detail = strings.TrimPrefix(r.Detail+fmt.Sprintf("; %d event(s) unhandled", n), "; ")
		}
	}
	if ch.noop {
		r.Target = "0 calls"
		r.Met = r.Calls.Total == 0
	} else {
		r.Target = "≤ 2 calls per changed object"
		r.Met = r.Changed > 0 && r.Calls.Total <= 2*r.Changed
	}
	if r.Status == "ok" {
		if err := s.verify(ctx, unitBundle, ch.units); err != nil {
			return r, err
		}
		// Person bundles are only checked when the daemon handled an event that is about a person.
		personTypes := false
		for k, v := range r.Outcomes {
			if v > 0 && strings.HasSuffix(k, "/done") && !strings.HasPrefix(k, motest.ObjectOrgUnit+"/") {
				personTypes = true
			}
		}
		checked := fmt.Sprintf("%d unit bundle(s)", len(ch.units))
		if personTypes && len(ch.persons) > 0 {
			if err := s.verify(ctx, personBundle, ch.persons); err != nil {
				return r, err
			}
			checked += fmt.Sprintf(", %d person bundle(s)", len(ch.persons))
		}
		if !ch.noop && r.Changed == 0 {
			return r, fmt.Errorf("the daemon handled the change (%v) but no STS object changed", r.Outcomes)
		}
		r.Verified = checked
	}
	return r, nil
}

// --- latency -----------------------------------------------------------------------------------

// latencyResult is the change-to-STS latency under a steady rate of changes.
type latencyResult struct {
	Rate        float64        `json:"rate_per_second"`
	Seconds     float64        `json:"seconds"`
	Changes     int            `json:"changes"`
	ByKind      map[string]int `json:"changes_by_kind"`
	AchievedHz  float64        `json:"achieved_rate_per_second"`
	P50ms       float64        `json:"p50_ms"`
	P95ms       float64        `json:"p95_ms"`
	P99ms       float64        `json:"p99_ms"`
	MaxMs       float64        `json:"max_ms"`
	MeanMs      float64        `json:"mean_ms"`
	Calls       callStats      `json:"calls"`
	DaemonCPU   float64        `json:"daemon_cpu_seconds"`
	DriverCPU   float64        `json:"driver_cpu_seconds"`
	NotMeasured string         `json:"not_measured,omitempty"`
	// PerKind are p50/p95/p99/max in ms by kind of change.
	PerKind map[string][4]float64 `json:"per_kind_p50_p95_p99_max_ms"`
	// Slowest are the five slowest changes: kind, object, when (s after the start), latency.
	Slowest []string `json:"slowest"`
}

// changeKind is one kind of change in the latency mix.
type changeKind struct {
	name string
	// next makes this kind's change number i and returns the probe that completes when STS has
	// it.
	next func(ctx context.Context, i int) (*probe, []event, error)
}

func liveRel(o *oio.Object, name oio.RelationName, ref uuid.UUID, now time.Time) bool {
	for _, r := range o.Registration.Relationer {
		if r.Name == name && r.Ref == ref && !r.Virkning.From.After(now) && (r.Virkning.To.IsZero() || r.Virkning.To.After(now)) {
			return true
		}
	}
	return false
}

// latencyKinds returns the change kinds whose events the daemon handles (per the economy run).
func (s *stack) latencyKinds(handled map[string]bool) ([]changeKind, []string) {
	var kinds []changeKind
	var skipped []string
	var mu sync.Mutex
	// Renamed units and units whose e-mail changes are disjoint, so that the two kinds of change
	// never wait for each other's lease on one unit.
	eu := s.emailUnits()
	if !handled["change a unit's email"] {
		eu = nil
	}
	units := slices.DeleteFunc(slices.Clone(s.unitIDs), func(id uuid.UUID) bool {
		return slices.ContainsFunc(eu, func(p [2]uuid.UUID) bool { return p[0] == id })
	})
	if len(units) < len(s.unitIDs)/4 && len(eu) > 1 {
		eu, units = eu[:len(eu)/2], s.unitIDs // few units without e-mail: split the e-mail units
		units = slices.DeleteFunc(slices.Clone(units), func(id uuid.UUID) bool {
			return slices.ContainsFunc(eu, func(p [2]uuid.UUID) bool { return p[0] == id })
		})
	}
	if handled["rename unit"] && len(units) > 0 {
		kinds = append(kinds, changeKind{"rename unit", func(ctx context.Context, i int) (*probe, []event, error) {
			id := units[i%len(units)]
			name := fmt.Sprintf("Latensenhed %d", i)
			p := s.tap.watchFor(objKey{oio.KindOrganisationEnhed, id}, func(o *oio.Object) bool {
				return slices.ContainsFunc(o.Registration.Egenskaber, func(e oio.Egenskab) bool { return atLeast(e.Navn, "Latensenhed %d", i) })
			})
			ev, err := s.mutate(ctx, "/api/org_unit", motest.OrgUnitRequest{UUID: &id, Name: name, From: today(0)})
			return p, ev, err
		}})
	} else {
		skipped = append(skipped, "rename unit")
	}
	if len(eu) > 0 {
		kinds = append(kinds, changeKind{"change a unit's email", func(ctx context.Context, i int) (*probe, []event, error) {
			pair := eu[i%len(eu)]
			v := fmt.Sprintf("latens%d@stsbench.invalid", i)
			p := s.tap.watchFor(objKey{oio.KindAdresse, translate.AddressUUID(pair[0], translate.RoleUnitEmail)}, func(o *oio.Object) bool {
				return slices.ContainsFunc(o.Registration.Egenskaber, func(e oio.Egenskab) bool { return atLeast(e.AdresseTekst, "latens%d@stsbench.invalid", i) })
			})
			ev, err := s.mutate(ctx, "/api/address/"+pair[1].String(), motest.AddressRequest{Value: &v, Name: &v, From: today(0)})
			return p, ev, err
		}})
	} else {
		skipped = append(skipped, "change a unit's email")
	}
	if singles := s.singleEngagement(); handled["move an employee"] && len(singles) > 0 {
		where := map[uuid.UUID]uuid.UUID{}
		// moves are each person's moves in order: a move overtaken by a later one counts as
		// arrived when a later one has.
		type move struct {
			i  int
			to uuid.UUID
		}
		moves := map[uuid.UUID][]move{}
		kinds = append(kinds, changeKind{"move an employee", func(ctx context.Context, i int) (*probe, []event, error) {
			pe := singles[i%len(singles)]
			mu.Lock()
			from := pe.unit
			if u, ok := where[pe.person]; ok {
				from = u
			}
			to := s.otherUnit(i, from)
			where[pe.person] = to
			moves[pe.person] = append(moves[pe.person], move{i, to})
			mu.Unlock()
			fn := translate.PositionUUID(pe.eng, pe.person)
			p := s.tap.watchFor(objKey{oio.KindOrganisationFunktion, fn}, func(o *oio.Object) bool {
				mu.Lock()
				later := slices.Clone(moves[pe.person])
				mu.Unlock()
				return slices.ContainsFunc(later, func(m move) bool { return m.i >= i && liveRel(o, oio.RelTilknyttedeEnheder, m.to, time.Now()) })
			})
			ev, err := s.mutate(ctx, "/api/engagement/"+pe.eng.String(), motest.EngagementRequest{OrgUnit: &to, From: today(0)})
			return p, ev, err
		}})
	} else {
		skipped = append(skipped, "move an employee")
	}
	return kinds, skipped
}

// atLeast reports whether text is format (one %d) with a number ≥ i: the value of the latency
// mix's change i to an object or of a later change of the same object (which overtakes it: a
// daemon that reads OS2MO after both writes only the later value).
func atLeast(text, format string, i int) bool {
	var n int
	if _, err := fmt.Sscanf(text, format, &n); err != nil {
		return false
	}
	return n >= i && fmt.Sprintf(format, n) == text
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// latency makes rate changes per second for dur through the fake OS2MO's mutation API (events
// published at once; with EVENT_SOURCE graphql stored in its event system at the same instant)
// and measures, per change, from the start of the AMQP publish of its event to the end of the
// STS write that makes the change, or a later change of the same object that overtook it,
// visible.
func (s *stack) latency(ctx context.Context, rate float64, dur time.Duration, kinds []changeKind) (latencyResult, error) {
	r := latencyResult{Rate: rate, Seconds: dur.Seconds(), ByKind: map[string]int{}}
	n := int(math.Round(rate * dur.Seconds()))
	interval := time.Duration(float64(time.Second) / rate)
	s.sts.ResetCalls()
	s.rec.reset()
	cpu0, self0 := s.daemonCPU(), selfCPU()
	type outcome struct {
		kind, what string
		at         time.Duration
		lat        time.Duration
		err        error
	}
	results := make(chan outcome, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
			select {
			case <-ctx.Done():
				return r, ctx.Err()
			case <-time.After(d):
			}
		}
		k := kinds[i%len(kinds)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, evs, err := k.next(ctx, i/len(kinds))
			if err != nil {
				results <- outcome{kind: k.name, err: err}
				return
			}
			ids := make([]uuid.UUID, len(evs))
			for j, e := range evs {
				ids[j] = e.id
			}
			t0, ok := s.rec.first(ids...)
			if !ok {
				results <- outcome{kind: k.name, err: fmt.Errorf("change %d (%s): no publish recorded", i, k.name)}
				return
			}
			select {
			case <-p.ch:
				results <- outcome{k.name, string(p.key.kind) + ":" + p.key.id.String(), t0.Sub(start), p.done.Sub(t0), nil}
			case <-time.After(60 * time.Second):
				results <- outcome{kind: k.name, err: fmt.Errorf("change %d (%s) did not reach STS within 60 s of its event", i, k.name)}
			case <-ctx.Done():
				results <- outcome{kind: k.name, err: ctx.Err()}
			}
		}()
	}
	sent := time.Since(start)
	wg.Wait()
	close(results)
	var lats []time.Duration
	var errs []string
	var sum time.Duration
	var all []outcome
	perKind := map[string][]time.Duration{}
	for o := range results {
		if o.err != nil {
			if len(errs) < 5 {
				errs = append(errs, o.err.Error())
			}
			continue
		}
		r.ByKind[o.kind]++
		lats = append(lats, o.lat)
		perKind[o.kind] = append(perKind[o.kind], o.lat)
		all = append(all, o)
		sum += o.lat
	}
	r.PerKind = map[string][4]float64{}
	for k, l := range perKind {
		slices.Sort(l)
		r.PerKind[k] = [4]float64{ms(percentile(l, .5)), ms(percentile(l, .95)), ms(percentile(l, .99)), ms(l[len(l)-1])}
	}
	slices.SortFunc(all, func(a, b outcome) int { return int(b.lat - a.lat) })
	for _, o := range all[:min(5, len(all))] {
		r.Slowest = append(r.Slowest, fmt.Sprintf("%s %s at %.1f s: %.0f ms", o.kind, o.what, o.at.Seconds(), ms(o.lat)))
	}
	if len(errs) > 0 {
		return r, fmt.Errorf("latency: %d of %d changes failed, e.g.\n  %s", n-len(lats), n, strings.Join(errs, "\n  "))
	}
	slices.Sort(lats)
	r.Changes = len(lats)
	if sent > 0 && n > 1 {
		r.AchievedHz = math.Round(float64(n-1)/sent.Seconds()*100) / 100 // starts per second
	}
	r.P50ms, r.P95ms, r.P99ms = ms(percentile(lats, .50)), ms(percentile(lats, .95)), ms(percentile(lats, .99))
	r.MaxMs, r.MeanMs = ms(lats[len(lats)-1]), ms(sum/time.Duration(len(lats)))
	r.Calls = newCallStats(s.sts.Calls())
	r.DaemonCPU = (s.daemonCPU() - cpu0).Seconds()
	r.DriverCPU = (selfCPU() - self0).Seconds()
	return r, nil
}
