package motest

import (
	_ "embed"
	"fmt"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
)

// schemaV25 is OS2MO's GraphQL schema at API version 25 (GET /graphql/v25/schema.graphql).
//
//go:embed schema-v25.graphql
var schemaV25 string

// SchemaV25 returns the SDL text of the real OS2MO GraphQL v25 schema the fake validates against.
func SchemaV25() string { return schemaV25 }

// LoadSchemaV25 parses [SchemaV25]. Each call parses anew; callers keep the result.
func LoadSchemaV25() (*ast.Schema, error) {
	s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema-v25.graphql", Input: schemaV25})
	if err != nil {
		return nil, fmt.Errorf("motest: parsing OS2MO v25 schema: %w", err)
	}
	return s, nil
}
