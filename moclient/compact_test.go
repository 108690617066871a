package moclient

import (
	"bytes"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/formatter"
	"github.com/vektah/gqlparser/v2/parser"
)

// TestCompactDocument: comments, commas and whitespace go, a space stays where two tokens would
// otherwise run together, and strings are left exactly as they are.
func TestCompactDocument(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"comments and indentation", "# A query.\nquery Q($a: [UUID!]!, $b: Int) {\n  x(a: $a, b: $b) { # the x\n    y\n    z\n  }\n}\n",
			"query Q($a:[UUID!]!$b:Int){x(a:$a b:$b){y z}}"},
		{"spreads", "{ a ...F ... on T { b } ... @include(if: $c) { d } }", "{a ...F ... on T{b}...@include(if:$c){d}}"},
		{"numbers and names", "{ a(first: 10, offset: -5, f: 1.5e3) }", "{a(first:10 offset:-5 f:1.5e3)}"},
		{"strings keep their insides", `{ a(s: "x, # not a comment  \" y", t: "") b }`, `{a(s:"x, # not a comment  \" y"t:"")b}`},
		{"block strings too", "{ a(s: \"\"\"\n  two # lines,\n  \\\"\"\" quoted\n\"\"\") }", "{a(s:\"\"\"\n  two # lines,\n  \\\"\"\" quoted\n\"\"\")}"},
		{"carriage returns and a byte order mark", "\ufeffquery Q {\r\n  a # x\r\n  b\r\n}", "query Q{a b}"},
		{"empty", "# nothing\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := compactDocument(tc.in); got != tc.want {
				t.Errorf("compactDocument(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestCompactedQueriesParseTheSame: every embedded query, compacted as the client sends it,
// parses to the same document as the file, and is shorter.
func TestCompactedQueriesParseTheSame(t *testing.T) {
	queries, err := loadQueries()
	if err != nil {
		t.Fatal(err)
	}
	format := func(t *testing.T, doc string) string {
		t.Helper()
		q, err := parser.ParseQuery(&ast.Source{Input: doc})
		if err != nil {
			t.Fatalf("parse: %v\n%s", err, doc)
		}
		var b bytes.Buffer
		formatter.NewFormatter(&b).FormatQueryDocument(q)
		return b.String()
	}
	for name, doc := range queries {
		t.Run(name, func(t *testing.T) {
			compact := compactDocument(doc)
			if want, got := format(t, doc), format(t, compact); got != want {
				t.Errorf("compacted %s parses differently:\n%s\nwant\n%s", name, got, want)
			}
			if len(compact) >= len(doc) {
				t.Errorf("compacted %s is %d bytes, the file %d", name, len(compact), len(doc))
			}
			t.Logf("%s: %d -> %d bytes", name, len(doc), len(compact))
		})
	}
}
