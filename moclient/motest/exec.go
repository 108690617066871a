package motest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/google/uuid"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator"
)

// graphQLResponse is a GraphQL answer; Data is null when the request failed validation.
type graphQLResponse struct {
	Data   any           `json:"data"`
	Errors gqlerror.List `json:"errors,omitempty"`
}

// resolver resolves one field. parent is the Go value of the enclosing object (nil for Query);
// args are the field's arguments with variables substituted and defaults applied. A nil result
// is GraphQL null; slices are lists; structs/pointers are objects resolved by their type's
// resolvers; strings, numbers, booleans, uuid.UUID and time.Time are leaves.
type resolver func(ex *execution, parent any, args map[string]any) (any, error)

// execution is the state of one GraphQL request.
type execution struct {
	ctx    context.Context
	s      *Server
	schema *ast.Schema
	doc    *ast.QueryDocument
	vars   map[string]any
	now    time.Time
	errs   gqlerror.List
	// client is the Keycloak client the request's token was issued to ("" without one) and
	// owner its owner UUID in the event system.
	client string
	owner  uuid.UUID
	// emptyFetch is set when event_fetch answered null, for Options.EmptyFetchDelay.
	emptyFetch bool
}

// maxCachedDocs bounds the validated query documents a Server keeps.
const maxCachedDocs = 64

// document parses and validates a query against the v25 schema, or returns the document
// validated before for the same text. Documents are not changed by execution.
func (s *Server) document(query string) (*ast.QueryDocument, gqlerror.List) {
	s.docMu.Lock()
	doc, ok := s.docs[query]
	s.docMu.Unlock()
	if ok {
		return doc, nil
	}
	doc, errs := gqlparser.LoadQueryWithRules(s.schema, query, nil)
	if len(errs) > 0 {
		return nil, errs
	}
	s.docMu.Lock()
	defer s.docMu.Unlock()
	if s.docs == nil || len(s.docs) >= maxCachedDocs {
		s.docs = map[string]*ast.QueryDocument{}
	}
	s.docs[query] = doc
	return doc, nil
}

// execute validates req against the v25 schema and runs it. A query runs over the store under a
// read lock. A mutation's top-level fields run one after the other, in document order (GraphQL's
// serial execution); a mutation runs without the store lock, and the resolvers that read the
// store (the *_refresh mutations) take it themselves, so an event_acknowledge held by
// [Server.HoldAcknowledgements] blocks no one else.
func (s *Server) execute(ctx context.Context, req graphQLRequest) graphQLResponse {
	doc, errs := s.document(req.Query)
	if len(errs) > 0 {
		return graphQLResponse{Errors: errs}
	}
	op, err := pickOperation(doc, req.OperationName)
	if err != nil {
		return graphQLResponse{Errors: gqlerror.List{gqlerror.Errorf("%s", err)}}
	}
	vars, err := validator.VariableValues(s.schema, op, req.Variables)
	if err != nil {
		var ge *gqlerror.Error
		if errors.As(err, &ge) {
			return graphQLResponse{Errors: gqlerror.List{ge}}
		}
		return graphQLResponse{Errors: gqlerror.List{gqlerror.Errorf("%s", err)}}
	}
	ex := &execution{ctx: ctx, s: s, schema: s.schema, doc: doc, vars: vars, now: s.opts.Now(), client: clientFrom(ctx)}
	if ex.client != "" {
		ex.owner = clientOwner(ex.client)
	}
	var data *orderedObject
	switch op.Operation {
	case ast.Query:
		s.mu.RLock()
		data = ex.selectionSet(s.schema.Query, nil, op.SelectionSet, nil)
		s.mu.RUnlock()
	case ast.Mutation:
		data = ex.selectionSet(s.schema.Mutation, nil, op.SelectionSet, nil)
	default:
		return graphQLResponse{Errors: gqlerror.List{gqlerror.Errorf("the fake OS2MO does not implement %s operations", op.Operation)}}
	}
	if ex.emptyFetch && s.opts.EmptyFetchDelay > 0 {
		t := time.NewTimer(s.opts.EmptyFetchDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return graphQLResponse{Data: data, Errors: ex.errs}
}

func pickOperation(doc *ast.QueryDocument, name string) (*ast.OperationDefinition, error) {
	if name == "" {
		if len(doc.Operations) != 1 {
			return nil, errors.New("operationName is required when the document has several operations")
		}
		return doc.Operations[0], nil
	}
	op := doc.Operations.ForName(name)
	if op == nil {
		return nil, fmt.Errorf("unknown operation named %q", name)
	}
	return op, nil
}

// orderedObject is a JSON object that keeps the query's field order, as GraphQL requires.
type orderedObject struct {
	keys []string
	vals map[string]any
}

// MarshalJSON implements json.Marshaler. Nested objects and lists are written directly into one
// buffer (not through json.Marshal per level, which would re-validate and compact every nested
// result once per level above it).
func (o *orderedObject) MarshalJSON() ([]byte, error) {
	return o.appendJSON(make([]byte, 0, 1024))
}

func (o *orderedObject) appendJSON(b []byte) ([]byte, error) {
	b = append(b, '{')
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		var err error
		if b, err = appendJSONValue(b, k); err != nil {
			return nil, err
		}
		b = append(b, ':')
		if b, err = appendJSONValue(b, o.vals[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendJSONValue appends v: an object or list of the result directly, a leaf (string, number,
// boolean, null, UUID, time) as encoding/json writes it.
func appendJSONValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case *orderedObject:
		if x == nil {
			return append(b, "null"...), nil
		}
		return x.appendJSON(b)
	case []any:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSONValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	leaf, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, leaf...), nil
}

// fieldGroup is all fields of a selection set that share a response key (alias or name).
type fieldGroup struct {
	key    string
	fields []*ast.Field
}

func (ex *execution) selectionSet(def *ast.Definition, obj any, sel ast.SelectionSet, path ast.Path) *orderedObject {
	out := &orderedObject{vals: map[string]any{}}
	for _, g := range ex.collect(def, sel, nil) {
		f := g.fields[0]
		fpath := append(append(ast.Path{}, path...), ast.PathName(g.key))
		out.keys = append(out.keys, g.key)
		if f.Name == "__typename" {
			out.vals[g.key] = def.Name
			continue
		}
		r := ex.s.resolvers[def.Name][f.Name]
		if r == nil {
			ex.fieldError(f, fpath, fmt.Errorf("the fake OS2MO does not implement %s.%s yet", def.Name, f.Name))
			out.vals[g.key] = nil
			continue
		}
		val, err := r(ex, obj, f.ArgumentMap(ex.vars))
		if err != nil {
			ex.fieldError(f, fpath, err)
			out.vals[g.key] = nil
			continue
		}
		var sub ast.SelectionSet
		for _, gf := range g.fields {
			sub = append(sub, gf.SelectionSet...)
		}
		out.vals[g.key] = ex.complete(f, f.Definition.Type, val, sub, fpath)
	}
	return out
}

// complete turns a resolved Go value into its JSON form according to the field's type.
func (ex *execution) complete(f *ast.Field, t *ast.Type, val any, sel ast.SelectionSet, path ast.Path) any {
	if rv := reflect.ValueOf(val); t.Elem != nil && rv.Kind() == reflect.Slice && rv.IsNil() {
		return []any{} // a nil Go slice is an empty list
	}
	if isNil(val) {
		if t.NonNull {
			ex.fieldError(f, path, errors.New("the fake resolved a non-null field to null"))
		}
		return nil
	}
	if t.Elem != nil {
		rv := reflect.ValueOf(val)
		if rv.Kind() != reflect.Slice {
			ex.fieldError(f, path, fmt.Errorf("the fake resolved a list field to %T", val))
			return nil
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = ex.complete(f, t.Elem, rv.Index(i).Interface(), sel, append(append(ast.Path{}, path...), ast.PathIndex(i)))
		}
		return out
	}
	def := ex.schema.Types[t.NamedType]
	switch def.Kind {
	case ast.Scalar, ast.Enum:
		switch v := val.(type) {
		case uuid.UUID:
			return v.String()
		case time.Time:
			return v.In(ex.s.loc).Format(time.RFC3339)
		default:
			return v
		}
	case ast.Object:
		return ex.selectionSet(def, val, sel, path)
	default:
		ex.fieldError(f, path, fmt.Errorf("the fake does not resolve %s type %s yet", def.Kind, def.Name))
		return nil
	}
}

// collect flattens fields, fragment spreads and inline fragments that apply to def, grouping by
// response key in first-seen order and honouring @skip/@include.
func (ex *execution) collect(def *ast.Definition, sel ast.SelectionSet, groups []*fieldGroup) []*fieldGroup {
	for _, s := range sel {
		switch s := s.(type) {
		case *ast.Field:
			if !ex.included(s.Directives) {
				continue
			}
			key := s.Alias
			if key == "" {
				key = s.Name
			}
			found := false
			for _, g := range groups {
				if g.key == key {
					g.fields = append(g.fields, s)
					found = true
					break
				}
			}
			if !found {
				groups = append(groups, &fieldGroup{key: key, fields: []*ast.Field{s}})
			}
		case *ast.FragmentSpread:
			frag := ex.doc.Fragments.ForName(s.Name)
			if !ex.included(s.Directives) || frag == nil || !ex.applies(def, frag.TypeCondition) {
				continue
			}
			groups = ex.collect(def, frag.SelectionSet, groups)
		case *ast.InlineFragment:
			if !ex.included(s.Directives) || (s.TypeCondition != "" && !ex.applies(def, s.TypeCondition)) {
				continue
			}
			groups = ex.collect(def, s.SelectionSet, groups)
		}
	}
	return groups
}

func (ex *execution) applies(def *ast.Definition, cond string) bool {
	if cond == def.Name {
		return true
	}
	for _, t := range ex.schema.PossibleTypes[cond] {
		if t.Name == def.Name {
			return true
		}
	}
	return false
}

func (ex *execution) included(dirs ast.DirectiveList) bool {
	if d := dirs.ForName("skip"); d != nil && d.ArgumentMap(ex.vars)["if"] == true {
		return false
	}
	if d := dirs.ForName("include"); d != nil && d.ArgumentMap(ex.vars)["if"] == false {
		return false
	}
	return true
}

func (ex *execution) fieldError(f *ast.Field, path ast.Path, err error) {
	e := &gqlerror.Error{Message: err.Error(), Path: path}
	if f.Position != nil {
		e.Locations = []gqlerror.Location{{Line: f.Position.Line, Column: f.Position.Column}}
	}
	ex.errs = append(ex.errs, e)
}

func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface:
		return rv.IsNil()
	}
	return false
}
