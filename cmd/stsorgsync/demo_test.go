package main

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
)

// TestDemoSettings: the mapping settings `make demo` and docker-compose run with are valid, and
// every class they name is one of fakemo's, so the demo exercises them instead of matching
// nothing.
func TestDemoSettings(t *testing.T) {
	demo, err := readEnvFile("../../scripts/demo.env")
	if err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	for k, v := range demo {
		env[k] = v
	}
	cfg, err := loadConfig(getenvOf(env), "")
	if err != nil {
		t.Fatalf("scripts/demo.env: %v", err)
	}
	data := motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: 40, Persons: 120, Today: time.Now(), UnitAccounts: true})
	var classes []uuid.UUID
	for _, u := range data.Units {
		for _, c := range []*uuid.UUID{&u.UnitType.UUID, &u.Level.UUID} {
			classes = append(classes, *c)
		}
	}
	for _, p := range data.Persons {
		for _, a := range p.Addresses {
			classes = append(classes, a.Type.UUID)
		}
	}
	m := cfg.Mapping
	for name, ids := range map[string][]uuid.UUID{"IGNORED_UNIT_LEVELS": m.IgnoredUnitLevels, "TEAM_UNIT_TYPES": m.TeamUnitTypes,
		"EMAIL_SCOPE_CLASSES": m.EmailClasses, "PHONE_SCOPE_CLASSES": m.MobileClasses, "LANDLINE_SCOPE_CLASSES": m.LandlineClasses} {
		for _, id := range ids {
			if !slices.Contains(classes, id) {
				t.Errorf("scripts/demo.env: %s names %s, which is not a class of fakemo's municipality", name, id)
			}
		}
	}
	accounts := 0
	for _, u := range data.Units {
		for _, it := range u.ITUsers {
			if it.ITSystem.UUID == motest.UnitAccountSystem().UUID && slices.Contains(m.UUIDFromITSystems, it.ITSystem.Name) {
				accounts++
			}
		}
	}
	if accounts == 0 {
		t.Error("scripts/demo.env: UUID_FROM_IT_SYSTEMS matches no unit account of fakemo's municipality")
	}
}
