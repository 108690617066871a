package converge_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// recordingIndex is an Index over fixed answers that records the questions asked.
type recordingIndex struct {
	usersOf map[uuid.UUID][]uuid.UUID
	funcsOf map[uuid.UUID][]uuid.UUID // by user
	unitFns map[string][]uuid.UUID    // by unit/type
	objects map[uuid.UUID]*oio.Object
	asked   []string
}

func (x *recordingIndex) UsersOfPerson(_ context.Context, p uuid.UUID) ([]uuid.UUID, error) {
	x.asked = append(x.asked, "users of "+p.String()[:4])
	return x.usersOf[p], nil
}

func (x *recordingIndex) FunctionsOfUser(_ context.Context, u uuid.UUID) ([]uuid.UUID, error) {
	x.asked = append(x.asked, "functions of user "+u.String()[:4])
	return x.funcsOf[u], nil
}

func (x *recordingIndex) FunctionsOfUnit(_ context.Context, unit, typ uuid.UUID) ([]uuid.UUID, error) {
	k := unit.String()[:4] + "/" + typ.String()[:4]
	x.asked = append(x.asked, "functions of unit "+k)
	return x.unitFns[k], nil
}

func (x *recordingIndex) Objects(_ context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	x.asked = append(x.asked, fmt.Sprintf("%d %s", len(ids), kind))
	out := map[uuid.UUID]*oio.Object{}
	for _, id := range ids {
		if o := x.objects[id]; o != nil {
			out[id] = o
		}
	}
	return out, nil
}

func id(s string) uuid.UUID { return uuid.MustParse(s + "0000-0000-4000-8000-000000000000") }

// TestRead: the lookups of a bundle become these questions, in this order: the users of the
// person, the functions of every named or found user (once each), the unit's functions of each
// type (or all), then one read per kind of everything named or found, each UUID once; objects of
// another kind than asked for are left out.
func TestRead(t *testing.T) {
	t.Parallel()
	person, userA, userB, unit, addr := id("aaaa"), id("bbbb"), id("cccc"), id("dddd"), id("eeee")
	fn1, fn2, fn3 := id("f111"), id("f222"), id("f333")
	leder := translate.FunktionstypeLeder
	obj := func(kind oio.Kind, u uuid.UUID) *oio.Object { return &oio.Object{Kind: kind, UUID: u} }
	x := &recordingIndex{
		usersOf: map[uuid.UUID][]uuid.UUID{person: {userA, userB}},
		funcsOf: map[uuid.UUID][]uuid.UUID{userA: {fn1}, userB: {fn1, fn2}},
		unitFns: map[string][]uuid.UUID{unit.String()[:4] + "/" + leder.String()[:4]: {fn3}},
		objects: map[uuid.UUID]*oio.Object{userA: obj(oio.KindBruger, userA), userB: obj(oio.KindBruger, userB),
			fn1: obj(oio.KindOrganisationFunktion, fn1), fn2: obj(oio.KindOrganisationFunktion, fn2),
			fn3: obj(oio.KindOrganisationFunktion, fn3), addr: obj(oio.KindPerson, addr)}, // addr is no Adresse
	}
	got, err := converge.Read(t.Context(), x, translate.Lookups{
		Read:             []translate.Ref{{Kind: oio.KindAdresse, UUID: addr}, {Kind: oio.KindBruger, UUID: userA}},
		UsersOfPerson:    person,
		FunctionsOfUsers: []uuid.UUID{userA},
		FunctionsOfUnits: []translate.UnitFunctions{{Unit: unit, Types: []uuid.UUID{leder}}, {Unit: unit}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"users of aaaa", "functions of user bbbb", "functions of user cccc",
		"functions of unit dddd/" + leder.String()[:4], "functions of unit dddd/0000",
		"1 adresse", "2 bruger", "3 organisationfunktion"}
	if !slices.Equal(x.asked, want) {
		t.Errorf("questions:\n got %q\nwant %q", x.asked, want)
	}
	var ids []uuid.UUID
	for u := range got {
		ids = append(ids, u)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	wantIDs := []uuid.UUID{userA, userB, fn1, fn2, fn3}
	slices.SortFunc(wantIDs, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if !slices.Equal(ids, wantIDs) {
		t.Errorf("read %v; want the users and functions %v (not the Person asked for as an Adresse)", ids, wantIDs)
	}
}
