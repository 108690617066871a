package stsclient_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"
	_ "time/tzdata"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/internal/testclock"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

var (
	copenhagen = mustLocation("Europe/Copenhagen")
	orgUUID    = uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874")
	unitUUID   = uuid.MustParse("acff2e55-fc97-4cc6-a144-2c641b3b5fa7")
	parentA    = uuid.MustParse("6e4c1225-b0de-4aaa-95c6-eaa9a594a304")
	parentB    = uuid.MustParse("0c2b7f38-4a51-4f8e-a1a3-6d1f5b2c9e77")
	validFrom  = time.Date(2024, 3, 13, 0, 0, 0, 0, copenhagen)
	renameDay  = time.Date(2024, 6, 1, 0, 0, 0, 0, copenhagen)
	clockStart = time.Date(2024, 6, 1, 10, 12, 3, 114_000_000, copenhagen)
)

func mustLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// testClock is the settable clock of these tests.
type testClock = testclock.Clock

// sequentialIDs returns a NewID that yields 00000000-0000-4000-8000-000000000001, …
func sequentialIDs() func() uuid.UUID {
	var mu sync.Mutex
	n := 0
	return func() uuid.UUID {
		mu.Lock()
		defer mu.Unlock()
		n++
		return uuid.MustParse(fmt.Sprintf("00000000-0000-4000-8000-%012d", n))
	}
}

func virkning(from, to time.Time) oio.Virkning {
	return oio.Virkning{From: from, To: to, Aktoer: orgUUID, AktoerType: oio.AktoerTypeOrganisation}
}

// unit returns the OrganisationEnhed of the examples in sts-wire.md §3.6.
func unit() *oio.Object {
	open := virkning(validFrom, time.Time{})
	return &oio.Object{Kind: oio.KindOrganisationEnhed, UUID: unitUUID, Registration: oio.Registration{
		BrugerRef:  orgUUID,
		Egenskaber: []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "OKO", Navn: "Økonomi og Styring"}},
		Gyldighed:  []oio.Gyldighed{{Virkning: open, Status: oio.Aktiv}},
		Relationer: []oio.Relation{
			{Name: oio.RelAdresser, Virkning: open, Ref: uuid.MustParse("f10bfad6-39bd-4dc4-9996-d0f95facfae4"),
				Rolle: uuid.MustParse("2b670843-ce42-411a-8fb5-311dfdd5caf0"), Type: uuid.MustParse("9b33c0a0-a566-4ec0-8200-325cb1e5bb9a"), Indeks: "1"},
			{Name: oio.RelEnhedstype, Virkning: open, Ref: uuid.MustParse("16bf18c3-ed6f-44b0-b7a1-35f94984e519")},
			{Name: oio.RelOverordnet, Virkning: open, Ref: parentA},
			{Name: oio.RelTilhoerer, Virkning: open, Ref: orgUUID},
		},
	}}
}

// renamed returns u renamed from renameDay and moved under parentB (the single-valued
// Overordnet is overwritten in place).
func renamed(u *oio.Object) *oio.Object {
	r := *u
	reg := &r.Registration
	old := reg.Egenskaber[0]
	old.Virkning.To = renameDay
	reg.Egenskaber = []oio.Egenskab{old, {Virkning: virkning(renameDay, time.Time{}), BrugervendtNoegle: "OKO", Navn: "Økonomi, Styring og Kontrol"}}
	reg.Relationer = append([]oio.Relation(nil), reg.Relationer...)
	reg.Relationer[2] = oio.Relation{Name: oio.RelOverordnet, Virkning: virkning(renameDay, time.Time{}), Ref: parentB}
	return &r
}

func assertObject(t *testing.T, got, want *oio.Object) {
	t.Helper()
	if g, w := got.InUTC(), want.InUTC(); !reflect.DeepEqual(g, w) {
		t.Errorf("object differs:\n got: %+v\nwant: %+v", g, w)
	}
}

// setup returns a fake on a real HTTP listener and a client for it, sharing clock.
func setup(t testing.TB, opts ststest.Options, mod func(*stsclient.Config)) (*ststest.Server, *stsclient.Client, *testClock) {
	t.Helper()
	clock := testclock.New(clockStart)
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	fake := ststest.NewServer(opts)
	srv := httptest.NewServer(fake.Handler())
	t.Cleanup(srv.Close)
	cfg := stsclient.Config{BaseURL: srv.URL, Now: clock.Now, NewID: sequentialIDs(), HTTPClient: srv.Client()}
	if mod != nil {
		mod(&cfg)
	}
	client, err := stsclient.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fake, client, clock
}

// handlerTransport serves requests with a handler in-process and records them.
type handlerTransport struct {
	h        http.Handler
	mu       sync.Mutex
	requests []recorded
}

type recorded struct {
	header   http.Header
	body     []byte
	response []byte // the response body
}

func (tr *handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readAll(req)
	if err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, req)
	tr.mu.Lock()
	tr.requests = append(tr.requests, recorded{header: req.Header.Clone(), body: body, response: rec.Body.Bytes()})
	tr.mu.Unlock()
	return rec.Result(), nil
}

func (tr *handlerTransport) last() recorded {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.requests[len(tr.requests)-1]
}

// UUIDs of the fixtures of the other kinds.
var (
	otherOrg     = uuid.MustParse("5f0d7c1e-8a3b-4c2d-9e4f-0a1b2c3d4e5f") // another municipality's Organisation
	brugerUUID   = uuid.MustParse("5e3a3a52-2d1c-4f35-9e3c-2e5e3f0d9b10")
	personUUID   = uuid.MustParse("c3a4d5e6-1111-4222-8333-944455556666")
	adresseUUID  = uuid.MustParse("7d4e0b4e-93c1-4f62-9c43-7f0e4cfa2b11")
	funktionUUID = uuid.MustParse("0b1c3f0e-2b64-4b8e-9d0c-6f1b1d9f3a01")
	unknownUUID  = uuid.MustParse("11111111-2222-4333-8444-555555555555")
)

// fixture returns a realistic object of kind k, as the sync writes it (OrganisationEnhed:
// unit()).
func fixture(k oio.Kind) *oio.Object {
	open := virkning(validFrom, time.Time{})
	active := []oio.Gyldighed{{Virkning: open, Status: oio.Aktiv}}
	rel := func(name oio.RelationName, ref uuid.UUID) oio.Relation {
		return oio.Relation{Name: name, Virkning: open, Ref: ref}
	}
	o := &oio.Object{Kind: k, Registration: oio.Registration{BrugerRef: orgUUID}}
	r := &o.Registration
	switch k {
	case oio.KindOrganisationEnhed:
		return unit()
	case oio.KindOrganisation:
		o.UUID = orgUUID
		r.Egenskaber = []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "KBK", Navn: "Korsbæk Kommune"}}
		r.Gyldighed = active
		r.Relationer = []oio.Relation{rel(oio.RelOverordnet, unitUUID)}
	case oio.KindBruger:
		o.UUID = brugerUUID
		r.Egenskaber = []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "bjo", Navn: "bjo"}}
		r.Gyldighed = active
		r.Relationer = []oio.Relation{
			{Name: oio.RelAdresser, Virkning: open, Ref: adresseUUID, Rolle: uuid.MustParse("5d13e891-162a-456b-abf2-fd9b864df96d"),
				Type: uuid.MustParse("71a08d28-3af7-4bb4-9964-bc2b76b93d64"), Indeks: "1"},
			rel(oio.RelTilhoerer, orgUUID),
			rel(oio.RelTilknyttedePersoner, personUUID),
		}
	case oio.KindPerson:
		o.UUID = personUUID
		r.Egenskaber = []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "p-bjo", CPR: "0101901234", Navn: "Bjørn Olsen"}}
	case oio.KindAdresse:
		o.UUID = adresseUUID
		r.Egenskaber = []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "a-bjo", AdresseTekst: "bjo@korsbaek.dk"}}
	case oio.KindOrganisationFunktion:
		o.UUID = funktionUUID
		r.Egenskaber = []oio.Egenskab{{Virkning: open, BrugervendtNoegle: "F-bjo", Navn: "Udvikler"}}
		r.Gyldighed = active
		r.Relationer = []oio.Relation{
			rel(oio.RelFunktionstype, uuid.MustParse("02e61900-33e0-407f-a2a7-22f70221f003")),
			rel(oio.RelTilknyttedeBrugere, brugerUUID),
			rel(oio.RelTilknyttedeEnheder, unitUUID),
			rel(oio.RelTilknyttedeOrganisationer, orgUUID),
		}
	default:
		panic("no fixture for " + string(k))
	}
	return o
}

// changed returns o with its attribute values changed from renameDay (the old Egenskab ends
// then), as a ret sends it (OrganisationEnhed: renamed).
func changed(o *oio.Object) *oio.Object {
	if o.Kind == oio.KindOrganisationEnhed {
		return renamed(o)
	}
	c := *o
	reg := &c.Registration
	old := reg.Egenskaber[0]
	old.Virkning.To = renameDay
	next := old
	next.Virkning = virkning(renameDay, time.Time{})
	switch o.Kind {
	case oio.KindAdresse:
		next.AdresseTekst = "bjorn.olsen@korsbaek.dk"
	default:
		next.Navn += " (ny)"
	}
	reg.Egenskaber = []oio.Egenskab{old, next}
	return &c
}

// soegTemplate returns the search the sync would make for objects of kind k.
func soegTemplate(k oio.Kind) *oio.SoegInput {
	active := []oio.Gyldighed{{Status: oio.Aktiv}}
	switch k {
	case oio.KindOrganisationEnhed:
		return &oio.SoegInput{Kind: k, First: 500, Max: 500,
			Egenskaber: []oio.Egenskab{{BrugervendtNoegle: "OKO"}}, Gyldighed: active,
			Relationer: []oio.Relation{{Name: oio.RelOverordnet, Ref: parentB}, {Name: oio.RelTilhoerer, Ref: orgUUID}}}
	case oio.KindBruger:
		return &oio.SoegInput{Kind: k, Max: 500, Egenskaber: []oio.Egenskab{{Navn: "bjo"}}, Gyldighed: active,
			Relationer: []oio.Relation{{Name: oio.RelTilhoerer, Ref: orgUUID}}}
	case oio.KindOrganisationFunktion:
		return &oio.SoegInput{Kind: k, Max: 500, Gyldighed: active, Relationer: []oio.Relation{
			{Name: oio.RelFunktionstype, Ref: uuid.MustParse("02e61900-33e0-407f-a2a7-22f70221f003")},
			{Name: oio.RelTilknyttedeBrugere, Ref: brugerUUID}, {Name: oio.RelTilknyttedeEnheder, Ref: unitUUID}}}
	case oio.KindPerson:
		return &oio.SoegInput{Kind: k, Egenskaber: []oio.Egenskab{{CPR: "0101901234"}}}
	case oio.KindAdresse:
		return &oio.SoegInput{Kind: k, Egenskaber: []oio.Egenskab{{AdresseTekst: "bjo@korsbaek.dk"}}}
	}
	return &oio.SoegInput{Kind: k}
}
