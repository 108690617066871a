package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
	"github.com/stsorgsync/stsorgsync/stsexport"
)

// freshSTS starts a new fake STS (with KOMBIT's security profile and e's certificates) holding
// the objects of the export file data, and returns e's settings pointed at it.
func (e *syncEnv) freshSTS(t *testing.T, data []byte) (*ststest.Server, map[string]string) {
	t.Helper()
	_, objs, err := stsexport.ReadAll(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("read the export: %v", err)
	}
	fresh := ststest.NewServer(ststest.Options{RequireSecurity: true, PKI: e.sts.PKI()})
	if err := fresh.Load(objs); err != nil {
		t.Fatalf("load the export: %v", err)
	}
	srv := httptest.NewServer(fresh.Handler())
	t.Cleanup(srv.Close)
	env := maps.Clone(e.env)
	env["STS_BASE_URL"] = srv.URL
	env["STS_TOKEN_ENDPOINT"] = srv.URL + stsclient.STSPath
	return fresh, env
}

// TestExportRoundTrip is issue 20's exit-strategy acceptance test: a generated municipality is
// loaded into a fake STS with `sync`; `export` writes it (mode 0600, no STS write, CPR numbers
// in the file and never in the log); a fresh fake STS loaded from the file holds every object as
// the first one does, and `verify` against it finds no difference (exit 0). Negative control: the
// export without one unit (its header counts adjusted, so the file is well-formed) loads, and
// verify reports that unit missing (exit 1); without adjusting the counts the file is refused as
// incomplete. The export to stdout is the file's bytes but for the header's time.
func TestExportRoundTrip(t *testing.T) {
	data := motest.GenerateOrg(motest.GenOptions{Seed: 20, Units: 40, Persons: 300, Today: time.Now()})
	e := newSyncEnv(t, data)
	orgObj, err := ststest.Organisation{UUID: e.org, CVR: "29189846", Name: "Korsbæk Kommune"}.Object(time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e.sts.Put(orgObj)          // as the municipality's STS holds it before any integration writes
	e.env["SYNC_CPR"] = "true" // the STS Persons hold CPR numbers

	begin := time.Now()
	if code, out, errOut := e.run(t, "sync"); code != exitOK {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("initial sync: %v", time.Since(begin).Round(time.Millisecond))
	begin = time.Now()
	if code, r := e.verifyReport(t); code != exitInSync {
		t.Fatalf("verify after the sync: exit %d, %v", code, r.Summary.ByKind)
	}
	t.Logf("verify: %v", time.Since(begin).Round(time.Millisecond))

	writesBefore := len(e.sts.Writes())
	e.sts.ResetCalls()
	e.env["LOG_LEVEL"] = "info" // every line the export logs is checked for CPR numbers
	out := filepath.Join(t.TempDir(), "sts-export.jsonl")
	start := time.Now()
	code, stdout, stderr := e.run(t, "export", "--out", out)
	took := time.Since(start)
	if code != exitOK {
		t.Fatalf("export: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if stdout != "" {
		t.Errorf("export --out wrote to stdout: %s", stdout)
	}
	if n := len(e.sts.Writes()) - writesBefore; n != 0 {
		t.Errorf("export made %d STS writes", n)
	}
	calls := e.sts.Calls()
	for call := range calls {
		if !strings.HasSuffix(call, "/fremsoegobjekthierarki") && !strings.HasSuffix(call, "/list") {
			t.Errorf("export called %s", call)
		}
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", fi.Mode().Perm())
	}
	if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 1 {
		t.Errorf("the export left %d files in its directory", len(entries))
	}
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, `"msg":"export done"`) {
		t.Errorf("no export done log line:\n%s", stderr)
	}

	// The file holds every object STS holds of the municipality, as STS holds it.
	h, objs, err := stsexport.ReadAll(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("read the export: %v", err)
	}
	if h.CVR != "29189846" || h.Organisation != e.org || h.CPR != stsexport.CPRIncluded || h.Generator != "stsorgsync "+version {
		t.Errorf("header %+v", h)
	}
	t.Logf("export of %d units, %d persons: %d objects %v, %d bytes, %d STS calls %v, %v",
		40, 300, h.Objects, h.Counts, len(file), e.sts.TotalCalls(), calls, took.Round(time.Millisecond))
	exported := map[oio.Kind][]uuid.UUID{}
	for _, o := range objs {
		exported[o.Kind] = append(exported[o.Kind], o.UUID)
		orig, ok := e.sts.Object(o.Kind, o.UUID)
		if !ok {
			t.Errorf("exported %s %s is not in STS", o.Kind, o.UUID)
			continue
		}
		if got, want := o.InUTC(), orig.InUTC(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s exported as\n%+v\nSTS holds\n%+v", o.Kind, o.UUID, got, want)
		}
	}
	for _, kind := range stsexport.Kinds() {
		var want []uuid.UUID
		for _, o := range e.sts.Objects(kind) {
			if o.Exists() {
				want = append(want, o.UUID)
			}
		}
		if len(want) == 0 || !slices.Equal(exported[kind], want) {
			t.Errorf("%s: exported %d objects, STS holds %d (not passivated)", kind, len(exported[kind]), len(want))
		}
	}
	var cprs []string
	for _, p := range e.sts.Objects(oio.KindPerson) {
		for _, eg := range p.Registration.Egenskaber {
			if eg.CPR != "" {
				cprs = append(cprs, eg.CPR)
			}
		}
	}
	if len(cprs) == 0 {
		t.Fatal("the generated persons have no CPR numbers")
	}
	for _, cpr := range cprs {
		if !bytes.Contains(file, []byte(`"CPR-NummerTekst":"`+cpr+`"`)) {
			t.Errorf("a person's CPR number is not in the export")
		}
		if strings.Contains(stderr, cpr) {
			t.Errorf("the log holds a CPR number")
		}
	}

	// A fresh fake STS loaded from the export: verify finds STS in sync with OS2MO.
	_, env := e.freshSTS(t, file)
	code, r := (&syncEnv{env: env}).verifyReport(t)
	if code != exitInSync || len(r.Differences) != 0 {
		t.Fatalf("verify against the loaded export: exit %d, %v", code, r.Summary.ByKind)
	}

	// Negative control: one unit less.
	lines := strings.SplitAfter(string(file), "\n")
	lines = lines[:len(lines)-1]
	var dropped uuid.UUID
	var rest []string
	for i, l := range lines[1:] {
		if dropped == uuid.Nil && i > len(lines)/4 && strings.HasPrefix(l, `{"kind":"organisationenhed"`) {
			dropped = objs[i].UUID
			continue
		}
		rest = append(rest, l)
	}
	if dropped == uuid.Nil {
		t.Fatal("no unit line to drop")
	}
	if _, _, err := stsexport.ReadAll(strings.NewReader(lines[0] + strings.Join(rest, ""))); err == nil ||
		!strings.Contains(err.Error(), "file incomplete or edited") {
		t.Errorf("the export without a line and with its header unchanged was read: %v", err)
	}
	h.Counts[oio.KindOrganisationEnhed]--
	h.Objects--
	head, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	_, env = e.freshSTS(t, []byte(string(head)+"\n"+strings.Join(rest, "")))
	code, r = (&syncEnv{env: env}).verifyReport(t)
	if code != exitDrift || findDiff(r, report.MissingInSTS, dropped) == nil {
		t.Fatalf("verify against the export without unit %s: exit %d, %v, want it missing-in-sts", dropped, code, r.Summary.ByKind)
	}
	t.Logf("without unit %s verify reports %d differences: %v", dropped, len(r.Differences), r.Summary.ByKind)

	// Standard output: the same lines but for the header's time.
	code, stdout, stderr = e.run(t, "export")
	if code != exitOK {
		t.Fatalf("export to stdout: exit %d: %s", code, stderr)
	}
	headerless := func(s string) string { _, rest, _ := strings.Cut(s, "\n"); return rest }
	if headerless(stdout) != headerless(string(file)) {
		t.Error("the export to stdout differs from the file (beyond the header)")
	}
}

// TestExportWithoutCPR: --without-cpr writes the persons without CPR numbers and says so in the
// header; the export reads STS only (OS2MO, Redis and RabbitMQ unreachable).
func TestExportWithoutCPR(t *testing.T) {
	e := newSyncEnv(t, motest.GenerateOrg(motest.GenOptions{Seed: 21, Units: 5, Persons: 20, Today: time.Now()}))
	e.env["SYNC_CPR"] = "true"
	if code, out, errOut := e.run(t, "sync"); code != exitOK {
		t.Fatalf("sync: exit %d\n%s\n%s", code, out, errOut)
	}
	// Only STS is read: OS2MO, Redis and RabbitMQ may be unreachable.
	for k, v := range map[string]string{"MO_URL": "http://127.0.0.1:1", "MO_AUTH_SERVER": "http://127.0.0.1:1/auth",
		"REDIS_URL": "redis://127.0.0.1:1/0", "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/"} {
		e.env[k] = v
	}
	code, stdout, stderr := e.run(t, "export", "--without-cpr")
	if code != exitOK {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	h, objs, err := stsexport.ReadAll(strings.NewReader(stdout))
	if err != nil {
		t.Fatal(err)
	}
	if h.CPR != stsexport.CPROmitted || h.Counts[oio.KindPerson] == 0 {
		t.Errorf("header %+v", h)
	}
	if strings.Contains(stdout, "CPR-NummerTekst") {
		t.Error("a CPR number in an export --without-cpr")
	}
	for _, p := range e.sts.Objects(oio.KindPerson) {
		if cpr := p.Registration.Egenskaber[0].CPR; cpr == "" || strings.Contains(stdout, cpr) {
			t.Errorf("person %s: CPR %d characters in STS, in the export %v", p.UUID, len(cpr), cpr != "" && strings.Contains(stdout, cpr))
		}
	}
	if len(objs) != h.Objects {
		t.Errorf("%d objects, header %d", len(objs), h.Objects)
	}
}

// TestExportFailure: an export that fails (STS down) exits 1 and leaves no file: an existing one
// is left as it was, and no partial file remains. A place that cannot be written fails before
// STS is read; a configuration fault is exit 2.
func TestExportFailure(t *testing.T) {
	e := newSyncEnv(t, motest.GenerateOrg(motest.GenOptions{Seed: 22, Units: 3, Persons: 5, Today: time.Now()}))
	dir := t.TempDir()
	out := filepath.Join(dir, "export.jsonl")
	if err := os.WriteFile(out, []byte("the previous export\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	e.sts.SetOutage(true)
	code, stdout, stderr := e.run(t, "export", "--out", out)
	if code != exitFailure || !strings.Contains(stderr, `"msg":"export failed"`) {
		t.Errorf("export during an outage: exit %d, want 1\n%s", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout: %s", stdout)
	}
	if got, _ := os.ReadFile(out); string(got) != "the previous export\n" {
		t.Errorf("the existing file was changed: %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the previous export", len(entries))
	}
	code, stdout, _ = e.run(t, "export")
	if code != exitFailure || stdout != "" {
		t.Errorf("export to stdout during an outage: exit %d, stdout %q", code, stdout)
	}
	e.sts.SetOutage(false)

	e.sts.ResetCalls()
	if code, _, stderr := e.run(t, "export", "--out", filepath.Join(dir, "no-such-dir", "x.jsonl")); code != exitFailure ||
		!strings.Contains(stderr, "create "+filepath.Join(dir, "no-such-dir", "x.jsonl")) || e.sts.TotalCalls() != 0 {
		t.Errorf("export to a missing directory: exit %d, %d STS calls\n%s", code, e.sts.TotalCalls(), stderr)
	}
	bad := maps.Clone(e.env)
	delete(bad, "STS_CVR")
	if code, _, stderr := (&syncEnv{env: bad}).run(t, "export"); code != exitConfig || !strings.Contains(stderr, "STS_CVR") {
		t.Errorf("export without STS_CVR: exit %d, want 2\n%s", code, stderr)
	}
}
