package motest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Go values the event resolvers pass between levels: EventListener for Listener, eventNamespace
// for Namespace, fullEvent for FullEvent, *fetched for Event, paged for the *Paged types.
type fullEvent struct {
	subject   string
	priority  int
	silenced  bool
	lastTried time.Time
	seq       uint64
	listener  EventListener
}

// objectID lets a refresh read the UUIDs of a page of *Response objects.
func (r resp[T]) objectID() uuid.UUID { return r.id }

// addEventResolvers registers the GraphQL event system's queries, mutations and types, and the
// *_refresh mutations.
func addEventResolvers(r map[string]map[string]resolver) {
	r["Query"]["event_fetch"] = resolveEventFetch
	r["Query"]["events"] = resolveEvents
	r["Query"]["event_listeners"] = resolveEventListeners
	r["Query"]["event_namespaces"] = resolveEventNamespaces
	r["Mutation"] = map[string]resolver{
		"event_namespace_declare": resolveNamespaceDeclare,
		"event_namespace_delete":  resolveNamespaceDelete,
		"event_listener_declare":  resolveListenerDeclare,
		"event_listener_delete":   resolveListenerDelete,
		"event_acknowledge":       resolveAcknowledge,
		"event_send":              resolveEventSend,
		"event_silence":           resolveSilence(true),
		"event_unsilence":         resolveSilence(false),
		"org_unit_refresh":        refreshResolver(ObjectOrgUnit, resolveOrgUnits),
		"employee_refresh":        refreshResolver(ObjectPerson, resolvePersons),
		"engagement_refresh":      refreshResolver(ObjectEngagement, resolveEngagements),
		"address_refresh":         refreshResolver(ObjectAddress, resolveAddresses),
		"ituser_refresh":          refreshResolver(ObjectITUser, resolveITUsers),
		"manager_refresh":         refreshResolver(ObjectManager, resolveManagers),
		"kle_refresh":             refreshResolver(ObjectKLE, resolveKLEs),
		"association_refresh":     refreshResolver(ObjectAssociation, resolveAssociations),
		"leave_refresh":           refreshResolver(ObjectLeave, resolveLeaves),
	}
	r["Event"] = map[string]resolver{
		"subject":  func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*fetched).subject, nil },
		"priority": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*fetched).priority, nil },
		"token":    func(_ *execution, p any, _ map[string]any) (any, error) { return p.(*fetched).token, nil },
	}
	r["FullEvent"] = map[string]resolver{
		"subject":  func(_ *execution, p any, _ map[string]any) (any, error) { return p.(fullEvent).subject, nil },
		"priority": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(fullEvent).priority, nil },
		"silenced": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(fullEvent).silenced, nil },
		"listener": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(fullEvent).listener, nil },
	}
	r["Listener"] = map[string]resolver{
		"uuid":        func(_ *execution, p any, _ map[string]any) (any, error) { return p.(EventListener).UUID, nil },
		"owner":       func(_ *execution, p any, _ map[string]any) (any, error) { return p.(EventListener).Owner, nil },
		"user_key":    func(_ *execution, p any, _ map[string]any) (any, error) { return p.(EventListener).UserKey, nil },
		"routing_key": func(_ *execution, p any, _ map[string]any) (any, error) { return p.(EventListener).RoutingKey, nil },
		"namespace": func(ex *execution, p any, _ map[string]any) (any, error) {
			es := ex.s.events
			es.mu.Lock()
			defer es.mu.Unlock()
			if ns := es.namespaces[p.(EventListener).Namespace]; ns != nil {
				return *ns, nil
			}
			return nil, fmt.Errorf("namespace %q of listener %s is gone", p.(EventListener).Namespace, p.(EventListener).UUID)
		},
		"events": resolveListenerEvents,
	}
	r["Namespace"] = map[string]resolver{
		"name":      func(_ *execution, p any, _ map[string]any) (any, error) { return p.(eventNamespace).name, nil },
		"owner":     func(_ *execution, p any, _ map[string]any) (any, error) { return p.(eventNamespace).owner, nil },
		"public":    func(_ *execution, p any, _ map[string]any) (any, error) { return p.(eventNamespace).public, nil },
		"listeners": resolveNamespaceListeners,
	}
	for _, name := range []string{"FullEventPaged", "ListenerPaged", "NamespacePaged", "UUIDPaged"} {
		r[name] = map[string]resolver{
			"objects":   func(_ *execution, p any, _ map[string]any) (any, error) { return p.(paged).objects, nil },
			"page_info": func(_ *execution, p any, _ map[string]any) (any, error) { return pageInfo{next: p.(paged).next}, nil },
		}
	}
}

// ownerOf returns the event owner of the request's client.
func (ex *execution) ownerOf() (uuid.UUID, error) {
	if ex.client == "" {
		return uuid.Nil, errors.New("not authenticated: the event system needs a client's token")
	}
	return ex.owner, nil
}

// input returns the input object argument "input" (validated against the schema already).
func input(args map[string]any) map[string]any {
	m, _ := args["input"].(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// str returns a string field of an input object, or def when it is absent or null (GraphQL
// applies input field defaults; literal input objects reach the resolvers without them).
func str(m map[string]any, key, def string) string {
	if s, ok := m[key].(string); ok {
		return s
	}
	return def
}

func boolean(m map[string]any, key string, def bool) bool {
	if b, ok := m[key].(bool); ok {
		return b
	}
	return def
}

func uuidArg(where string, v any) (uuid.UUID, error) {
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, fmt.Errorf("%s: expected a UUID, got %T", where, v)
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fmt.Errorf("%s: %q is not a UUID: %w", where, s, err)
	}
	return id, nil
}

func optUUIDArg(where string, v any) (*uuid.UUID, error) {
	if v == nil {
		return nil, nil
	}
	id, err := uuidArg(where, v)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

func intList(where string, v any) ([]int, bool, error) {
	switch v := v.(type) {
	case nil:
		return nil, false, nil
	case []any:
		out := make([]int, len(v))
		for i, e := range v {
			n, err := toInt(e)
			if err != nil {
				return nil, false, fmt.Errorf("%s element %d: %w", where, i, err)
			}
			out[i] = n
		}
		return out, true, nil
	default:
		n, err := toInt(v)
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", where, err)
		}
		return []int{n}, true, nil
	}
}

// namespaceMatcher builds the predicate of a NamespaceFilter (names, owners, public); nil
// matches every namespace.
func namespaceMatcher(where string, raw any, keys ...string) (func(*eventNamespace) bool, error) {
	f, err := subFilter(where, raw, keys...)
	if err != nil {
		return nil, err
	}
	names, byName, err := stringList(f["names"])
	if err != nil {
		return nil, fmt.Errorf("%s names: %w", where, err)
	}
	owners, byOwner, err := uuidList(f["owners"])
	if err != nil {
		return nil, fmt.Errorf("%s owners: %w", where, err)
	}
	public, byPublic := f["public"].(bool)
	return func(ns *eventNamespace) bool {
		return ns != nil && (!byName || slices.Contains(names, ns.name)) && (!byOwner || slices.Contains(owners, ns.owner)) &&
			(!byPublic || ns.public == public)
	}, nil
}

// listenerMatcher builds the predicate of a ListenerFilter or one of its bound forms, whose keys
// are given. es.mu must be held while the predicate is used (it reads namespaces).
func listenerMatcher(es *eventSystem, where string, raw any, keys ...string) (func(*listenerRec) bool, error) {
	f, err := subFilter(where, raw, keys...)
	if err != nil {
		return nil, err
	}
	ids, byID, err := uuidList(f["uuids"])
	if err != nil {
		return nil, fmt.Errorf("%s uuids: %w", where, err)
	}
	userKeys, byUserKey, err := stringList(f["user_keys"])
	if err != nil {
		return nil, fmt.Errorf("%s user_keys: %w", where, err)
	}
	owners, byOwner, err := uuidList(f["owners"])
	if err != nil {
		return nil, fmt.Errorf("%s owners: %w", where, err)
	}
	routingKeys, byRoutingKey, err := stringList(f["routing_keys"])
	if err != nil {
		return nil, fmt.Errorf("%s routing_keys: %w", where, err)
	}
	var ns func(*eventNamespace) bool
	if raw := f["namespaces"]; raw != nil {
		if ns, err = namespaceMatcher(where+" namespaces", raw, "names", "owners", "public"); err != nil {
			return nil, err
		}
	}
	return func(l *listenerRec) bool {
		return (!byID || slices.Contains(ids, l.UUID)) && (!byUserKey || slices.Contains(userKeys, l.UserKey)) &&
			(!byOwner || slices.Contains(owners, l.Owner)) && (!byRoutingKey || slices.Contains(routingKeys, l.RoutingKey)) &&
			(ns == nil || ns(es.namespaces[l.Namespace]))
	}, nil
}

// eventMatcher builds the event part of a FullEventFilter (subjects, priorities, silenced).
func eventMatcher(where string, f map[string]any) (func(*pendingRec) bool, error) {
	subjects, bySubject, err := stringList(f["subjects"])
	if err != nil {
		return nil, fmt.Errorf("%s subjects: %w", where, err)
	}
	priorities, byPriority, err := intList(where+" priorities", f["priorities"])
	if err != nil {
		return nil, err
	}
	silenced, bySilenced := f["silenced"].(bool)
	return func(e *pendingRec) bool {
		return (!bySubject || slices.Contains(subjects, e.subject)) && (!byPriority || slices.Contains(priorities, e.priority)) &&
			(!bySilenced || e.silenced == silenced)
	}, nil
}

// offsetPage applies limit and an offset cursor to items, as OS2MO pages its event collections
// (they are for humans; OS2MO itself calls its paging there naive).
func offsetPage[T any](where string, items []T, args map[string]any) ([]T, *string, error) {
	start := 0
	if c := args["cursor"]; c != nil {
		s, _ := c.(string)
		b, err := base64.StdEncoding.DecodeString(s)
		rest, ok := strings.CutPrefix(string(b), "offset:")
		if err != nil || !ok {
			return nil, nil, fmt.Errorf("%s: invalid cursor %v", where, c)
		}
		if start, err = strconv.Atoi(rest); err != nil || start < 0 {
			return nil, nil, fmt.Errorf("%s: invalid cursor %v", where, c)
		}
	}
	start = min(start, len(items))
	items = items[start:]
	if l := args["limit"]; l != nil {
		n, err := toInt(l)
		if err != nil || n < 0 {
			return nil, nil, fmt.Errorf("%s: invalid limit %v", where, l)
		}
		if n < len(items) {
			c := base64.StdEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(start+n)))
			return items[:n], &c, nil
		}
	}
	return items, nil, nil
}

func resolveEventFetch(ex *execution, _ any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	f, _ := args["filter"].(map[string]any)
	listener, err := uuidArg("event_fetch filter listener", f["listener"])
	if err != nil {
		return nil, err
	}
	got, foreign := ex.s.events.fetch(listener, owner, ex.now)
	if foreign {
		// OS2MO answers null here: "you simply won't get anything if you query someone else's listener".
		ex.s.log.WarnContext(ex.ctx, "event_fetch for another owner's listener answered null", "listener", listener, "client", ex.client)
	}
	if got == nil {
		ex.emptyFetch = true
		return nil, nil
	}
	return got, nil
}

func resolveAcknowledge(ex *execution, _ any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	id, generation, err := parseToken(input(args)["token"])
	if err != nil {
		return nil, err
	}
	if err := ex.s.events.waitAckGate(ex.ctx); err != nil {
		return nil, err
	}
	// OS2MO answers true whether or not the token still named the current generation.
	ex.s.events.acknowledge(id, generation, owner)
	return true, nil
}

func resolveListenerDeclare(ex *execution, _ any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	in := input(args)
	return ex.s.events.declareListener(owner, str(in, "namespace", MONamespace), str(in, "user_key", ""), str(in, "routing_key", ""))
}

func resolveListenerDelete(ex *execution, _ any, args map[string]any) (any, error) {
	in := input(args)
	id, err := uuidArg("event_listener_delete uuid", in["uuid"])
	if err != nil {
		return nil, err
	}
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	l := es.listeners[id]
	if l == nil {
		return true, nil
	}
	if len(l.bySubject) > 0 && !boolean(in, "delete_pending_events", false) {
		return nil, errors.New("there are pending events for this listener; consider carefully if these need to be handled first; " +
			"you can delete the listener anyway with delete_pending_events")
	}
	for _, e := range l.bySubject {
		es.remove(e)
	}
	delete(es.listeners, id)
	delete(es.byKey, listenerKey{owner: l.Owner, namespace: l.Namespace, user: l.UserKey})
	return true, nil
}

func resolveNamespaceDeclare(ex *execution, _ any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	in := input(args)
	name, public := str(in, "name", ""), boolean(in, "public", false)
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	ns := es.namespaces[name]
	if ns == nil {
		ns = &eventNamespace{name: name, owner: owner, public: public}
		es.namespaces[name] = ns
	}
	if ns.owner != owner {
		return nil, fmt.Errorf("namespace %q already claimed by another owner", name)
	}
	if ns.public != public {
		return nil, fmt.Errorf("namespace %q already exists with public=%t", name, ns.public)
	}
	return *ns, nil
}

func resolveNamespaceDelete(ex *execution, _ any, args map[string]any) (any, error) {
	name := str(input(args), "name", "")
	if name == MONamespace {
		return nil, errors.New("the fake OS2MO does not delete its own namespace \"mo\"")
	}
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	for _, l := range es.listeners {
		if l.Namespace == name {
			return nil, fmt.Errorf("there are still listeners for namespace %q; use the event_listener_delete mutator", name)
		}
	}
	delete(es.namespaces, name)
	return true, nil
}

func resolveEventSend(ex *execution, _ any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	in := input(args)
	priority := DefaultEventPriority
	if v := in["priority"]; v != nil {
		if priority, err = toInt(v); err != nil {
			return nil, fmt.Errorf("event_send priority: %w", err)
		}
	}
	if priority < 1 {
		return nil, errors.New("priority must be natural")
	}
	subject := str(in, "subject", "")
	if len(subject) > maxSubjectLen {
		return nil, errors.New("too large subject; only send identifiers as the subject, not data")
	}
	name := str(in, "namespace", "")
	es := ex.s.events
	es.mu.Lock()
	ns := es.namespaces[name]
	es.mu.Unlock()
	if ns == nil {
		return nil, fmt.Errorf("namespace %q does not exist", name)
	}
	if ns.owner != owner {
		return nil, fmt.Errorf("you are not the owner of namespace %q", name)
	}
	es.add(name, str(in, "routing_key", ""), []string{subject}, priority, nil)
	return true, nil
}

// resolveSilence answers event_silence (on) and event_unsilence.
func resolveSilence(on bool) resolver {
	return func(ex *execution, _ any, args map[string]any) (any, error) {
		in := input(args)
		es := ex.s.events
		es.mu.Lock()
		defer es.mu.Unlock()
		where := "event_unsilence"
		if on {
			where = "event_silence"
		}
		matchListener, err := listenerMatcher(es, where+" listeners", in["listeners"], "uuids", "user_keys", "owners", "routing_keys", "namespaces")
		if err != nil {
			return nil, err
		}
		matchEvent, err := eventMatcher(where, map[string]any{"subjects": in["subjects"], "priorities": in["priorities"]})
		if err != nil {
			return nil, err
		}
		for _, l := range es.sortedListeners() {
			if !matchListener(l) {
				continue
			}
			for _, e := range l.bySubject {
				if !matchEvent(e) || e.silenced == on {
					continue
				}
				e.unqueue()
				e.silenced = on
				l.queue(e)
			}
		}
		return true, nil
	}
}

// collectEvents returns the pending events of owner's listeners that pass both predicates,
// ordered as OS2MO lists them: by priority, then by when they were last fetched (never first),
// then by age. es.mu must be held.
func (es *eventSystem) collectEvents(owner uuid.UUID, matchListener func(*listenerRec) bool, matchEvent func(*pendingRec) bool) []fullEvent {
	var out []fullEvent
	for _, l := range es.sortedListeners() {
		if l.Owner != owner || (matchListener != nil && !matchListener(l)) {
			continue
		}
		for _, e := range l.bySubject {
			if matchEvent(e) {
				out = append(out, fullEvent{subject: e.subject, priority: e.priority, silenced: e.silenced, lastTried: e.lastTried, seq: e.seq, listener: l.EventListener})
			}
		}
	}
	slices.SortFunc(out, func(a, b fullEvent) int {
		if a.priority != b.priority {
			return a.priority - b.priority
		}
		if c := a.lastTried.Compare(b.lastTried); c != 0 {
			return c
		}
		return compareSeq(a.seq, b.seq)
	})
	return out
}

// resolveEvents answers the events collection: the caller's own pending events (OS2MO shows all
// only to holders of the read_event_all role, which the fake's clients do not have).
func resolveEvents(ex *execution, _ any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	f, err := subFilter("events filter", args["filter"], "listeners", "subjects", "priorities", "silenced")
	if err != nil {
		return nil, err
	}
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	var matchListener func(*listenerRec) bool
	if raw := f["listeners"]; raw != nil {
		if matchListener, err = listenerMatcher(es, "events filter listeners", raw, "uuids", "user_keys", "owners", "routing_keys", "namespaces"); err != nil {
			return nil, err
		}
	}
	matchEvent, err := eventMatcher("events filter", f)
	if err != nil {
		return nil, err
	}
	objs, next, err := offsetPage("events", es.collectEvents(owner, matchListener, matchEvent), args)
	if err != nil {
		return nil, err
	}
	return paged{objects: objs, next: next}, nil
}

func resolveListenerEvents(ex *execution, p any, args map[string]any) (any, error) {
	owner, err := ex.ownerOf()
	if err != nil {
		return nil, err
	}
	f, err := subFilter("Listener.events filter", args["filter"], "subjects", "priorities", "silenced")
	if err != nil {
		return nil, err
	}
	matchEvent, err := eventMatcher("Listener.events filter", f)
	if err != nil {
		return nil, err
	}
	id := p.(EventListener).UUID
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	objs, _, err := offsetPage("Listener.events", es.collectEvents(owner, func(l *listenerRec) bool { return l.UUID == id }, matchEvent), args)
	return objs, err
}

// resolveEventListeners answers event_listeners: every listener the filter selects (OS2MO does
// not restrict this collection to the caller's listeners), in the order they were declared.
func resolveEventListeners(ex *execution, _ any, args map[string]any) (any, error) {
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	match, err := listenerMatcher(es, "event_listeners filter", args["filter"], "uuids", "user_keys", "owners", "routing_keys", "namespaces")
	if err != nil {
		return nil, err
	}
	objs, next, err := offsetPage("event_listeners", es.matchingListeners(match), args)
	if err != nil {
		return nil, err
	}
	return paged{objects: objs, next: next}, nil
}

func resolveNamespaceListeners(ex *execution, p any, args map[string]any) (any, error) {
	name := p.(eventNamespace).name
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	match, err := listenerMatcher(es, "Namespace.listeners filter", args["filter"], "uuids", "user_keys", "owners", "routing_keys")
	if err != nil {
		return nil, err
	}
	objs, _, err := offsetPage("Namespace.listeners", es.matchingListeners(func(l *listenerRec) bool { return l.Namespace == name && match(l) }), args)
	return objs, err
}

// matchingListeners returns the listeners that match, in declaration order. es.mu must be held.
func (es *eventSystem) matchingListeners(match func(*listenerRec) bool) []EventListener {
	out := []EventListener{}
	for _, l := range es.sortedListeners() {
		if match(l) {
			out = append(out, l.EventListener)
		}
	}
	return out
}

func resolveEventNamespaces(ex *execution, _ any, args map[string]any) (any, error) {
	match, err := namespaceMatcher("event_namespaces filter", args["filter"], "names", "owners", "public")
	if err != nil {
		return nil, err
	}
	es := ex.s.events
	es.mu.Lock()
	defer es.mu.Unlock()
	all := []eventNamespace{}
	for _, ns := range es.namespaces {
		if match(ns) {
			all = append(all, *ns)
		}
	}
	slices.SortFunc(all, func(a, b eventNamespace) int { return strings.Compare(a.name, b.name) })
	objs, next, err := offsetPage("event_namespaces", all, args)
	if err != nil {
		return nil, err
	}
	return paged{objects: objs, next: next}, nil
}

// refreshResolver answers a *_refresh mutation for model (the routing key): the objects the
// filter selects (the same filters, limit and cursor as the model's query collection) get an
// event again. With listener and/or owner: GraphQL events only, for the listeners of "mo" with
// routing key model that are that listener / belong to that owner. With exchange: AMQP only.
// With neither: both. It answers the UUIDs refreshed.
func refreshResolver(model string, list resolver) resolver {
	return func(ex *execution, _ any, args map[string]any) (any, error) {
		if args["queue"] != nil {
			return nil, errors.New("the fake OS2MO does not implement the deprecated queue argument (use exchange)")
		}
		listener, err := optUUIDArg("listener", args["listener"])
		if err != nil {
			return nil, err
		}
		owner, err := optUUIDArg("owner", args["owner"])
		if err != nil {
			return nil, err
		}
		_, toExchange := args["exchange"].(string)
		toGraphQL := listener != nil || owner != nil
		if toGraphQL && toExchange {
			return nil, errors.New("listener/owner and exchange are mutually exclusive: listener and owner refresh through GraphQL events, exchange through AMQP")
		}
		if toExchange && ex.s.opts.Events == nil {
			return nil, errors.New("exchange: AMQP is off in this fake OS2MO (Options.Events is nil), so there is nothing to publish to")
		}
		ex.s.mu.RLock()
		res, err := list(ex, nil, map[string]any{"filter": args["filter"], "limit": args["limit"], "cursor": args["cursor"]})
		ex.s.mu.RUnlock()
		if err != nil {
			return nil, err
		}
		page := res.(paged)
		ids := pagedIDs(page.objects)
		if !toExchange {
			subjects := make([]string, len(ids))
			for i, id := range ids {
				subjects[i] = id.String()
			}
			ex.s.events.add(MONamespace, model, subjects, DefaultEventPriority, func(l *listenerRec) bool {
				return (listener == nil || l.UUID == *listener) && (owner == nil || l.Owner == *owner)
			})
		}
		if !toGraphQL {
			events := make([]Event, len(ids))
			for i, id := range ids {
				events[i] = Event{ObjectType: model, UUID: id, Action: ActionRefresh, Time: ex.now}
			}
			if err := ex.s.publishAMQP(ex.ctx, events); err != nil {
				return nil, err
			}
		}
		return paged{objects: ids, next: page.next}, nil
	}
}

// pagedIDs returns the UUIDs of a page of *Response objects.
func pagedIDs(objects any) []uuid.UUID {
	rv := reflect.ValueOf(objects)
	out := make([]uuid.UUID, 0, rv.Len())
	for i := range rv.Len() {
		out = append(out, rv.Index(i).Interface().(interface{ objectID() uuid.UUID }).objectID())
	}
	return out
}
