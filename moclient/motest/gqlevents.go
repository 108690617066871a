package motest

import (
	"container/heap"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// OS2MO's GraphQL event system, as the fake keeps it (OS2MO keeps it in Postgres tables):
//
//   - A namespace has a name, an owner and a public flag. "mo" is OS2MO's own, public namespace:
//     every change the fake makes adds one event per listener of "mo" whose routing key is the
//     changed object's type, subject = the object's UUID, priority 10000.
//   - A listener (namespace, user_key, routing_key) belongs to the Keycloak client that declared
//     it; it is unique per (owner, namespace, user_key).
//   - A pending event is unique per (listener, subject). A new event for a subject still pending
//     replaces it: a new generation (so a token handed out before cannot acknowledge the newer
//     change), the smaller priority number, fetched_count 0 and due at once.
//   - event_fetch hands out the listener's due event with the lowest priority number, then the
//     fewest fetches, then the oldest, and marks it fetched; it is offered again only after
//     reofferDelay unless acknowledged first.

// MONamespace is OS2MO's own event namespace: public, owned by OS2MO, the one its changes are
// published in.
const MONamespace = "mo"

// DefaultEventPriority is the priority of OS2MO's own events and the default of event_send (1 is
// the highest priority).
const DefaultEventPriority = 10000

// maxSubjectLen is the longest subject event_send accepts (OS2MO: "only send identifiers as the
// subject, not data").
const maxSubjectLen = 220

// ownerNamespace is the name space of the owner UUIDs the fake derives from client ids.
const ownerNamespace = "1b0f4b8e-3a39-5a8e-9d0e-6f2c7d1e4a55"

// ClientOwner returns the owner UUID of a Keycloak client: the UUID OS2MO would know the client's
// service-account user by. The fake derives it from the client id (a name-based UUID), so it is
// the same for every server and run.
func (s *Server) ClientOwner(clientID string) uuid.UUID { return clientOwner(clientID) }

func clientOwner(clientID string) uuid.UUID {
	return uuid.NewSHA1(uuid.MustParse(ownerNamespace), []byte("keycloak-client:"+clientID))
}

// moOwner is the owner of the "mo" namespace: OS2MO itself.
func moOwner() uuid.UUID { return uuid.NewSHA1(uuid.MustParse(ownerNamespace), []byte("os2mo")) }

// reofferDelay is how long event_fetch waits before offering again an event it handed out and
// that was not acknowledged: max(3 min, min(2^n s, 17 h)), where n is the event's fetched_count
// after that fetch, i.e. the number of times it has been fetched (1 after the first fetch), as
// OS2MO compares fetched_count after incrementing it. So the delay is 3 minutes for fetches 1–7,
// 2^8 s = 4 min 16 s after the 8th, 2^9 s after the 9th, …, and 17 hours from the 16th on
// (2^16 s ≈ 18.2 h; OS2MO clamps the exponent at 32, which the cap makes moot).
func reofferDelay(n int) time.Duration {
	const floor, ceiling = 3 * time.Minute, 17 * time.Hour
	if n >= 16 {
		return ceiling
	}
	d := time.Duration(1) << max(n, 0) * time.Second
	return min(max(d, floor), ceiling)
}

// EventListener is a listener of the GraphQL event system.
type EventListener struct {
	UUID       uuid.UUID `json:"uuid"`
	Owner      uuid.UUID `json:"owner"`
	Namespace  string    `json:"namespace"`
	UserKey    string    `json:"user_key"`
	RoutingKey string    `json:"routing_key"`
}

// PendingEvent is an event a listener has not had acknowledged yet, as [Server.PendingEvents]
// reports it.
type PendingEvent struct {
	// UUID identifies the event; it stays the same when a new change for the subject replaces it.
	UUID uuid.UUID `json:"uuid"`
	// Generation changes each time a new event for the subject replaces this one; a token names
	// the generation it was handed out for.
	Generation uuid.UUID `json:"generation"`
	Subject    string    `json:"subject"`
	Priority   int       `json:"priority"`
	// FetchedCount is how often event_fetch handed out this generation.
	FetchedCount int `json:"fetched_count"`
	// LastFetched is when event_fetch last handed it out (zero: not since its last change).
	LastFetched time.Time `json:"last_fetched,omitzero"`
	// Due says whether event_fetch would hand it out now; NextDue is when it becomes due (zero
	// when it is due as soon as it is not silenced).
	Due      bool      `json:"due"`
	NextDue  time.Time `json:"next_due,omitzero"`
	Silenced bool      `json:"silenced"`
}

// EventStats counts the GraphQL event system's traffic since the server started.
type EventStats struct {
	// Fetches is the number of event_fetch calls that handed out an event.
	Fetches int `json:"fetches"`
	// EmptyFetches is the number of event_fetch calls answered null (nothing due, unknown
	// listener, or a listener of another owner).
	EmptyFetches int `json:"empty_fetches"`
	// ForeignFetches is the number of event_fetch calls for a listener of another owner (also
	// counted in EmptyFetches: OS2MO answers them null).
	ForeignFetches int `json:"foreign_fetches"`
	// Acks is the number of event_acknowledge calls that removed an event.
	Acks int `json:"acks"`
	// StaleAcks is the number of event_acknowledge calls that removed nothing (answered true all
	// the same): the event was replaced by a newer generation, already acknowledged, or not the
	// caller's.
	StaleAcks int `json:"stale_acks"`
	// Stored is the number of events added or renewed (one per listener and subject).
	Stored int `json:"stored"`
}

// eventNamespace is a namespace of the event system.
type eventNamespace struct {
	name   string
	owner  uuid.UUID
	public bool
}

// listenerRec is a listener with its pending events.
type listenerRec struct {
	EventListener
	seq       uint64
	bySubject map[string]*pendingRec
	ready     evHeap // due events, by priority, fetched count, age
	delayed   evHeap // fetched events waiting to be offered again, by due time
}

// pendingRec is one pending event. It is in ready, in delayed, or (silenced) in neither.
type pendingRec struct {
	id, generation uuid.UUID
	listener       *listenerRec
	subject        string
	priority       int
	fetched        int
	lastTried      time.Time // zero: not fetched since the last change (due at once)
	due            time.Time // lastTried + reofferDelay(fetched); zero with lastTried
	silenced       bool
	seq            uint64 // creation order, kept when the event is renewed
	heap           *evHeap
	idx            int
}

// eventSystem is the state of OS2MO's GraphQL event system. Its methods lock mu.
type eventSystem struct {
	mu         sync.Mutex
	namespaces map[string]*eventNamespace
	listeners  map[uuid.UUID]*listenerRec
	byKey      map[listenerKey]*listenerRec
	events     map[uuid.UUID]*pendingRec
	seq        uint64
	stats      EventStats
	// hold, when not nil, blocks event_acknowledge until it is closed; holds counts the open
	// HoldAcknowledgements calls and waiting the acknowledgements blocked.
	hold    chan struct{}
	holds   int
	waiting int
}

type listenerKey struct {
	owner           uuid.UUID
	namespace, user string
}

func newEventSystem() *eventSystem {
	return &eventSystem{
		namespaces: map[string]*eventNamespace{MONamespace: {name: MONamespace, owner: moOwner(), public: true}},
		listeners:  map[uuid.UUID]*listenerRec{},
		byKey:      map[listenerKey]*listenerRec{},
		events:     map[uuid.UUID]*pendingRec{},
	}
}

// evHeap is a min-heap of pending events (container/heap), ordered by less.
type evHeap struct {
	items []*pendingRec
	less  func(a, b *pendingRec) bool
}

func (h *evHeap) Len() int           { return len(h.items) }
func (h *evHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *evHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].idx, h.items[j].idx = i, j
}
func (h *evHeap) Push(x any) {
	e := x.(*pendingRec)
	e.heap, e.idx = h, len(h.items)
	h.items = append(h.items, e)
}
func (h *evHeap) Pop() any {
	e := h.items[len(h.items)-1]
	h.items[len(h.items)-1] = nil
	h.items = h.items[:len(h.items)-1]
	e.heap, e.idx = nil, -1
	return e
}

// fetchOrder is the order event_fetch hands out due events: OS2MO orders by priority and fetched
// count; the fake breaks ties by age, so equal events come out first in, first out.
func fetchOrder(a, b *pendingRec) bool {
	if a.priority != b.priority {
		return a.priority < b.priority
	}
	if a.fetched != b.fetched {
		return a.fetched < b.fetched
	}
	return a.seq < b.seq
}

func dueOrder(a, b *pendingRec) bool {
	if !a.due.Equal(b.due) {
		return a.due.Before(b.due)
	}
	return a.seq < b.seq
}

func newListenerRec(l EventListener, seq uint64) *listenerRec {
	return &listenerRec{EventListener: l, seq: seq, bySubject: map[string]*pendingRec{},
		ready: evHeap{less: fetchOrder}, delayed: evHeap{less: dueOrder}}
}

// unqueue takes e out of the heap it is in, if any.
func (e *pendingRec) unqueue() {
	if e.heap != nil {
		heap.Remove(e.heap, e.idx)
	}
}

// queue puts an unsilenced e into ready or delayed, by its due time.
func (l *listenerRec) queue(e *pendingRec) {
	if e.silenced {
		return
	}
	if e.lastTried.IsZero() {
		heap.Push(&l.ready, e)
	} else {
		heap.Push(&l.delayed, e)
	}
}

// promote moves the events that are due at now from delayed to ready.
func (l *listenerRec) promote(now time.Time) {
	for l.delayed.Len() > 0 && !now.Before(l.delayed.items[0].due) {
		heap.Push(&l.ready, heap.Pop(&l.delayed))
	}
}

// token is the opaque EventToken of e's current generation: base64 of "<event>.<generation>",
// as OS2MO makes it. Clients must not look inside.
func (e *pendingRec) token() string {
	return base64.StdEncoding.EncodeToString([]byte(e.id.String() + "." + e.generation.String()))
}

// errBadToken is the GraphQL error for an EventToken the fake did not make.
var errBadToken = errors.New("could not parse EventToken")

func parseToken(v any) (id, generation uuid.UUID, err error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, uuid.Nil, errBadToken
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	a, g, ok := strings.Cut(string(b), ".")
	if !ok {
		return uuid.Nil, uuid.Nil, errBadToken
	}
	if id, err = uuid.Parse(a); err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	if generation, err = uuid.Parse(g); err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("%w: %w", errBadToken, err)
	}
	return id, generation, nil
}

// add adds or renews the event (subject, priority) for every listener in namespace with
// routingKey that match (nil: all) and returns how many listeners got it.
func (es *eventSystem) add(namespace, routingKey string, subjects []string, priority int, match func(*listenerRec) bool) int {
	es.mu.Lock()
	defer es.mu.Unlock()
	n := 0
	for _, l := range es.sortedListeners() {
		if l.Namespace != namespace || l.RoutingKey != routingKey || (match != nil && !match(l)) {
			continue
		}
		n++
		for _, subject := range subjects {
			es.addOne(l, subject, priority)
		}
	}
	return n
}

func (es *eventSystem) addOne(l *listenerRec, subject string, priority int) {
	es.stats.Stored++
	if e := l.bySubject[subject]; e != nil {
		e.unqueue()
		e.generation = uuid.New()
		e.priority = min(e.priority, priority)
		e.fetched, e.lastTried, e.due = 0, time.Time{}, time.Time{}
		l.queue(e)
		return
	}
	es.seq++
	e := &pendingRec{id: uuid.New(), generation: uuid.New(), listener: l, subject: subject, priority: priority, seq: es.seq, idx: -1}
	l.bySubject[subject] = e
	es.events[e.id] = e
	l.queue(e)
}

// remove forgets e.
func (es *eventSystem) remove(e *pendingRec) {
	e.unqueue()
	delete(e.listener.bySubject, e.subject)
	delete(es.events, e.id)
}

// fetched is what event_fetch answers.
type fetched struct {
	subject  string
	priority int
	token    string
}

// fetch takes listener's next due event for owner and marks it fetched at now; nil when nothing
// is due, the listener is unknown or another owner's.
func (es *eventSystem) fetch(listener, owner uuid.UUID, now time.Time) (f *fetched, foreign bool) {
	es.mu.Lock()
	defer es.mu.Unlock()
	l := es.listeners[listener]
	if l == nil || l.Owner != owner {
		es.stats.EmptyFetches++
		if l != nil {
			es.stats.ForeignFetches++
		}
		return nil, l != nil
	}
	l.promote(now)
	if l.ready.Len() == 0 {
		es.stats.EmptyFetches++
		return nil, false
	}
	e := heap.Pop(&l.ready).(*pendingRec)
	e.fetched++
	e.lastTried = now
	e.due = now.Add(reofferDelay(e.fetched))
	heap.Push(&l.delayed, e)
	es.stats.Fetches++
	return &fetched{subject: e.subject, priority: e.priority, token: e.token()}, false
}

// acknowledge removes the event of the token if its generation is still current and it belongs
// to one of owner's listeners. It reports whether it removed something.
func (es *eventSystem) acknowledge(id, generation, owner uuid.UUID) bool {
	es.mu.Lock()
	defer es.mu.Unlock()
	e := es.events[id]
	if e == nil || e.generation != generation || e.listener.Owner != owner {
		es.stats.StaleAcks++
		return false
	}
	es.remove(e)
	es.stats.Acks++
	return true
}

// waitAckGate blocks while acknowledgements are held, until they are released or ctx ends.
func (es *eventSystem) waitAckGate(ctx context.Context) error {
	es.mu.Lock()
	gate := es.hold
	if gate != nil {
		es.waiting++
	}
	es.mu.Unlock()
	if gate == nil {
		return ctx.Err()
	}
	defer func() {
		es.mu.Lock()
		es.waiting--
		es.mu.Unlock()
	}()
	select {
	case <-gate:
		return ctx.Err() // a client gone meanwhile acknowledges nothing
	case <-ctx.Done():
		return fmt.Errorf("event_acknowledge abandoned while acknowledgements were held: %w", ctx.Err())
	}
}

// sortedListeners returns the listeners in the order they were declared. es.mu must be held.
func (es *eventSystem) sortedListeners() []*listenerRec {
	out := make([]*listenerRec, 0, len(es.listeners))
	for _, l := range es.listeners {
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *listenerRec) int { return compareSeq(a.seq, b.seq) })
	return out
}

func compareSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// declareListener creates the listener (owner, namespace, userKey) or returns the existing one.
func (es *eventSystem) declareListener(owner uuid.UUID, namespace, userKey, routingKey string) (EventListener, error) {
	es.mu.Lock()
	defer es.mu.Unlock()
	ns := es.namespaces[namespace]
	if ns == nil {
		return EventListener{}, fmt.Errorf("namespace %q does not exist", namespace)
	}
	if !ns.public && ns.owner != owner {
		return EventListener{}, fmt.Errorf("namespace %q already exists, but is non-public and you are not the owner", namespace)
	}
	key := listenerKey{owner: owner, namespace: namespace, user: userKey}
	if l := es.byKey[key]; l != nil {
		if l.RoutingKey != routingKey {
			return EventListener{}, fmt.Errorf("there already exists a listener with this user_key (%q) and a different routing_key (%q, not %q)",
				userKey, l.RoutingKey, routingKey)
		}
		return l.EventListener, nil
	}
	es.seq++
	l := newListenerRec(EventListener{UUID: uuid.New(), Owner: owner, Namespace: namespace, UserKey: userKey, RoutingKey: routingKey}, es.seq)
	es.listeners[l.UUID] = l
	es.byKey[key] = l
	return l.EventListener, nil
}

// isDue says whether event_fetch would hand e out at now.
func (e *pendingRec) isDue(now time.Time) bool {
	return !e.silenced && (e.lastTried.IsZero() || !now.Before(e.due))
}

// snapshot returns the pending events of l in the order event_fetch would hand them out at now:
// the due ones first, then the others by due time. es.mu must be held.
func (l *listenerRec) snapshot(now time.Time) []PendingEvent {
	out := make([]PendingEvent, 0, len(l.bySubject))
	recs := make([]*pendingRec, 0, len(l.bySubject))
	for _, e := range l.bySubject {
		recs = append(recs, e)
	}
	due := func(e *pendingRec) bool { return e.isDue(now) }
	slices.SortFunc(recs, func(a, b *pendingRec) int {
		da, db := due(a), due(b)
		switch {
		case da && !db:
			return -1
		case db && !da:
			return 1
		case da && fetchOrder(a, b), !da && dueOrder(a, b):
			return -1
		case da && fetchOrder(b, a), !da && dueOrder(b, a):
			return 1
		}
		return 0
	})
	for _, e := range recs {
		out = append(out, PendingEvent{UUID: e.id, Generation: e.generation, Subject: e.subject, Priority: e.priority,
			FetchedCount: e.fetched, LastFetched: e.lastTried, Due: due(e), NextDue: e.due, Silenced: e.silenced})
	}
	return out
}

// The Go API for tests follows.

// EventListeners returns every listener of the GraphQL event system, in the order they were
// declared.
func (s *Server) EventListeners() []EventListener {
	es := s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	var out []EventListener
	for _, l := range es.sortedListeners() {
		out = append(out, l.EventListener)
	}
	return out
}

// PendingEvents returns the events listener has not had acknowledged, in the order event_fetch
// would hand them out now (due ones first), with their fetch counts, generations and due
// times; nil for an unknown listener.
func (s *Server) PendingEvents(listener uuid.UUID) []PendingEvent {
	now := s.opts.Now()
	es := s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	l := es.listeners[listener]
	if l == nil {
		return nil
	}
	return l.snapshot(now)
}

// EventStats returns the event system's counters.
func (s *Server) EventStats() EventStats {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.stats
}

// DeclareListener declares a listener for owner as event_listener_declare does (idempotent per
// owner, namespace and userKey), for tests that want a listener without going through GraphQL.
func (s *Server) DeclareListener(owner uuid.UUID, namespace, userKey, routingKey string) (EventListener, error) {
	l, err := s.events.declareListener(owner, namespace, userKey, routingKey)
	if err != nil {
		return EventListener{}, fmt.Errorf("motest: declare listener: %w", err)
	}
	return l, nil
}

// SendEvent adds the event (subject, priority) for every listener in namespace with routingKey,
// as OS2MO does for its own changes in "mo" and event_send does in other namespaces, without
// event_send's ownership check. It returns the number of listeners that got it. Tests use it to
// inject events with a chosen priority or subject.
func (s *Server) SendEvent(namespace, routingKey, subject string, priority int) int {
	return s.events.add(namespace, routingKey, []string{subject}, priority, nil)
}

// HoldAcknowledgements makes event_acknowledge block until release is called, so a test can
// stand in for a daemon that dies after its RabbitMQ publish was confirmed and before its
// acknowledgement reached OS2MO: an acknowledgement whose HTTP request ends (client gone,
// context cancelled) while held acknowledges nothing and the event stays pending. Holds nest;
// acknowledgements proceed when every release has been called. release may be called more
// than once.
func (s *Server) HoldAcknowledgements() (release func()) {
	es := s.events
	es.mu.Lock()
	if es.hold == nil {
		es.hold = make(chan struct{})
	}
	es.holds++
	es.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			es.mu.Lock()
			defer es.mu.Unlock()
			if es.holds--; es.holds == 0 {
				close(es.hold)
				es.hold = nil
			}
		})
	}
}

// AcknowledgementsWaiting returns how many event_acknowledge requests are blocked by
// [Server.HoldAcknowledgements] now.
func (s *Server) AcknowledgementsWaiting() int {
	s.events.mu.Lock()
	defer s.events.mu.Unlock()
	return s.events.waiting
}

// storeMOEvents adds the GraphQL events of OS2MO's own changes: for each event one per listener
// in "mo" with its object type as routing key, subject = the object UUID, default priority.
func (s *Server) storeMOEvents(events []Event) {
	for _, e := range events {
		s.events.add(MONamespace, e.ObjectType, []string{e.UUID.String()}, DefaultEventPriority, nil)
	}
}

// EventsResponse is the body of GET /api/events: the GraphQL event system at a glance.
type EventsResponse struct {
	Listeners []ListenerStatus `json:"listeners"`
	Stats     EventStats       `json:"stats"`
}

// ListenerStatus is a listener with the number of its pending events, of those due now and of
// those silenced.
type ListenerStatus struct {
	EventListener
	Pending  int `json:"pending"`
	Due      int `json:"due"`
	Silenced int `json:"silenced"`
}

// handleEvents answers GET /api/events (debugging and demos; the event system proper is GraphQL).
func (s *Server) handleEvents(w http.ResponseWriter, _ *http.Request) {
	now := s.opts.Now()
	es := s.events
	es.mu.Lock()
	resp := EventsResponse{Listeners: []ListenerStatus{}, Stats: es.stats}
	for _, l := range es.sortedListeners() {
		st := ListenerStatus{EventListener: l.EventListener, Pending: len(l.bySubject)}
		for _, e := range l.bySubject {
			switch {
			case e.silenced:
				st.Silenced++
			case e.isDue(now):
				st.Due++
			}
		}
		resp.Listeners = append(resp.Listeners, st)
	}
	es.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}
