package stsexport

import (
	"bytes"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

var update = flag.Bool("update", false, "rewrite testdata/export.jsonl")

// The small municipality of the golden file.
var (
	org     = uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	top     = uuid.MustParse("11111111-0000-4000-8000-000000000001")
	unit    = uuid.MustParse("11111111-0000-4000-8000-000000000002")
	user    = uuid.MustParse("22222222-0000-4000-8000-000000000001")
	person  = uuid.MustParse("33333333-0000-4000-8000-000000000001")
	address = uuid.MustParse("44444444-0000-4000-8000-000000000001")
	fn      = uuid.MustParse("55555555-0000-4000-8000-000000000001")
	role    = uuid.MustParse("66666666-0000-4000-8000-000000000001")
	typ     = uuid.MustParse("66666666-0000-4000-8000-000000000002")
	posType = uuid.MustParse("66666666-0000-4000-8000-000000000003")
)

const testCPR = "0101701234"

func smallSet() []*oio.Object {
	cet, cest := time.FixedZone("", 3600), time.FixedZone("", 7200)
	registered := time.Date(2025, 3, 4, 10, 11, 12, 345678000, cet)
	v := oio.Virkning{From: time.Date(2020, 1, 1, 0, 0, 0, 0, cet), Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	ended := oio.Virkning{From: v.From, To: time.Date(2024, 6, 1, 0, 0, 0, 0, cest), Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	later := oio.Virkning{From: ended.To, Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	open := oio.Virkning{Aktoer: org, AktoerType: oio.AktoerTypeOrganisation}
	reg := func(eg []oio.Egenskab, gy []oio.Gyldighed, rel []oio.Relation) oio.Registration {
		return oio.Registration{Tidspunkt: registered, Livscyklus: oio.LivscyklusImporteret, BrugerRef: org,
			Egenskaber: eg, Gyldighed: gy, Relationer: rel}
	}
	active := []oio.Gyldighed{{Virkning: v, Status: oio.Aktiv}}
	return []*oio.Object{
		// In no particular order: Write sorts.
		{Kind: oio.KindOrganisationFunktion, UUID: fn, Registration: reg(
			[]oio.Egenskab{{Virkning: v, BrugervendtNoegle: "Pædagog", Navn: "Pædagog"}}, active,
			[]oio.Relation{
				{Name: oio.RelFunktionstype, Virkning: v, Ref: posType},
				{Name: oio.RelTilknyttedeBrugere, Virkning: v, Ref: user},
				{Name: oio.RelTilknyttedeEnheder, Virkning: v, Ref: unit},
				{Name: oio.RelTilknyttedeOrganisationer, Virkning: v, Ref: org},
			})},
		{Kind: oio.KindOrganisationEnhed, UUID: unit, Registration: reg(
			[]oio.Egenskab{
				{Virkning: ended, BrugervendtNoegle: "BU", Navn: "Børn & Unge"},
				{Virkning: later, BrugervendtNoegle: "BU", Navn: `Børn & Unge <"Skoler">`},
			},
			[]oio.Gyldighed{{Virkning: ended, Status: oio.Aktiv}, {Virkning: later, Status: oio.Inaktiv}},
			[]oio.Relation{
				{Name: oio.RelAdresser, Virkning: v, Ref: address, Rolle: role, Type: typ, Indeks: "1"},
				{Name: oio.RelOverordnet, Virkning: v, Ref: top},
				{Name: oio.RelTilhoerer, Virkning: v, Ref: org},
			})},
		{Kind: oio.KindOrganisationEnhed, UUID: top, Registration: reg(
			[]oio.Egenskab{{Virkning: v, BrugervendtNoegle: "KOMMUNE", Navn: "Kommunen"}}, active,
			[]oio.Relation{{Name: oio.RelTilhoerer, Virkning: v, Ref: org}})},
		{Kind: oio.KindBruger, UUID: user, Registration: reg(
			[]oio.Egenskab{{Virkning: v, BrugervendtNoegle: "abc", Navn: "Anne Berg", BrugerTypeTekst: "Medarbejder"}}, active,
			[]oio.Relation{
				{Name: oio.RelTilhoerer, Virkning: v, Ref: org},
				{Name: oio.RelTilknyttedePersoner, Virkning: v, Ref: person},
			})},
		{Kind: oio.KindPerson, UUID: person, Registration: reg(
			[]oio.Egenskab{{Virkning: v, BrugervendtNoegle: "Anne Berg", CPR: testCPR, Navn: "Anne Berg"}}, nil, nil)},
		{Kind: oio.KindAdresse, UUID: address, Registration: reg(
			[]oio.Egenskab{{Virkning: v, BrugervendtNoegle: "Email", AdresseTekst: "bu@kommune.dk"}}, nil, nil)},
		{Kind: oio.KindOrganisation, UUID: org, Registration: reg(
			[]oio.Egenskab{{Virkning: open, BrugervendtNoegle: "29189846", Navn: "Kommune CVR 29189846"}},
			[]oio.Gyldighed{{Virkning: open, Status: oio.Aktiv}},
			[]oio.Relation{{Name: oio.RelVirksomhed, Virkning: open, URN: "urn:oio:cvr-nr:29189846"}})},
	}
}

func header() Header {
	return Header{ExportedAt: time.Date(2025, 3, 4, 9, 30, 0, 0, time.UTC), CVR: "29189846", Organisation: org,
		STS: "https://organisation.eksterntest-stoettesystemerne.dk", Generator: "stsorgsync test"}
}

func write(t *testing.T, objs []*oio.Object, opts Options) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := Write(&b, header(), objs, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(b.Len()) {
		t.Errorf("Write returned %d bytes, wrote %d", n, b.Len())
	}
	return b.Bytes()
}

// TestGolden pins the format: the small set written is testdata/export.jsonl byte for byte (go
// test ./stsexport -update rewrites it; review the diff, a change of the format raises Version).
func TestGolden(t *testing.T) {
	got := write(t, smallSet(), Options{})
	path := filepath.Join("testdata", "export.jsonl")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("the export differs from %s (go test -update to accept):\n%s", path, got)
	}
	lines := strings.Split(strings.TrimSuffix(string(got), "\n"), "\n")
	if len(lines) != 1+len(smallSet()) || !strings.HasPrefix(lines[0], `{"kind":"header","format":"stsorgsync-sts-export","version":1,`) {
		t.Errorf("want a header line and one line per object, got %d lines, first %s", len(lines), lines[0])
	}
	if !strings.Contains(string(got), `"EnhedNavn":"Børn & Unge <\"Skoler\">"`) {
		t.Error("names are not written as they are (UTF-8, & < > unescaped)")
	}
}

// TestRoundTrip: what Write writes, ReadAll reads back as the same objects (times as the same
// instants), in the file's order, with the header as written.
func TestRoundTrip(t *testing.T) {
	in := smallSet()
	h, out, err := ReadAll(bytes.NewReader(write(t, in, Options{})))
	if err != nil {
		t.Fatal(err)
	}
	want := map[oio.Kind]int{oio.KindOrganisation: 1, oio.KindAdresse: 1, oio.KindPerson: 1, oio.KindOrganisationEnhed: 2,
		oio.KindBruger: 1, oio.KindOrganisationFunktion: 1}
	if h.Objects != len(in) || !reflect.DeepEqual(h.Counts, want) || h.CPR != CPRIncluded || h.Version != Version || h.CVR != "29189846" ||
		h.Organisation != org || !h.ExportedAt.Equal(header().ExportedAt) {
		t.Errorf("header %+v", h)
	}
	order := []uuid.UUID{org, address, person, top, unit, user, fn}
	if len(out) != len(order) {
		t.Fatalf("read %d objects, want %d", len(out), len(order))
	}
	byID := map[uuid.UUID]*oio.Object{}
	for _, o := range in {
		byID[o.UUID] = o
	}
	for i, o := range out {
		if o.UUID != order[i] {
			t.Errorf("object %d is %s %s, want %s", i, o.Kind, o.UUID, order[i])
		}
		if got, want := o.InUTC(), byID[o.UUID].InUTC(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s read back as\n%+v\nwant\n%+v", o.Kind, o.UUID, got, want)
		}
	}
}

// TestWithoutCPR: with WithoutCPR the header says so and no CPR number is in the file; the rest
// of the Person is.
func TestWithoutCPR(t *testing.T) {
	b := write(t, smallSet(), Options{WithoutCPR: true})
	if bytes.Contains(b, []byte(testCPR)) || bytes.Contains(b, []byte("CPR-NummerTekst")) {
		t.Errorf("a CPR number in an export without CPR:\n%s", b)
	}
	h, objs, err := ReadAll(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if h.CPR != CPROmitted {
		t.Errorf("header cpr %q", h.CPR)
	}
	for _, o := range objs {
		if o.Kind == oio.KindPerson && (o.Registration.Egenskaber[0].CPR != "" || o.Registration.Egenskaber[0].Navn != "Anne Berg") {
			t.Errorf("person read back as %+v", o.Registration.Egenskaber)
		}
	}
	if !bytes.Contains(write(t, smallSet(), Options{}), []byte(`"CPR-NummerTekst":"`+testCPR+`"`)) {
		t.Error("the CPR number is not in an export with CPR")
	}
}

// TestReaderRefuses: a file that is cut short, edited out of step with its header, of another
// format or version, or with an object the schema does not allow is refused with the line, and
// never with a CPR number in the message.
func TestReaderRefuses(t *testing.T) {
	good := string(write(t, smallSet(), Options{}))
	lines := strings.SplitAfter(good, "\n")
	lines = lines[:len(lines)-1] // the empty string after the last newline
	personLine := 3
	if !strings.Contains(lines[personLine], `"kind":"person"`) {
		t.Fatalf("line %d is not the person: %s", personLine+1, lines[personLine])
	}
	edit := func(i int, old, new string) string {
		c := append([]string(nil), lines...)
		if !strings.Contains(c[i], old) {
			t.Fatalf("line %d lacks %q", i+1, old)
		}
		c[i] = strings.Replace(c[i], old, new, 1)
		return strings.Join(c, "")
	}
	without := func(i int) string {
		return strings.Join(append(append([]string(nil), lines[:i]...), lines[i+1:]...), "")
	}
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "empty file"},
		{"a line missing", without(4), "1 organisationenhed lines, the header says 2"},
		{"a line twice", good + lines[5], "a second time"},
		{"cut short", strings.TrimSuffix(good, "\n"), "does not end with a newline"},
		{"cut mid-line", good[:len(good)-40], "does not end with a newline"},
		{"another format", edit(0, `"format":"stsorgsync-sts-export"`, `"format":"other"`), "no stsorgsync-sts-export header"},
		{"a newer version", edit(0, `"version":1`, `"version":2`), "format version 2"},
		{"counts that do not add up", edit(0, `"objects":7`, `"objects":8`), "add up to 7"},
		{"no header", strings.Join(lines[1:], ""), "no stsorgsync-sts-export header"},
		{"an unknown field", edit(4, `"uuid"`, `"colour":"red","uuid"`), `line 5: json: unknown field "colour"`},
		{"a kind not exported", edit(4, `"kind":"organisationenhed"`, `"kind":"itsystem"`), `line 5: kind "itsystem"`},
		{"another kind's name", edit(6, `"BrugerNavn"`, `"EnhedNavn"`), "line 7: AttributListe[0]: bruger has no EnhedNavn"},
		{"a relation the kind lacks", edit(6, `"Tilhoerer"`, `"Overordnet"`), `line 7: bruger has no relation "Overordnet"`},
		{"a bad reference", edit(6, `"ReferenceID":"`, `"ReferenceID":"x`), "ReferenceID is neither a UUID nor a URN"},
		{"a bad time", edit(6, `"FraTidspunkt":"2020`, `"FraTidspunkt":"1.1.2020`), "not an RFC 3339 time"},
		{"a bad CPR number", edit(personLine, testCPR, testCPR[:9]+"X"), "CPR-NummerTekst (10 characters, not shown)"},
		{"a CPR number where the header says omitted", edit(0, `"cpr":"included"`, `"cpr":"omitted"`), "the header says cpr \"omitted\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadAll(strings.NewReader(tt.file))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testCPR[:9]) {
				t.Errorf("the error shows the CPR number: %v", err)
			}
		})
	}
}

// TestReaderStreams: Next returns the objects one by one, then io.EOF (and again).
func TestReaderStreams(t *testing.T) {
	r, err := NewReader(bytes.NewReader(write(t, smallSet(), Options{})))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		_, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if _, err := r.Next(); err != io.EOF || n != 7 {
		t.Errorf("read %d objects, then %v", n, err)
	}
}

// TestWriteRefuses: kinds outside the export, nil objects and an object twice are refused.
func TestWriteRefuses(t *testing.T) {
	for name, objs := range map[string][]*oio.Object{
		"itsystem": {{Kind: oio.KindItSystem, UUID: uuid.New()}},
		"nil":      {nil},
		"twice":    {smallSet()[0], smallSet()[0]},
		"no uuid":  {{Kind: oio.KindBruger}},
	} {
		if _, err := Write(io.Discard, header(), objs, Options{}); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}
