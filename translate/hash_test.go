package translate_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// referenceHash is Hash as first written, with fmt. Hash must give the same digests, or every
// last-sent record would be invalidated without a HashVersion bump.
func referenceHash(o oio.Object) string {
	instant := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	virk := func(v oio.Virkning) string { return instant(v.From) + "/" + instant(v.To) + "/" + v.Aktoer.String() }
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", translate.HashVersion, o.Kind, o.UUID)
	r := o.Registration
	for _, e := range r.Egenskaber {
		fmt.Fprintf(h, "E|%s|%q|%q|%q|%q|%q\n", virk(e.Virkning), e.BrugervendtNoegle, e.Navn, e.BrugerTypeTekst, e.AdresseTekst, e.CPR)
	}
	for _, g := range r.Gyldighed {
		fmt.Fprintf(h, "G|%s|%s\n", virk(g.Virkning), g.Status)
	}
	for _, rel := range r.Relationer {
		fmt.Fprintf(h, "R|%s|%s|%s|%q|%s|%s|%q\n", rel.Name, virk(rel.Virkning), rel.Ref, rel.URN, rel.Rolle, rel.Type, rel.Indeks)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestHashMatchesReference(t *testing.T) {
	s := fullSettings()
	odd := teknik()
	odd.Name = "Børn & \"Unge\"\n\tmed ☃ og \x00"
	var objects []oio.Object
	for _, d := range []translate.Desired{
		translate.UnitDesired(s, teknik(), now),
		translate.UnitDesired(s, odd, now),
		translate.PersonDesired(s, anne(), now),
		translate.PersonDesired(s, bo(), now),
		translate.PersonDesired(s, &model.Person{UUID: uuid.New(), GivenName: "Ny"}, now),
	} {
		objects = append(objects, d.Objects...)
	}
	objects = append(objects, oio.Object{Kind: oio.KindAdresse}) // all zero
	for _, o := range objects {
		if got, want := translate.Hash(o), referenceHash(o); got != want {
			t.Errorf("Hash(%s %s) = %s, want %s", o.Kind, o.UUID, got, want)
		}
	}
	if len(objects) < 10 {
		t.Fatalf("only %d objects compared", len(objects))
	}
}
