package motest_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

func TestGenerate(t *testing.T) {
	tests := []struct {
		seed  int64
		units int
	}{{1, 1}, {1, 9}, {42, 20}, {99, 500}}
	for _, tt := range tests {
		d := motest.Generate(tt.seed, tt.units)
		if len(d.Units) != tt.units {
			t.Fatalf("seed %d: %d units, want %d", tt.seed, len(d.Units), tt.units)
		}
		if top := d.Units[0]; top.Name != d.Municipality+" Kommune" || top.Parent != nil {
			t.Errorf("seed %d: top unit %q parent %v", tt.seed, top.Name, top.Parent)
		}
		seen := map[uuid.UUID]bool{}
		scopes := map[string]int{}
		visibility := map[string]int{}
		for i, u := range d.Units {
			if seen[u.UUID] {
				t.Fatalf("seed %d: duplicate UUID %s", tt.seed, u.UUID)
			}
			if i > 0 && (u.Parent == nil || !seen[*u.Parent]) {
				t.Fatalf("seed %d: unit %d %q has no earlier parent", tt.seed, i, u.Name)
			}
			seen[u.UUID] = true
			for _, a := range u.Addresses {
				scopes[a.Type.Scope]++
				if a.Visibility != nil {
					visibility[a.Visibility.Scope]++
				}
				if a.Type.Scope == "EAN" && !validEAN(a.Value) {
					t.Errorf("seed %d: invalid EAN %q", tt.seed, a.Value)
				}
				if a.Type.Scope == "EMAIL" && !strings.HasSuffix(a.Value, "@"+strings.ToLower(strings.NewReplacer("ø", "oe", "æ", "ae", "å", "aa").Replace(d.Municipality))+".dk") {
					t.Errorf("seed %d: e-mail %q not in the municipality's domain", tt.seed, a.Value)
				}
			}
		}
		if tt.units >= 100 {
			for _, s := range []string{"EMAIL", "PHONE", "EAN", "PNUMBER", "DAR"} {
				if scopes[s] == 0 {
					t.Errorf("seed %d: no %s addresses", tt.seed, s)
				}
			}
			if visibility["PUBLIC"] == 0 || visibility["SECRET"] == 0 {
				t.Errorf("seed %d: visibilities %v, want PUBLIC and SECRET", tt.seed, visibility)
			}
		}
		if err := motest.NewServer(motest.Options{}).Load(d); err != nil {
			t.Fatalf("seed %d: Load: %v", tt.seed, err)
		}
	}
	if d := motest.Generate(42, 20); len(d.Units) > 1 && d.Units[1].Name != "Teknik og Miljø" {
		t.Errorf("first department = %q, want Teknik og Miljø", d.Units[1].Name)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	a, b := motest.Generate(5, 80), motest.Generate(5, 80)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different data")
	}
	if c := motest.Generate(6, 80); reflect.DeepEqual(a.Units[0].UUID, c.Units[0].UUID) {
		t.Fatal("different seeds gave the same top UUID")
	}
}

func validEAN(s string) bool {
	if len(s) != 13 {
		return false
	}
	sum := 0
	for i, r := range s[:12] {
		d := int(r - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return int(s[12]-'0') == (10-sum%10)%10
}
