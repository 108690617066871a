package consumer

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stsorgsync/stsorgsync/internal/amqppub"
)

// Headers set on events replayed from the dead-letter queue.
const (
	// HeaderReplayed counts how often an event has been replayed from the dead-letter queue.
	HeaderReplayed = "replayed"
	// HeaderReplayedAt is when the event was last replayed (RFC 3339, UTC).
	HeaderReplayedAt = "replayed-at"
	// HeaderForce, when true, asks the pipeline to write the object even if its last-sent hash
	// says it is unchanged (`stsorgsync dlq replay --force`); it arrives as Event.Force.
	HeaderForce = "force"
)

// forced reports whether headers carry HeaderForce set to true (a boolean, or the string "true"
// as the management UI publishes it).
func forced(headers amqp.Table) bool {
	switch v := headers[HeaderForce].(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// replayDropsHeader reports whether header k is dead-letter bookkeeping that a replayed event must
// not carry: the consumer's own failure headers, a previous replay's force flag, and every x-
// header (they belong to the broker: x-death and its family, the quorum queue's delivery count).
func replayDropsHeader(k string) bool {
	switch k {
	case HeaderError, HeaderErrorClass, HeaderAttempts, HeaderFailedAt,
		HeaderOriginalRoutingKey, HeaderOriginalExchange, HeaderForce:
		return true
	}
	return strings.HasPrefix(k, "x-")
}

// DeadLetter is one message of the dead-letter queue with its dead-letter headers decoded. Messages
// dead-lettered by the broker itself (a redelivery past the work queue's delivery limit) carry no
// headers of ours; their class and time then come from the broker's x-death headers.
type DeadLetter struct {
	// RoutingKey is the event's original routing key (the object type).
	RoutingKey string
	// Exchange is the exchange the event was first published to.
	Exchange string
	// Object is the UUID of the object the event is about; uuid.Nil if the body is malformed.
	Object uuid.UUID
	// Class is the error class: malformed, permanent or retries-exhausted, or for a message the
	// broker dead-lettered its reason (e.g. delivery-limit); "unknown" if none is recorded.
	Class string
	// Error is the error text, if recorded.
	Error string
	// Attempts is the number of attempts made before dead-lettering, if recorded.
	Attempts int
	// FailedAt is when the event was dead-lettered; zero if not recorded.
	FailedAt time.Time
	// Replayed is how often the event has already been replayed.
	Replayed int
	// MessageID is the message's id property.
	MessageID string
	// Body is the message body (MO's: the object UUID as a JSON string).
	Body []byte
}

// decodeDeadLetter reads the dead-letter headers of d.
func decodeDeadLetter(d amqp.Delivery) DeadLetter {
	h := d.Headers
	str := func(k string) string { s, _ := h[k].(string); return s }
	m := DeadLetter{
		RoutingKey: cmp.Or(str(HeaderOriginalRoutingKey), d.RoutingKey),
		Exchange:   cmp.Or(str(HeaderOriginalExchange), str("x-first-death-exchange"), d.Exchange),
		Class:      str(HeaderErrorClass),
		Error:      str(HeaderError),
		Attempts:   headerInt(h[HeaderAttempts]),
		Replayed:   headerInt(h[HeaderReplayed]),
		MessageID:  d.MessageId,
		Body:       d.Body,
	}
	if t, err := time.Parse(time.RFC3339Nano, str(HeaderFailedAt)); err == nil {
		m.FailedAt = t
	}
	if deaths, ok := h["x-death"].([]any); ok && len(deaths) > 0 {
		if death, ok := deaths[0].(amqp.Table); ok {
			if t, ok := death["time"].(time.Time); ok && m.FailedAt.IsZero() {
				m.FailedAt = t
			}
		}
	}
	if m.Class == "" {
		if reason := str("x-first-death-reason"); reason != "" {
			m.Class = strings.ReplaceAll(reason, "_", "-")
		} else {
			m.Class = ClassUnknown
		}
	}
	if ev, err := ParseEvent(m.RoutingKey, d.Body); err == nil {
		m.Object = ev.UUID
	}
	return m
}

// headerInt reads an integer header of any AMQP integer type (0 if absent or not an integer).
func headerInt(v any) int {
	switch n := v.(type) {
	case int64:
		return int(n)
	case int32:
		return int(n)
	case int16:
		return int(n)
	case int8:
		return int(n)
	case uint8:
		return int(n)
	case uint16:
		return int(n)
	case uint32:
		return int(n)
	case int:
		return n
	}
	return 0
}

// DLQ inspects, exports and replays the dead-letter queue.
//
// # Reading without losing messages
//
// A quorum queue cannot be browsed. DLQ reads it with basic.get without auto-ack on a channel of
// its own, one message at a time, until it has seen as many messages as the queue held when it
// started (or the queue has no more ready ones), keeping every message it does not remove
// unacknowledged; then it returns them all to the queue with one basic.nack (multiple, requeue)
// and closes the channel. Unacknowledged messages are never redelivered while they are held, so
// each message is seen once per run, and messages dead-lettered during the run (they join the tail)
// are not chased. If the process dies the broker requeues everything it held, so nothing is lost
// at any point.
//
// Returning a message counts as a delivery on RabbitMQ 3.x and 4.0–4.2. DeclareTopology therefore
// pins the dead-letter queue's delivery limit at DeadLetterQueueDeliveryLimit: with RabbitMQ 4's
// default of 20, the twenty-first inspection would drop a message.
//
// A run holds the messages it has read until it ends; RabbitMQ's consumer timeout (30 min by
// default) also applies to them, so a very slow replay (a low --rate over thousands of messages)
// should be done in batches with a limit. Two runs at once each see only part of the queue.
type DLQ struct {
	conn     *amqp.Connection
	queue    string
	exchange string
	log      *slog.Logger
	now      func() time.Time
}

// NewDLQ returns a DLQ working on conn. Of cfg it uses DeadLetterQueue (the queue read), Exchange
// (where Replay publishes: the integration's own exchange, so other consumers of OS2MO's exchange
// are not disturbed), Logger and Now (the clock for ages and age filters), each defaulted as
// documented on Config.
func NewDLQ(conn *amqp.Connection, cfg Config) (*DLQ, error) {
	if conn == nil {
		return nil, errors.New("dead-letter queue: connection is nil")
	}
	cfg = cfg.withDefaults()
	return &DLQ{
		conn:     conn,
		queue:    cfg.DeadLetterQueue,
		exchange: cfg.Exchange,
		log:      cfg.Logger.With("component", "dlq", "queue", cfg.DeadLetterQueue),
		now:      cfg.Now,
	}, nil
}

// Queue returns the name of the dead-letter queue.
func (q *DLQ) Queue() string { return q.queue }

// visitor is called for each message read. It may call remove to acknowledge the message, which
// takes it out of the queue, and returns false to stop reading.
type visitor func(d amqp.Delivery, m DeadLetter, remove func() error) (more bool, err error)

// returnedWait bounds how long browse waits for the queue to show the messages it returned.
const returnedWait = 2 * time.Second

// browse reads the queue as described on DLQ and returns the number of messages read.
func (q *DLQ) browse(ctx context.Context, visit visitor) (n int, err error) {
	total, err := q.depth()
	if err != nil {
		return 0, err
	}
	ch, err := q.conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("open channel to read %q: %w", q.queue, err)
	}
	removed := 0
	defer func() {
		// One nack returns every message still held (delivery tag 0 with multiple means all
		// outstanding ones). Should it fail, closing the channel returns them just the same.
		if nackErr := ch.Nack(0, true, true); nackErr != nil && !errors.Is(nackErr, amqp.ErrClosed) {
			q.log.Warn("could not return the messages read; closing the channel returns them", "error", nackErr)
		}
		_ = ch.Close()
		q.awaitReturned(total - removed)
	}()
	for n < total {
		if err := ctx.Err(); err != nil {
			return n, fmt.Errorf("reading %q stopped after %d of %d messages: %w", q.queue, n, total, err)
		}
		d, ok, err := ch.Get(q.queue, false)
		if err != nil {
			return n, fmt.Errorf("get from %q: %w", q.queue, err)
		}
		if !ok {
			break // another reader holds the rest
		}
		n++
		remove := func() error {
			if err := d.Ack(false); err != nil {
				return fmt.Errorf("acknowledge message %q in %q: %w", d.MessageId, q.queue, err)
			}
			removed++
			return nil
		}
		more, err := visit(d, decodeDeadLetter(d), remove)
		if err != nil {
			return n, err
		}
		if !more {
			break
		}
	}
	return n, nil
}

// awaitReturned waits, for at most returnedWait, until the queue holds at least want ready
// messages again. A quorum queue applies returned messages asynchronously, a few milliseconds
// after the nack; without the wait, a command run right after this one could find the queue
// (partly) empty. It gives up quietly if someone else consumes from the queue meanwhile.
func (q *DLQ) awaitReturned(want int) {
	deadline := time.Now().Add(returnedWait)
	for {
		n, err := q.depth()
		if err != nil || n >= want {
			return
		}
		if time.Now().After(deadline) {
			q.log.Debug("the queue does not show every message returned; someone else is reading it", "ready", n, "want", want)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// depth returns the number of ready messages in the queue, on a channel of its own (a failed
// passive declare closes its channel).
func (q *DLQ) depth() (int, error) {
	ch, err := q.conn.Channel()
	if err != nil {
		return 0, fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	info, err := ch.QueueDeclarePassive(q.queue, true, false, false, false, nil)
	if err != nil {
		var aerr *amqp.Error
		if errors.As(err, &aerr) && aerr.Code == amqp.NotFound {
			return 0, fmt.Errorf("dead-letter queue %q does not exist (the daemon declares it when it starts): %w", q.queue, err)
		}
		return 0, fmt.Errorf("inspect dead-letter queue %q: %w", q.queue, err)
	}
	return info.Messages, nil
}

// DLQGroup counts the dead-lettered messages of one error class and routing key.
type DLQGroup struct {
	// Class is the error class (see DeadLetter.Class).
	Class string
	// RoutingKey is the original routing key: the object type.
	RoutingKey string
	// Count is the number of messages in the group.
	Count int
	// Oldest and Newest bound the group's failed-at times; zero if none of its messages has one.
	Oldest, Newest time.Time
}

// DLQStats summarises the dead-letter queue.
type DLQStats struct {
	// At is when the queue was read (from the injected clock), to compute ages against.
	At time.Time
	// Total is the number of messages read.
	Total int
	// Groups are sorted by class, then routing key.
	Groups []DLQGroup
}

// List counts the messages in the queue by error class and routing key. Every message stays in the
// queue.
func (q *DLQ) List(ctx context.Context) (DLQStats, error) {
	stats := DLQStats{At: q.now()}
	groups := map[[2]string]*DLQGroup{}
	n, err := q.browse(ctx, func(_ amqp.Delivery, m DeadLetter, _ func() error) (bool, error) {
		key := [2]string{m.Class, m.RoutingKey}
		g := groups[key]
		if g == nil {
			g = &DLQGroup{Class: m.Class, RoutingKey: m.RoutingKey}
			groups[key] = g
		}
		g.Count++
		if t := m.FailedAt; !t.IsZero() {
			if g.Oldest.IsZero() || t.Before(g.Oldest) {
				g.Oldest = t
			}
			if t.After(g.Newest) {
				g.Newest = t
			}
		}
		return true, nil
	})
	stats.Total = n
	for _, g := range groups {
		stats.Groups = append(stats.Groups, *g)
	}
	slices.SortFunc(stats.Groups, func(a, b DLQGroup) int {
		return cmp.Or(cmp.Compare(a.Class, b.Class), cmp.Compare(a.RoutingKey, b.RoutingKey))
	})
	return stats, err
}

// ExportedMessage is one line of Export: a dead-lettered message with everything needed to
// inspect or re-publish it.
type ExportedMessage struct {
	// RoutingKey and Exchange are where the event was originally published.
	RoutingKey string `json:"routing_key"`
	Exchange   string `json:"exchange,omitempty"`
	// Object is the UUID the event is about, if the body could be parsed.
	Object     string             `json:"object,omitempty"`
	MessageID  string             `json:"message_id,omitempty"`
	Timestamp  *time.Time         `json:"timestamp,omitempty"`
	Headers    amqp.Table         `json:"headers,omitempty"`
	Properties ExportedProperties `json:"properties"`
	// Body is the body as text if it is valid UTF-8 (BodyEncoding "utf8"), else base64
	// (BodyEncoding "base64").
	Body         string `json:"body"`
	BodyEncoding string `json:"body_encoding"`
}

// ExportedProperties are a message's AMQP properties other than message id and timestamp, named
// as in the AMQP 0-9-1 specification; empty ones are left out.
type ExportedProperties struct {
	ContentType     string `json:"content_type,omitempty"`
	ContentEncoding string `json:"content_encoding,omitempty"`
	DeliveryMode    uint8  `json:"delivery_mode,omitempty"`
	Priority        uint8  `json:"priority,omitempty"`
	CorrelationID   string `json:"correlation_id,omitempty"`
	ReplyTo         string `json:"reply_to,omitempty"`
	Expiration      string `json:"expiration,omitempty"`
	Type            string `json:"type,omitempty"`
	UserID          string `json:"user_id,omitempty"`
	AppID           string `json:"app_id,omitempty"`
}

// Export writes every message in the queue to w as one JSON object (ExportedMessage) per line and
// returns the number written. Every message stays in the queue.
func (q *DLQ) Export(ctx context.Context, w io.Writer) (int, error) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	written := 0
	_, err := q.browse(ctx, func(d amqp.Delivery, m DeadLetter, _ func() error) (bool, error) {
		rec := ExportedMessage{
			RoutingKey: m.RoutingKey, Exchange: m.Exchange, MessageID: d.MessageId, Headers: d.Headers,
			Properties: ExportedProperties{
				ContentType: d.ContentType, ContentEncoding: d.ContentEncoding, DeliveryMode: d.DeliveryMode,
				Priority: d.Priority, CorrelationID: d.CorrelationId, ReplyTo: d.ReplyTo,
				Expiration: d.Expiration, Type: d.Type, UserID: d.UserId, AppID: d.AppId,
			},
		}
		if m.Object != uuid.Nil {
			rec.Object = m.Object.String()
		}
		if !d.Timestamp.IsZero() {
			ts := d.Timestamp.UTC()
			rec.Timestamp = &ts
		}
		if utf8.Valid(d.Body) {
			rec.Body, rec.BodyEncoding = string(d.Body), "utf8"
		} else {
			rec.Body, rec.BodyEncoding = base64.StdEncoding.EncodeToString(d.Body), "base64"
		}
		if err := enc.Encode(rec); err != nil {
			return false, fmt.Errorf("write exported message: %w", err)
		}
		written++
		return true, nil
	})
	return written, err
}

// Filter selects dead-lettered messages; zero fields match everything.
type Filter struct {
	// RoutingKey matches the original routing key exactly.
	RoutingKey string
	// Object matches the UUID in the body.
	Object uuid.UUID
	// Class matches the error class exactly.
	Class string
	// OlderThan and NewerThan match messages dead-lettered at least (at most) that long ago. A
	// message without a failed-at time never matches an age filter.
	OlderThan, NewerThan time.Duration
}

// Match reports whether m passes the filter at time now.
func (f Filter) Match(m DeadLetter, now time.Time) bool {
	switch {
	case f.RoutingKey != "" && m.RoutingKey != f.RoutingKey,
		f.Object != uuid.Nil && m.Object != f.Object,
		f.Class != "" && m.Class != f.Class:
		return false
	}
	if f.OlderThan > 0 || f.NewerThan > 0 {
		if m.FailedAt.IsZero() {
			return false
		}
		age := now.Sub(m.FailedAt)
		if (f.OlderThan > 0 && age < f.OlderThan) || (f.NewerThan > 0 && age > f.NewerThan) {
			return false
		}
	}
	return true
}

// ReplayOptions control Replay.
type ReplayOptions struct {
	Filter Filter
	// DryRun reports what would be replayed and changes nothing.
	DryRun bool
	// Limit stops after this many matching messages (0: no limit); the rest are not read.
	Limit int
	// Rate caps publishing at this many messages per second, paced by the wall clock (0: as fast
	// as confirms come back).
	Rate float64
	// Force sets HeaderForce, so the pipeline writes each object even if unchanged.
	Force bool
	// Report, if set, is called for each matching message with the outcome: nil when it was
	// replayed (or, in a dry run, would be), else why it stays in the queue.
	Report func(m DeadLetter, err error)
}

// ReplaySummary counts what Replay did. Scanned = Matched + Skipped; Matched = Replayed + Failed
// unless DryRun.
type ReplaySummary struct {
	DryRun   bool
	Scanned  int // messages read
	Matched  int // messages that passed the filter (at most Limit)
	Replayed int // published, confirmed, and removed from the queue
	Failed   int // matched but not published (unroutable or refused); left in the queue
	Skipped  int // did not pass the filter; left in the queue untouched
}

// Replay republishes matching messages to the integration's exchange with their original routing
// key, body and properties (but user-id). The dead-letter headers and all x- headers are removed,
// HeaderReplayed is incremented, HeaderReplayedAt set, and HeaderForce set if opts.Force. Each message is published on a confirm-mode channel with
// mandatory routing and removed from the queue only after the broker confirmed it and did not
// return it as unroutable; one that cannot be published stays in the queue and is counted as
// Failed, and the replay goes on with the next. Messages that do not match are left untouched.
//
// An error is returned only when the replay had to stop (a lost connection, a cancelled ctx); the
// summary then says how far it got, and everything not yet replayed is still in the queue. A
// message whose confirm arrived but whose removal then failed is still in the queue too and will
// be replayed again by the next run; events are idempotent.
func (q *DLQ) Replay(ctx context.Context, opts ReplayOptions) (ReplaySummary, error) {
	sum := ReplaySummary{DryRun: opts.DryRun}
	if opts.Limit < 0 || opts.Rate < 0 {
		return sum, fmt.Errorf("replay: limit (%d) and rate (%g) must not be negative", opts.Limit, opts.Rate)
	}
	if err := q.checkExchange(); err != nil {
		return sum, err
	}
	var pub *amqppub.Publisher
	if !opts.DryRun {
		var err error
		if pub, err = amqppub.New(q.conn); err != nil {
			return sum, err
		}
		defer pub.Close()
	}
	report := func(m DeadLetter, err error) {
		if opts.Report != nil {
			opts.Report(m, err)
		}
	}
	var interval time.Duration
	if opts.Rate > 0 {
		interval = time.Duration(float64(time.Second) / opts.Rate)
	}
	var last time.Time
	now := q.now()
	scanned, err := q.browse(ctx, func(d amqp.Delivery, m DeadLetter, remove func() error) (bool, error) {
		if !opts.Filter.Match(m, now) {
			sum.Skipped++
			return true, nil
		}
		sum.Matched++
		more := opts.Limit == 0 || sum.Matched < opts.Limit
		if opts.DryRun {
			report(m, nil)
			return more, nil
		}
		if interval > 0 && !last.IsZero() {
			if err := sleep(ctx, time.Until(last.Add(interval))); err != nil {
				return false, fmt.Errorf("replay stopped: %w", err)
			}
		}
		last = time.Now()
		if err := pub.Publish(ctx, q.exchange, m.RoutingKey, replayMessage(d, m, opts.Force, q.now())); err != nil {
			var perr amqppub.Refused
			if !errors.As(err, &perr) {
				return false, err
			}
			sum.Failed++
			attrs := []any{"routing_key", m.RoutingKey, "message_id", m.MessageID, "error", err}
			if m.Object != uuid.Nil {
				attrs = append(attrs, "object", m.Object.String())
			}
			q.log.Warn("could not replay message; it stays in the dead-letter queue", attrs...)
			report(m, err)
			return more, nil
		}
		if err := remove(); err != nil {
			return false, fmt.Errorf("replayed %s %s but could not remove it from the queue (the next run replays it again): %w", m.RoutingKey, m.Object, err)
		}
		sum.Replayed++
		report(m, nil)
		return more, nil
	})
	sum.Scanned = scanned
	if err == nil {
		q.log.Info("replay done", "dry_run", sum.DryRun, "scanned", sum.Scanned, "matched", sum.Matched,
			"replayed", sum.Replayed, "failed", sum.Failed, "skipped", sum.Skipped)
	}
	return sum, err
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// checkExchange checks that the exchange to replay to exists, on a channel of its own: publishing
// to a missing exchange would close the publishing channel.
func (q *DLQ) checkExchange() error {
	ch, err := q.conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if err := ch.ExchangeDeclarePassive(q.exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
		return fmt.Errorf("exchange %q to replay to: %w", q.exchange, err)
	}
	return nil
}

// replayMessage is the dead-lettered delivery d as it is republished: body and properties kept,
// the consumer's failure headers dropped, the replay counted and stamped.
func replayMessage(d amqp.Delivery, m DeadLetter, force bool, now time.Time) amqp.Publishing {
	headers := amqp.Table{}
	for k, v := range d.Headers {
		if !replayDropsHeader(k) {
			headers[k] = v
		}
	}
	headers[HeaderReplayed] = int64(m.Replayed + 1)
	headers[HeaderReplayedAt] = now.UTC().Format(time.RFC3339Nano)
	if force {
		headers[HeaderForce] = true
	}
	// UserId is not copied: the broker refuses a user-id other than the publishing connection's.
	return amqp.Publishing{
		Headers: headers, ContentType: d.ContentType, ContentEncoding: d.ContentEncoding,
		DeliveryMode: d.DeliveryMode, Priority: d.Priority, CorrelationId: d.CorrelationId,
		ReplyTo: d.ReplyTo, Expiration: d.Expiration, MessageId: d.MessageId, Timestamp: d.Timestamp,
		Type: d.Type, AppId: d.AppId, Body: d.Body,
	}
}
