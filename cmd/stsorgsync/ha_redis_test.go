package main

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/internal/chaosenv"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/reconcile/report"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// TestRedisSentinelFailover (issue 22): two daemons (the real binary) keep their leases and
// records in a Redis master with one replica, watched by three Sentinels (quorum 2, down after
// 1 s), all started by the test on ports of its own; RabbitMQ is the machine's, in a vhost of the
// test's own. The daemons load 500 units (one event each), then OS2MO renames every unit (500
// events, each an STS write of its own). When a quarter of the renames are written the master is
// killed with SIGKILL and stays dead: the Sentinels promote the replica and the daemons carry on
// through it by themselves. Afterwards: no event lost (STS holds every unit under OS2MO's current
// name), no wrong write (`stsorgsync verify` finds no difference), the dead-letter queue is
// empty, the fake STS saw no two writes of one object at once, and `check` names the new master.
// The extra STS reads the failover cost are counted: in this stream every rename is one
// organisationenhed/list and one organisationenhed/ret, so the reads beyond the rets are extra
// (attempts retried after Redis failed them, re-read without the record they forgot). The
// figures are logged in one line, "ha-redis: failover in …", for the closing note.
func TestRedisSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis master, a replica, three Sentinels and two daemons (about a minute)")
	}
	const units = 500
	bin := buildDaemon(t)
	group := chaosenv.StartSentinelGroup(t, 1, 3)
	broker := testenv.AMQP(t)
	pub, err := motest.DialPublisher(broker.URL, motest.DefaultExchange)
	if err != nil {
		t.Fatalf("publisher: %v", err)
	}
	t.Cleanup(func() { _ = pub.Close() })
	data := motest.Generate(22, units)
	mo := motest.NewServer(motest.Options{Events: pub})
	if err := mo.Load(data); err != nil {
		t.Fatal(err)
	}
	moSrv := httptest.NewServer(mo.Handler())
	t.Cleanup(moSrv.Close)
	// WriteHold keeps every write open a moment, so that two writes of one object would overlap
	// and be counted.
	sts := ststest.NewServer(ststest.Options{WriteHold: 5 * time.Millisecond,
		Organisations: []ststest.Organisation{{UUID: uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11"), CVR: "29189846"}}})
	stsSrv := httptest.NewServer(sts.Handler())
	t.Cleanup(stsSrv.Close)
	env := map[string]string{
		"AMQP_URL":              broker.URL,
		"EVENT_SOURCE":          "amqp",
		"REDIS_URL":             "redis:///0",
		"REDIS_SENTINEL_ADDRS":  strings.Join(group.SentinelAddrs(), ","),
		"REDIS_SENTINEL_MASTER": group.MasterName,
		"REDIS_KEY_PREFIX":      "ha:",
		"MO_URL":                moSrv.URL,
		"MO_AUTH_SERVER":        moSrv.URL + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"STS_BASE_URL":          stsSrv.URL,
		"STS_CVR":               "29189846",
		"STS_ORGANISATION_UUID": "3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11",
		// Unsigned: the test is about Redis; signing under -race on two cores would triple it.
		"STS_SECURITY":      "false",
		"WORKERS":           "4",
		"RETRY_INITIAL":     "50ms",
		"RETRY_MAX":         "1s",
		"RETRY_MAX_ELAPSED": "60s",
		"LEASE_TTL":         "5s",
		"SHUTDOWN_TIMEOUT":  "10s",
	}
	var ids []uuid.UUID
	for _, u := range data.Units {
		ids = append(ids, u.UUID)
	}
	rig := &crashRig{broker: broker, mgmt: testenv.Management, mo: mo, sts: sts, env: env, queue: "stsorgsync", dlq: "stsorgsync.dlq", ids: ids}
	cli := &mappingRig{bin: bin, env: env}
	cli.writeConfig(t)
	start := time.Now()
	daemons := []*daemonProcess{startDaemonProcess(t, bin, "daemon1", env), startDaemonProcess(t, bin, "daemon2", env)}

	// Load: one event per unit.
	for _, id := range ids {
		if err := pub.Publish(t.Context(), "org_unit", id); err != nil {
			t.Fatal(err)
		}
	}
	rig.waitConverged(t, 3*time.Minute)
	rig.waitQueueEmpty(t)
	t.Logf("loaded %d units in %s", units, time.Since(start).Round(time.Millisecond))

	// The stream: every unit renamed, the events published by the fake OS2MO.
	before := sts.Calls()
	var renamed atomic.Int64
	streamDone := make(chan error, 1)
	go func() {
		today := time.Now()
		for i, id := range ids {
			if _, err := mo.RenameUnit(t.Context(), id, data.Units[i].Name+" (omdøbt)", today); err != nil {
				streamDone <- err
				return
			}
			renamed.Add(1)
		}
		streamDone <- nil
	}()
	waitFor(t, 2*time.Minute, "a quarter of the renames written", func() bool {
		return writes(sts.Calls())-writes(before) >= units/4
	})

	master, err := group.MasterAddr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	atKill := sts.Calls()
	t.Logf("killing the Redis master %s: %d of %d renames published, %d STS writes of the stream done", master,
		renamed.Load(), units, writes(atKill)-writes(before))
	kill := time.Now()
	group.Node(master).Kill(t)
	promoted := group.WaitMaster(t, master, time.Minute)
	failover := time.Since(kill)
	t.Logf("the Sentinels promoted %s %s after the kill", promoted, failover.Round(100*time.Millisecond))

	if err := <-streamDone; err != nil {
		t.Fatalf("renaming: %v", err)
	}
	rig.waitConverged(t, 3*time.Minute)
	rig.waitQueueEmpty(t)
	recovered := time.Since(kill)
	after := sts.Calls()
	rig.assertDLQEmpty(t)

	lost := len(rig.converged())
	code, out := cli.command(t, "verify", "--json")
	rep, err := verifyReportOf(out)
	if err != nil {
		t.Fatalf("verify --json (exit %d): %v\n%s", code, err, lastLines(out, 20))
	}
	if code != 0 || len(rep.Differences) != 0 {
		t.Errorf("verify exited %d with %d differences after the failover:\n%s", code, len(rep.Differences), lastLines(out, 40))
	}
	concurrent := sts.ConcurrentWritesSeen()
	if concurrent != 0 {
		t.Errorf("the fake STS saw %d concurrent writes of one object", concurrent)
	}

	// The stream's STS calls: every rename is one list and one ret of its unit; reads beyond
	// the rets are what the failover cost.
	stream := after
	for k, v := range before {
		stream[k] -= v
	}
	reads, rets := 0, stream["organisationenhed/ret"]
	for k, v := range stream {
		if !strings.HasSuffix(k, "/importer") && !strings.HasSuffix(k, "/ret") && !strings.HasSuffix(k, "/passiver") {
			reads += v
		}
	}
	var calls []string
	for _, k := range slices.Sorted(maps.Keys(stream)) {
		if stream[k] != 0 {
			calls = append(calls, fmt.Sprintf("%s %d", k, stream[k]))
		}
	}
	t.Logf("STS calls of the stream: %s", strings.Join(calls, ", "))
	if rets < units {
		t.Errorf("%d organisationenhed/ret in the stream, want at least one per renamed unit (%d)", rets, units)
	}

	// The killed master comes back (as an orchestrator would restart it): the Sentinels make it a
	// replica of the new master, and check finds everything in order through the Sentinels.
	group.Node(master).Start(t)
	waitFor(t, time.Minute, "the old master back as a replica", func() bool {
		_, out := cli.command(t, "check")
		return strings.Contains(out, "Redis replica "+master+" of "+group.MasterName+": ok")
	})
	code, out = cli.command(t, "check")
	var redisLines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "Redis") {
			redisLines = append(redisLines, l)
		}
	}
	t.Logf("stsorgsync check (exit %d), Redis:\n%s", code, strings.Join(redisLines, "\n"))
	if code != 0 {
		t.Errorf("check exited %d after the old master came back as a replica:\n%s", code, out)
	}
	if want := "Redis Sentinel master " + group.MasterName + ": ok (" + promoted + ", role master"; !strings.Contains(out, want) {
		t.Errorf("check does not report the promoted master (%q):\n%s", want, out)
	}
	for _, s := range group.SentinelAddrs() {
		if want := "Redis Sentinel " + s + ": ok (master " + group.MasterName + " at " + promoted + ")"; !strings.Contains(out, want) {
			t.Errorf("check does not report Sentinel %s naming the new master:\n%s", s, out)
		}
	}

	t.Logf("ha-redis: failover in %.1fs; events %d; lost %d; wrong writes %d; extra STS reads %d; recovered in %.1fs; concurrent writes %d; wall time %s",
		failover.Seconds(), units+int(renamed.Load()), lost, len(rep.Differences), reads-rets, recovered.Seconds(), concurrent,
		time.Since(start).Round(time.Second))
	for _, d := range daemons {
		d.stop(t)
	}
}

// verifyReportOf finds the report in the output of `verify --json` (the report on stdout, the
// JSON log records on stderr, in any order).
func verifyReportOf(out string) (report.Report, error) {
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var raw map[string]json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return report.Report{}, fmt.Errorf("no report in the output: %w", err)
		}
		if _, ok := raw["differences"]; !ok {
			continue // a log record
		}
		var rep report.Report
		b, _ := json.Marshal(raw)
		if err := json.Unmarshal(b, &rep); err != nil {
			return report.Report{}, err
		}
		return rep, nil
	}
}
