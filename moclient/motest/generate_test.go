package motest_test

import (
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
)

func TestGenerateUnits(t *testing.T) {
	tests := []struct {
		seed                int64
		units               int
		minLevels, maxLevel int
	}{{1, 1, 1, 1}, {1, 9, 2, 2}, {42, 20, 3, 7}, {99, 500, 5, 7}, {7, 3000, 6, 7}}
	for _, tt := range tests {
		d := motest.Generate(tt.seed, tt.units)
		if len(d.Units) != tt.units || len(d.Persons) != 0 {
			t.Fatalf("seed %d: %d units %d persons, want %d and 0", tt.seed, len(d.Units), len(d.Persons), tt.units)
		}
		if top := d.Units[0]; top.Name != d.Municipality+" Kommune" || top.Parent != nil {
			t.Errorf("seed %d: top unit %q parent %v", tt.seed, top.Name, top.Parent)
		}
		seen := map[uuid.UUID]bool{}
		depth := map[uuid.UUID]int{}
		scopes, visibility, hierarchies := map[string]int{}, map[string]int{}, map[string]int{}
		levels, kle := 0, 0
		for i, u := range d.Units {
			if seen[u.UUID] {
				t.Fatalf("seed %d: duplicate UUID %s", tt.seed, u.UUID)
			}
			if i > 0 && (u.Parent == nil || !seen[*u.Parent]) {
				t.Fatalf("seed %d: unit %d %q has no earlier parent", tt.seed, i, u.Name)
			}
			if u.Parent != nil {
				depth[u.UUID] = depth[*u.Parent] + 1
			}
			levels = max(levels, depth[u.UUID]+1)
			seen[u.UUID] = true
			hierarchies[u.Hierarchy.Name]++
			kle += len(u.KLE)
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
				if a.Type.Scope == "DAR" && (uuid.Validate(a.Value) != nil || !strings.Contains(a.Name, ", ")) {
					t.Errorf("seed %d: DAR address value %q name %q, want a DAR UUID and a formatted address", tt.seed, a.Value, a.Name)
				}
			}
		}
		if levels < tt.minLevels || levels > tt.maxLevel {
			t.Errorf("seed %d, %d units: %d levels, want %d–%d", tt.seed, tt.units, levels, tt.minLevels, tt.maxLevel)
		}
		if tt.units >= 100 {
			for _, s := range []string{"EMAIL", "PHONE", "EAN", "PNUMBER", "DAR", "WWW"} {
				if scopes[s] == 0 {
					t.Errorf("seed %d: no %s addresses", tt.seed, s)
				}
			}
			if visibility["PUBLIC"] == 0 || visibility["SECRET"] == 0 {
				t.Errorf("seed %d: visibilities %v, want PUBLIC and SECRET", tt.seed, visibility)
			}
			if hierarchies["Linjeorganisation"] == 0 || hierarchies["MED-organisation"] == 0 {
				t.Errorf("seed %d: hierarchies %v, want a line and a MED organisation", tt.seed, hierarchies)
			}
			if kle == 0 {
				t.Errorf("seed %d: no KLE mark-up", tt.seed)
			}
		}
		if err := motest.NewServer(motest.Options{}).Load(d); err != nil {
			t.Fatalf("seed %d: Load: %v", tt.seed, err)
		}
	}
	if d := motest.Generate(42, 20); d.Units[1].Name != "Teknik og Miljø" {
		t.Errorf("first department = %q, want Teknik og Miljø", d.Units[1].Name)
	}
}

var cprPattern = regexp.MustCompile(`^(0[1-9]|[12][0-9])(0[1-9]|1[0-2])[0-9]{2}[0-9]{4}$`)

func TestGeneratePersons(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Copenhagen")
	today := time.Date(2026, 3, 1, 0, 0, 0, 0, loc)
	d := motest.GenerateOrg(motest.GenOptions{Seed: 5, Units: 300, Persons: 3000, Today: today})
	if len(d.Persons) != 3000 {
		t.Fatalf("%d persons, want 3000", len(d.Persons))
	}
	unitOf := map[uuid.UUID]model.OrgUnit{}
	for _, u := range d.Units {
		unitOf[u.UUID] = u
	}
	engagedNow := map[[2]uuid.UUID]bool{} // person, unit
	var multi, future, ended, edited, ad, fk, secretAddr, linkedMail, nick, ext int
	accounts := map[string]bool{}
	for _, p := range d.Persons {
		if !cprPattern.MatchString(p.CPR) {
			t.Fatalf("CPR %q is not DDMMYY + 4 digits", p.CPR)
		}
		if p.GivenName == "" || p.Surname == "" {
			t.Fatalf("person %s without name", p.UUID)
		}
		if p.NicknameGivenName != "" {
			nick++
		}
		if len(p.Engagements) == 0 {
			t.Fatalf("person %s without engagements", p.UUID)
		}
		if len(p.Engagements) > 1 {
			multi++
		}
		for _, e := range p.Engagements {
			u, ok := unitOf[e.OrgUnit]
			if !ok || u.Hierarchy.Name == "MED-organisation" {
				t.Fatalf("engagement %s in unit %s (known %v, hierarchy %v)", e.UUID, e.OrgUnit, ok, u.Hierarchy)
			}
			if e.Start.Before(u.Validity.From) {
				t.Fatalf("engagement %s starts %s before its unit %s", e.UUID, e.Start, u.Validity.From)
			}
			switch {
			case e.Validity.From.After(today):
				future++
			case !e.Validity.To.IsZero() && !e.Validity.To.After(today):
				ended++
			default:
				engagedNow[[2]uuid.UUID{p.UUID, e.OrgUnit}] = true
			}
			if e.Start.Before(e.Validity.From) {
				edited++
			}
			if e.Extensions[0] != "" || e.Extensions[2] != "" {
				ext++
			}
		}
		for _, it := range p.ITUsers {
			switch it.ITSystem.UserKey {
			case "Active Directory":
				ad++
				if accounts[it.UserKey] {
					t.Fatalf("AD account %q used twice", it.UserKey)
				}
				accounts[it.UserKey] = true
				if uuid.Validate(it.ExternalID) != nil {
					t.Fatalf("AD account %q has objectGUID %q", it.UserKey, it.ExternalID)
				}
			case "FK-ORG-UUID":
				fk++
			}
		}
		for _, a := range p.Addresses {
			if a.Visibility != nil && a.Visibility.Scope == "SECRET" {
				secretAddr++
			}
			if a.Type.Scope == "EMAIL" && a.ITUser != nil {
				linkedMail++
			}
		}
	}
	for name, got := range map[string]int{"several engagements": multi, "future engagements": future, "ended engagements": ended,
		"edited engagements": edited, "FK accounts": fk, "secret addresses": secretAddr, "e-mails linked to AD": linkedMail,
		"nicknames": nick, "AD titles": ext, "associations": len(d.Associations), "leaves": len(d.Leaves)} {
		if got == 0 {
			t.Errorf("no %s among 3000 persons", name)
		}
	}
	if ad < 2600 {
		t.Errorf("%d AD accounts for 3000 persons, want most persons to have one", ad)
	}
	var managers, vacant, managersEngagedThere int
	for _, u := range d.Units {
		for _, m := range u.Managers {
			if m.Person == nil {
				vacant++
				continue
			}
			managers++
			if engagedNow[[2]uuid.UUID{*m.Person, u.UUID}] {
				managersEngagedThere++
			}
		}
	}
	if managers == 0 || vacant == 0 || managersEngagedThere != managers {
		t.Errorf("managers %d (engaged in their unit: %d), vacant %d", managers, managersEngagedThere, vacant)
	}
	srv := motest.NewServer(motest.Options{Now: func() time.Time { return today.Add(12 * time.Hour) }})
	if err := srv.Load(d); err != nil {
		t.Fatal(err)
	}
	if got := len(srv.PersonIDs()); got != 3000 {
		t.Errorf("server holds %d persons", got)
	}
}

func TestGenerateIsDeterministic(t *testing.T) {
	o := motest.GenOptions{Seed: 5, Units: 80, Persons: 200}
	a, b := motest.GenerateOrg(o), motest.GenerateOrg(o)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same options gave different data")
	}
	o.Seed = 6
	if c := motest.GenerateOrg(o); reflect.DeepEqual(a.Units[0].UUID, c.Units[0].UUID) {
		t.Fatal("different seeds gave the same top UUID")
	}
}

// TestGenerateCopenhagenSize generates and loads a municipality the size of Copenhagen (3,000
// units, 45,000 persons) and checks it takes well under the 10 s fakemo may spend starting.
func TestGenerateCopenhagenSize(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 45,000 persons")
	}
	start := time.Now()
	d := motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: 3000, Persons: 45000})
	generated := time.Since(start)
	srv := motest.NewServer(motest.Options{})
	if err := srv.Load(d); err != nil {
		t.Fatal(err)
	}
	loaded := time.Since(start) - generated
	d = motest.Dataset{}
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	t.Logf("3,000 units, 45,000 persons: generated in %v, loaded in %v, live heap %d MiB", generated.Round(time.Millisecond),
		loaded.Round(time.Millisecond), m.HeapAlloc>>20)
	limit := 10 * time.Second
	if raceEnabled {
		limit *= 8 // the race detector slows allocation-heavy code down severalfold
	}
	if total := generated + loaded; total > limit {
		t.Errorf("generation and load took %v, want under %v", total, limit)
	}
	if len(srv.PersonIDs()) != 45000 || len(srv.OrgUnitIDs()) != 3000 {
		t.Errorf("server holds %d units and %d persons", len(srv.OrgUnitIDs()), len(srv.PersonIDs()))
	}
	runtime.KeepAlive(srv)
}

// BenchmarkGenerateCopenhagen measures generating and loading 3,000 units and 45,000 persons.
func BenchmarkGenerateCopenhagen(b *testing.B) {
	for b.Loop() {
		d := motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: 3000, Persons: 45000})
		if err := motest.NewServer(motest.Options{}).Load(d); err != nil {
			b.Fatal(err)
		}
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
