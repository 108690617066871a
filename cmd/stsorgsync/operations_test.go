package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// opsBlock is a fenced block of OPERATIONS.md whose commands the test runs: sh (one command per
// line, `\` continues a line) or crontab (variable lines, then five time fields and a command).
type opsBlock struct {
	lang string
	line int      // of the opening fence
	cmds []string // the commands, in order, as written
}

// readOpsBlocks returns the sh and crontab blocks of the Markdown file at path.
func readOpsBlocks(t *testing.T, path string) []opsBlock {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []opsBlock
	var cur *opsBlock
	inFence := false
	pending := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "```") {
			if !inFence {
				inFence = true
				if lang := strings.TrimPrefix(trimmed, "```"); lang == "sh" || lang == "crontab" {
					blocks = append(blocks, opsBlock{lang: lang, line: n})
					cur = &blocks[len(blocks)-1]
				}
				continue
			}
			inFence, cur = false, nil
			continue
		}
		if cur == nil || trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, `\`) {
			pending += strings.TrimSuffix(trimmed, `\`) + " "
			continue
		}
		cur.cmds = append(cur.cmds, pending+trimmed)
		pending = ""
	}
	if len(blocks) == 0 {
		t.Fatalf("%s has no sh blocks", path)
	}
	return blocks
}

// opsStack is the stack the commands run against, like make demo's: RabbitMQ (a vhost of its
// own) and Redis (a key prefix of its own) of the tests, the fake OS2MO with the demo's
// municipality and the fake STS with KOMBIT's security profile over HTTP, and the daemon, the
// binary an operator runs, with a settings file like .demo/stsorgsync.env.
type opsStack struct {
	bin, config, listen string
	settings            map[string]string
	broker              *testenv.Broker
	mo                  *motest.Server
	moURL, stsURL       string
	sts                 *ststest.Server
	daemon              *exec.Cmd
	daemonDone          chan error
	daemonLog           string
}

func startOpsStack(t *testing.T, dir string) *opsStack {
	t.Helper()
	broker := testenv.AMQP(t)
	rdb, prefix := testenv.Redis(t)
	s := &opsStack{bin: buildDaemon(t), broker: broker}

	const cvr = "29189846"
	org := uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
	s.mo = motest.NewServer(motest.Options{})
	if err := s.mo.Load(motest.GenerateOrg(motest.GenOptions{Seed: 1, Units: 20, Persons: 40, Today: time.Now(), UnitAccounts: true})); err != nil {
		t.Fatal(err)
	}
	moSrv := httptest.NewServer(s.mo.Handler())
	t.Cleanup(moSrv.Close)
	s.moURL = moSrv.URL
	s.sts = ststest.NewServer(ststest.Options{RequireSecurity: true, Organisations: []ststest.Organisation{{UUID: org, CVR: cvr}}})
	stsSrv := httptest.NewServer(s.sts.Handler())
	t.Cleanup(stsSrv.Close)
	s.stsURL = stsSrv.URL

	s.listen = freeAddr(t)
	s.settings = map[string]string{
		"LOG_LEVEL":             "info",
		"HTTP_LISTEN":           s.listen,
		"AMQP_URL":              broker.URL,
		"REDIS_URL":             "redis://" + rdb.Options().Addr + "/0",
		"REDIS_KEY_PREFIX":      prefix,
		"MO_URL":                moSrv.URL,
		"MO_AUTH_SERVER":        moSrv.URL + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"EVENT_POLL_INTERVAL":   "200ms",
		"STS_BASE_URL":          stsSrv.URL,
		"STS_CVR":               cvr,
		"STS_ORGANISATION_UUID": org.String(),
		"SHUTDOWN_TIMEOUT":      "10s",
	}
	for k, v := range writeSecurityFiles(t, s.sts, stsSrv.URL, cvr) {
		s.settings[k] = v
	}
	mapping, err := readEnvFile("../../scripts/demo.env")
	if err != nil {
		t.Fatal(err)
	}
	var file strings.Builder
	file.WriteString("# the stack of TestOperationsCommands, like .demo/stsorgsync.env\n")
	for _, m := range []map[string]string{s.settings, mapping} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(&file, "%s=%s\n", k, m[k])
		}
	}
	s.config = filepath.Join(dir, "stsorgsync.env")
	if err := os.WriteFile(s.config, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	s.daemonLog = filepath.Join(dir, "stsorgsync.log")
	logFile, err := os.Create(s.daemonLog)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logFile.Close() })
	s.daemon = exec.Command(s.bin, "--config", s.config, "run")
	s.daemon.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	s.daemon.Stdout, s.daemon.Stderr = logFile, logFile
	if err := s.daemon.Start(); err != nil {
		t.Fatal(err)
	}
	s.daemonDone = make(chan error, 1)
	go func() { s.daemonDone <- s.daemon.Wait() }()
	t.Cleanup(func() { s.stopDaemon(t) })
	waitFor(t, 60*time.Second, "the daemon's /readyz", func() bool {
		select {
		case err := <-s.daemonDone:
			s.daemonDone <- err
			log, _ := os.ReadFile(s.daemonLog)
			t.Fatalf("the daemon exited (%v):\n%s", err, log)
		default:
		}
		return httpStatus("http://"+s.listen+"/readyz") == http.StatusOK
	})
	return s
}

// stopDaemon stops the daemon as systemctl stop, docker stop and a scale to 0 do: SIGTERM, and
// it must exit 0. It does nothing once the daemon has stopped.
func (s *opsStack) stopDaemon(t *testing.T) {
	t.Helper()
	if s.daemon == nil {
		return
	}
	_ = s.daemon.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.daemonDone:
		if err != nil {
			log, _ := os.ReadFile(s.daemonLog)
			t.Errorf("the daemon exited with %v after SIGTERM, want 0:\n%s", err, log)
		}
	case <-time.After(30 * time.Second):
		_ = s.daemon.Process.Kill()
		t.Errorf("the daemon did not stop within 30 s of SIGTERM")
	}
	s.daemon = nil
}

// stsUnits returns the units the fake STS holds.
func (s *opsStack) stsUnits(t *testing.T) []ststest.ObjectView {
	t.Helper()
	resp, err := http.Get(s.stsURL + "/_inspect/objects/organisationenhed")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var units []ststest.ObjectView
	if err := json.NewDecoder(resp.Body).Decode(&units); err != nil {
		t.Fatal(err)
	}
	return units
}

// opsExamples are the example UUIDs of OPERATIONS.md, replaced by objects of the stack.
const (
	opsExamplePerson = "5b8f0a1e-3c1d-4d3c-9f0a-1c2d3e4f5a6b"
	opsExampleUnit   = "9f2c0a3e-1b2d-4c5e-8f9a-0b1c2d3e4f5a"
	opsExampleObject = "0d2a4f5e-6b7c-4d8e-9f0a-1b2c3d4e5f6a"
)

// TestOperationsCommands runs every shell command OPERATIONS.md shows (its sh blocks, and the
// command of its crontab line) in the document's order against a stack like make demo's
// (startOpsStack), each block as one bash script (set -euo pipefail, so a failing command fails
// the test), in a working directory with the files the commands name (a renewed organisation
// certificate, KOMBIT certificates). The commands run as written, in an environment holding the
// daemon's settings, STSORGSYNC_CONFIG (the stack's settings file), VHOST (the stack's RabbitMQ
// vhost) and PATH with the daemon binary first, with these substitutions: the example UUIDs
// become a person, a unit and an STS object the stack wrote; http://localhost:9090 becomes the
// daemon's HTTP_LISTEN; /var/lib/stsorgsync/ becomes the working directory. The commands that
// cannot run here are in opsNotRun with the reason; when the document reaches the daemon's stop,
// the test stops its daemon with SIGTERM instead. Checks after some commands assert what the
// document says they do (a policy changes the stream's retention, the listeners and Redis keys
// are gone afterwards).
//
// It runs only with STSORGSYNC_OPERATIONS_TEST=1 (make operations-check, a step of .ci/run):
// about 30 s, most of it the commands' own start-up (rabbitmqctl's Erlang, the audit reader's
// wait for the stream's end), too long for make test. rabbitmqctl and rabbitmqadmin must reach
// the broker of TEST_AMQP_URL (root, or the node's Erlang cookie); otherwise their commands fail
// the test under CI=true and are skipped (logged) without.
func TestOperationsCommands(t *testing.T) {
	if os.Getenv("STSORGSYNC_OPERATIONS_TEST") != "1" {
		t.Skip("set STSORGSYNC_OPERATIONS_TEST=1 (make operations-check): runs the daemon and OPERATIONS.md's commands against RabbitMQ, Redis and the fakes (about 30 s)")
	}
	for _, tool := range []string{"bash", "curl", "jq", "openssl", "redis-cli", "xargs"} {
		if _, err := exec.LookPath(tool); err != nil {
			msg := "OPERATIONS.md's commands need " + tool + " (Debian: apt-get install curl jq openssl redis-tools): " + err.Error()
			if os.Getenv("CI") == "true" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	blocks := readOpsBlocks(t, "../../OPERATIONS.md")
	started := time.Now()
	work := t.TempDir()
	s := startOpsStack(t, work)

	// The initial load, and a rename through OS2MO's GraphQL events, so that the audit trail
	// holds writes of the full sync and of the event path.
	if out, err := exec.Command(s.bin, "--config", s.config, "sync").CombinedOutput(); err != nil {
		t.Fatalf("stsorgsync sync: %v\n%s", err, out)
	}
	var unit string
	for _, u := range s.stsUnits(t) {
		if _, ok := s.mo.OrgUnit(uuid.MustParse(u.UUID)); ok && u.Parent != "" {
			unit = u.UUID // in STS under OS2MO's UUID
			break
		}
	}
	if unit == "" {
		t.Fatal("no unit of OS2MO's in the fake STS after the initial load")
	}
	body := fmt.Sprintf(`{"uuid": %q, "name": "Omdøbt af TestOperationsCommands"}`, unit)
	resp, err := http.Post(s.moURL+"/api/org_unit", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("renaming unit %s in the fake OS2MO: HTTP %d", unit, resp.StatusCode)
	}
	waitFor(t, 30*time.Second, "the rename in the fake STS", func() bool {
		for _, u := range s.stsUnits(t) {
			if u.UUID == unit {
				return u.Name == "Omdøbt af TestOperationsCommands"
			}
		}
		return false
	})
	person := ""
	if out, err := exec.Command(s.bin, "--config", s.config, "audit", "--json", "--source", "sync").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			var r struct{ Bundle string }
			if json.Unmarshal([]byte(line), &r) == nil && strings.HasPrefix(r.Bundle, "person:") {
				person = strings.TrimPrefix(r.Bundle, "person:")
				break
			}
		}
	}
	if person == "" {
		t.Fatal("the audit trail names no person the initial load wrote")
	}
	t.Logf("stack up and loaded after %s; person %s, unit %s", time.Since(started).Round(100*time.Millisecond), person, unit)

	// The files the commands name, in the working directory.
	pki := s.sts.PKI()
	renewed, err := pki.NewClient(ststest.ClientConfig{CVR: "29189846", Name: "stsorgsync (renewed)", NotAfter: time.Now().AddDate(3, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pki.P12(renewed, []byte("renewed secret"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := pki.NewClient(ststest.ClientConfig{Name: "ADG_FAKE_Adgangsstyring_3", NotBefore: time.Now().AddDate(0, 6, 0), NotAfter: time.Now().AddDate(4, 0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"organisation-2027.p12":         p12,
		"organisation-2027.password":    []byte("renewed secret\n"),
		"ADG_PROD_Adgangsstyring_2.pem": ststest.CertificatePEM(pki.STS.Certificate), // what KOMBIT signs with now
		"ADG_PROD_Adgangsstyring_3.cer": next.Certificate.Raw,                        // its successor, DER as KOMBIT publishes it
	} {
		if err := os.WriteFile(filepath.Join(work, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	env := []string{"PATH=" + filepath.Dir(s.bin) + ":" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LC_ALL=C.UTF-8",
		"STSORGSYNC_CONFIG=" + s.config, "VHOST=" + s.broker.VHost}
	for k, v := range s.settings {
		env = append(env, k+"="+v)
	}
	replacer := strings.NewReplacer(opsExamplePerson, person, opsExampleUnit, unit, opsExampleObject, unit,
		"http://localhost:9090", "http://"+s.listen, "/var/lib/stsorgsync/", work+"/")

	rabbitOK, rabbitWhy := rabbitCLIUsable(s.broker.VHost)
	if !rabbitOK && os.Getenv("CI") == "true" {
		t.Fatalf("rabbitmqctl/rabbitmqadmin cannot be used on the tests' broker (%s); OPERATIONS.md's RabbitMQ commands need them (run as root or with the node's Erlang cookie; CI=false skips them)", rabbitWhy)
	}
	hasExport := exec.Command(s.bin, "export", "--help").Run() == nil

	notRun := opsNotRun()
	checks := opsChecks(t, s, person, unit)
	seen := map[string]bool{}
	ran, skipped := 0, 0
	cronVar := regexp.MustCompile(`^[A-Z_]+=`)
	cronCmd := regexp.MustCompile(`^\S+\s+\S+\s+\S+\s+\S+\s+\S+\s+(.+)$`)
	for _, b := range blocks {
		var script strings.Builder
		script.WriteString("set -eu\n")
		shell := "sh" // cron runs the command with /bin/sh
		if b.lang == "sh" {
			script.WriteString("set -o pipefail\n")
			shell = "bash"
		}
		var cmds []string
		for _, doc := range b.cmds {
			cmd := doc
			if b.lang == "crontab" {
				if cronVar.MatchString(doc) {
					continue // cron's environment: the test sets STSORGSYNC_CONFIG itself
				}
				m := cronCmd.FindStringSubmatch(doc)
				if m == nil {
					t.Fatalf("OPERATIONS.md:%d: a crontab line without five time fields and a command: %q", b.line, doc)
				}
				cmd = m[1]
			}
			if why, ok := notRun[doc]; ok {
				seen[doc] = true
				if why.stop {
					s.stopDaemon(t)
				}
				t.Logf("not run: %s\n    (%s)", doc, why.reason)
				skipped++
				continue
			}
			if !rabbitOK && (strings.HasPrefix(cmd, "rabbitmqctl ") || strings.HasPrefix(cmd, "rabbitmqadmin ")) {
				t.Logf("not run: %s\n    (%s)", doc, rabbitWhy)
				skipped++
				continue
			}
			if !hasExport && strings.HasPrefix(cmd, "stsorgsync export") {
				t.Logf("not run: %s\n    (this build has no stsorgsync export yet)", doc)
				skipped++
				continue
			}
			if c, ok := checks[doc]; ok && c.before != nil {
				c.before()
			}
			fmt.Fprintf(&script, "echo '::ops-command %d::'\n%s\n", len(cmds), replacer.Replace(cmd))
			cmds = append(cmds, doc)
		}
		if len(cmds) == 0 {
			continue
		}
		run := exec.Command(shell, "-c", script.String())
		run.Dir, run.Env = work, env
		blockStart := time.Now()
		out, err := run.CombinedOutput()
		outputs := splitOpsOutput(string(out), len(cmds))
		if err != nil {
			last := 0
			for i := range cmds {
				if strings.Contains(string(out), fmt.Sprintf("::ops-command %d::", i)) {
					last = i
				}
			}
			t.Fatalf("OPERATIONS.md:%d: %v in\n    %s\noutput:\n%s", b.line, err, cmds[last], outputs[last])
		}
		for i, doc := range cmds {
			seen[doc] = true
			ran++
			if c, ok := checks[doc]; ok && c.after != nil {
				c.after(outputs[i])
			}
		}
		t.Logf("OPERATIONS.md:%d: %d commands in %s", b.line, len(cmds), time.Since(blockStart).Round(10*time.Millisecond))
	}
	for doc := range notRun {
		if !seen[doc] {
			t.Errorf("opsNotRun names %q, which OPERATIONS.md does not show", doc)
		}
	}
	for doc := range checks {
		if !seen[doc] && rabbitOK && (hasExport || !strings.HasPrefix(doc, "stsorgsync export")) {
			t.Errorf("opsChecks names %q, which OPERATIONS.md does not show (or was not run)", doc)
		}
	}
	doc, _ := os.ReadFile("../../OPERATIONS.md")
	for _, example := range []string{opsExamplePerson, opsExampleUnit, opsExampleObject, "http://localhost:9090", "/var/lib/stsorgsync/"} {
		if !bytes.Contains(doc, []byte(example)) {
			t.Errorf("OPERATIONS.md no longer shows %q; drop its substitution", example)
		}
	}
	t.Logf("%d commands run, %d not run, in %s", ran, skipped, time.Since(started).Round(100*time.Millisecond))
}

// opsReason is why a command of OPERATIONS.md is not run; stop: the command stops the daemon,
// which the test does itself (SIGTERM) at that point.
type opsReason struct {
	reason string
	stop   bool
}

// opsNotRun are the commands of OPERATIONS.md the test cannot run here, as written there.
func opsNotRun() map[string]opsReason {
	return map[string]opsReason{
		"export STSORGSYNC_CONFIG=/etc/stsorgsync/stsorgsync.env": {reason: "the operator's path; the test sets STSORGSYNC_CONFIG to its stack's settings file"},
		"systemctl restart stsorgsync":                            {reason: "no systemd unit here: the test's daemon is a process of its own; the restart with another certificate is shown by check with it"},
		"kubectl rollout restart deployment/stsorgsync":           {reason: "no Kubernetes here"},
		"systemctl disable --now stsorgsync":                      {reason: "no systemd unit here; the test stops its daemon with SIGTERM, as systemctl does", stop: true},
		"docker compose stop stsorgsync":                          {reason: "docker-compose's stack does not run here; the daemon was stopped with SIGTERM, as docker does", stop: true},
		"kubectl scale deployment/stsorgsync --replicas=0":        {reason: "no Kubernetes here; the daemon was stopped with SIGTERM, as Kubernetes does", stop: true},
	}
}

// opsCheck runs before and after a command of OPERATIONS.md (after: with the command's output).
type opsCheck struct {
	before func()
	after  func(out string)
}

// opsChecks assert that some commands of OPERATIONS.md do what the document says.
func opsChecks(t *testing.T, s *opsStack, person, unit string) map[string]opsCheck {
	contains := func(cmd string, want ...string) func(string) {
		return func(out string) {
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("%s: the output lacks %q:\n%s", cmd, w, out)
				}
			}
		}
	}
	creds, err := stsclient.LoadCredentials(s.settings["STS_P12_FILE"], []byte("correct horse battery staple"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The retention the stream's writer applies (osiris), read from the node.
	retention := func() string {
		expr := fmt.Sprintf(`{ok,Q}=rabbit_amqqueue:lookup(rabbit_misc:r(<<"%s">>, queue, <<"stsorgsync.audit">>)), #{leader_pid := P} = amqqueue:get_type_state(Q), element(7, element(2, element(3, element(5, sys:get_state(P))))).`, s.broker.VHost)
		out, err := exec.Command(rabbitmqctl(), "-q", "eval", expr).CombinedOutput()
		if err != nil {
			t.Errorf("reading the audit stream's retention from the node: %v\n%s", err, out)
		}
		return strings.Join(strings.Fields(string(out)), "")
	}
	const setPolicy = `rabbitmqctl set_policy -p "$VHOST" --apply-to queues stsorgsync-audit-retention '^stsorgsync\.audit$' '{"max-age": "10Y", "max-length-bytes": 50000000000}'`
	const listListeners = `curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -d '{"query": "{ event_listeners { objects { uuid owner user_key routing_key } } }"}' "$MO_URL/graphql/v25" | jq -r '.data.event_listeners.objects[] | select(.user_key | startswith("stsorgsync_")) | [.uuid, .owner, .user_key] | @tsv' | tee listeners.tsv`
	const deleteListeners = `cut -f1 listeners.tsv | while read -r id; do jq -n --arg id "$id" '{query: "mutation($id: UUID!) { event_listener_delete(input: {uuid: $id, delete_pending_events: true}) }", variables: {id: $id}}' | curl -fsS -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @- "$MO_URL/graphql/v25"; echo; done`
	const deleteKeys = `redis-cli -u "$REDIS_URL" --scan --pattern "${REDIS_KEY_PREFIX:-stsorgsync:}*" | xargs -r redis-cli -u "$REDIS_URL" unlink`
	return map[string]opsCheck{
		"curl -fsS http://localhost:9090/metrics | grep '^stsorgsync_certificate_expiry_timestamp_seconds'": {after: contains("metrics",
			fmt.Sprintf(`certificate="organisation",serial="%s"`, serialHex(creds.Certificate)), `certificate="token_service"`, `certificate="service"`)},
		"openssl pkcs12 -in organisation-2027.p12 -passin file:organisation-2027.password -nokeys -clcerts | openssl x509 -noout -subject -serial -enddate": {
			after: contains("openssl pkcs12", "stsorgsync (renewed)", "notAfter=")},
		`STS_P12_FILE=organisation-2027.p12 STS_P12_PASSWORD="$(cat organisation-2027.password)" stsorgsync check`: {
			after: contains("check with the renewed certificate", "STS token", "ok")},
		"openssl storeutl -noout -text -certs sts-rollover.pem | grep -E 'Subject:|Not After'": {
			after: contains("openssl storeutl", "ADG_FAKE_Adgangsstyring_1", "ADG_FAKE_Adgangsstyring_3")},
		"stsorgsync dlq list": {after: contains("dlq list", "is empty")},
		"stsorgsync audit --person " + opsExamplePerson + " --since 90d": {after: contains("audit --person", "person:"+person, "sync")},
		"stsorgsync audit --object " + opsExampleObject + " --json":      {after: contains("audit --object", `"object":"`+unit+`"`, `"source":{"kind":"event"`)},
		setPolicy: {
			before: func() {
				if got := retention(); got != "[{max_bytes,20000000000},{max_age,157680000000}]" {
					t.Errorf("the audit stream's retention before the policy: %s, want AUDIT_RETENTION's 5Y and AUDIT_MAX_BYTES' 20GB", got)
				}
			},
			after: func(string) {
				if got := retention(); got != "[{max_bytes,50000000000},{max_age,315360000000}]" {
					t.Errorf("the audit stream's retention after the policy: %s, want the policy's 10Y and 50000000000 bytes", got)
				}
			},
		},
		listListeners: {after: func(out string) {
			if n := len(strings.Split(strings.TrimSpace(out), "\n")); n != len(consumer.DefaultRoutingKeys()) {
				t.Errorf("%d listeners listed, want one per routing key (%d):\n%s", n, len(consumer.DefaultRoutingKeys()), out)
			}
		}},
		deleteListeners: {after: func(string) {
			for _, l := range s.mo.EventListeners() {
				if strings.HasPrefix(l.UserKey, "stsorgsync_") {
					t.Errorf("listener %s (%s) is still there", l.UUID, l.UserKey)
				}
			}
		}},
		deleteKeys: {after: func(string) {
			out, err := exec.Command("redis-cli", "-u", s.settings["REDIS_URL"], "--scan", "--pattern", s.settings["REDIS_KEY_PREFIX"]+"*").Output()
			if err != nil || strings.TrimSpace(string(out)) != "" {
				t.Errorf("Redis keys with the prefix are left (%v):\n%s", err, out)
			}
		}},
		`rabbitmqctl delete_vhost "$VHOST"`: {after: func(string) {
			if status, _ := testenv.Management(http.MethodGet, "/api/vhosts/"+s.broker.VHost, "", nil); status != http.StatusNotFound {
				t.Errorf("the vhost answers HTTP %d after delete_vhost, want 404", status)
			}
		}},
	}
}

// splitOpsOutput splits a block's output at the markers before its n commands.
func splitOpsOutput(out string, n int) []string {
	parts := make([]string, n)
	for i := range n {
		start := strings.Index(out, fmt.Sprintf("::ops-command %d::\n", i))
		if start < 0 {
			continue
		}
		rest := out[start+len(fmt.Sprintf("::ops-command %d::\n", i)):]
		if end := strings.Index(rest, fmt.Sprintf("::ops-command %d::\n", i+1)); end >= 0 {
			rest = rest[:end]
		}
		parts[i] = rest
	}
	return parts
}

// rabbitmqctl is the rabbitmqctl command (RABBITMQCTL overrides it).
func rabbitmqctl() string {
	if c := os.Getenv("RABBITMQCTL"); c != "" {
		return c
	}
	return "rabbitmqctl"
}

// rabbitCLIUsable reports whether rabbitmqctl and rabbitmqadmin reach the broker holding vhost,
// and if not, why.
func rabbitCLIUsable(vhost string) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, rabbitmqctl(), "-q", "list_vhosts").CombinedOutput()
	if err != nil || !strings.Contains(string(out), vhost) {
		return false, fmt.Sprintf("rabbitmqctl does not reach the tests' broker: %v %s", err, firstLine(string(out)))
	}
	out, err = exec.CommandContext(ctx, "rabbitmqadmin", "list", "vhosts", "name").CombinedOutput()
	if err != nil || !strings.Contains(string(out), vhost) {
		return false, fmt.Sprintf("rabbitmqadmin does not reach the tests' broker's management API with its defaults: %v %s", err, firstLine(string(out)))
	}
	return true, ""
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// TestOperationsDocument checks what OPERATIONS.md says without running a stack: its links
// into README.md and to its own sections name headings that exist, and its Prometheus rules are
// YAML (parsed with python3's yaml where installed) that use the expiry metric with label values
// the daemon sets.
func TestOperationsDocument(t *testing.T) {
	doc, err := os.ReadFile("../../OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{"README.md": markdownAnchors(readme), "": markdownAnchors(doc)}
	links := regexp.MustCompile(`\]\((README\.md)?#([^)]+)\)`).FindAllStringSubmatch(string(doc), -1)
	if len(links) < 5 {
		t.Errorf("OPERATIONS.md links to only %d sections", len(links))
	}
	for _, l := range links {
		if !anchors[l[1]][l[2]] {
			t.Errorf("OPERATIONS.md links to %s#%s, a heading that does not exist", l[1], l[2])
		}
	}

	rules := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(doc)
	if rules == nil {
		t.Fatal("OPERATIONS.md has no yaml block of Prometheus rules")
	}
	exprs := regexp.MustCompile(`(?m)^\s+expr: (.+)$`).FindAllSubmatch(rules[1], -1)
	if len(exprs) < 2 {
		t.Errorf("the Prometheus rules have %d expressions, want at least 2", len(exprs))
	}
	for _, e := range exprs {
		expr := string(e[1])
		if !strings.Contains(expr, "stsorgsync_certificate_expiry_timestamp_seconds{") {
			t.Errorf("rule %q does not use stsorgsync_certificate_expiry_timestamp_seconds", expr)
		}
		for _, v := range regexp.MustCompile(`certificate!?="([^"]*)"`).FindAllStringSubmatch(expr, -1) {
			if !slices.Contains([]string{certOrganisation, certTokenService, certService}, v[1]) {
				t.Errorf("rule %q: the daemon sets no certificate=%q", expr, v[1])
			}
		}
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Log("python3 is not installed: the rules' YAML syntax is not checked")
		return
	}
	check := exec.Command("python3", "-c", `import sys, yaml
d = yaml.safe_load(sys.stdin)
rules = [r for g in d["groups"] for r in g["rules"]]
assert rules and all(r["alert"] and r["expr"] and r["labels"]["severity"] for r in rules), rules
print(len(rules))`)
	check.Stdin = bytes.NewReader(rules[1])
	if out, err := check.CombinedOutput(); err != nil {
		if strings.Contains(string(out), "No module named 'yaml'") {
			t.Log("python3 has no yaml module: the rules' YAML syntax is not checked")
			return
		}
		t.Errorf("the Prometheus rules are not valid YAML of groups of rules: %v\n%s", err, out)
	}
}

// markdownAnchors returns the anchors GitHub gives a Markdown file's headings: lower case,
// punctuation removed, spaces as hyphens.
func markdownAnchors(md []byte) map[string]bool {
	anchors := map[string]bool{}
	inFence := false
	for _, line := range strings.Split(string(md), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		if inFence || !strings.HasPrefix(line, "#") {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#"))) {
			switch {
			case r == ' ':
				b.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		anchors[b.String()] = true
	}
	return anchors
}
