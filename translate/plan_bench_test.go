package translate_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// benchBundle is a translated unit or person with the STS state that goes with it.
type benchBundle struct {
	name      string
	translate func() translate.Desired
	change    func() translate.Desired // a changed OS2MO object (rename, move)
}

func benchBundles() []benchBundle {
	s := fullSettings()
	renamed := teknik()
	renamed.Name = "Teknik, Miljø og Klima"
	moved := anne()
	moved.Engagements[0].OrgUnit, moved.Engagements[0].Unit = schoolID, summary(plainUnit(schoolID, "Skole", ptr(parentID), parentID, top))
	return []benchBundle{
		{"unit", func() translate.Desired { return translate.UnitDesired(s, teknik(), now) },
			func() translate.Desired { return translate.UnitDesired(s, renamed, now) }},
		{"person", func() translate.Desired { return translate.PersonDesired(s, anne(), now) },
			func() translate.Desired { return translate.PersonDesired(s, moved, now) }},
	}
}

// BenchmarkTranslatePlan measures the CPU work of one event's pipeline step for a unit (Teknik og
// Miljø: ten addresses, KLE, IT systems, a manager) and a person (Anne: AD and FK accounts, five
// addresses, one position): translate the OS2MO object into its Desired bundle and plan it
// against what STS holds — nothing (initial load: every object imported), the bundle as
// written (no change: no operation), and the bundle before a change (rename, move). Reading STS
// and OS2MO is not included.
func BenchmarkTranslatePlan(b *testing.B) {
	s := fullSettings()
	for _, bb := range benchBundles() {
		// The STS state after the initial load, as the consumer reads it (Lookups).
		written := sts{}
		initial := bb.translate()
		if err := translate.ApplyAll(written, translate.PlanAll(s, initial, nil, now)); err != nil {
			b.Fatal(err)
		}
		for _, tc := range []struct {
			name    string
			desired func() translate.Desired
			current map[uuid.UUID]*oio.Object
			wantOps bool
		}{
			{"initial", bb.translate, map[uuid.UUID]*oio.Object{}, true},
			{"unchanged", bb.translate, written.lookups(initial), false},
			{"changed", bb.change, written.lookups(initial), true},
		} {
			b.Run(bb.name+"/"+tc.name, func(b *testing.B) {
				b.ReportAllocs()
				ops := 0
				for b.Loop() {
					d := tc.desired()
					ops = len(translate.PlanAll(s, d, tc.current, now))
				}
				if (ops > 0) != tc.wantOps {
					b.Fatalf("%d operations planned; want some: %v", ops, tc.wantOps)
				}
				b.ReportMetric(float64(ops), "ops")
			})
		}
	}
}

// BenchmarkDesiredHash measures what the pipeline compares with Redis for every event before it
// decides that nothing changed: the bundle's hash (Desired.Hash) and its last-sent record
// (Desired.Record, the per-object hashes the incremental plan uses), for a unit and a person.
func BenchmarkDesiredHash(b *testing.B) {
	for _, bb := range benchBundles() {
		d := bb.translate()
		b.Run(bb.name+"/hash", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d.Hash() == "" {
					b.Fatal("empty hash")
				}
			}
		})
		b.Run(bb.name+"/record", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if d.Record().String() == "" {
					b.Fatal("empty record")
				}
			}
		})
	}
}
