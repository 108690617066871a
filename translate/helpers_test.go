package translate_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// body returns the XML request element an operation is sent as, through the oio codec.
func body(t testing.TB, op translate.Operation) []byte {
	t.Helper()
	var el *etree.Element
	var err error
	switch op.Op {
	case translate.OpImport:
		el, err = oio.MarshalImportInput(&op.Object)
	case translate.OpUpdate:
		el, err = oio.MarshalRetInput(oio.NewRetInput(&op.Object, ""))
	default:
		t.Fatalf("unknown operation %q", op.Op)
	}
	if err != nil {
		t.Fatalf("%s %s %s does not serialise: %v", op.Op, op.Object.Kind, op.Object.UUID, err)
	}
	doc := etree.NewDocument()
	doc.SetRoot(el)
	doc.Indent(2)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// opsXML renders operations (and the translation's problems) for a golden file, and queues every
// body for XSD validation.
func opsXML(t *testing.T, problems []translate.Problem, ops []translate.Operation) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, p := range problems {
		fmt.Fprintf(&b, "<!-- problem: %s -->\n", strings.ReplaceAll(p.String(), "--", "- -"))
	}
	if len(ops) == 0 {
		b.WriteString("<!-- no operations -->\n")
	}
	for i, op := range ops {
		x := body(t, op)
		xsd.add(t, op.Object.Kind, x)
		fmt.Fprintf(&b, "<!-- %d: %s %s %s -->\n", i+1, op.Op, op.Object.Kind, op.Object.UUID)
		b.Write(x)
	}
	return b.Bytes()
}

// xsdBatch collects request bodies per kind and validates them with xmllint in one run per kind
// when the test ends (an xmllint run per body would be slow). Without xmllint the check is skipped,
// unless CI=true: then the test fails.
type xsdBatch struct {
	mu   sync.Mutex
	docs map[testing.TB]map[oio.Kind][][]byte
}

var xsd = &xsdBatch{docs: map[testing.TB]map[oio.Kind][][]byte{}}

func (x *xsdBatch) add(t testing.TB, k oio.Kind, doc []byte) {
	x.mu.Lock()
	defer x.mu.Unlock()
	m := x.docs[t]
	if m == nil {
		m = map[oio.Kind][][]byte{}
		x.docs[t] = m
		t.Cleanup(func() { x.check(t) })
	}
	m[k] = append(m[k], doc)
}

func (x *xsdBatch) check(t testing.TB) {
	x.mu.Lock()
	m := x.docs[t]
	delete(x.docs, t)
	x.mu.Unlock()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Errorf("xmllint not found (install libxml2-utils): %v", err)
		}
		return
	}
	dir, err := os.MkdirTemp("", "translate-xsd-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	kinds := make([]oio.Kind, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		schema := filepath.Join("..", "stsclient", "xsd", "6.0.STS-0", k.ElementName()+"Operationer.xsd")
		args := []string{"--noout", "--nonet", "--schema", schema}
		for i, doc := range m[k] {
			f := filepath.Join(dir, fmt.Sprintf("%s-%d.xml", k, i))
			if err := os.WriteFile(f, doc, 0o644); err != nil {
				t.Fatal(err)
			}
			args = append(args, f)
		}
		out, err := exec.Command(xmllint, args...).CombinedOutput()
		if err != nil {
			t.Errorf("xmllint rejects %s bodies: %v\n%s", k, err, out)
		}
	}
}

// sts is a model of STS Organisation for tests: objects by UUID, changed only through
// translate.Apply.
type sts map[uuid.UUID]*oio.Object

// lookups simulates what the consumer reads before PlanAll, following Desired.Lookups: the named
// objects, the users of the person, and the functions of those users and of the units.
func (s sts) lookups(d translate.Desired) map[uuid.UUID]*oio.Object {
	l := d.Lookups()
	out := map[uuid.UUID]*oio.Object{}
	for _, r := range l.Read {
		if o := s[r.UUID]; o != nil && o.Kind == r.Kind {
			out[r.UUID] = o
		}
	}
	users := slices.Clone(l.FunctionsOfUsers)
	for id, o := range s {
		if l.UsersOfPerson != uuid.Nil && o.Kind == oio.KindBruger && refersTo(o, oio.RelTilknyttedePersoner, l.UsersOfPerson) {
			out[id] = o
			users = append(users, id)
		}
	}
	for id, o := range s {
		if o.Kind != oio.KindOrganisationFunktion {
			continue
		}
		for _, u := range users {
			if refersTo(o, oio.RelTilknyttedeBrugere, u) {
				out[id] = o
			}
		}
		for _, uf := range l.FunctionsOfUnits {
			if refersTo(o, oio.RelTilknyttedeEnheder, uf.Unit) && (uf.Types == nil || slices.ContainsFunc(uf.Types, func(t uuid.UUID) bool {
				return refersTo(o, oio.RelFunktionstype, t)
			})) {
				out[id] = o
			}
		}
	}
	return out
}

func refersTo(o *oio.Object, name oio.RelationName, id uuid.UUID) bool {
	return slices.ContainsFunc(o.Registration.Relationer, func(r oio.Relation) bool { return r.Name == name && r.Ref == id })
}

// sync plans a bundle against the consumer's view of the model, checks every body against the
// XSD, applies the operations, and checks that re-planning yields nothing. It returns the
// operations.
func (s sts) sync(t *testing.T, st translate.Settings, d translate.Desired, now time.Time) []translate.Operation {
	t.Helper()
	ops := translate.PlanAll(st, d, s.lookups(d), now)
	for _, op := range ops {
		if err := op.Object.Validate(); err != nil {
			t.Fatalf("%s %s: %v", op.Op, op.Ref(), err)
		}
		xsd.add(t, op.Object.Kind, body(t, op))
	}
	if err := translate.ApplyAll(s, ops); err != nil {
		t.Fatalf("applying the plan: %v\nplan: %s", err, describe(ops))
	}
	if again := translate.PlanAll(st, d, s.lookups(d), now); len(again) != 0 {
		t.Fatalf("re-planning after applying is not idempotent:\nfirst: %s\nagain: %s", describe(ops), describe(again))
	}
	return ops
}

// describe summarises operations as "op kind uuid" lines.
func describe(ops []translate.Operation) string {
	var b strings.Builder
	for _, op := range ops {
		fmt.Fprintf(&b, "\n  %s %s %s", op.Op, op.Object.Kind, op.Object.UUID)
	}
	if b.Len() == 0 {
		return "(none)"
	}
	return b.String()
}

// opSummary is an operation as the scenario tests assert it.
type opSummary struct {
	op   translate.OpKind
	kind oio.Kind
	id   uuid.UUID
}

func summarise(ops []translate.Operation) []opSummary {
	out := make([]opSummary, 0, len(ops))
	for _, op := range ops {
		out = append(out, opSummary{op.Op, op.Object.Kind, op.Object.UUID})
	}
	return out
}

func (o opSummary) String() string { return fmt.Sprintf("%s %s %s", o.op, o.kind, o.id) }

// assertOps checks that ops are exactly want, in order.
func assertOps(t *testing.T, ops []translate.Operation, want ...opSummary) {
	t.Helper()
	got := summarise(ops)
	if !slices.Equal(got, want) {
		t.Errorf("planned:%s\nwant:%s", describe(ops), func() string {
			var b strings.Builder
			for _, w := range want {
				b.WriteString("\n  " + w.String())
			}
			if b.Len() == 0 {
				return "(none)"
			}
			return b.String()
		}())
	}
}

func imp(k oio.Kind, id uuid.UUID) opSummary { return opSummary{translate.OpImport, k, id} }
func ret(k oio.Kind, id uuid.UUID) opSummary { return opSummary{translate.OpUpdate, k, id} }

// relations returns the relations of a name in an object.
func relations(o *oio.Object, name oio.RelationName) []oio.Relation {
	var out []oio.Relation
	for _, r := range o.Registration.Relationer {
		if r.Name == name {
			out = append(out, r)
		}
	}
	return out
}

// live returns the relations of a name in effect on day t.
func live(o *oio.Object, name oio.RelationName, t time.Time) []oio.Relation {
	var out []oio.Relation
	for _, r := range relations(o, name) {
		if r.Virkning.Covers(t) {
			out = append(out, r)
		}
	}
	return out
}

// dumpObj renders an object compactly for failure messages (no CPR numbers).
func dumpObj(o *oio.Object) string {
	if o == nil {
		return "<nil>"
	}
	var b strings.Builder
	f := func(v oio.Virkning) string {
		d := func(t time.Time) string {
			if t.IsZero() {
				return "∞"
			}
			return t.Format("2006-01-02T15")
		}
		return d(v.From) + ".." + d(v.To)
	}
	fmt.Fprintf(&b, "%s %s %s\n", o.Kind, o.UUID, o.Registration.Livscyklus)
	for _, e := range o.Registration.Egenskaber {
		fmt.Fprintf(&b, "  E %s %q %q %q %q cpr=%v\n", f(e.Virkning), e.BrugervendtNoegle, e.Navn, e.AdresseTekst, e.BrugerTypeTekst, e.CPR != "")
	}
	for _, g := range o.Registration.Gyldighed {
		fmt.Fprintf(&b, "  G %s %s\n", f(g.Virkning), g.Status)
	}
	for _, r := range o.Registration.Relationer {
		fmt.Fprintf(&b, "  R %s %s %s %s %q\n", r.Name, f(r.Virkning), r.Ref, r.Rolle, r.Indeks)
	}
	return b.String()
}
