package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stsorgsync/stsorgsync/internal/golden"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

func TestWriteTable(t *testing.T) {
	for _, tt := range []struct {
		name   string
		report *report.Report
	}{
		{"drift", drifted()},
		{"insync", inSync()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteTable(&b, tt.report); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "table_"+tt.name+".txt", b.Bytes())
		})
	}
}

func TestWriteTableEscapesControlCharacters(t *testing.T) {
	r := &report.Report{Differences: []report.Difference{{
		Kind: report.Field, ObjectKind: oio.KindOrganisationEnhed, UUID: id(1),
		Name: "Evil\x1b[2J\tunit\nname", Field: "name", MO: "a\tb", STS: "\x1b]0;title\a",
	}}}
	var b bytes.Buffer
	if err := report.WriteTable(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\a\t") {
		t.Errorf("table contains raw control characters:\n%q", out)
	}
	for _, want := range []string{`Evil\x1b[2J\tunit\nname`, `"a\tb" → "\x1b]0;title\a"`} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %s:\n%s", want, out)
		}
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, id(1).String()) {
		t.Errorf("the difference is not on one line: %q", last)
	}
}

func TestWriteJSON(t *testing.T) {
	for _, tt := range []struct {
		name   string
		report *report.Report
	}{
		{"drift", drifted()},
		{"insync", inSync()},
		{"empty", &report.Report{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := report.WriteJSON(&b, tt.report); err != nil {
				t.Fatal(err)
			}
			golden.Assert(t, "report_"+tt.name+".json", b.Bytes())
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var first bytes.Buffer
	if err := report.WriteJSON(&first, drifted()); err != nil {
		t.Fatal(err)
	}
	var got report.Report
	if err := json.Unmarshal(first.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := drifted().Normalized()
	if !got.GeneratedAt.Equal(want.GeneratedAt) {
		t.Errorf("generated_at: got %v, want %v", got.GeneratedAt, want.GeneratedAt)
	}
	got.GeneratedAt = want.GeneratedAt // the zone's name does not survive JSON, its offset does
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("decoded report differs from the normalized one:\ngot  %+v\nwant %+v", got, *want)
	}
	var second bytes.Buffer
	if err := report.WriteJSON(&second, &got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Bytes(), second.Bytes()) {
		t.Errorf("writing the decoded report again gives other bytes:\n%s\n---\n%s", first.Bytes(), second.Bytes())
	}
}

// TestNormalized checks that the canonical form renumbers the tree's references with the
// differences, does not depend on the order the differences and children came in, and leaves
// its input alone.
func TestNormalized(t *testing.T) {
	n := drifted().Normalized() // its order is checked by the golden files
	var walk func([]*report.Node)
	walk = func(nodes []*report.Node) {
		for _, nd := range nodes {
			for _, i := range nd.Differences {
				if d := n.Differences[i]; d.Unit != nd.UUID {
					t.Errorf("unit %s (%s) refers to difference %d of unit %s (%s)", nd.UUID, nd.Name, i, d.Unit, d.Name)
				}
			}
			if !slices.IsSorted(nd.Differences) || len(slices.Compact(slices.Clone(nd.Differences))) != len(nd.Differences) {
				t.Errorf("unit %s: differences %v not sorted and unique", nd.Name, nd.Differences)
			}
			walk(nd.Children)
		}
	}
	walk(n.Tree)
	wantByKind := map[report.Kind]int{report.MissingInSTS: 2, report.Field: 4, report.Stale: 1, report.Orphan: 2, report.Foreign: 2}
	if !reflect.DeepEqual(n.Summary.ByKind, wantByKind) {
		t.Errorf("ByKind = %v, want %v", n.Summary.ByKind, wantByKind)
	}

	r := drifted()
	r.Normalized()
	if !reflect.DeepEqual(r, drifted()) {
		t.Error("Normalized modified its receiver")
	}

	want := mustJSON(t, drifted())
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		if got := mustJSON(t, shuffled(drifted(), rng)); !bytes.Equal(got, want) {
			t.Fatalf("a shuffled report normalizes differently:\n%s\n---\n%s", got, want)
		}
	}
}

// shuffled permutes r's differences (renumbering the tree's references) and every node's
// children.
func shuffled(r *report.Report, rng *rand.Rand) *report.Report {
	perm := rng.Perm(len(r.Differences))
	ds := make([]report.Difference, len(r.Differences))
	for from, to := range perm {
		ds[to] = r.Differences[from]
	}
	r.Differences = ds
	var walk func([]*report.Node)
	walk = func(nodes []*report.Node) {
		rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
		for _, n := range nodes {
			for i, d := range n.Differences {
				n.Differences[i] = perm[d]
			}
			walk(n.Children)
		}
	}
	walk(r.Tree)
	return r
}

func mustJSON(t *testing.T, r *report.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestValidate(t *testing.T) {
	if err := drifted().Validate(); err != nil {
		t.Fatalf("the fixture is invalid: %v", err)
	}
	shared := &report.Node{UUID: id(2), Name: "Delt"}
	for _, tt := range []struct {
		name string
		edit func(*report.Report)
		want string
	}{
		{"index out of range", func(r *report.Report) { r.Tree[0].Differences = []int{len(r.Differences)} },
			"refers to difference 11; the report has 11"},
		{"negative index", func(r *report.Report) { r.Tree[0].Children[0].Differences = []int{-1} },
			"refers to difference -1"},
		{"nil node", func(r *report.Report) { r.Tree[0].Children = append(r.Tree[0].Children, nil) },
			"tree[0].children[4] is nil"},
		{"node twice", func(r *report.Report) { r.Tree = append(r.Tree, shared, shared) },
			"appears more than once"},
		{"cycle", func(r *report.Report) { r.Tree[0].Children[0].Children = r.Tree },
			"appears more than once"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := drifted()
			tt.edit(r)
			err := r.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error with %q", err, tt.want)
			}
			if err := report.WriteJSON(&bytes.Buffer{}, r); err == nil {
				t.Error("WriteJSON accepted an invalid report")
			}
			if err := report.WriteHTML(&bytes.Buffer{}, r); err == nil {
				t.Error("WriteHTML accepted an invalid report")
			}
			_ = r.Normalized() // must not loop or panic
		})
	}
}

var errSink = errors.New("sink full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errSink }

func TestWriteErrorsAreWrapped(t *testing.T) {
	for name, write := range map[string]func(*report.Report) error{
		"table": func(r *report.Report) error { return report.WriteTable(failingWriter{}, r) },
		"json":  func(r *report.Report) error { return report.WriteJSON(failingWriter{}, r) },
		"html":  func(r *report.Report) error { return report.WriteHTML(failingWriter{}, r) },
	} {
		if err := write(drifted()); !errors.Is(err, errSink) {
			t.Errorf("%s: error %v does not wrap the writer's", name, err)
		}
	}
}
