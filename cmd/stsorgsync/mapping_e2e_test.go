package main

// End-to-end tests of the mapping settings (issue 15): for each group of settings, the real
// stsorgsync binary, configured through a --config file as an operator would, loads a small
// municipality from the fake OS2MO into the fake STS Organisation (with KOMBIT's security
// profile) with `sync`; the test asserts the STS objects written; `verify` must then exit 0; and
// the daemon (`run`), with the last-sent records cleared so that it reads and plans every object,
// must find nothing to write for an event about every unit and person: the event path and the
// full sync use the same settings.

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// municipality is the small OS2MO the mapping tests load; its fields name what the assertions
// look for.
type municipality struct {
	data motest.Dataset

	top, afdeling, team, med, fkUnit, ignored, excluded, excludedChild, overridden, overriddenChild, kept uuid.UUID
	anne, bo, carl                                                                                        uuid.UUID
	// Anne's accounts: AD1 (linked to her first two engagements) with its FK bookkeeping user,
	// AD2 (linked to the third).
	anneGUID1, anneGUID2, anneFKUser uuid.UUID
	anneEng1, anneEng2, anneEng3     uuid.UUID
	boGUID, boEng, carlEng, carlMED  uuid.UUID
	// The STS UUIDs held by the "OS2sync UUID" IT users of unit overridden and of Bo.
	overriddenSTS, boSTS uuid.UUID

	levelIgnored, typeTeam            model.Class
	emailClass, email2Class, mobile   model.Class
	landline, work, home, kle1, kle2  model.Class
	opus                              model.Class
	anneCPR, anneNickname, anneTitle3 string
	afdelingLocation                  string
}

func newMunicipality() *municipality {
	id := func(s string) uuid.UUID {
		return uuid.NewSHA1(uuid.NameSpaceURL, []byte("urn:stsorgsync:test:mapping:"+s))
	}
	cls := func(facet, key, name, scope string) model.Class {
		return model.Class{UUID: id("class:" + facet + ":" + key), UserKey: key, Name: name, Scope: scope}
	}
	m := &municipality{
		top: id("top"), afdeling: id("afdeling"), team: id("team"), med: id("med"), fkUnit: id("fk-unit"),
		ignored: id("ignored"), excluded: id("excluded"), excludedChild: id("excluded-child"),
		overridden: id("overridden"), overriddenChild: id("overridden-child"), kept: id("kept-by-hand"),
		anne: id("anne"), bo: id("bo"), carl: id("carl"),
		anneGUID1: id("anne-guid-1"), anneGUID2: id("anne-guid-2"), anneFKUser: id("anne-fk-user"),
		anneEng1: id("anne-eng-1"), anneEng2: id("anne-eng-2"), anneEng3: id("anne-eng-3"),
		boGUID: id("bo-guid"), boEng: id("bo-eng"), carlEng: id("carl-eng"), carlMED: id("carl-med"),
		overriddenSTS: id("overridden-in-sts"), boSTS: id("bo-in-sts"),
		levelIgnored: cls("org_unit_level", "N9", "Niveau 9", ""), typeTeam: cls("org_unit_type", "Team", "Team", ""),
		emailClass:  cls("employee_address_type", "EmailEmployee", "Email", "EMAIL"),
		email2Class: cls("employee_address_type", "EmailEmployee2", "Sekundær email", "EMAIL"),
		mobile:      cls("employee_address_type", "MobilePhoneEmployee", "Mobiltelefon", "PHONE"),
		landline:    cls("employee_address_type", "PhoneEmployee", "Telefon", "PHONE"),
		work:        cls("employee_address_type", "AdresseArbejde", "Arbejdsadresse", "DAR"),
		home:        cls("employee_address_type", "AdressePostEmployee", "Hjemmeadresse", "DAR"),
		kle1:        cls("kle_number", "00.01.00", "Kommunens styrelse", ""), kle2: cls("kle_number", "02.00.00", "Byggeri", ""),
		opus:    cls("itsystem", "OPUS", "OPUS", ""),
		anneCPR: "0101901234", anneNickname: "Annie Andersen", anneTitle3: "Specialkonsulent (AD)",
		afdelingLocation: "Rådhuset, Akseltorv 1, 6000 Kolding",
	}
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		panic(err)
	}
	from := model.Validity{From: time.Date(2020, 1, 1, 0, 0, 0, 0, loc)}
	public := cls("visibility", "Ekstern", "Må vises eksternt", "PUBLIC")
	secret := cls("visibility", "Hemmelig", "Hemmelig", "SECRET")
	line := cls("org_unit_hierarchy", "linjeorg", "Linjeorganisation", "")
	medHier := cls("org_unit_hierarchy", "MED", "MED-organisation", "")
	afdType := cls("org_unit_type", "Afdeling", "Afdeling", "")
	level := cls("org_unit_level", "N2", "Niveau 2", "")
	ad := cls("itsystem", "Active Directory", "Active Directory", "")
	fk := cls("itsystem", "FK-ORG-UUID", "FK-org uuid", "")
	os2sync := cls("itsystem", "OS2sync-UUID", "OS2sync UUID", "")
	addr := func(key string, typ model.Class, vis *model.Class, value string) model.Address {
		return model.Address{UUID: id("address:" + key), Type: typ, Visibility: vis, Value: value, Name: value, Validity: from}
	}
	unit := func(uid uuid.UUID, name string, parent uuid.UUID, hier model.Class) model.OrgUnit {
		u := model.OrgUnit{UUID: uid, Name: name, UserKey: strings.ToUpper(strings.ReplaceAll(name, " ", "-")),
			Hierarchy: &hier, UnitType: &afdType, Level: &level, Validity: from}
		if parent != uuid.Nil {
			u.Parent = &parent
		}
		return u
	}
	top := unit(m.top, "Kolding Kommune", uuid.Nil, line)
	afd := unit(m.afdeling, "Teknik og Miljø", m.top, line)
	afd.Addresses = []model.Address{
		addr("afd-email", cls("org_unit_address_type", "EmailUnit", "Email", "EMAIL"), &public, "tm@kolding.dk"),
		addr("afd-phone", cls("org_unit_address_type", "PhoneUnit", "Telefon", "PHONE"), &public, "76797979"),
		addr("afd-direct", cls("org_unit_address_type", "PhoneUnit", "Telefon", "PHONE"), &secret, "20000000"),
		addr("afd-location", cls("org_unit_address_type", "Location", "Lokation", "DAR"), &public, m.afdelingLocation),
		addr("afd-post", cls("org_unit_address_type", "AddressMailUnit", "Postadresse", "DAR"), &public, "Nytorv 11, 6000 Kolding"),
	}
	afd.KLE = []model.KLE{
		{UUID: id("kle-1"), Numbers: []model.Class{m.kle1}, Aspects: []model.Class{cls("kle_aspect", "Udførende", "Udførende", "")}, Validity: from},
		{UUID: id("kle-2"), Numbers: []model.Class{m.kle2}, Aspects: []model.Class{cls("kle_aspect", "Ansvarlig", "Ansvarlig", "")}, Validity: from},
	}
	afd.ITUsers = []model.ITUser{{UUID: id("afd-opus"), UserKey: "TM", ITSystem: m.opus, Validity: from}}
	afd.Managers = []model.Manager{{UUID: id("afd-manager"), Person: &m.bo, Validity: from}}
	team := unit(m.team, "Team Vej", m.afdeling, line)
	team.UnitType = &m.typeTeam
	med := unit(m.med, "MED-udvalg", m.top, medHier)
	fkUnit := unit(m.fkUnit, "Arbejdsmiljøgruppe", m.top, medHier)
	fkUnit.ITUsers = []model.ITUser{{UUID: id("fk-unit-account"), UserKey: m.fkUnit.String(), ExternalID: m.fkUnit.String(), ITSystem: fk, Validity: from}}
	ignored := unit(m.ignored, "Projektgruppe", m.top, line)
	ignored.Level = &m.levelIgnored
	excluded := unit(m.excluded, "Selvejende", m.top, line)
	excludedChild := unit(m.excludedChild, "Selvejende afdeling", m.excluded, line)
	overridden := unit(m.overridden, "Borgerservice", m.top, line)
	overridden.ITUsers = []model.ITUser{{UUID: id("overridden-account"), UserKey: m.overriddenSTS.String(), ITSystem: os2sync, Validity: from}}
	overriddenChild := unit(m.overriddenChild, "Pas og kørekort", m.overridden, line)
	m.data.Units = []model.OrgUnit{top, afd, team, med, fkUnit, ignored, excluded, excludedChild, overridden, overriddenChild}

	eng := func(uid, unit uuid.UUID, job string, primary bool) model.Engagement {
		j := cls("engagement_job_function", job, job, "")
		return model.Engagement{UUID: uid, UserKey: uid.String()[:8], OrgUnit: unit, JobFunction: j, Primary: primary,
			EngagementType: cls("engagement_type", "Ansat", "Ansat", ""), Validity: from, Start: from.From}
	}
	e1 := eng(m.anneEng1, m.afdeling, "Ingeniør", true)
	e1.Extensions[2] = m.anneTitle3
	anne := model.Person{UUID: m.anne, UserKey: "anne", GivenName: "Anne", Surname: "Andersen", CPR: m.anneCPR,
		NicknameGivenName: "Annie", NicknameSurname: "Andersen",
		Engagements: []model.Engagement{e1, eng(m.anneEng2, m.team, "Vejarbejder", false), eng(m.anneEng3, m.fkUnit, "Arbejdsmiljørepræsentant", false)},
		ITUsers: []model.ITUser{
			{UUID: id("anne-ad-1"), UserKey: "anan", ExternalID: m.anneGUID1.String(), ITSystem: ad, Validity: from, Engagements: []uuid.UUID{m.anneEng1, m.anneEng2}},
			{UUID: id("anne-fk-1"), UserKey: m.anneGUID1.String(), ExternalID: m.anneFKUser.String(), ITSystem: fk, Validity: from},
			{UUID: id("anne-ad-2"), UserKey: "anan2", ExternalID: m.anneGUID2.String(), ITSystem: ad, Validity: from, Engagements: []uuid.UUID{m.anneEng3}},
		},
		Addresses: []model.Address{
			addr("anne-1-email", m.emailClass, &public, "anan@kolding.dk"),
			addr("anne-2-email", m.email2Class, nil, "anne.andersen@kolding.dk"),
			addr("anne-mobile", m.mobile, &public, "20304050"),
			addr("anne-landline", m.landline, nil, "79791234"),
			addr("anne-home", m.home, nil, "Privatvej 3, 6000 Kolding"),
		},
	}
	work := addr("anne-work", m.work, &public, "Havnegade 5, 6000 Kolding")
	work.Engagement = &m.anneEng1
	anne.Addresses = append(anne.Addresses, work)
	bo := model.Person{UUID: m.bo, UserKey: "bo", GivenName: "Bo", Surname: "Borg", CPR: "0202802345",
		Engagements: []model.Engagement{eng(m.boEng, m.afdeling, "Afdelingsleder", true)},
		ITUsers: []model.ITUser{
			{UUID: id("bo-ad"), UserKey: "bobo", ExternalID: m.boGUID.String(), ITSystem: ad, Validity: from},
			{UUID: id("bo-os2sync"), UserKey: m.boSTS.String(), ITSystem: os2sync, Validity: from},
		}}
	carl := model.Person{UUID: m.carl, UserKey: "carl", GivenName: "Carl", Surname: "Clausen",
		Engagements: []model.Engagement{eng(m.carlEng, m.overriddenChild, "Borgerservicemedarbejder", true), eng(m.carlMED, m.med, "MED-medlem", false)}}
	m.data.Persons = []model.Person{anne, bo, carl}
	return m
}

// lowest returns the value of Anne's address of the scope with the lowest UUID (all of hers
// start on the same day): the one chosen when no class list ranks them.
func (m *municipality) lowest(scope string) string {
	var best *model.Address
	for i, a := range m.data.Persons[0].Addresses {
		if a.Type.Scope == scope && (best == nil || a.UUID.String() < best.UUID.String()) {
			best = &m.data.Persons[0].Addresses[i]
		}
	}
	return best.Value
}

// units and persons of the municipality, for events.
func (m *municipality) unitIDs() []uuid.UUID {
	var out []uuid.UUID
	for _, u := range m.data.Units {
		out = append(out, u.UUID)
	}
	return out
}

// mappingRig is the fakes, Redis, a RabbitMQ vhost and the configuration file of one group.
type mappingRig struct {
	m       *municipality
	mo      *motest.Server
	sts     *ststest.Server
	org     uuid.UUID
	bin     string
	config  string
	env     map[string]string
	rdb     *redis.Client
	prefix  string
	amqpURL string
}

func newMappingRig(t *testing.T, m *municipality, settings map[string]string) *mappingRig {
	t.Helper()
	return newMappingRigWith(t, m, settings, ststest.Options{RequireSecurity: true})
}

// newMappingRigWith is newMappingRig with the fake STS's options (RequireSecurity should stay on).
func newMappingRigWith(t *testing.T, m *municipality, settings map[string]string, stsOpts ststest.Options) *mappingRig {
	t.Helper()
	broker := testenv.AMQP(t)
	rdb, prefix := testenv.Redis(t)
	mo := motest.NewServer(motest.Options{})
	if err := mo.Load(m.data); err != nil {
		t.Fatalf("load municipality: %v", err)
	}
	moSrv := httptest.NewServer(mo.Handler())
	t.Cleanup(moSrv.Close)
	sts := ststest.NewServer(stsOpts)
	stsSrv := httptest.NewServer(sts.Handler())
	t.Cleanup(stsSrv.Close)
	r := &mappingRig{m: m, mo: mo, sts: sts, org: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11"), bin: buildDaemon(t),
		rdb: rdb, prefix: prefix, amqpURL: broker.URL}
	r.env = map[string]string{
		"AMQP_URL": broker.URL, "EVENT_SOURCE": "amqp", "REDIS_URL": "redis://" + rdb.Options().Addr + "/0", "REDIS_KEY_PREFIX": prefix,
		"MO_URL": moSrv.URL, "MO_AUTH_SERVER": moSrv.URL + "/auth",
		"MO_CLIENT_ID": motest.DefaultClientID, "MO_CLIENT_SECRET": motest.DefaultClientSecret,
		"MO_TOP_UNIT_UUID": m.top.String(),
		"STS_BASE_URL":     stsSrv.URL, "STS_CVR": "29189846", "STS_ORGANISATION_UUID": r.org.String(),
		"LOG_LEVEL": "warn", "WORKERS": "4", "RETRY_INITIAL": "20ms", "RETRY_MAX": "100ms", "RETRY_MAX_ELAPSED": "2s",
	}
	for k, v := range writeSecurityFiles(t, sts, stsSrv.URL, "29189846") {
		r.env[k] = v
	}
	for k, v := range settings {
		r.env[k] = v
	}
	r.writeConfig(t)
	return r
}

// writeConfig writes the rig's settings as the KEY=VALUE file the binary reads (--config).
func (r *mappingRig) writeConfig(t *testing.T) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# written by mapping_e2e_test.go\n")
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.env {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "%s=%s\n", k, r.env[k])
	}
	r.config = filepath.Join(t.TempDir(), "stsorgsync.env")
	if err := os.WriteFile(r.config, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

// command runs the binary with the configuration file and returns its exit code and output.
func (r *mappingRig) command(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.bin, append([]string{"--config", r.config}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	if v, ok := os.LookupEnv("GORACE"); ok {
		cmd.Env = append(cmd.Env, "GORACE="+v)
	}
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	return -1, ""
}

// object returns what the fake STS holds (nil: nothing).
func (r *mappingRig) object(kind oio.Kind, id uuid.UUID) *oio.Object {
	o, _ := r.sts.Object(kind, id)
	return o
}

// active reports whether STS holds the object active today.
func (r *mappingRig) active(kind oio.Kind, id uuid.UUID) bool {
	return r.object(kind, id).ActiveOn(translate.Day(time.Now()))
}

// refs returns the targets of an object's relations of the name in effect today or later.
func (r *mappingRig) refs(kind oio.Kind, id uuid.UUID, name oio.RelationName) []uuid.UUID {
	return r.object(kind, id).LiveRefs(translate.Day(time.Now()), name)
}

// addresses returns the texts of a unit's or user's addresses in effect, by role.
func (r *mappingRig) addresses(kind oio.Kind, id uuid.UUID) map[uuid.UUID]string {
	out := map[uuid.UUID]string{}
	today := translate.Day(time.Now())
	o := r.object(kind, id)
	if o == nil {
		return out
	}
	for _, rel := range o.Registration.Relationer {
		if rel.Name != oio.RelAdresser || !(rel.Virkning.To.IsZero() || rel.Virkning.To.After(today)) {
			continue
		}
		if a := r.object(oio.KindAdresse, rel.Ref); a != nil && len(a.Registration.Egenskaber) > 0 {
			out[rel.Rolle] = a.Registration.Egenskaber[len(a.Registration.Egenskaber)-1].AdresseTekst
		}
	}
	return out
}

// activeUnits returns the units STS holds active.
func (r *mappingRig) activeUnits() []uuid.UUID {
	var out []uuid.UUID
	for _, o := range r.sts.Objects(oio.KindOrganisationEnhed) {
		if o.ActiveOn(translate.Day(time.Now())) {
			out = append(out, o.UUID)
		}
	}
	return out
}

// put stores an object in the fake STS as another tool (or FK Organisation's UI) wrote it.
func (r *mappingRig) put(kind oio.Kind, id uuid.UUID, name string, rels ...oio.Relation) {
	r.sts.Put(handMade(r.org, kind, id, name, time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC), rels...))
}

// handMade returns an active object as another tool (or FK Organisation's UI) writes it, in
// effect from from, with the relations given (their Virkning is set here).
func handMade(org uuid.UUID, kind oio.Kind, id uuid.UUID, name string, from time.Time, rels ...oio.Relation) *oio.Object {
	v := oio.Virkning{From: from, Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	for i := range rels {
		rels[i].Virkning = v
	}
	translate.SortRelations(kind, rels)
	return &oio.Object{Kind: kind, UUID: id, Registration: oio.Registration{
		Tidspunkt: time.Now().Add(-time.Hour), Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
		Egenskaber: []oio.Egenskab{{Virkning: v, BrugervendtNoegle: name, Navn: name}},
		Gyldighed:  []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}},
		Relationer: rels,
	}}
}

// syncVerifyAndReplay runs `sync` (exit 0), `verify` (exit 0), then clears the last-sent records
// and runs the daemon for one event per unit and person: it must write nothing.
func (r *mappingRig) syncVerifyAndReplay(t *testing.T, assert func(t *testing.T)) {
	t.Helper()
	if code, out := r.command(t, "sync"); code != 0 {
		t.Fatalf("sync exited %d:\n%s", code, out)
	}
	assert(t)
	if code, out := r.command(t, "verify"); code != 0 {
		t.Fatalf("verify after sync exited %d, want 0 (in sync):\n%s", code, out)
	}
	r.replayEvents(t)
	assert(t) // still
}

// replayEvents clears the records, runs the daemon and publishes an event for every unit and
// person; the daemon must settle them all without an STS write.
func (r *mappingRig) replayEvents(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	keys, err := r.rdb.Keys(ctx, r.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := r.rdb.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
	before := writes(r.sts.Calls())
	d := (&crashRig{env: r.env}).startProcess(t, r.bin, "stsorgsync")
	pub, err := motest.DialPublisher(r.amqpURL, "os2mo")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	published := 0
	for _, id := range r.m.unitIDs() {
		if err := pub.Publish(ctx, "org_unit", id); err != nil {
			t.Fatal(err)
		}
		published++
	}
	for _, p := range r.m.data.Persons {
		if err := pub.Publish(ctx, "person", p.UUID); err != nil {
			t.Fatal(err)
		}
		published++
	}
	waitFor(t, 60*time.Second, "the events settled", func() bool {
		return settledAt(t, d.ops) == published+int(metricAt(t, d.ops, "stsorgsync_cascade_events_total "))
	})
	if n := metricAt(t, d.ops, `stsorgsync_events_total{class="",outcome="done",type="org_unit"}`); n == 0 {
		t.Errorf("no unit event was done")
	}
	d.stop(t)
	if w := writes(r.sts.Calls()) - before; w != 0 {
		t.Errorf("the event path made %d STS write(s) after the sync (calls %v): it planned other objects than the sync did", w, r.sts.Calls())
	}
}

func TestMappingSettingsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the binary many times")
	}
	m := newMunicipality()
	today := translate.Day(time.Now())
	positionIn := func(r *mappingRig, user, eng, unit uuid.UUID) error {
		id := translate.PositionUUID(eng, user)
		if !r.active(oio.KindOrganisationFunktion, id) {
			return fmt.Errorf("no active position %s of user %s", id, user)
		}
		if got := r.refs(oio.KindOrganisationFunktion, id, oio.RelTilknyttedeEnheder); !slices.Equal(got, []uuid.UUID{unit}) {
			return fmt.Errorf("position %s in units %v, want %s", id, got, unit)
		}
		return nil
	}

	t.Run("defaults", func(t *testing.T) {
		r := newMappingRig(t, m, nil)
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			// The whole tree below the top unit, as Afdeling; no filters by default.
			if got := len(r.activeUnits()); got != len(m.data.Units) {
				t.Errorf("%d units active, want all %d", got, len(m.data.Units))
			}
			if got := r.refs(oio.KindOrganisationEnhed, m.team, oio.RelEnhedstype); !slices.Equal(got, []uuid.UUID{translate.EnhedstypeAfdeling}) {
				t.Errorf("team's Enhedstype %v, want Afdeling", got)
			}
			// Unit: KLE as Opgaver, IT systems, public addresses only, the manager.
			if got := r.refs(oio.KindOrganisationEnhed, m.afdeling, oio.RelOpgaver); len(got) != 2 {
				t.Errorf("Opgaver %v, want both KLE numbers", got)
			}
			if got := r.refs(oio.KindOrganisationEnhed, m.afdeling, oio.RelTilknyttedeItSystemer); !slices.Equal(got, []uuid.UUID{m.opus.UUID}) {
				t.Errorf("TilknyttedeItSystemer %v, want OPUS", got)
			}
			ua := r.addresses(oio.KindOrganisationEnhed, m.afdeling)
			if ua[translate.RoleUnitPhone] != "76797979" || ua[translate.RoleUnitLocation] != m.afdelingLocation || ua[translate.RoleUnitEmail] != "tm@kolding.dk" {
				t.Errorf("unit addresses %v", ua)
			}
			if got := r.refs(oio.KindOrganisationFunktion, translate.ManagerUUID(m.afdeling), oio.RelTilknyttedeBrugere); !slices.Equal(got, []uuid.UUID{m.bo}) {
				t.Errorf("manager function's user %v, want Bo", got)
			}
			// User: addresses chosen by scope; the home address never; no CPR.
			want := map[uuid.UUID]string{translate.RoleUserEmail: m.lowest("EMAIL"), translate.RoleUserPhone: m.lowest("PHONE"),
				translate.RoleUserLocation: "Havnegade 5, 6000 Kolding"}
			if got := r.addresses(oio.KindBruger, m.anne); !mapsEqual(got, want) {
				t.Errorf("Anne's addresses %v, want %v (by scope: the lowest UUID of the EMAIL and PHONE addresses, the DAR address linked to an engagement)", got, want)
			}
			p := r.object(oio.KindPerson, translate.PersonUUID(m.anne))
			if p == nil || p.Registration.Egenskaber[0].CPR != "" || p.Registration.Egenskaber[0].Navn != "Anne Andersen" {
				t.Errorf("Anne's Person = %+v, want her name and no CPR", p)
			}
			for _, e := range []struct{ eng, unit uuid.UUID }{{m.anneEng1, m.afdeling}, {m.anneEng2, m.team}, {m.anneEng3, m.fkUnit}} {
				if err := positionIn(r, m.anne, e.eng, e.unit); err != nil {
					t.Error(err)
				}
			}
		})
	})

	t.Run("filters", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{
			"FILTER_HIERARCHY_NAMES": `["Linjeorganisation"]`,
			"IGNORED_UNIT_LEVELS":    m.levelIgnored.UUID.String(),
			"FILTER_ORGUNIT_UUID":    m.excluded.String(),
			"TEAM_UNIT_TYPES":        m.typeTeam.UUID.String(),
		})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			want := []uuid.UUID{m.top, m.afdeling, m.team, m.fkUnit, m.overridden, m.overriddenChild}
			got := r.activeUnits()
			slices.SortFunc(got, compareUUIDs)
			slices.SortFunc(want, compareUUIDs)
			if !slices.Equal(got, want) {
				t.Errorf("active units %v, want %v (MED, the ignored level and the excluded subtree left out; the MED unit with an FK-ORG account kept)", got, want)
			}
			if got := r.refs(oio.KindOrganisationEnhed, m.team, oio.RelEnhedstype); !slices.Equal(got, []uuid.UUID{translate.EnhedstypeTeam}) {
				t.Errorf("team's Enhedstype %v, want Team", got)
			}
			// A position in the unit exported for its FK-ORG account is written.
			if err := positionIn(r, m.anne, m.anneEng3, m.fkUnit); err != nil {
				t.Error(err)
			}
			if r.active(oio.KindOrganisationFunktion, translate.PositionUUID(m.carlMED, m.carl)) {
				t.Error("Carl has a position in the MED unit, which is not exported")
			}
		})
	})

	t.Run("ituser mode with several AD accounts and engagements", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{"USER_MODE": "ituser"})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			if r.object(oio.KindBruger, m.anne) != nil {
				t.Error("a user with Anne's person UUID was written in ituser mode")
			}
			// AD1, with its FK bookkeeping UUID, holds both engagements it is linked to.
			for _, e := range []struct{ eng, unit uuid.UUID }{{m.anneEng1, m.afdeling}, {m.anneEng2, m.team}} {
				if err := positionIn(r, m.anneFKUser, e.eng, e.unit); err != nil {
					t.Error(err)
				}
			}
			if err := positionIn(r, m.anneGUID2, m.anneEng3, m.fkUnit); err != nil {
				t.Error(err)
			}
			if n := r.object(oio.KindBruger, m.anneGUID2).Registration.Egenskaber[0].Navn; n != "anan2" {
				t.Errorf("second account's user named %q, want anan2", n)
			}
			if got := r.refs(oio.KindOrganisationFunktion, translate.ManagerUUID(m.afdeling), oio.RelTilknyttedeBrugere); !slices.Equal(got, []uuid.UUID{m.boGUID}) {
				t.Errorf("manager function's user %v, want Bo's AD account's user", got)
			}
			if r.object(oio.KindBruger, m.carl) != nil {
				t.Error("Carl, without an AD account, has a user in ituser mode")
			}
		})
	})

	t.Run("address classes", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{
			"EMAIL_SCOPE_CLASSES":        m.email2Class.UUID.String() + "," + m.emailClass.UUID.String(),
			"PHONE_SCOPE_CLASSES":        m.mobile.UUID.String(),
			"LANDLINE_SCOPE_CLASSES":     m.landline.UUID.String(),
			"LOCATION_SCOPE_CLASSES":     m.work.UUID.String(),
			"IGNORED_USER_ADDRESS_TYPES": "LOCATION",
			"IGNORED_OU_ADDRESS_TYPES":   "SOR,PHONE",
		})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			want := map[uuid.UUID]string{translate.RoleUserEmail: "anne.andersen@kolding.dk", translate.RoleUserPhone: "20304050",
				translate.RoleUserLandline: "79791234"}
			if got := r.addresses(oio.KindBruger, m.anne); !mapsEqual(got, want) {
				t.Errorf("Anne's addresses %v, want %v (class priority; location ignored)", got, want)
			}
			if ua := r.addresses(oio.KindOrganisationEnhed, m.afdeling); ua[translate.RoleUnitPhone] != "" || ua[translate.RoleUnitEmail] == "" {
				t.Errorf("unit addresses %v, want no phone (IGNORED_OU_ADDRESS_TYPES) and the e-mail", ua)
			}
		})
	})

	t.Run("CPR, nickname and job title", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{"SYNC_CPR": "true", "USE_NICKNAME": "true", "EXTENSION_FIELD_AS_JOB_FUNCTION": "3"})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			p := r.object(oio.KindPerson, translate.PersonUUID(m.anne))
			if p == nil || p.Registration.Egenskaber[0].CPR != m.anneCPR || p.Registration.Egenskaber[0].Navn != m.anneNickname {
				t.Errorf("Anne's Person has CPR set %v and name %q; want her CPR and nickname", p != nil && p.Registration.Egenskaber[0].CPR != "", p.Registration.Egenskaber[0].Navn)
			}
			f := r.object(oio.KindOrganisationFunktion, translate.PositionUUID(m.anneEng1, m.anne))
			if f == nil || f.Registration.Egenskaber[0].Navn != m.anneTitle3 {
				t.Errorf("position name %q, want extension_3 %q", f.Registration.Egenskaber[0].Navn, m.anneTitle3)
			}
			if f := r.object(oio.KindOrganisationFunktion, translate.PositionUUID(m.anneEng2, m.anne)); f == nil || f.Registration.Egenskaber[0].Navn != "Vejarbejder" {
				t.Error("a position without extension_3 is not named by its job function")
			}
		})
	})

	t.Run("KLE with contact for tasks", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{"USE_CONTACT_FOR_TASKS": "true"})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			if got := r.refs(oio.KindOrganisationEnhed, m.afdeling, oio.RelOpgaver); !slices.Equal(got, []uuid.UUID{m.kle1.UUID}) {
				t.Errorf("Opgaver %v, want the Udførende number only", got)
			}
			c := translate.ContactPlaceUUID(m.afdeling)
			if got := r.refs(oio.KindOrganisationFunktion, c, oio.RelTilknyttedeOpgaver); !slices.Equal(got, []uuid.UUID{m.kle2.UUID}) {
				t.Errorf("Henvendelsessted tasks %v, want the Ansvarlig number", got)
			}
		})
	})

	t.Run("managers, contact places, KLE and IT systems left to FK", func(t *testing.T) {
		r := newMappingRig(t, m, nil)
		if code, out := r.command(t, "sync"); code != 0 { // as written with everything on
			t.Fatalf("first sync exited %d:\n%s", code, out)
		}
		// FK Organisation's UI adds a manager and a contact place for the unit.
		fkLeder, fkKontakt := uuid.New(), uuid.New()
		r.put(oio.KindOrganisationFunktion, fkLeder, "Leder (FK)", oio.Relation{Name: oio.RelFunktionstype, Ref: translate.FunktionstypeLeder},
			oio.Relation{Name: oio.RelTilknyttedeEnheder, Ref: m.afdeling}, oio.Relation{Name: oio.RelTilknyttedeBrugere, Ref: m.anne},
			oio.Relation{Name: oio.RelTilknyttedeOrganisationer, Ref: r.org})
		r.put(oio.KindOrganisationFunktion, fkKontakt, "Henvendelsessted (FK)", oio.Relation{Name: oio.RelFunktionstype, Ref: translate.FunktionstypeHenvendelsessted},
			oio.Relation{Name: oio.RelTilknyttedeEnheder, Ref: m.afdeling}, oio.Relation{Name: oio.RelTilknyttedeOrganisationer, Ref: r.org})
		r.env["SYNC_MANAGERS"], r.env["ENABLE_KLE"], r.env["SYNC_IT_SYSTEMS"] = "false", "false", "false"
		r.writeConfig(t)
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			if !r.active(oio.KindOrganisationFunktion, fkLeder) || !r.active(oio.KindOrganisationFunktion, fkKontakt) {
				t.Error("a manager or contact-place function made in FK's UI was ended")
			}
			if r.active(oio.KindOrganisationFunktion, translate.ManagerUUID(m.afdeling)) {
				t.Error("stsorgsync's own manager function is still active with SYNC_MANAGERS=false")
			}
			// What the first sync wrote stays: FK's UI maintains it now.
			if got := r.refs(oio.KindOrganisationEnhed, m.afdeling, oio.RelOpgaver); len(got) != 2 {
				t.Errorf("Opgaver %v, want them kept with ENABLE_KLE=false", got)
			}
			if got := r.refs(oio.KindOrganisationEnhed, m.afdeling, oio.RelTilknyttedeItSystemer); len(got) != 1 {
				t.Errorf("TilknyttedeItSystemer %v, want them kept with SYNC_IT_SYSTEMS=false", got)
			}
		})
	})

	t.Run("UUID overrides", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{"UUID_FROM_IT_SYSTEMS": "OS2sync UUID"})
		// OS2sync wrote the unit and Bo's user under their FK UUIDs.
		r.put(oio.KindOrganisationEnhed, m.overriddenSTS, "Borgerservice (gammelt navn)",
			oio.Relation{Name: oio.RelEnhedstype, Ref: translate.EnhedstypeAfdeling}, oio.Relation{Name: oio.RelOverordnet, Ref: m.top},
			oio.Relation{Name: oio.RelTilhoerer, Ref: r.org})
		r.put(oio.KindBruger, m.boSTS, "bobo", oio.Relation{Name: oio.RelTilhoerer, Ref: r.org})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			if r.object(oio.KindOrganisationEnhed, m.overridden) != nil || r.object(oio.KindBruger, m.bo) != nil {
				t.Error("a unit or user was written under OS2MO's UUID next to the one FK already had")
			}
			u := r.object(oio.KindOrganisationEnhed, m.overriddenSTS)
			if u == nil || egenskabToday(u, today).Navn != "Borgerservice" {
				t.Errorf("the unit FK held under the IT user's UUID was not updated: %+v", u)
			}
			if got := r.refs(oio.KindOrganisationEnhed, m.overriddenChild, oio.RelOverordnet); !slices.Equal(got, []uuid.UUID{m.overriddenSTS}) {
				t.Errorf("child's Overordnet %v, want the parent's FK UUID", got)
			}
			if got := r.refs(oio.KindOrganisationFunktion, translate.ManagerUUID(m.afdeling), oio.RelTilknyttedeBrugere); !slices.Equal(got, []uuid.UUID{m.boSTS}) {
				t.Errorf("manager's user %v, want Bo's FK UUID", got)
			}
			if err := positionIn(r, m.boSTS, m.boEng, m.afdeling); err != nil {
				t.Error(err)
			}
		})
	})

	t.Run("engagement address", func(t *testing.T) {
		r := newMappingRig(t, m, map[string]string{"EMPLOYEE_ENGAGEMENT_ADDRESS": "Lokation"})
		r.syncVerifyAndReplay(t, func(t *testing.T) {
			if got := r.addresses(oio.KindBruger, m.anne)[translate.RoleUserLocation]; got != m.afdelingLocation {
				t.Errorf("Anne's location %q, want her primary engagement's unit's Lokation %q", got, m.afdelingLocation)
			}
			if got := r.addresses(oio.KindBruger, m.carl)[translate.RoleUserLocation]; got != "" {
				t.Errorf("Carl's location %q, want none (his unit has no Lokation)", got)
			}
		})
	})
}

func compareUUIDs(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) }

func mapsEqual(a, b map[uuid.UUID]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// egenskabToday returns the attributes of o in effect today.
func egenskabToday(o *oio.Object, today time.Time) oio.Egenskab {
	for _, e := range o.Registration.Egenskaber {
		if e.Virkning.Covers(today) {
			return e
		}
	}
	return oio.Egenskab{}
}
