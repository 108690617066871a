package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// slice is the whole daemon wired to real RabbitMQ and Redis and to the fakes over HTTP.
type slice struct {
	mo      *motest.Server
	sts     *ststest.Server
	pub     *motest.Publisher
	amqpURL string
	opsURL  string
	orgUUID uuid.UUID
	done    chan error
	stop    context.CancelFunc

	broker *testenv.Broker
	redis  *redis.Client
	prefix string
	cfg    Config
}

// sliceOptions adjust startSliceWith: options of the fake STS, and settings that override
// the defaults of the test daemon.
type sliceOptions struct {
	sts ststest.Options
	env map[string]string
	// dataset, when set, is loaded into the fake OS2MO besides the units.
	dataset *motest.Dataset
	// events makes the fake OS2MO's mutation functions publish their events to the broker.
	events bool
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func startSlice(t *testing.T, units []model.OrgUnit) *slice {
	t.Helper()
	return startSliceWith(t, units, sliceOptions{})
}

func startSliceWith(t *testing.T, units []model.OrgUnit, opts sliceOptions) *slice {
	t.Helper()
	broker := testenv.AMQP(t)
	rdb, prefix := testenv.Redis(t)

	pub, err := motest.DialPublisher(broker.URL, "os2mo")
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	moOpts := motest.Options{}
	if opts.events {
		moOpts.Events = pub
	}
	mo := motest.NewServer(moOpts)
	if opts.dataset != nil {
		if err := mo.Load(*opts.dataset); err != nil {
			t.Fatalf("load dataset: %v", err)
		}
	}
	for _, u := range units {
		if err := mo.AddOrgUnit(u); err != nil {
			t.Fatalf("add unit: %v", err)
		}
	}
	moSrv := httptest.NewServer(mo.Handler())
	t.Cleanup(moSrv.Close)
	opts.sts.RequireSecurity = true
	sts := ststest.NewServer(opts.sts)
	stsSrv := httptest.NewServer(sts.Handler())
	t.Cleanup(stsSrv.Close)
	secEnv := writeSecurityFiles(t, sts, stsSrv.URL, "29189846")

	s := &slice{broker: broker, redis: rdb, prefix: prefix, mo: mo, sts: sts, orgUUID: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11"), done: make(chan error, 1)}
	listen := freeAddr(t)
	s.opsURL = "http://" + listen
	env := map[string]string{
		"AMQP_URL":              broker.URL,
		"EVENT_SOURCE":          "amqp",
		"REDIS_URL":             "redis://" + rdb.Options().Addr + "/0",
		"REDIS_KEY_PREFIX":      prefix,
		"HTTP_LISTEN":           listen,
		"MO_URL":                moSrv.URL,
		"MO_AUTH_SERVER":        moSrv.URL + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"STS_BASE_URL":          stsSrv.URL,
		"STS_CVR":               "29189846",
		"STS_ORGANISATION_UUID": s.orgUUID.String(),
		"WORKERS":               "4",
		"RETRY_INITIAL":         "20ms",
		"RETRY_MAX":             "100ms",
		"RETRY_MAX_ELAPSED":     "1s",
		"SHUTDOWN_TIMEOUT":      "5s",
	}
	for k, v := range secEnv {
		env[k] = v
	}
	for k, v := range opts.env {
		env[k] = v
	}
	cfg, err := loadConfig(getenvOf(env), "")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	s.cfg = cfg
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	logger := slog.New(slog.NewJSONHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() { s.done <- runDaemon(ctx, cfg, logger) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("daemon did not stop within 15s")
		}
	})
	waitFor(t, 20*time.Second, "daemon ready", func() bool { return httpStatus(s.opsURL+"/readyz") == http.StatusOK })

	s.pub = pub
	s.amqpURL = broker.URL
	return s
}

// writeSecurityFiles writes a client PKCS#12 issued by the fake's CA for cvr and the fake's
// STS and service certificates to a temporary directory, and returns the settings that use them.
func writeSecurityFiles(t *testing.T, sts *ststest.Server, stsURL, cvr string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	p12 := filepath.Join(dir, "client.p12")
	password := []byte("correct horse battery staple")
	if _, err := sts.PKI().WriteClientP12(p12, password, cvr); err != nil {
		t.Fatal(err)
	}
	passwordFile := filepath.Join(dir, "p12.password")
	stsCert := filepath.Join(dir, ststest.FileSTSCert)
	serviceCert := filepath.Join(dir, ststest.FileServiceCert)
	for path, data := range map[string][]byte{
		passwordFile: append(password, '\n'),
		stsCert:      ststest.CertificatePEM(sts.PKI().STS.Certificate),
		serviceCert:  ststest.CertificatePEM(sts.PKI().Service.Certificate),
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return map[string]string{
		"STS_P12_FILE":          p12,
		"STS_P12_PASSWORD_FILE": passwordFile,
		"STS_TOKEN_ENDPOINT":    stsURL + stsclient.STSPath,
		"STS_TOKEN_ENTITY_ID":   sts.EntityID(),
		"STS_TOKEN_CERT_FILE":   stsCert,
		"STS_SERVICE_CERT_FILE": serviceCert,
	}
}

// writes counts the importer, ret and passiver calls among calls ("kind/operation" → count).
func writes(calls map[string]int) int {
	n := 0
	for k, v := range calls {
		if strings.HasSuffix(k, "/importer") || strings.HasSuffix(k, "/ret") || strings.HasSuffix(k, "/passiver") {
			n += v
		}
	}
	return n
}

func httpStatus(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled returns the daemon's count of settled events (all outcomes) from /metrics.
func (s *slice) settled(t *testing.T) int {
	t.Helper()
	return settledAt(t, s.opsURL)
}

// allSettled reports whether the daemon settled every one of the published events and every
// event it queued itself as a unit's cascade (each is queued before the event that caused it is
// settled, so equality means nothing is left).
func (s *slice) allSettled(t *testing.T, published int) bool {
	t.Helper()
	return s.settled(t) == published+s.cascaded(t)
}

// cascaded returns the daemon's count of events queued as a unit's cascade.
func (s *slice) cascaded(t *testing.T) int {
	t.Helper()
	return int(metricAt(t, s.opsURL, "stsorgsync_cascade_events_total "))
}

// settledAt returns the count of settled events (all outcomes) of the daemon at opsURL.
func settledAt(t *testing.T, opsURL string) int {
	t.Helper()
	resp, err := http.Get(opsURL + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	total := 0
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "stsorgsync_events_total{") {
			var n float64
			if _, err := fmt.Sscanf(line[strings.LastIndex(line, " ")+1:], "%g", &n); err == nil {
				total += int(n)
			}
		}
	}
	return total
}

func (s *slice) publish(t *testing.T, id uuid.UUID) {
	t.Helper()
	if err := s.pub.Publish(context.Background(), "org_unit", id); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

func TestOrgUnitEventReachesSTS(t *testing.T) {
	data := motest.Generate(7, 6)
	s := startSlice(t, data.Units)

	for _, u := range data.Units {
		s.publish(t, u.UUID)
	}
	waitFor(t, 20*time.Second, "all units in STS", func() bool {
		return len(s.sts.Objects(oio.KindOrganisationEnhed)) == len(data.Units)
	})
	waitFor(t, 5*time.Second, "all events settled", func() bool { return s.allSettled(t, len(data.Units)) })
	// Every event read its unit from OS2MO, with one cached Keycloak token.
	if got := s.metric(t, `stsorgsync_mo_requests_total{operation="OrgUnit",result="ok"}`); got < float64(len(data.Units)) {
		t.Errorf("MO OrgUnit requests ok = %v, want ≥ %d", got, len(data.Units))
	}
	if got := s.metric(t, `stsorgsync_mo_requests_total{operation="token",result="ok"}`); got != 1 {
		t.Errorf("MO token requests ok = %v, want 1", got)
	}
	if got := s.metric(t, `stsorgsync_mo_request_duration_seconds_count{operation="OrgUnit"}`); got < float64(len(data.Units)) {
		t.Errorf("MO OrgUnit request durations observed = %v, want ≥ %d", got, len(data.Units))
	}

	for _, u := range data.Units {
		obj, ok := s.sts.Object(oio.KindOrganisationEnhed, u.UUID)
		if !ok {
			t.Fatalf("unit %s not in STS", u.UUID)
		}
		reg := obj.Registration
		if len(reg.Egenskaber) != 1 || reg.Egenskaber[0].Navn != u.Name || reg.Egenskaber[0].BrugervendtNoegle != u.UserKey {
			t.Errorf("unit %s: egenskaber %+v, want name %q", u.UUID, reg.Egenskaber, u.Name)
		}
		if len(reg.Gyldighed) != 1 || reg.Gyldighed[0].Status != oio.Aktiv {
			t.Errorf("unit %s: gyldighed %+v, want one Aktiv", u.UUID, reg.Gyldighed)
		}
		rels := map[oio.RelationName][]uuid.UUID{}
		for _, r := range reg.Relationer {
			rels[r.Name] = append(rels[r.Name], r.Ref)
		}
		if got := rels[oio.RelTilhoerer]; len(got) != 1 || got[0] != s.orgUUID {
			t.Errorf("unit %s: tilhoerer %v, want [%s]", u.UUID, got, s.orgUUID)
		}
		switch got := rels[oio.RelOverordnet]; {
		case u.Parent == nil && len(got) != 0:
			t.Errorf("root unit %s has overordnet %v", u.UUID, got)
		case u.Parent != nil && (len(got) != 1 || got[0] != *u.Parent):
			t.Errorf("unit %s: overordnet %v, want [%s]", u.UUID, got, *u.Parent)
		}
	}
	if got := s.sts.Calls(); got["organisationenhed/importer"] != len(data.Units) {
		t.Errorf("calls %v, want %d importer", got, len(data.Units))
	}
	// Every call was signed with one cached token; the fake verified each and rejected none.
	if n := s.sts.TokensIssued(); n != 1 {
		t.Errorf("the STS issued %d tokens, want 1 (cached)", n)
	}
	if f := s.sts.Faults(); len(f) != 0 {
		t.Errorf("the fake STS sent faults: %v", f)
	}

	// A second identical event costs no SOAP call.
	before := s.sts.TotalCalls()
	settled := s.settled(t)
	s.publish(t, data.Units[1].UUID)
	waitFor(t, 5*time.Second, "duplicate settled", func() bool { return s.settled(t) == settled+1 })
	if after := s.sts.TotalCalls(); after != before {
		t.Errorf("duplicate event made %d SOAP calls, want 0 (calls %v)", after-before, s.sts.Calls())
	}

	// A forced event (as `dlq replay --force` sends) bypasses the last-sent hash: one bulk read per object kind, and
	// no write because STS already has the desired state.
	settled = s.settled(t)
	s.sts.ResetCalls()
	ch := amqpChannel(t, s.amqpURL)
	if err := ch.PublishWithContext(context.Background(), "os2mo", "org_unit", false, false, amqp.Publishing{
		Headers: amqp.Table{consumer.HeaderForce: true},
		Body:    []byte(`"` + data.Units[1].UUID.String() + `"`),
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "forced event settled", func() bool { return s.settled(t) == settled+1 })
	if got := s.sts.Calls(); got["organisationenhed/list"] != 1 || writes(got) != 0 {
		t.Errorf("forced unchanged event made calls %v, want reads only", got)
	}

	// A rename is written with ret, reading the current registration first.
	renamed, _ := s.mo.OrgUnit(data.Units[2].UUID)
	renamed.Name = "Omdøbt Afdeling"
	if err := s.mo.UpdateOrgUnit(renamed); err != nil {
		t.Fatal(err)
	}
	s.sts.ResetCalls()
	s.publish(t, renamed.UUID)
	waitFor(t, 5*time.Second, "rename in STS", func() bool {
		obj, _ := s.sts.Object(oio.KindOrganisationEnhed, renamed.UUID)
		return obj != nil && obj.Registration.Egenskaber[0].Navn == renamed.Name
	})
	if got := s.sts.Calls(); got["organisationenhed/list"] != 1 || got["organisationenhed/ret"] != 1 || writes(got) != 1 || s.sts.TotalCalls()-writes(got) > 3 {
		t.Errorf("rename made calls %v, want one bulk read per kind (unit, addresses, functions) and exactly one write, its ret", got)
	}

	s.stop()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("daemon stopped with %v, want a clean stop", err)
		}
		s.done <- err // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop")
	}
}
