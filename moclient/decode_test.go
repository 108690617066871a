package moclient

import (
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// TestDecodeResponse: the GraphQL answer is decoded in one pass, data straight into the caller's
// value, with encoding/json's leniency (invalid UTF-8, repeated names) and its strictness (one
// JSON object, nothing after it).
func TestDecodeResponse(t *testing.T) {
	type data struct {
		Unit struct {
			UUID uuid.UUID `json:"uuid"`
			Name string    `json:"name"`
			Tags []string  `json:"tags"`
		} `json:"unit"`
	}
	id := uuid.MustParse("6a0b2b4e-6a4c-4d5e-9a1b-2c3d4e5f6a7b")
	named := func(name string, tags ...string) data {
		var d data
		d.Unit.UUID, d.Unit.Name, d.Unit.Tags = id, name, tags
		return d
	}
	for _, tc := range []struct {
		name     string
		body     string
		want     data
		errs     []string // messages of the GraphQL errors
		hasData  bool
		dataErr  bool
		wantFail bool // the body is not a GraphQL response
	}{
		{name: "data", body: `{"data":{"unit":{"uuid":"` + id.String() + `","name":"Skole","tags":["a","b"]}}}`,
			want: named("Skole", "a", "b"), hasData: true},
		{name: "errors before data, extensions skipped", body: `{"errors":[{"message":"boom","path":["unit",0]}],"extensions":{"x":[1,{"y":null}]},"data":{"unit":{"uuid":"` + id.String() + `","name":"Skole"}}}`,
			want: named("Skole"), errs: []string{"boom"}, hasData: true},
		{name: "null data with errors", body: `{"data":null,"errors":[{"message":"denied"}]}`, errs: []string{"denied"}},
		{name: "null data alone", body: `{"data":null}`},
		{name: "no data", body: `{}`},
		{name: "fields unknown to the caller are ignored", body: `{"data":{"unit":{"uuid":"` + id.String() + `","name":"Skole","more":{"deep":[1,2]}},"other":true}}`,
			want: named("Skole"), hasData: true},
		{name: "a repeated name is taken last", body: `{"data":{"unit":{"uuid":"` + id.String() + `","name":"A","name":"B"}}}`,
			want: named("B"), hasData: true},
		{name: "invalid UTF-8 is replaced", body: "{\"data\":{\"unit\":{\"uuid\":\"" + id.String() + "\",\"name\":\"K\xffge\"}}}",
			want: named("K\uFFFDge"), hasData: true},
		{name: "data of the wrong shape, errors after it still read", body: `{"data":{"unit":{"uuid":"` + id.String() + `","name":42}},"errors":[{"message":"late"}]}`,
			errs: []string{"late"}, hasData: true, dataErr: true},
		{name: "bad UUID", body: `{"data":{"unit":{"uuid":"not-a-uuid"}}}`, hasData: true, dataErr: true},
		{name: "truncated", body: `{"data":{"unit":{"uuid":"` + id.String() + `"`, wantFail: true},
		{name: "not an object", body: `[{"data":{}}]`, wantFail: true},
		{name: "something after the object", body: `{"data":{"unit":{}}} {}`, wantFail: true},
		{name: "empty body", body: ``, wantFail: true},
		{name: "HTML error page with status 200", body: `<html>Bad Gateway</html>`, wantFail: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got data
			r, err := decodeResponse([]byte(tc.body), &got)
			if (err != nil) != tc.wantFail {
				t.Fatalf("err = %v, want failure %v", err, tc.wantFail)
			}
			if tc.wantFail {
				return
			}
			var msgs []string
			for _, e := range r.errors {
				msgs = append(msgs, e.Message)
			}
			if !reflect.DeepEqual(msgs, tc.errs) {
				t.Errorf("errors = %q, want %q", msgs, tc.errs)
			}
			if r.hasData != tc.hasData {
				t.Errorf("hasData = %v, want %v", r.hasData, tc.hasData)
			}
			if (r.dataErr != nil) != tc.dataErr {
				t.Errorf("dataErr = %v, want an error: %v", r.dataErr, tc.dataErr)
			}
			if !tc.dataErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("data = %+v, want %+v", got, tc.want)
			}
		})
	}
}
