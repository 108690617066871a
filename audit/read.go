package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	amqp "github.com/rabbitmq/amqp091-go"
)

// Filter selects records; zero fields select everything.
type Filter struct {
	// Unit and Person select the records of an OS2MO unit's or person's bundle.
	Unit, Person uuid.UUID
	// Object selects the records of one STS object.
	Object uuid.UUID
	// Since and Until bound the record time (Since inclusive, Until exclusive).
	Since, Until time.Time
	// Source is event, replay or sync; Operation is importer or ret (translate.OpKind).
	Source, Operation string
}

// Match reports whether r passes f.
func (f Filter) Match(r Record) bool {
	switch {
	case f.Unit != uuid.Nil && r.Unit() != f.Unit,
		f.Person != uuid.Nil && r.Person() != f.Person,
		f.Object != uuid.Nil && r.Object != f.Object,
		!f.Since.IsZero() && r.Time.Before(f.Since),
		!f.Until.IsZero() && !r.Time.Before(f.Until),
		f.Source != "" && r.Source.Kind != f.Source,
		f.Operation != "" && r.Operation != f.Operation:
		return false
	}
	return true
}

// ReadOptions configures Read.
type ReadOptions struct {
	// Idle ends the read when no record has arrived for this long (default 1s): a stream has no
	// end, so "caught up" is a quiet moment.
	Idle time.Duration
	// Prefetch is the consumer's credit (default 500).
	Prefetch int
}

// Read reads the stream on conn from f.Since (a timestamp offset: RabbitMQ starts at the segment
// holding that time, so older segments are not read) or from its first record, and calls fn for
// every record that matches f, in stream order, until the stream has been quiet for
// opts.Idle or a record is later than f.Until plus a minute (writers append in time order, give
// or take their clocks). A record that is not valid JSON is an error naming its offset.
func Read(ctx context.Context, conn *amqp.Connection, stream string, f Filter, opts ReadOptions, fn func(Record) error) error {
	if opts.Idle <= 0 {
		opts.Idle = time.Second
	}
	if opts.Prefetch <= 0 {
		opts.Prefetch = 500
	}
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if _, err := ch.QueueDeclarePassive(stream, true, false, false, false, amqp.Table{"x-queue-type": "stream"}); err != nil {
		return fmt.Errorf("audit stream %q: %w (has the daemon run with this AMQP_URL and AUDIT_STREAM?)", stream, err)
	}
	if err := ch.Qos(opts.Prefetch, 0, false); err != nil {
		return fmt.Errorf("set prefetch: %w", err)
	}
	var offset any = "first"
	if !f.Since.IsZero() {
		offset = f.Since
	}
	deliveries, err := ch.ConsumeWithContext(ctx, stream, "", false, false, false, false, amqp.Table{"x-stream-offset": offset})
	if err != nil {
		return fmt.Errorf("read audit stream %q: %w", stream, err)
	}
	idle := time.NewTimer(opts.Idle)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-idle.C:
			return nil
		case d, ok := <-deliveries:
			if !ok {
				return fmt.Errorf("read audit stream %q: the broker closed the channel", stream)
			}
			_ = d.Ack(false) // a stream consumer acknowledges to get more credit
			idle.Reset(opts.Idle)
			var r Record
			if err := json.Unmarshal(d.Body, &r); err != nil {
				return fmt.Errorf("audit stream %q: record at offset %v is not a record: %w", stream, d.Headers["x-stream-offset"], err)
			}
			if !f.Until.IsZero() && r.Time.After(f.Until.Add(time.Minute)) {
				return nil
			}
			if !f.Match(r) {
				continue
			}
			if err := fn(r); err != nil {
				return err
			}
		}
	}
}
