package report_test

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// id returns a readable, fixed UUID for test objects.
func id(n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n))
}

// Units of the drifted fixture.
var (
	uKommune  = id(0x100)
	uBUF      = id(0x101)
	uOsterbro = id(0x102)
	uVaerk    = id(0x103)
	uVaerkN   = id(0x104)
	uOkonomi  = id(0x105)
	uLon      = id(0x106)
	uIndkob   = id(0x107)
	uGammel   = id(0x108)
	uTMF      = id(0x109)
)

// drifted is a hand-made report with every kind of difference, Danish names, names that need
// escaping, a collapsed all-ok subtree and differences outside the tree. Differences and
// children are deliberately not in canonical order.
func drifted() *report.Report {
	r := &report.Report{
		GeneratedAt:  time.Date(2025, 3, 1, 11, 0, 0, 0, time.FixedZone("CET", 3600)),
		CVR:          "64942212",
		Organisation: id(0xabc),
		Summary: report.Summary{
			UnitsMO: 9, UnitsSTS: 9, PersonsMO: 2345, UsersSTS: 2346, ObjectsSTS: 9876,
		},
	}
	add := func(d report.Difference) int {
		r.Differences = append(r.Differences, d)
		return len(r.Differences) - 1
	}
	// Outside the tree.
	add(report.Difference{Kind: report.Foreign, ObjectKind: oio.KindAdresse, UUID: id(0x301),
		Name: `Vej 1 <st. th.> & "Co"`, Owner: "org_unit:" + uBUF.String(), STS: "Vej 1, 2100 København Ø"})
	add(report.Difference{Kind: report.Field, ObjectKind: oio.KindBruger, UUID: id(0x302),
		Name: "Søren Ærlig Åberg", Owner: "person:" + id(0x402).String(), Field: "user_key", MO: "SAA", STS: "saa "})
	add(report.Difference{Kind: report.MissingInSTS, ObjectKind: oio.KindBruger, UUID: id(0x303),
		Name: "Mette Øst", Owner: "person:" + id(0x403).String()})
	add(report.Difference{Kind: report.Orphan, ObjectKind: oio.KindBruger, UUID: id(0x304)})
	// In the tree.
	tmfParent := add(report.Difference{Kind: report.Field, ObjectKind: oio.KindOrganisationEnhed, UUID: uTMF,
		Name: "Teknik- og Miljøforvaltningen", Unit: uTMF, Field: "parent",
		MO: "Københavns Kommune", STS: "Økonomiforvaltningen"})
	gammel := add(report.Difference{Kind: report.Orphan, ObjectKind: oio.KindOrganisationEnhed, UUID: uGammel,
		Name: "Gammel enhed", Unit: uGammel})
	stale := add(report.Difference{Kind: report.Stale, ObjectKind: oio.KindOrganisationFunktion, UUID: id(0x201),
		Name: "Pædagog", Owner: "person:" + id(0x401).String(), Unit: uVaerk,
		STS: "engagement ended 2025-01-31"})
	bufName := add(report.Difference{Kind: report.Field, ObjectKind: oio.KindOrganisationEnhed, UUID: uBUF,
		Name: "Børne- og Ungdomsforvaltningen", Unit: uBUF, Field: "name",
		MO: "Børne- og Ungdomsforvaltningen", STS: "Børne og Ungdomsforvaltning"})
	osterbro := add(report.Difference{Kind: report.MissingInSTS, ObjectKind: oio.KindOrganisationEnhed,
		UUID: uOsterbro, Name: "Østerbro Skole", Unit: uOsterbro, MO: "Østerbro Skole"})
	leder := add(report.Difference{Kind: report.Foreign, ObjectKind: oio.KindOrganisationFunktion, UUID: id(0x202),
		Name: "Leder", Owner: "org_unit:" + uBUF.String(), Unit: uBUF, STS: "OS2sync manager function"})
	tmfAddr := add(report.Difference{Kind: report.Field, ObjectKind: oio.KindOrganisationEnhed, UUID: uTMF,
		Name: "Teknik- og Miljøforvaltningen", Unit: uTMF, Field: "addresses",
		MO: "Njalsgade 13, 2300 København S", STS: "Islands Brygge 37, 2300 København S"})

	r.Tree = []*report.Node{{
		UUID: uKommune, Name: "Københavns Kommune", Status: report.StatusDiffers,
		Children: []*report.Node{
			{UUID: uTMF, Name: "Teknik- og Miljøforvaltningen", Status: report.StatusDiffers,
				Differences: []int{tmfAddr, tmfParent}},
			{UUID: uOkonomi, Name: "Økonomiforvaltningen", Status: report.StatusOK, Children: []*report.Node{
				{UUID: uLon, Name: "Løn & Personale <HR>", Status: report.StatusOK},
				{UUID: uIndkob, Name: "Indkøb", Status: report.StatusOK},
			}},
			{UUID: uGammel, Name: "Gammel enhed", Status: report.StatusOnlyInSTS, Differences: []int{gammel}},
			{UUID: uBUF, Name: "Børne- og Ungdomsforvaltningen", Status: report.StatusDiffers,
				Differences: []int{leder, bufName, leder}, // a repeat is shown once
				Children: []*report.Node{
					{UUID: uVaerk, Name: "Åbent Værksted", Status: report.StatusDiffers, Differences: []int{stale},
						Children: []*report.Node{{UUID: uVaerkN, Name: "Værksted Nord", Status: report.StatusOK}}},
					{UUID: uOsterbro, Name: "Østerbro Skole", Status: report.StatusMissingInSTS,
						Differences: []int{osterbro}},
				}},
		},
	}}
	return r
}

// inSync is a report without differences.
func inSync() *report.Report {
	return &report.Report{
		GeneratedAt:  time.Date(2025, 3, 1, 11, 0, 0, 0, time.UTC),
		CVR:          "64942212",
		Organisation: id(0xabc),
		Summary:      report.Summary{UnitsMO: 3, UnitsSTS: 3, PersonsMO: 40, UsersSTS: 38, ObjectsSTS: 120},
		Tree: []*report.Node{{UUID: uKommune, Name: "Københavns Kommune", Status: report.StatusOK,
			Children: []*report.Node{
				{UUID: uOkonomi, Name: "Økonomiforvaltningen", Status: report.StatusOK},
				{UUID: uBUF, Name: "Børne- og Ungdomsforvaltningen", Status: report.StatusOK},
			}}},
	}
}
