package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/translate"
)

// validEnv is a minimal valid configuration.
func validEnv() map[string]string {
	return map[string]string{
		"MO_URL":                "http://mo.example:5000",
		"MO_AUTH_SERVER":        "http://mo.example:5000/auth",
		"MO_CLIENT_ID":          "dipex",
		"MO_CLIENT_SECRET":      "s3cret",
		"STS_CVR":               "29189846",
		"STS_ORGANISATION_UUID": "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11",
		"STS_P12_FILE":          "/run/secrets/organisation.p12",
		"STS_TOKEN_CERT_FILE":   "/etc/stsorgsync/sts.pem",
		"STS_SERVICE_CERT_FILE": "/etc/stsorgsync/organisation.pem",
	}
}

func getenvOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(getenvOf(validEnv()), "")
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if cfg.Workers != 8 || cfg.AMQPQueue != "stsorgsync" || cfg.RetryMaxElapsed != 2*time.Minute ||
		cfg.MOGraphQLVersion != 25 || cfg.HTTPListen != ":9090" || cfg.STSCVR != "29189846" ||
		!slices.Equal(cfg.AMQPRoutingKeys, consumer.DefaultRoutingKeys()) || cfg.AMQPLegacyEvents {
		t.Errorf("unexpected defaults: %+v", cfg)
	}
}

func TestLoadConfigRoutingKeys(t *testing.T) {
	tests := []struct {
		name   string
		keys   string
		legacy string
		want   []string
	}{
		{"subset", "org_unit,person,engagement", "", []string{"org_unit", "person", "engagement"}},
		{"spaces and repeats", " person , org_unit,person ", "", []string{"person", "org_unit"}},
		{"with legacy events", "org_unit,person", "true", []string{"org_unit", "person"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env["AMQP_ROUTING_KEYS"] = tt.keys
			env["AMQP_LEGACY_EVENTS"] = tt.legacy
			cfg, err := loadConfig(getenvOf(env), "")
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if !slices.Equal(cfg.AMQPRoutingKeys, tt.want) || cfg.AMQPLegacyEvents != (tt.legacy == "true") {
				t.Errorf("routing keys %q, legacy %v; want %q, %s", cfg.AMQPRoutingKeys, cfg.AMQPLegacyEvents, tt.want, tt.legacy)
			}
			cc := consumerConfig(cfg, nil)
			if !slices.Equal(cc.RoutingKeys, tt.want) || cc.LegacyKeys != cfg.AMQPLegacyEvents {
				t.Errorf("consumer config: routing keys %q, legacy keys %v", cc.RoutingKeys, cc.LegacyKeys)
			}
		})
	}
}

func TestLoadConfigErrorsNameTheSetting(t *testing.T) {
	tests := []struct {
		name   string
		change map[string]string // "" deletes
		want   []string
	}{
		{"missing CVR", map[string]string{"STS_CVR": ""}, []string{"STS_CVR is required"}},
		{"CVR not 8 digits", map[string]string{"STS_CVR": "1234"}, []string{"STS_CVR", "8 digits", `"1234"`}},
		{"bad organisation UUID", map[string]string{"STS_ORGANISATION_UUID": "kommune"}, []string{"STS_ORGANISATION_UUID"}},
		{"bad workers", map[string]string{"WORKERS": "0"}, []string{"WORKERS", "≥ 1"}},
		{"bad duration", map[string]string{"RETRY_MAX": "soon"}, []string{"RETRY_MAX"}},
		{"amqp scheme", map[string]string{"AMQP_URL": "http://rabbit"}, []string{"AMQP_URL"}},
		{"retry too long", map[string]string{"RETRY_MAX_ELAPSED": "40m"}, []string{"RETRY_MAX_ELAPSED", "consumer timeout"}},
		{"queue equals dlq", map[string]string{"AMQP_DLQ": "stsorgsync"}, []string{"AMQP_QUEUE and AMQP_DLQ"}},
		{"own exchange is MO's", map[string]string{"AMQP_EXCHANGE": "os2mo"}, []string{"AMQP_EXCHANGE must differ from AMQP_MO_EXCHANGE"}},
		{"unknown routing key", map[string]string{"AMQP_ROUTING_KEYS": "org_unit,person,employee"}, []string{"AMQP_ROUTING_KEYS", `"employee"`, "ituser"}},
		{"empty routing key", map[string]string{"AMQP_ROUTING_KEYS": "org_unit,,person"}, []string{"AMQP_ROUTING_KEYS", `got ""`}},
		{"routing keys without person", map[string]string{"AMQP_ROUTING_KEYS": "org_unit,engagement"}, []string{"AMQP_ROUTING_KEYS must include person"}},
		{"bad legacy events", map[string]string{"AMQP_LEGACY_EVENTS": "legacy"}, []string{"AMQP_LEGACY_EVENTS", "true or false"}},
		{"security without certificate", map[string]string{"STS_P12_FILE": ""}, []string{"STS_P12_FILE is required when STS_SECURITY is true"}},
		{"security without STS certificate", map[string]string{"STS_TOKEN_CERT_FILE": ""}, []string{"STS_TOKEN_CERT_FILE"}},
		{"verification without service certificate", map[string]string{"STS_SERVICE_CERT_FILE": ""}, []string{"STS_SERVICE_CERT_FILE"}},
		{"bad boolean", map[string]string{"STS_SECURITY": "maybe"}, []string{"STS_SECURITY", "true or false"}},
		{"two problems at once", map[string]string{"MO_URL": "", "LOG_LEVEL": "loud"}, []string{"MO_URL is required", "LOG_LEVEL"}},
		{"bad orphan policy", map[string]string{"SYNC_ORPHANS": "ignore"}, []string{"SYNC_ORPHANS", "deactivate, report", `"ignore"`}},
		{"orphan policy for an unknown kind", map[string]string{"SYNC_ORPHANS": "functions=report"}, []string{"SYNC_ORPHANS", `"functions=report"`}},
		{"bad UUID to keep", map[string]string{"SYNC_KEEP_UUIDS": "89cba575-d106-4732-87ab-45c09ac56874, konsulenter"}, []string{"SYNC_KEEP_UUIDS", "UUIDs", `"konsulenter"`}},
		{"empty UUID to keep", map[string]string{"SYNC_KEEP_UUIDS": "89cba575-d106-4732-87ab-45c09ac56874,,"}, []string{"SYNC_KEEP_UUIDS", `got ""`}},
		// Mapping settings.
		{"unknown user mode", map[string]string{"USER_MODE": "new"}, []string{"USER_MODE", "person or ituser", `"new"`}},
		{"bad class UUID", map[string]string{"IGNORED_UNIT_TYPES": `["89cba575-d106-4732-87ab-45c09ac56874", "Team"]`}, []string{"IGNORED_UNIT_TYPES", "UUIDs", `"Team"`}},
		{"bad JSON list", map[string]string{"FILTER_HIERARCHY_NAMES": `["Linjeorganisation",`}, []string{"FILTER_HIERARCHY_NAMES", "JSON list"}},
		{"extension out of range", map[string]string{"EXTENSION_FIELD_AS_JOB_FUNCTION": "11"}, []string{"EXTENSION_FIELD_AS_JOB_FUNCTION", "1 to 10", `"11"`}},
		{"unknown unit address type", map[string]string{"IGNORED_OU_ADDRESS_TYPES": "SOR,FAX"}, []string{"IGNORED_OU_ADDRESS_TYPES", `"FAX"`, "DTRID", "PNR"}},
		{"unit address type for users", map[string]string{"IGNORED_USER_ADDRESS_TYPES": "EAN"}, []string{"IGNORED_USER_ADDRESS_TYPES", `"EAN"`, "FMKID"}},
		{"relation that cannot be kept", map[string]string{"KEPT_RELATIONS": "Overordnet"}, []string{"KEPT_RELATIONS", `"Overordnet"`, "Opgaver"}},
		{"contact places without KLE", map[string]string{"USE_CONTACT_FOR_TASKS": "true", "ENABLE_KLE": "false"}, []string{"USE_CONTACT_FOR_TASKS=true needs ENABLE_KLE=true"}},
		{"bad managers switch", map[string]string{"SYNC_MANAGERS": "sometimes"}, []string{"SYNC_MANAGERS", "true or false"}},
		{"empty IT system name", map[string]string{"UUID_FROM_IT_SYSTEMS": "OS2sync,"}, []string{"UUID_FROM_IT_SYSTEMS", "empty items"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.change {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, err := loadConfig(getenvOf(env), "")
			if err == nil {
				t.Fatal("loadConfig accepted an invalid configuration")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestLoadConfigMapping: each mapping setting, in os2mo-os2sync-export's and OS2sync's
// vocabulary, lands in the one translate.Settings every command uses.
func TestLoadConfigMapping(t *testing.T) {
	a, b := uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874"), uuid.MustParse("0b6a3f8e-2d52-4c9a-9e1b-3c4d5e6f7a8b")
	tests := []struct {
		name  string
		env   map[string]string
		check func(translate.Settings) bool
	}{
		{"defaults", nil, func(s translate.Settings) bool {
			return s.Organisation == uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11") && s.TopUnit == uuid.Nil &&
				s.UserMode == translate.UsersPerPerson && !s.DisableManagers && !s.DisableKLE && !s.DisableITSystems &&
				!s.ContactForTasks && !s.SyncCPR && !s.UseNickname && !s.RequireADAccount && s.JobTitleExtension == 0 &&
				slices.Equal(s.ADITSystems, []string{"Active Directory"}) && slices.Equal(s.FKITSystems, []string{"FK-ORG-UUID", "FK-ORG UUID"}) &&
				slices.Equal(s.KeptAddressRoles, []uuid.UUID{translate.RoleUnitSOR}) && len(s.EmailClasses) == 0 && s.KeptRelations == nil
		}},
		{"top unit", map[string]string{"MO_TOP_UNIT_UUID": a.String()}, func(s translate.Settings) bool { return s.TopUnit == a }},
		{"excluded subtrees as a JSON list", map[string]string{"FILTER_ORGUNIT_UUID": `["` + a.String() + `","` + b.String() + `"]`},
			func(s translate.Settings) bool { return slices.Equal(s.ExcludedSubtrees, []uuid.UUID{a, b}) }},
		{"hierarchy names", map[string]string{"FILTER_HIERARCHY_NAMES": "Linjeorganisation, Selvejet institution"},
			func(s translate.Settings) bool {
				return slices.Equal(s.HierarchyNames, []string{"Linjeorganisation", "Selvejet institution"})
			}},
		{"ignored levels and types, team types", map[string]string{"IGNORED_UNIT_LEVELS": a.String(), "IGNORED_UNIT_TYPES": b.String(), "TEAM_UNIT_TYPES": a.String()},
			func(s translate.Settings) bool {
				return slices.Equal(s.IgnoredUnitLevels, []uuid.UUID{a}) && slices.Equal(s.IgnoredUnitTypes, []uuid.UUID{b}) && slices.Equal(s.TeamUnitTypes, []uuid.UUID{a})
			}},
		{"switches", map[string]string{"SYNC_MANAGERS": "false", "ENABLE_KLE": "off", "SYNC_IT_SYSTEMS": "no", "SYNC_CPR": "true", "USE_NICKNAME": "yes", "FILTER_USERS_BY_IT_SYSTEM": "1"},
			func(s translate.Settings) bool {
				return s.DisableManagers && s.DisableKLE && s.DisableITSystems && s.SyncCPR && s.UseNickname && s.RequireADAccount
			}},
		{"contact for tasks", map[string]string{"USE_CONTACT_FOR_TASKS": "true"}, func(s translate.Settings) bool { return s.ContactForTasks }},
		{"ituser mode with its systems", map[string]string{"USER_MODE": "ituser", "USER_KEY_IT_SYSTEM_NAMES": `["AD", "Active Directory"]`, "FK_ORG_IT_SYSTEMS": "FK-org uuid", "UUID_FROM_IT_SYSTEMS": "OS2sync"},
			func(s translate.Settings) bool {
				return s.UserMode == translate.UsersPerITUser && slices.Equal(s.ADITSystems, []string{"AD", "Active Directory"}) &&
					slices.Equal(s.FKITSystems, []string{"FK-org uuid"}) && slices.Equal(s.UUIDFromITSystems, []string{"OS2sync"})
			}},
		{"job title from extension_3", map[string]string{"EXTENSION_FIELD_AS_JOB_FUNCTION": "3"}, func(s translate.Settings) bool { return s.JobTitleExtension == 3 }},
		{"address classes", map[string]string{"EMAIL_SCOPE_CLASSES": a.String(), "PHONE_SCOPE_CLASSES": b.String(), "LANDLINE_SCOPE_CLASSES": a.String() + "," + b.String(), "LOCATION_SCOPE_CLASSES": b.String()},
			func(s translate.Settings) bool {
				return slices.Equal(s.EmailClasses, []uuid.UUID{a}) && slices.Equal(s.MobileClasses, []uuid.UUID{b}) &&
					slices.Equal(s.LandlineClasses, []uuid.UUID{a, b}) && slices.Equal(s.LocationClasses, []uuid.UUID{b})
			}},
		{"engagement address", map[string]string{"EMPLOYEE_ENGAGEMENT_ADDRESS": `["Lokation","Postadresse"]`},
			func(s translate.Settings) bool {
				return slices.Equal(s.EngagementAddressTypes, []string{"Lokation", "Postadresse"})
			}},
		{"ignored address types of units and users", map[string]string{"IGNORED_OU_ADDRESS_TYPES": "sor,Ean", "IGNORED_USER_ADDRESS_TYPES": "LOCATION"},
			func(s translate.Settings) bool {
				return slices.Equal(s.KeptAddressRoles, []uuid.UUID{translate.RoleUnitSOR, translate.RoleUnitEAN, translate.RoleUserLocation})
			}},
		{"no ignored address types", map[string]string{"IGNORED_OU_ADDRESS_TYPES": "[]"},
			func(s translate.Settings) bool { return s.KeptAddressRoles != nil && len(s.KeptAddressRoles) == 0 }},
		{"kept relations", map[string]string{"KEPT_RELATIONS": "opgaver,TilknyttedeItSystemer"},
			func(s translate.Settings) bool {
				return slices.Equal(s.KeptRelations, []oio.RelationName{oio.RelOpgaver, oio.RelTilknyttedeItSystemer})
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range tt.env {
				env[k] = v
			}
			cfg, err := loadConfig(getenvOf(env), "")
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if !tt.check(cfg.Mapping) {
				t.Errorf("Mapping = %+v", cfg.Mapping)
			}
		})
	}
}

func TestLoadConfigOrphanSettings(t *testing.T) {
	a, b := uuid.MustParse("89cba575-d106-4732-87ab-45c09ac56874"), uuid.MustParse("0b5d2e1c-6f3a-4e8b-9c1d-2a3b4c5d6e7f")
	tests := []struct {
		name, orphans, keep string
		want                reconcile.OrphanPolicy
		wantKeep            []uuid.UUID
	}{
		{name: "defaults", want: reconcile.OrphanPolicy{Units: reconcile.OrphanDeactivate, Users: reconcile.OrphanDeactivate}},
		{name: "report", orphans: "report", want: reconcile.OrphanPolicy{Units: reconcile.OrphanReport, Users: reconcile.OrphanReport}},
		{name: "per kind", orphans: "units=report", want: reconcile.OrphanPolicy{Units: reconcile.OrphanReport, Users: reconcile.OrphanDeactivate}},
		{name: "UUIDs with spaces, upper case and repeats", keep: " 89CBA575-D106-4732-87AB-45C09AC56874 ,0b5d2e1c-6f3a-4e8b-9c1d-2a3b4c5d6e7f,89cba575-d106-4732-87ab-45c09ac56874",
			want: reconcile.OrphanPolicy{Units: reconcile.OrphanDeactivate, Users: reconcile.OrphanDeactivate}, wantKeep: []uuid.UUID{a, b}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			env["SYNC_ORPHANS"], env["SYNC_KEEP_UUIDS"] = tt.orphans, tt.keep
			cfg, err := loadConfig(getenvOf(env), "")
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.SyncOrphans != tt.want || !slices.Equal(cfg.SyncKeepUUIDs, tt.wantKeep) {
				t.Errorf("orphans %v, keep %v; want %v, %v", cfg.SyncOrphans, cfg.SyncKeepUUIDs, tt.want, tt.wantKeep)
			}
		})
	}
}

func TestConfigFileAndSecretFile(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret")
	if err := os.WriteFile(secret, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "stsorgsync.env")
	content := "# comment\nWORKERS=3\nexport STS_CVR='11111111'\nMO_CLIENT_SECRET_FILE=" + secret + "\n"
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	env := validEnv()
	delete(env, "MO_CLIENT_SECRET")
	env["STS_CVR"] = "22222222" // the environment wins over the file
	cfg, err := loadConfig(getenvOf(env), file)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if cfg.Workers != 3 || cfg.STSCVR != "22222222" || cfg.MOClientSecret != "from-file" {
		t.Errorf("got workers %d, CVR %s, secret %q", cfg.Workers, cfg.STSCVR, cfg.MOClientSecret)
	}

	if err := os.WriteFile(file, []byte("WORKERS\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadConfig(getenvOf(validEnv()), file); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("malformed config file: got %v, want an error naming line 1", err)
	}
	env["MO_CLIENT_SECRET_FILE"] = filepath.Join(dir, "missing")
	if _, err := loadConfig(getenvOf(env), ""); err == nil || !strings.Contains(err.Error(), "MO_CLIENT_SECRET_FILE") {
		t.Errorf("unreadable secret file: got %v, want an error naming MO_CLIENT_SECRET_FILE", err)
	}
}

func TestRunExitCodes(t *testing.T) {
	env := validEnv()
	delete(env, "STS_CVR")
	env["MO_CLIENT_SECRET"] = "do-not-print-me"
	env["STS_ORGANISATION_UUID"] = "nope"
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"run"}, getenvOf(env), &stdout, &stderr)
	if code != exitConfig {
		t.Errorf("exit code %d, want %d", code, exitConfig)
	}
	for _, w := range []string{"STS_CVR is required", "STS_ORGANISATION_UUID", "stsorgsync settings"} {
		if !strings.Contains(stderr.String(), w) {
			t.Errorf("stderr does not mention %q:\n%s", w, stderr.String())
		}
	}
	if strings.Contains(stderr.String(), "do-not-print-me") {
		t.Error("the secret was printed")
	}

	stdout.Reset()
	if code := run(context.Background(), []string{"settings"}, getenvOf(nil), &stdout, &stderr); code != exitOK {
		t.Errorf("settings: exit %d", code)
	}
	for _, s := range settings() {
		if !strings.Contains(stdout.String(), "`"+s.Name+"`") {
			t.Errorf("settings output lacks %s", s.Name)
		}
	}
	if code := run(context.Background(), []string{"frobnicate"}, getenvOf(nil), &stdout, &stderr); code != exitConfig {
		t.Errorf("unknown command: exit %d, want %d", code, exitConfig)
	}
}

func TestReadmeDocumentsEverySetting(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	var table bytes.Buffer
	printSettings(&table)
	if !bytes.Contains(readme, table.Bytes()) {
		t.Errorf("README.md's configuration table is out of date: paste the output of `go run ./cmd/stsorgsync settings` into it")
	}
}

// TestSecuritySetupErrorsStopStartup: a certificate fault (a missing, unreadable or not-PKCS#12
// file, a wrong password, a bad PEM or CA bundle) is a configuration error classified the same
// by every command that builds the clients: exit 2 and the same report naming the setting, each
// path once, no secret.
func TestSecuritySetupErrorsStopStartup(t *testing.T) {
	sts := ststest.NewServer(ststest.Options{RequireSecurity: true})
	good := writeSecurityFiles(t, sts, "http://sts.invalid", "29189846")
	dir := t.TempDir()
	wrongPassword := filepath.Join(dir, "wrong")
	notPEM := filepath.Join(dir, "not.pem")
	for path, data := range map[string]string{wrongPassword: "guess\n", notPEM: "hello"} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		change map[string]string
		want   []string
		path   string // printed exactly once
	}{
		{"missing p12", map[string]string{"STS_P12_FILE": filepath.Join(dir, "missing.p12")}, []string{"STS_P12_FILE", "unreadable"}, filepath.Join(dir, "missing.p12")},
		{"wrong password", map[string]string{"STS_P12_PASSWORD_FILE": wrongPassword}, []string{"STS_P12_FILE", "wrong PKCS#12 password", "STS_P12_PASSWORD"}, good["STS_P12_FILE"]},
		{"p12 is not PKCS#12", map[string]string{"STS_P12_FILE": notPEM}, []string{"STS_P12_FILE", "not a PKCS#12"}, notPEM},
		{"STS certificate not PEM", map[string]string{"STS_TOKEN_CERT_FILE": notPEM}, []string{"STS_TOKEN_CERT_FILE"}, ""},
		{"service certificate missing", map[string]string{"STS_SERVICE_CERT_FILE": filepath.Join(dir, "nope.pem")}, []string{"STS_SERVICE_CERT_FILE"}, ""},
		{"CA bundle not PEM", map[string]string{"STS_CA_FILE": notPEM}, []string{"STS_CA_FILE", "no PEM"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := validEnv()
			for k, v := range good {
				env[k] = v
			}
			for k, v := range tt.change {
				env[k] = v
			}
			env["HTTP_LISTEN"] = "127.0.0.1:0"
			reports := map[string]string{}
			for _, command := range []string{"check", "run", "sync", "verify"} {
				report, stdout, stderr := configFault(t, command, env)
				reports[command] = report
				for _, w := range tt.want {
					if !strings.Contains(report, w) {
						t.Errorf("%s: report does not mention %q:\n%s", command, w, report)
					}
				}
				if tt.path != "" && strings.Count(report, tt.path) != 1 {
					t.Errorf("%s: report names %s %d times, want once:\n%s", command, tt.path, strings.Count(report, tt.path), report)
				}
				if strings.Contains(stderr+stdout, "correct horse") {
					t.Errorf("%s: the p12 password was printed", command)
				}
				if strings.Contains(stdout, "configuration: ok") {
					t.Errorf("%s: says the configuration is ok:\n%s", command, stdout)
				}
			}
			for command, report := range reports {
				if report != reports["check"] {
					t.Errorf("%s reports the fault differently from check:\n%s\nvs\n%s", command, report, reports["check"])
				}
			}
		})
	}
}

func TestReadmeDocumentsEveryMetric(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	m := newMetrics(func() consumerStats { return nil })
	// Vectors appear in Gather only with a sample.
	m.stsCall("organisationenhed", "list", "ok", time.Millisecond)
	m.Delivery(consumer.Event{Type: consumer.TypeOrgUnit}, consumer.OutcomeDone, "", time.Millisecond)
	m.certificates([]loadedCertificate{{certOrganisation, &x509.Certificate{SerialNumber: big.NewInt(1), NotAfter: time.Now()}}})
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "stsorgsync_") {
			continue // Go and process collectors
		}
		n++
		if !bytes.Contains(readme, []byte("`"+name+"`")) {
			t.Errorf("README.md's metrics table does not document %s", name)
		}
	}
	if n < 10 {
		t.Errorf("gathered only %d stsorgsync_ metrics, want all 10", n)
	}
}
