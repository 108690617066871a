package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stsorgsync/stsorgsync/internal/testenv"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/audit"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// auditRecords runs `stsorgsync audit --json` with args and decodes its records.
func (r *mappingRig) auditRecords(t *testing.T, args ...string) []audit.Record {
	t.Helper()
	code, out := r.command(t, append([]string{"audit", "--json", "--wait", "500ms"}, args...)...)
	if code != 0 {
		t.Fatalf("audit %v exited %d:\n%s", args, code, out)
	}
	var recs []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var rec audit.Record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit --json line %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

// rawTrail returns the body of every message in the audit stream.
func (r *mappingRig) rawTrail(t *testing.T) []string {
	t.Helper()
	conn, err := amqp.Dial(r.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Qos(100, 0, false); err != nil {
		t.Fatal(err)
	}
	ds, err := ch.Consume("stsorgsync.audit", "", false, false, false, false, amqp.Table{"x-stream-offset": "first"})
	if err != nil {
		t.Fatal(err)
	}
	var bodies []string
	for {
		select {
		case d := <-ds:
			_ = d.Ack(false)
			bodies = append(bodies, string(d.Body))
		case <-time.After(time.Second):
			return bodies
		}
	}
}

// assertEveryWriteRecorded: every write the fake STS accepted has an intent record with its
// transaction UUID in the trail.
func assertEveryWriteRecorded(t *testing.T, writes []ststest.Write, recs []audit.Record) {
	t.Helper()
	intents := map[string]audit.Record{}
	for _, r := range recs {
		if r.Phase == audit.PhaseIntent {
			intents[r.TransactionUUID.String()] = r
		}
	}
	for _, w := range writes {
		r, ok := intents[w.TransactionUUID]
		if !ok {
			t.Errorf("STS accepted %s %s (transaction %s) without an audit record", w.Operation, w.Kind, w.TransactionUUID)
			continue
		}
		if r.Kind != string(w.Kind) || r.Operation != string(w.Operation) {
			t.Errorf("transaction %s: STS saw %s %s, the trail says %s %s", w.TransactionUUID, w.Operation, w.Kind, r.Operation, r.Kind)
		}
	}
}

// TestAuditTrailEndToEnd: the initial sync, a rename of a unit and the termination of a person
// (through the daemon) appear in `stsorgsync audit --unit/--person` with the right operations,
// changes and the transaction UUIDs STS received; every write STS accepted has its record, and
// no CPR number appears anywhere in the stream although SYNC_CPR writes them to STS.
func TestAuditTrailEndToEnd(t *testing.T) {
	m := newMunicipality()
	r := newMappingRig(t, m, map[string]string{"SYNC_CPR": "true", "AUDIT_RETENTION": "400D", "AUDIT_MAX_BYTES": "1GB"})
	if code, out := r.command(t, "sync"); code != 0 {
		t.Fatalf("sync exited %d:\n%s", code, out)
	}
	loaded := len(r.sts.Writes())
	if loaded == 0 {
		t.Fatal("the sync wrote nothing")
	}

	d := (&crashRig{env: r.env}).startProcess(t, r.bin, "stsorgsync")
	pub, err := motest.DialPublisher(r.amqpURL, "os2mo")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx := context.Background()
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if _, err := r.mo.RenameUnit(ctx, m.afdeling, "Afdeling for revision", today); err != nil {
		t.Fatal(err)
	}
	if _, err := r.mo.TerminatePerson(ctx, m.bo, today.Add(-24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "org_unit", m.afdeling); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(ctx, "person", m.bo); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the events settled", func() bool {
		return settledAt(t, d.ops) == 2+int(metricAt(t, d.ops, "stsorgsync_cascade_events_total "))
	})
	appended := metricAt(t, d.ops, "stsorgsync_audit_records_total ")
	d.stop(t)
	writes := r.sts.Writes()
	if len(writes) <= loaded {
		t.Fatalf("the events made no STS write (%d before, %d after)", loaded, len(writes))
	}
	if want := float64(2 * (len(writes) - loaded)); appended != want {
		t.Errorf("stsorgsync_audit_records_total = %v; want %v (an intent and an outcome per write of the daemon)", appended, want)
	}

	all := r.auditRecords(t)
	assertEveryWriteRecorded(t, writes, all)
	outcomes := 0
	for _, rec := range all {
		if rec.Phase == audit.PhaseOutcome {
			outcomes++
			if rec.Result != "ok" {
				t.Errorf("outcome %+v: want ok", rec)
			}
		}
	}
	if outcomes != len(writes) {
		t.Errorf("%d outcome records; want one per write (%d)", outcomes, len(writes))
	}

	// The full sync: every initial write is the sync's.
	if got := r.auditRecords(t, "--source", "sync"); len(got) != 2*loaded {
		t.Errorf("audit --source sync: %d records; want %d (intent and outcome of each of the sync's %d writes)", len(got), 2*loaded, loaded)
	}
	// The rename: a ret of the unit from its event, with the new name.
	renamed := false
	for _, rec := range r.auditRecords(t, "--unit", m.afdeling.String(), "--source", "event") {
		if rec.Phase != audit.PhaseIntent || rec.Kind != string(oio.KindOrganisationEnhed) || rec.Object != m.afdeling {
			continue
		}
		for _, c := range rec.Changes {
			if c.Field == "Navn" && c.To == "Afdeling for revision" && rec.Operation == "ret" && rec.Source.RoutingKey == "org_unit" {
				renamed = true
			}
		}
	}
	if !renamed {
		t.Errorf("audit --unit: no ret of the unit with Navn -> \"Afdeling for revision\" from its event; records %+v", r.auditRecords(t, "--unit", m.afdeling.String()))
	}
	// The termination: the person's user deactivated by its event.
	ended := false
	for _, rec := range r.auditRecords(t, "--person", m.bo.String(), "--since", "1h") {
		for _, c := range rec.Changes {
			if rec.Source.Kind == audit.SourceEvent && rec.Operation == "ret" && c.Field == "Gyldighed" && c.To == string(oio.Inaktiv) {
				ended = true
			}
		}
	}
	if !ended {
		t.Error("audit --person: no ret that makes the person's user Inaktiv")
	}
	// The table names the transactions too.
	code, table := r.command(t, "audit", "--person", m.bo.String(), "--wait", "500ms")
	if code != 0 || !strings.Contains(table, "ok") || !strings.Contains(table, writes[len(writes)-1].TransactionUUID) && !strings.Contains(table, "writes") {
		t.Errorf("audit table (exit %d):\n%s", code, table)
	}

	// No CPR number anywhere in the stream, though STS holds it.
	p, ok := r.sts.Object(oio.KindPerson, personObject(t, r, m.anne))
	if !ok || !slices.ContainsFunc(p.Registration.Egenskaber, func(e oio.Egenskab) bool { return e.CPR == m.anneCPR }) {
		t.Fatalf("SYNC_CPR: STS should hold Anne's CPR number (test premise)")
	}
	for _, body := range r.rawTrail(t) {
		for _, cpr := range []string{m.anneCPR, m.anneCPR[:6] + "-" + m.anneCPR[6:]} {
			if strings.Contains(body, cpr) {
				t.Fatalf("a CPR number is in the audit stream: %s", body)
			}
		}
	}
}

// personObject returns the UUID of the STS Person written for an OS2MO person: the one object of
// kind Person the trail records for the person's bundle.
func personObject(t *testing.T, r *mappingRig, person uuid.UUID) uuid.UUID {
	t.Helper()
	for _, rec := range r.auditRecords(t, "--person", person.String()) {
		if rec.Kind == string(oio.KindPerson) {
			return rec.Object
		}
	}
	t.Fatalf("no STS Person recorded for %s", person)
	return uuid.Nil
}

// queueEmpty reports whether the management API shows the work queue without any message.
func (r *mappingRig) queueEmpty(t *testing.T) bool {
	t.Helper()
	u, err := url.Parse(r.amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	var q rabbitQueue
	status, err := testenv.Management(http.MethodGet, "/api/queues/"+url.PathEscape(strings.TrimPrefix(u.Path, "/"))+"/stsorgsync", "", &q)
	return err == nil && status == http.StatusOK && q.Messages != nil && *q.Messages == 0 && q.Unacked != nil && *q.Unacked == 0
}

// TestNoSTSWriteWithoutItsAuditRecord: the daemon is killed with SIGKILL at the worst moment,
// after STS stored a write and before the answer reached it (so before its outcome could be
// recorded). A new process finishes the work. Every write STS accepted, the killed one
// included, has its intent record; the killed one has no outcome and `audit` says so.
func TestNoSTSWriteWithoutItsAuditRecord(t *testing.T) {
	m := newMunicipality()
	var victim atomic.Pointer[daemonProcess]
	var killedTxn atomic.Value
	var seen atomic.Int64
	r := newMappingRigWith(t, m, nil, ststest.Options{RequireSecurity: true, OnWrite: func(w ststest.Write) {
		if seen.Add(1) != 5 {
			return
		}
		if p := victim.Load(); p != nil {
			killedTxn.Store(w.TransactionUUID)
			_ = p.cmd.Process.Signal(syscall.SIGKILL) // the answer never reaches it
		}
	}})
	first := (&crashRig{env: r.env}).startProcess(t, r.bin, "stsorgsync-1")
	victim.Store(first)
	pub, err := motest.DialPublisher(r.amqpURL, "os2mo")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	ctx := context.Background()
	for _, id := range m.unitIDs() {
		if err := pub.Publish(ctx, "org_unit", id); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-first.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("the daemon was not killed at the fifth write")
	}
	txn, _ := killedTxn.Load().(string)
	if txn == "" {
		t.Fatal("no write was interrupted")
	}

	second := (&crashRig{env: r.env}).startProcess(t, r.bin, "stsorgsync-2")
	waitFor(t, 90*time.Second, "the units converged", func() bool {
		return metricAt(t, second.ops, `stsorgsync_events_total{class="",outcome="done",type="org_unit"}`) > 0 &&
			metricAt(t, second.ops, "stsorgsync_events_in_flight ") == 0 && r.queueEmpty(t)
	})
	second.stop(t)
	if code, out := r.command(t, "verify"); code != 0 {
		t.Errorf("verify after the crash exited %d:\n%s", code, out)
	}

	recs := r.auditRecords(t)
	assertEveryWriteRecorded(t, r.sts.Writes(), recs)
	outcome := false
	for _, rec := range recs {
		if rec.TransactionUUID.String() == txn && rec.Phase == audit.PhaseOutcome {
			outcome = true
		}
	}
	if outcome {
		t.Errorf("transaction %s has an outcome record, but its process was killed before STS answered", txn)
	}
	code, table := r.command(t, "audit", "--wait", "500ms")
	if code != 0 || !strings.Contains(table, "unknown") || !strings.Contains(table, txn) {
		t.Errorf("the audit table should show transaction %s with result unknown (exit %d):\n%s", txn, code, table)
	}
}
