package oio

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Validate checks that o can be written as an Organisation 6 registration: a known kind, a
// non-nil UUID, attribute leaves that exist for the kind and fit their length/pattern, Gyldighed
// only on kinds that have a TilstandListe, relations that the kind's RelationListe allows with
// their cardinality, Rolle/Type on (and only on) Adresser/Opgaver, and enumeration values
// (LivscyklusKode, AktoerTypeKode, GyldighedStatusKode) that v6 defines. Errors wrap ErrInvalid.
func (o *Object) Validate() error {
	if o == nil {
		return fmt.Errorf("%w: nil object", ErrInvalid)
	}
	if !o.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, o.Kind)
	}
	if o.UUID == uuid.Nil {
		return fmt.Errorf("%w: %s: nil UUID", ErrInvalid, o.Kind)
	}
	r := &o.Registration
	if r.Livscyklus != "" && !validLivscyklus(r.Livscyklus) {
		return fmt.Errorf("%w: %s %s: LivscyklusKode %q is not defined in v6", ErrInvalid, o.Kind, o.UUID, r.Livscyklus)
	}
	if err := validateLists(o.Kind, r.Egenskaber, r.Gyldighed, r.Relationer, AllLists); err != nil {
		return fmt.Errorf("%s %s: %w", o.Kind, o.UUID, err)
	}
	return nil
}

// Validate checks the kind, UUID and the sent lists like Object.Validate.
func (in *RetInput) Validate() error {
	if !in.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrInvalid, in.Kind)
	}
	if in.UUID == uuid.Nil {
		return fmt.Errorf("%w: %s: nil UUID", ErrInvalid, in.Kind)
	}
	if err := validateNote(in.Note); err != nil {
		return err
	}
	if err := validateLists(in.Kind, in.Egenskaber, in.Gyldighed, in.Relationer, in.Lists); err != nil {
		return fmt.Errorf("%s %s: %w", in.Kind, in.UUID, err)
	}
	return nil
}

func validateNote(note string) error {
	if utf8.RuneCountInString(note) > 1024 {
		return fmt.Errorf("%w: NoteTekst longer than 1024 characters", ErrInvalid)
	}
	return nil
}

func validateLists(k Kind, eg []Egenskab, gy []Gyldighed, rel []Relation, lists Lists) error {
	if lists&ListAttributter != 0 {
		for i := range eg {
			if err := validateEgenskab(k, &eg[i]); err != nil {
				return fmt.Errorf("at Egenskab[%d]: %w", i, err)
			}
		}
	}
	if lists&ListTilstande != 0 {
		if len(gy) > 0 && !HasTilstande(k) {
			return fmt.Errorf("%w: %s has no Gyldighed", ErrInvalid, k)
		}
		for i, g := range gy {
			if g.Status != Aktiv && g.Status != Inaktiv {
				return fmt.Errorf("%w: Gyldighed[%d]: GyldighedStatusKode %q", ErrInvalid, i, g.Status)
			}
			if err := validateVirkning(g.Virkning); err != nil {
				return fmt.Errorf("at Gyldighed[%d]: %w", i, err)
			}
		}
	}
	if lists&ListRelationer != 0 {
		count := map[RelationName]int{}
		for i, r := range rel {
			if err := validateRelation(k, r); err != nil {
				return fmt.Errorf("at Relation[%d] %s: %w", i, r.Name, err)
			}
			count[r.Name]++
			if count[r.Name] > 1 && SingleValued(k, r.Name) {
				return fmt.Errorf("%w: %s allows at most one %s", ErrInvalid, k, r.Name)
			}
		}
	}
	return nil
}

func validateEgenskab(k Kind, e *Egenskab) error {
	if err := validateVirkning(e.Virkning); err != nil {
		return err
	}
	leaves := egenskabLeaves(k)
	set := map[*string]bool{}
	for _, l := range leaves {
		if l.field == nil {
			continue
		}
		p := l.field(e)
		set[p] = true
		if err := checkLeaf(l, *p); err != nil {
			return err
		}
	}
	for name, p := range map[string]*string{"Navn": &e.Navn, "BrugerTypeTekst": &e.BrugerTypeTekst,
		"AdresseTekst": &e.AdresseTekst, "CPR": &e.CPR} {
		if *p != "" && !set[p] {
			return fmt.Errorf("%w: %s has no Egenskab field %s", ErrInvalid, k, name)
		}
	}
	return nil
}

func checkLeaf(l leaf, v string) error {
	if l.max > 0 && utf8.RuneCountInString(v) > l.max {
		return fmt.Errorf("%w: %s longer than %d characters", ErrInvalid, l.tag, l.max)
	}
	if v != "" && l.pattern != nil && !l.pattern(v) {
		return fmt.Errorf("%w: %s %s does not match its pattern", ErrInvalid, l.tag, shownValue(l.tag, v))
	}
	return nil
}

// shownValue quotes v for an error message, except the value of a CPR element, which must never
// reach logs or dead-letter headers: that is replaced by its length.
func shownValue(tag, v string) string {
	if strings.Contains(strings.ToUpper(tag), "CPR") {
		return fmt.Sprintf("(%d characters, not shown)", utf8.RuneCountInString(v))
	}
	return strconv.Quote(v)
}

func validateVirkning(v Virkning) error {
	if v.AktoerType != "" && !validAktoerType(v.AktoerType) {
		return fmt.Errorf("%w: Virkning: AktoerTypeKode %q", ErrInvalid, v.AktoerType)
	}
	return nil
}

func validateRelation(k Kind, r Relation) error {
	if relationIndex(k, r.Name) < 0 {
		return fmt.Errorf("%w: not a relation of %s", ErrInvalid, k)
	}
	if r.Ref != uuid.Nil && r.URN != "" {
		return fmt.Errorf("%w: both UUID and URN reference", ErrInvalid)
	}
	if DynamicRelation(r.Name) {
		if r.Rolle == uuid.Nil || r.Type == uuid.Nil {
			return fmt.Errorf("%w: Rolle and Type are required", ErrInvalid)
		}
	} else if r.Rolle != uuid.Nil || r.Type != uuid.Nil || r.Indeks != "" {
		return fmt.Errorf("%w: Rolle/Type/Indeks are only allowed on Adresser and Opgaver", ErrInvalid)
	}
	return validateVirkning(r.Virkning)
}
