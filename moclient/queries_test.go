package moclient_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// allOperations are the operations the client sends; a query added to queries/ must be listed
// here (and so get validated and exercised).
var allOperations = []string{
	"AcknowledgeEvent", "AddressOwners", "AssociationOwners", "DeclareEventListener", "EngagementOwners", "EventListeners",
	"FetchEvent", "ITUserOwners", "KLEOwners", "LeaveOwners", "ListOrgUnits", "ListPersons", "ManagerOwners", "OrgUnit", "Person", "Ping", "Subtree",
	"UnitManagers",
	"UnitPersons",
}

// mutations are the operations that change OS2MO: the GraphQL event system's (the client changes
// nothing else there).
var mutations = []string{"AcknowledgeEvent", "DeclareEventListener"}

func loadSchema(t *testing.T) *ast.Schema {
	t.Helper()
	schema, err := motest.LoadSchemaV25()
	if err != nil {
		t.Fatal(err)
	}
	return schema
}

// TestEmbeddedQueriesMatchSchemaV25 validates every query the client can send against the real
// OS2MO v25 schema.
func TestEmbeddedQueriesMatchSchemaV25(t *testing.T) {
	schema := loadSchema(t)
	queries, err := moclient.EmbeddedQueries()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name := range queries {
		names = append(names, name)
	}
	slices.Sort(names)
	if !slices.Equal(names, allOperations) {
		t.Fatalf("embedded operations = %v, want %v", names, allOperations)
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
			if op := doc.Operations[0].Operation; op != ast.Query && !slices.Contains(mutations, name) {
				t.Fatalf("%s is a %s; only %v may be mutations", name, op, mutations)
			}
		})
	}
}

// TestSchemaValidationRejectsBrokenQueries shows the validation above fails on broken queries:
// each embedded query with a field that does not exist, and realistic mistakes.
func TestSchemaValidationRejectsBrokenQueries(t *testing.T) {
	schema := loadSchema(t)
	queries, err := moclient.EmbeddedQueries()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range allOperations {
		t.Run("unknown field in "+name, func(t *testing.T) {
			q := queries[name]
			// Add a bogus field right after the operation's first selection set opens.
			i := strings.Index(q, "query "+name)
			if i < 0 {
				i = strings.Index(q, "mutation "+name)
			}
			j := i + strings.Index(q[i:], "{")
			bad := q[:j+1] + " no_such_field " + q[j+1:]
			_, errs := gqlparser.LoadQueryWithRules(schema, bad, nil)
			if len(errs) == 0 || !strings.Contains(errs.Error(), `Cannot query field "no_such_field"`) {
				t.Fatalf("got errors %v, want a 'Cannot query field' error", errs)
			}
		})
	}
	tests := []struct {
		name, operation, old, new, want string
	}{
		{"misspelt field", "OrgUnit", "org_unit_level", "org_unit_levle", `Cannot query field "org_unit_levle"`},
		{"unknown filter key", "AddressOwners", "uuids: [$uuid]", "uuid: [$uuid]", `Field "uuid" is not defined by type "AddressFilter"`},
		{"wrong variable type", "Person", "$uuids: [UUID!]!", "$uuids: [String!]!", `Variable "$uuids" of type "[String!]!" used in position expecting type "[UUID!]"`},
		{"field of another type", "KLEOwners", "org_unit_response", "person_response", `Cannot query field "person_response" on type "KLE"`},
		{"missing fragment", "Person", "fragment ClassFields on Class", "fragment ClassFieldz on Class", `Unknown fragment "ClassFields"`},
		{"undefined variable", "UnitPersons", "$now: DateTime!, ", "", `Variable "$now" is not defined`},
		{"undefined @include variable", "Person", ", $unit_addresses: Boolean!", "", `Variable "$unit_addresses" is not defined`},
		{"@include on a non-Boolean", "Person", "$unit_addresses: Boolean!", "$unit_addresses: String!", `Variable "$unit_addresses" of type "String!" used in position expecting type "Boolean!"`},
		{"misspelt paged field", "Person", "engagements_responses(", "engagement_responses(", `Cannot query field "engagement_responses" on type "ITUser"`},
		{"scalar without subselection", "Subtree", "objects { uuid }", "objects", `must have a selection of subfields`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := queries[tt.operation]
			bad := strings.Replace(q, tt.old, tt.new, 1)
			if bad == q {
				t.Fatalf("test setup: %q not found in %s", tt.old, tt.operation)
			}
			_, errs := gqlparser.LoadQueryWithRules(schema, bad, nil)
			if len(errs) == 0 || !strings.Contains(errs.Error(), tt.want) {
				t.Fatalf("got errors %v, want one containing %q", errs, tt.want)
			}
		})
	}
}
