package moclient_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// TestEmbeddedQueriesMatchSchemaV25 validates every query the client can send against the real
// OS2MO v25 schema.
func TestEmbeddedQueriesMatchSchemaV25(t *testing.T) {
	schema, err := motest.LoadSchemaV25()
	if err != nil {
		t.Fatal(err)
	}
	queries, err := moclient.EmbeddedQueries()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"OrgUnit", "Ping"} {
		if _, ok := queries[want]; !ok {
			t.Errorf("embedded query %q missing; have %d queries", want, len(queries))
		}
	}
	for name, q := range queries {
		t.Run(name, func(t *testing.T) {
			doc, errs := gqlparser.LoadQueryWithRules(schema, q, nil)
			if len(errs) > 0 {
				t.Fatalf("query %s does not validate against the v25 schema: %v", name, errs)
			}
			if len(doc.Operations) != 1 || doc.Operations[0].Name != name {
				t.Fatalf("query %s: want exactly one operation named %s", name, name)
			}
		})
	}
}

// TestSchemaValidationRejectsMisspeltField shows the validation above can fail.
func TestSchemaValidationRejectsMisspeltField(t *testing.T) {
	schema, err := motest.LoadSchemaV25()
	if err != nil {
		t.Fatal(err)
	}
	queries, err := moclient.EmbeddedQueries()
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(queries["OrgUnit"], "org_unit_level", "org_unit_levle", 1)
	if bad == queries["OrgUnit"] {
		t.Fatal("test setup: field to misspell not found in the OrgUnit query")
	}
	_, errs := gqlparser.LoadQueryWithRules(schema, bad, nil)
	if len(errs) == 0 || !strings.Contains(errs.Error(), `Cannot query field "org_unit_levle"`) {
		t.Fatalf("misspelt field: got errors %v, want a 'Cannot query field' error", errs)
	}
}
