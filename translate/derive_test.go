package translate

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestDeriveIsUUIDv5OfTheName: every derived UUID is uuid.NewSHA1 in Namespace of
// "stsorgsync/<kind>/<id>/…", the formula the objects already in STS were named by (derive
// builds it on the stack instead).
func TestDeriveIsUUIDv5OfTheName(t *testing.T) {
	a, b := uuid.MustParse("0f7a4c2e-3b1d-4e6f-9a8b-7c6d5e4f3a2b"), uuid.MustParse("ffffffff-ffff-4fff-bfff-ffffffffffff")
	reference := func(kind string, ids ...uuid.UUID) uuid.UUID {
		parts := []string{"stsorgsync", kind}
		for _, id := range ids {
			parts = append(parts, id.String())
		}
		return uuid.NewSHA1(Namespace, []byte(strings.Join(parts, "/")))
	}
	for _, tc := range []struct {
		name string
		got  uuid.UUID
		want uuid.UUID
	}{
		{"address", AddressUUID(a, b), reference("adresse", a, b)},
		{"address, owner and role swapped", AddressUUID(b, a), reference("adresse", b, a)},
		{"person", PersonUUID(a), reference("person", a)},
		{"position", PositionUUID(a, b), reference("stilling", a, b)},
		{"manager", ManagerUUID(b), reference("leder", b)},
		{"contact place", ContactPlaceUUID(uuid.Nil), reference("henvendelsessted", uuid.Nil)},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: derived %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}
