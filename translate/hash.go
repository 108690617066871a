package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// HashVersion is mixed into every hash. Bump it when a translation rule changes so that every
// object is re-checked against STS once.
const HashVersion = "v2"

// Hash returns a stable digest of a desired object: its kind, UUID and every attribute, state and
// relation with its Virkning. Registration metadata (time, actor, lifecycle) is excluded, so the
// same desired state always hashes the same.
func Hash(o oio.Object) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n", HashVersion, o.Kind, o.UUID)
	r := o.Registration
	for _, e := range r.Egenskaber {
		fmt.Fprintf(h, "E|%s|%q|%q|%q|%q|%q\n", virkningKey(e.Virkning), e.BrugervendtNoegle, e.Navn, e.BrugerTypeTekst, e.AdresseTekst, e.CPR)
	}
	for _, g := range r.Gyldighed {
		fmt.Fprintf(h, "G|%s|%s\n", virkningKey(g.Virkning), g.Status)
	}
	for _, rel := range r.Relationer {
		fmt.Fprintf(h, "R|%s|%s|%s|%q|%s|%s|%q\n", rel.Name, virkningKey(rel.Virkning), rel.Ref, rel.URN, rel.Rolle, rel.Type, rel.Indeks)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func virkningKey(v oio.Virkning) string {
	return instant(v.From) + "/" + instant(v.To) + "/" + v.Aktoer.String()
}

func instant(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
