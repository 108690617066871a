package consumer

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestParseEvent(t *testing.T) {
	id := uuid.MustParse("c390b9a2-7202-48e6-972b-ce36a90065c4")
	tests := []struct {
		name    string
		key     string
		body    string
		want    Event
		wantErr error
	}{
		{"MO style JSON string", "org_unit", `"c390b9a2-7202-48e6-972b-ce36a90065c4"`, Event{RoutingKey: "org_unit", Type: TypeOrgUnit, UUID: id}, nil},
		{"bare UUID", "person", "c390b9a2-7202-48e6-972b-ce36a90065c4\n", Event{RoutingKey: "person", Type: TypePerson, UUID: id}, nil},
		{"legacy key with object body", "employee.address.edit", `{"uuid":"c390b9a2-7202-48e6-972b-ce36a90065c4","object_uuid":"00000000-0000-0000-0000-000000000001","time":"2024-01-01T00:00:00+01:00"}`,
			Event{RoutingKey: "employee.address.edit", Type: TypeAddress, UUID: id, Legacy: true, Service: "employee"}, nil},
		{"legacy employee object is a person", "employee.employee.create", `{"uuid":"c390b9a2-7202-48e6-972b-ce36a90065c4"}`,
			Event{RoutingKey: "employee.employee.create", Type: TypePerson, UUID: id, Legacy: true, Service: "employee"}, nil},
		{"empty body", "org_unit", ``, Event{}, ErrMalformed},
		{"not a UUID", "org_unit", `"hello"`, Event{}, ErrMalformed},
		{"UUID without dashes is not what MO sends", "org_unit", `"c390b9a272024 8e6972bce36a90065c4"`, Event{}, ErrMalformed},
		{"broken JSON string", "org_unit", `"c390b9a2-7202-48e6-972b-ce36a90065c4`, Event{}, ErrMalformed},
		{"legacy it object is an ituser", "employee.it.create", `{"uuid":"c390b9a2-7202-48e6-972b-ce36a90065c4"}`,
			Event{RoutingKey: "employee.it.create", Type: TypeITUser, UUID: id, Legacy: true, Service: "employee"}, nil},
		{"legacy with bad service", "foo.address.edit", `{"uuid":"c390b9a2-7202-48e6-972b-ce36a90065c4"}`, Event{}, ErrMalformed},
		{"legacy with non-object body", "org_unit.kle.edit", `"c390b9a2-7202-48e6-972b-ce36a90065c4"`, Event{}, ErrMalformed},
		{"two-word key", "org_unit.x", `"c390b9a2-7202-48e6-972b-ce36a90065c4"`, Event{}, ErrMalformed},
		{"1 MiB body", "org_unit", strings.Repeat("a", 1<<20), Event{}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvent(tt.key, []byte(tt.body))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v; want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("got %+v; want %+v", got, tt.want)
			}
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add("org_unit", []byte(`"c390b9a2-7202-48e6-972b-ce36a90065c4"`))
	f.Add("employee.address.edit", []byte(`{"uuid":"c390b9a2-7202-48e6-972b-ce36a90065c4"}`))
	f.Fuzz(func(t *testing.T, key string, body []byte) {
		ev, err := ParseEvent(key, body)
		if err == nil && ev.UUID == uuid.Nil && !strings.Contains(string(body), "00000000-0000-0000-0000-000000000000") {
			t.Fatalf("accepted %q %q without a UUID", key, body)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v does not wrap ErrMalformed", err)
		}
	})
}

func BenchmarkParseEvent(b *testing.B) {
	bodies := []struct {
		name, key string
		body      []byte
	}{
		{"json-string", "org_unit", []byte(`"0b1e5d4a-2f3c-4e6a-9d8b-7c6f5e4d3c2b"`)},
		{"bare", "org_unit", []byte(`0b1e5d4a-2f3c-4e6a-9d8b-7c6f5e4d3c2b`)},
	}
	for _, tt := range bodies {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseEvent(tt.key, tt.body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
