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

// testClock is a settable clock safe for concurrent use.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

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

// utc returns a deep copy of o with all times in UTC, for reflect.DeepEqual after a parse.
func utc(o *oio.Object) *oio.Object {
	c := *o
	r := &c.Registration
	r.Tidspunkt = r.Tidspunkt.UTC()
	nv := func(v oio.Virkning) oio.Virkning { v.From, v.To = v.From.UTC(), v.To.UTC(); return v }
	r.Egenskaber = append([]oio.Egenskab(nil), r.Egenskaber...)
	for i := range r.Egenskaber {
		r.Egenskaber[i].Virkning = nv(r.Egenskaber[i].Virkning)
	}
	r.Gyldighed = append([]oio.Gyldighed(nil), r.Gyldighed...)
	for i := range r.Gyldighed {
		r.Gyldighed[i].Virkning = nv(r.Gyldighed[i].Virkning)
	}
	r.Relationer = append([]oio.Relation(nil), r.Relationer...)
	for i := range r.Relationer {
		r.Relationer[i].Virkning = nv(r.Relationer[i].Virkning)
	}
	return &c
}

func assertObject(t *testing.T, got, want *oio.Object) {
	t.Helper()
	if g, w := utc(got), utc(want); !reflect.DeepEqual(g, w) {
		t.Errorf("object differs:\n got: %+v\nwant: %+v", g, w)
	}
}

// setup returns a fake on a real HTTP listener and a client for it, sharing clock.
func setup(t *testing.T, opts ststest.Options, mod func(*stsclient.Config)) (*ststest.Server, *stsclient.Client, *testClock) {
	t.Helper()
	clock := &testClock{t: clockStart}
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
	header http.Header
	body   []byte
}

func (tr *handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	body, err := readAll(req)
	if err != nil {
		return nil, err
	}
	tr.mu.Lock()
	tr.requests = append(tr.requests, recorded{header: req.Header.Clone(), body: body})
	tr.mu.Unlock()
	rec := httptest.NewRecorder()
	tr.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (tr *handlerTransport) last() recorded {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.requests[len(tr.requests)-1]
}
