package main

// The fakes run inside this driver process, the daemon as real subprocesses.
//
// Why in-process fakes: the figures come from the fakes' own books — SOAP calls per kind and
// operation, the concurrent-write detector, the stored registrations (to count the objects a
// change really changed and to check that STS converged), the instant a write completes and the
// instant an event is published (for latencies). In-process these are exact and cheap; through
// fakests' and fakemo's HTTP inspection API they would be polled (blurring latencies) and
// serialised as JSON for tens of thousands of objects. On 2 cores the fakes take CPU from the
// daemon either way, in this process or in their own; the report shows the driver's (fakes') and
// the daemon's CPU time side by side so that the split is visible.
//
// Why the daemon is a subprocess: its peak RSS, its CPU time and its scale-out (1, 2, 4
// processes against one queue and one Redis) are only real for the real binary. So are the
// one-shot `stsorgsync sync` and `stsorgsync verify` runs (sync.go), started with the daemon's
// settings.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"

	"github.com/stsorgsync/stsorgsync/internal/testenv"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/moclient/motest"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
	"github.com/stsorgsync/stsorgsync/stsclient/ststest"
)

// Fixed identities of the benchmark municipality.
var (
	benchOrg = uuid.MustParse("3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11")
)

const (
	benchCVR   = "29189846"
	daemonQ    = "stsorgsync" // AMQP_QUEUE default
	daemonEx   = "stsorgsync" // AMQP_EXCHANGE default
	moExchange = "os2mo"
)

// env is the driver's environment: servers, binaries, shared certificates.
type env struct {
	amqpBase  *url.URL // without vhost
	api       string   // RabbitMQ's management API, with credentials (-rabbitmq-api)
	rdb       *redis.Client
	redisAddr string
	daemonBin string   // the stsorgsync binary
	daemonArg []string // its arguments ("run")
	logDir    string
	runID     string
	pki       *ststest.PKI
	secDir    string
	security  bool
	workers   int
	log       *slog.Logger
}

// stackOptions describe one isolated stack: a municipality in a fake OS2MO, a fake STS, a vhost,
// a Redis prefix and daemons.
type stackOptions struct {
	name           string
	units, persons int
	seed           int64
	sts            ststest.Options
	// watchWrites parses every write's target (concurrent-write detection over the whole call and
	// latency probes); it costs the driver some CPU.
	watchWrites bool
	// insecure runs this stack's fake STS and binary without KOMBIT's WS-Security profile even
	// when the driver's -security is on.
	insecure bool
}

// stack is one running setup.
type stack struct {
	e       *env
	opts    stackOptions
	mo      *motest.Server
	moURL   string
	moPub   *motest.Publisher
	rec     *publishRecorder
	sts     *ststest.Server
	tap     *stsTap
	stsURL  string
	vhost   string
	amqpURL string
	prefix  string
	servers []*http.Server
	pub     *fastPublisher
	inspect *amqp.Channel // passive declares of the daemons' queue
	mc      *moclient.Client
	daemons []*daemon
	nextID  int
	unitIDs []uuid.UUID
	persIDs []uuid.UUID
	// source is the daemons' EVENT_SOURCE: "amqp" (the fake OS2MO's events published to the
	// os2mo exchange) unless a phase switches to "graphql" (the fake's GraphQL event system).
	source string
}

func (e *env) newStack(ctx context.Context, o stackOptions) (*stack, error) {
	s := &stack{e: e, opts: o, source: "amqp"}
	ok := false
	defer func() {
		if !ok {
			s.close()
		}
	}()
	s.vhost = "stsbench-" + e.runID + "-" + o.name
	if err := testenv.CreateVHostAt(e.api, s.vhost, e.amqpBase.User.Username()); err != nil {
		s.vhost = ""
		return nil, fmt.Errorf("creating RabbitMQ vhost: %w", err)
	}
	u := *e.amqpBase
	u.Path = "/" + s.vhost
	s.amqpURL = u.String()
	s.prefix = "stsbench:" + e.runID + ":" + o.name + ":"

	// Fake OS2MO, publishing its mutations' events at once (no 5–90 s delay).
	moPub, err := motest.DialPublisherWithOptions(s.amqpURL, motest.PublisherOptions{Exchange: moExchange})
	if err != nil {
		return nil, err
	}
	s.moPub = moPub
	s.rec = &publishRecorder{next: moPub, at: map[uuid.UUID]time.Time{}}
	s.mo = motest.NewServer(motest.Options{Events: s.rec})
	data := motest.GenerateOrg(motest.GenOptions{Seed: o.seed, Units: o.units, Persons: o.persons, Today: time.Now()})
	if err := s.mo.Load(data); err != nil {
		return nil, fmt.Errorf("loading the generated municipality: %w", err)
	}
	s.unitIDs = s.mo.OrgUnitIDs()
	s.persIDs = s.mo.PersonIDs()
	if s.moURL, err = s.serve(s.mo.Handler()); err != nil {
		return nil, err
	}

	// Fake STS Organisation, behind the tap.
	o.sts.PKI = e.pki
	o.sts.RequireSecurity = s.security()
	s.sts = ststest.NewServer(o.sts)
	s.tap = &stsTap{next: s.sts.Handler(), sts: s.sts, watch: o.watchWrites, inflight: map[objKey]int{}, probes: map[objKey][]*probe{}}
	if s.stsURL, err = s.serve(s.tap); err != nil {
		return nil, err
	}
	if s.pub, err = dialFastPublisher(s.amqpURL, moExchange); err != nil {
		return nil, err
	}
	if s.mc, err = moclient.New(moclient.Config{URL: s.moURL, AuthServer: s.moURL + "/auth",
		ClientID: motest.DefaultClientID, ClientSecret: motest.DefaultClientSecret}); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *stack) serve(h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	s.servers = append(s.servers, srv)
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// close stops the daemons, the fakes, and removes the vhost and the Redis keys.
func (s *stack) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, d := range s.daemons {
		wg.Add(1)
		go func() { defer wg.Done(); d.stop() }()
	}
	wg.Wait()
	if s.pub != nil {
		s.pub.close()
	}
	if s.moPub != nil {
		_ = s.moPub.Close()
	}
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	if s.vhost != "" {
		if err := testenv.DeleteVHostAt(s.e.api, s.vhost); err != nil {
			s.e.log.Warn("could not delete vhost", "vhost", s.vhost, "error", err)
		}
	}
	if s.prefix != "" {
		if err := deletePrefix(ctx, s.e.rdb, s.prefix); err != nil {
			s.e.log.Warn("could not delete Redis keys", "prefix", s.prefix, "error", err)
		}
	}
}

// security reports whether the stack runs with KOMBIT's WS-Security profile.
func (s *stack) security() bool { return s.e.security && !s.opts.insecure }

// daemonEnv returns the daemon's settings for this stack.
func (s *stack) daemonEnv(listen string) []string {
	e := s.e
	kv := map[string]string{
		"LOG_LEVEL":             "info",
		"HTTP_LISTEN":           listen,
		"AMQP_URL":              s.amqpURL,
		"EVENT_SOURCE":          s.source,
		"REDIS_URL":             "redis://" + e.redisAddr + "/0",
		"REDIS_KEY_PREFIX":      s.prefix,
		"MO_URL":                s.moURL,
		"MO_AUTH_SERVER":        s.moURL + "/auth",
		"MO_CLIENT_ID":          motest.DefaultClientID,
		"MO_CLIENT_SECRET":      motest.DefaultClientSecret,
		"STS_BASE_URL":          s.stsURL,
		"STS_CVR":               benchCVR,
		"STS_ORGANISATION_UUID": benchOrg.String(),
		"STS_SECURITY":          fmt.Sprint(s.security()),
		"SHUTDOWN_TIMEOUT":      "10s",
		// net/http/pprof on HTTP_LISTEN, for the CPU profiles; it costs nothing until a profile
		// is fetched.
		"HTTP_PPROF": "true",
	}
	if s.security() {
		kv["STS_P12_FILE"] = filepath.Join(e.secDir, "client.p12")
		kv["STS_P12_PASSWORD_FILE"] = filepath.Join(e.secDir, "p12.password")
		kv["STS_TOKEN_ENDPOINT"] = s.stsURL + stsclient.STSPath
		kv["STS_TOKEN_ENTITY_ID"] = s.sts.EntityID()
		kv["STS_TOKEN_CERT_FILE"] = filepath.Join(e.secDir, ststest.FileSTSCert)
		kv["STS_SERVICE_CERT_FILE"] = filepath.Join(e.secDir, ststest.FileServiceCert)
	}
	if e.workers > 0 {
		kv["WORKERS"] = fmt.Sprint(e.workers)
	}
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	// STSBENCH_CHILD_GODEBUG (and _GOGC, _GOMEMLIMIT) set the Go runtime's settings of the
	// stsorgsync processes only, not the driver's: e.g. STSBENCH_CHILD_GODEBUG=gctrace=1 to see
	// their heap at each collection in their logs.
	for _, name := range []string{"GODEBUG", "GOGC", "GOMEMLIMIT"} {
		if v := os.Getenv("STSBENCH_CHILD_" + name); v != "" {
			kv[name] = v
		}
	}
	for k, v := range kv {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// writeSecurityFiles writes the client PKCS#12 and the fake's certificates for the daemon.
func (e *env) writeSecurityFiles() error {
	password := []byte("stsbench-" + e.runID)
	if _, err := e.pki.WriteClientP12(filepath.Join(e.secDir, "client.p12"), password, benchCVR); err != nil {
		return err
	}
	for name, data := range map[string][]byte{
		"p12.password":          password,
		ststest.FileSTSCert:     ststest.CertificatePEM(e.pki.STS.Certificate),
		ststest.FileServiceCert: ststest.CertificatePEM(e.pki.Service.Certificate),
	} {
		if err := os.WriteFile(filepath.Join(e.secDir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// daemon is one stsorgsync process.
type daemon struct {
	name string
	cmd  *exec.Cmd
	ops  string
	log  string
	done chan struct{}
	err  error
	// final holds the process statistics read just before it was stopped.
	final procStats
}

// startDaemons starts n more daemons on the stack and waits until each is ready.
func (s *stack) startDaemons(ctx context.Context, n int) error {
	bin := s.e.daemonBin
	var started []*daemon
	for range n {
		listen, err := freeAddr()
		if err != nil {
			return err
		}
		s.nextID++
		name := fmt.Sprintf("%s-daemon%d", s.opts.name, s.nextID)
		logPath := filepath.Join(s.e.logDir, name+".log")
		f, err := os.Create(logPath)
		if err != nil {
			return err
		}
		cmd := exec.Command(bin, s.e.daemonArg...)
		cmd.Env = s.daemonEnv(listen)
		cmd.Stdout, cmd.Stderr = f, f
		// Should the driver die, its daemons get SIGTERM instead of living on.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
		if err := cmd.Start(); err != nil {
			f.Close()
			return fmt.Errorf("starting %s: %w", bin, err)
		}
		d := &daemon{name: name, cmd: cmd, ops: "http://" + listen, log: logPath, done: make(chan struct{})}
		go func() {
			d.err = cmd.Wait()
			f.Close()
			close(d.done)
		}()
		s.daemons = append(s.daemons, d)
		started = append(started, d)
	}
	for _, d := range started {
		if err := d.waitReady(ctx, 60*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// replaceDaemons stops every daemon of the stack and starts n new ones with EVENT_SOURCE source.
func (s *stack) replaceDaemons(ctx context.Context, n int, source string) error {
	for _, d := range s.daemons {
		d.stop()
	}
	s.daemons = nil
	s.source = source
	return s.startDaemons(ctx, n)
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

func (d *daemon) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if !d.running() {
			return fmt.Errorf("%s exited before it was ready (%v); log: %s\n%s", d.name, d.err, d.log, tail(d.log, 15))
		}
		resp, err := http.Get(d.ops + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s; log: %s\n%s", d.name, timeout, d.log, tail(d.log, 15))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and waits up to 30 s, then kills.
func (d *daemon) stop() {
	if !d.running() {
		return
	}
	if st, err := readProcStats(d.cmd.Process.Pid); err == nil {
		d.final = st
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *daemon) stats() (procStats, error) {
	if !d.running() {
		return d.final, nil
	}
	return readProcStats(d.cmd.Process.Pid)
}

// metrics scrapes the daemon's /metrics.
func (d *daemon) metrics(ctx context.Context) ([]sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.ops+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept-Encoding", "identity") // spare the daemon gzipping what we poll
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s /metrics: %w", d.name, err)
	}
	defer resp.Body.Close()
	return parseMetrics(resp.Body)
}

func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// eventCounts are the daemons' settled events by "type/outcome", summed over the processes.
type eventCounts map[string]int

func (c eventCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

func (c eventCounts) outcome(o string) int {
	n := 0
	for k, v := range c {
		if strings.HasSuffix(k, "/"+o) {
			n += v
		}
	}
	return n
}

func (c eventCounts) sub(base eventCounts) eventCounts {
	out := eventCounts{}
	for k, v := range c {
		if d := v - base[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// counts scrapes every running daemon of the stack.
func (s *stack) counts(ctx context.Context) (eventCounts, error) {
	c, _, err := s.scrape(ctx)
	return c, err
}

// scrape returns the settled events and the events in flight, summed over the running daemons.
func (s *stack) scrape(ctx context.Context) (eventCounts, int, error) {
	out := eventCounts{}
	inFlight := 0
	for _, d := range s.daemons {
		if !d.running() {
			continue
		}
		ms, err := d.metrics(ctx)
		if err != nil {
			return nil, 0, err
		}
		for _, m := range ms {
			switch m.name {
			case "stsorgsync_events_total":
				out[m.labels["type"]+"/"+m.labels["outcome"]] += int(m.value)
			case "stsorgsync_events_in_flight":
				inFlight += int(m.value)
			}
		}
	}
	return out, inFlight, nil
}

// queueReady returns the messages ready in the daemons' queue (not yet delivered), exact and
// current (a passive declare; the management API's counts lag by seconds).
func (s *stack) queueReady() (int, error) {
	if s.inspect == nil {
		ch, err := s.pub.conn.Channel()
		if err != nil {
			return 0, err
		}
		s.inspect = ch
	}
	q, err := s.inspect.QueueDeclarePassive(daemonQ, true, false, false, false, nil)
	if err != nil {
		s.inspect = nil // a failed passive declare closes the channel
		return 0, fmt.Errorf("inspect queue %s: %w", daemonQ, err)
	}
	return q.Messages, nil
}

// boundKeys returns the routing keys the daemons' queue is bound with.
func (s *stack) boundKeys() ([]string, error) {
	return boundKeys(s.e.api, s.vhost, daemonQ, daemonEx)
}

// errNotSettled says events did not settle in time.
var errNotSettled = errors.New("events did not settle")

// waitSettled waits until the daemons have settled at least want events more than base (events
// they queue themselves, e.g. a unit's cascade to its persons, come on top), the queue holds no
// ready message, no event is in flight, and neither the settled count nor the fake STS's call
// count has moved for quiet. It fails at once when an event is dead-lettered or requeued, or when
// a daemon exits. It returns the settled events by type and outcome, and when the last of them
// was first seen settled (the end of the work, to the polling interval of 50 ms).
//
// Scraping /metrics costs the daemon CPU (text encoding), so while messages wait in the queue
// the daemons are scraped once a second only; the queue depth (a passive declare) and the fake's
// call count are polled every 50 ms.
func (s *stack) waitSettled(ctx context.Context, base eventCounts, want int, timeout, quiet time.Duration) (eventCounts, time.Time, error) {
	deadline := time.Now().Add(timeout)
	lastTotal, lastCalls, lastReady := -1, -1, -1
	lastChange := time.Now()
	var delta eventCounts
	inFlight := 0
	var lastScrape time.Time
	for {
		for _, d := range s.daemons {
			if !d.running() {
				return nil, time.Time{}, fmt.Errorf("%s exited (%v); log: %s\n%s", d.name, d.err, d.log, tail(d.log, 15))
			}
		}
		ready, err := s.queueReady()
		if err != nil {
			return nil, time.Time{}, err
		}
		now := time.Now()
		if ready == 0 || now.Sub(lastScrape) >= time.Second {
			c, inf, err := s.scrape(ctx)
			if err != nil {
				return nil, time.Time{}, err
			}
			delta, inFlight, lastScrape = c.sub(base), inf, now
			if n := delta.outcome("deadlettered") + delta.outcome("requeued"); n > 0 {
				return nil, time.Time{}, fmt.Errorf("%d event(s) dead-lettered or requeued (%v); see the daemon logs in %s", n, delta, s.e.logDir)
			}
		}
		total, calls := delta.total(), s.sts.TotalCalls()
		if total != lastTotal || calls != lastCalls || ready != lastReady {
			lastTotal, lastCalls, lastReady, lastChange = total, calls, ready, now
		}
		if total >= want && ready == 0 && inFlight == 0 && now.Sub(lastChange) >= quiet {
			return delta, lastChange, nil
		}
		if now.After(deadline) {
			return nil, time.Time{}, fmt.Errorf("%w: %d settled (want at least %d), %d ready in the queue, %d in flight after %s (%v); see the daemon logs in %s",
				errNotSettled, total, want, ready, inFlight, timeout, delta, s.e.logDir)
		}
		select {
		case <-ctx.Done():
			return nil, time.Time{}, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// daemonCPU sums the CPU time of the stack's daemons (running or stopped).
func (s *stack) daemonCPU() time.Duration {
	var t time.Duration
	for _, d := range s.daemons {
		if st, err := d.stats(); err == nil {
			t += st.cpu
		}
	}
	return t
}

// publishRecorder forwards the fake OS2MO's events to its publisher and records when the latest
// publish of an event for each object began.
type publishRecorder struct {
	next *motest.Publisher
	mu   sync.Mutex
	at   map[uuid.UUID]time.Time
}

func (r *publishRecorder) Publish(ctx context.Context, objectType string, id uuid.UUID) error {
	return r.PublishEvent(ctx, motest.Event{ObjectType: objectType, UUID: id})
}

func (r *publishRecorder) PublishEvent(ctx context.Context, e motest.Event) error {
	t := time.Now()
	r.mu.Lock()
	r.at[e.UUID] = t // the latest publish: one object is never changed twice at once here
	r.mu.Unlock()
	return r.next.PublishEvent(ctx, e)
}

func (r *publishRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	clear(r.at)
}

// first returns the earliest recorded publish among ids, and forgets them.
func (r *publishRecorder) first(ids ...uuid.UUID) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out time.Time
	for _, id := range ids {
		if t, ok := r.at[id]; ok && (out.IsZero() || t.Before(out)) {
			out = t
		}
		delete(r.at, id)
	}
	return out, !out.IsZero()
}

// objKey names an STS object.
type objKey struct {
	kind oio.Kind
	id   uuid.UUID
}

// probe waits for a write that makes check true for one STS object.
type probe struct {
	key   objKey
	check func(*oio.Object) bool
	done  time.Time
	ch    chan struct{}
}

// stsTap wraps the fake STS: with watch on, it parses each importer and ret to find the object
// written, counts writes that overlap another in-flight write to the same object (from the
// request's arrival to its response, i.e. as the client sees it, including waiting for the
// concurrency cap), and completes latency probes when a write to their object finishes.
type stsTap struct {
	next  http.Handler
	sts   *ststest.Server
	watch bool

	mu       sync.Mutex
	inflight map[objKey]int
	overlaps int
	probes   map[objKey][]*probe
}

func (t *stsTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !t.watch || r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/organisation/") {
		t.next.ServeHTTP(w, r)
		return
	}
	action, _ := soap.ParseContentType(r.Header.Get("Content-Type"))
	kind, op, err := soap.ParseAction(action)
	if err != nil || (op != oio.OpImporter && op != oio.OpRet) {
		t.next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	key, ok := writeTarget(kind, op, body)
	if !ok {
		t.next.ServeHTTP(w, r)
		return
	}
	t.mu.Lock()
	t.inflight[key]++
	if t.inflight[key] > 1 {
		t.overlaps++
	}
	t.mu.Unlock()
	t.next.ServeHTTP(w, r)
	end := time.Now()
	t.mu.Lock()
	if t.inflight[key]--; t.inflight[key] == 0 {
		delete(t.inflight, key)
	}
	ps := slices.Clone(t.probes[key])
	t.mu.Unlock()
	for _, p := range ps {
		t.try(p, end)
	}
}

// try completes p at time at if its object now satisfies it.
func (t *stsTap) try(p *probe, at time.Time) {
	obj, ok := t.sts.Object(p.key.kind, p.key.id)
	if !ok || !p.check(obj) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.probes[p.key]
	i := slices.Index(list, p)
	if i < 0 {
		return // completed meanwhile
	}
	t.probes[p.key] = slices.Delete(list, i, i+1)
	if len(t.probes[p.key]) == 0 {
		delete(t.probes, p.key)
	}
	p.done = at
	close(p.ch)
}

// watchFor registers a probe; it completes at the end of the first write to the object after
// which check holds.
func (t *stsTap) watchFor(key objKey, check func(*oio.Object) bool) *probe {
	p := &probe{key: key, check: check, ch: make(chan struct{})}
	t.mu.Lock()
	t.probes[key] = append(t.probes[key], p)
	t.mu.Unlock()
	return p
}

func (t *stsTap) overlapCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.overlaps
}

// writeTarget returns the object an importer or ret body writes.
func writeTarget(kind oio.Kind, op oio.Operation, body []byte) (objKey, bool) {
	env, err := soap.Parse(body)
	if err != nil {
		return objKey{}, false
	}
	payload, err := env.Payload()
	if err != nil {
		return objKey{}, false
	}
	switch op {
	case oio.OpImporter:
		if o, err := oio.UnmarshalImportInput(kind, payload); err == nil {
			return objKey{kind, o.UUID}, true
		}
	case oio.OpRet:
		if in, err := oio.UnmarshalRetInput(kind, payload); err == nil {
			return objKey{kind, in.UUID}, true
		}
	}
	return objKey{}, false
}
