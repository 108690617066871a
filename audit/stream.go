package audit

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
	"github.com/stsorgsync/stsorgsync/internal/amqppub"
)

// StreamConfig configures a Stream.
type StreamConfig struct {
	// URL is the broker (the daemon's AMQP_URL; the trail lives beside the work queue): one URL or
	// a cluster's comma-separated node URLs (package amqpdial).
	URL string
	// TLS is the client TLS configuration for amqps:// (nil: the system's roots).
	TLS *tls.Config
	// Name is the stream queue (AUDIT_STREAM).
	Name string
	// MaxAge is the stream's x-max-age in RabbitMQ's syntax, e.g. "5Y", "18M", "90D" (ParseRetention).
	MaxAge string
	// MaxBytes is the stream's x-max-length-bytes; 0 keeps no size limit.
	MaxBytes int64
	// ConnectionName names the connection in RabbitMQ's management UI.
	ConnectionName string
	// Observe, if set, is told of every append: how many records, and the error (nil when stored).
	Observe func(records int, err error)
	// Logger receives connection trouble (default slog.Default()).
	Logger *slog.Logger
}

// publishers is how many confirm-mode channels a Stream appends on at once: one channel waits for
// each confirm in turn, so the workers' appends would queue behind each other on one.
const publishers = 4

// Stream appends records to a RabbitMQ stream queue over a connection of its own, one confirmed
// batch per Append on one of its channels, and declares the stream (with its retention) when it
// connects. A failed append drops the connection; the next one dials again. It is safe for
// concurrent use.
type Stream struct {
	cfg StreamConfig

	dialer *amqpdial.Dialer

	mu   sync.RWMutex // connect and drop hold it for writing, appends for reading
	conn *amqp.Connection
	pubs []*amqppub.Publisher
	next atomic.Uint64
}

// NewStream returns a Stream; it connects on first use (Append or Ping).
func NewStream(cfg StreamConfig) (*Stream, error) {
	if cfg.URL == "" || cfg.Name == "" {
		return nil, errors.New("audit stream: URL and Name are required")
	}
	if cfg.MaxAge != "" {
		if _, err := ParseRetention(cfg.MaxAge); err != nil {
			return nil, err
		}
	}
	if cfg.ConnectionName == "" {
		cfg.ConnectionName = "stsorgsync audit"
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dialer, err := amqpdial.New(amqpdial.Config{URLs: cfg.URL, TLS: cfg.TLS, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("audit stream: AMQP URL: %w", err)
	}
	return &Stream{cfg: cfg, dialer: dialer}, nil
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.cfg.Name }

func (s *Stream) log() *slog.Logger {
	if s.cfg.Logger == nil {
		return slog.Default()
	}
	return s.cfg.Logger
}

// Arguments returns the stream queue's declare arguments: the type and the retention.
func (s *Stream) Arguments() amqp.Table {
	args := amqp.Table{"x-queue-type": "stream"}
	if s.cfg.MaxAge != "" {
		args["x-max-age"] = s.cfg.MaxAge
	}
	if s.cfg.MaxBytes > 0 {
		args["x-max-length-bytes"] = s.cfg.MaxBytes
	}
	return args
}

// connect dials, declares the stream and opens the confirm-mode publishers; s.mu is held for
// writing.
func (s *Stream) connect(ctx context.Context) error {
	if s.conn != nil {
		return nil
	}
	conn, _, err := s.dialer.Dial(ctx, s.cfg.ConnectionName)
	if err != nil {
		return fmt.Errorf("connect to RabbitMQ: %w", err)
	}
	if err := declare(conn, s.cfg.Name, s.Arguments()); err != nil {
		_ = conn.Close()
		return err
	}
	pubs := make([]*amqppub.Publisher, publishers)
	for i := range pubs {
		if pubs[i], err = amqppub.New(conn); err != nil {
			_ = conn.Close()
			return err
		}
	}
	s.conn, s.pubs = conn, pubs
	return nil
}

// declare declares the stream queue with args on a channel of its own. A stream declared before
// with other retention arguments is reported with what to do: stream arguments cannot change.
func declare(conn *amqp.Connection, name string, args amqp.Table) error {
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("open channel: %w", err)
	}
	defer ch.Close()
	if _, err := ch.QueueDeclare(name, true, false, false, false, args); err != nil {
		var aerr *amqp.Error
		if errors.As(err, &aerr) && aerr.Code == amqp.PreconditionFailed {
			return fmt.Errorf("declare audit stream %q: it exists with other arguments (%w); a stream's retention cannot be changed by declaring it: set AUDIT_RETENTION/AUDIT_MAX_BYTES to the stream's values, or change the retention with a RabbitMQ policy (max-age, max-length-bytes)", name, err)
		}
		return fmt.Errorf("declare audit stream %q: %w", name, err)
	}
	return nil
}

// drop closes the connection after a failure; s.mu is held for writing.
func (s *Stream) drop() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	s.conn, s.pubs = nil, nil
}

// publisher returns a publisher of the live connection (connecting first if there is none) and
// the connection it belongs to.
func (s *Stream) publisher(ctx context.Context) (*amqppub.Publisher, *amqp.Connection, error) {
	s.mu.RLock()
	if s.conn != nil {
		defer s.mu.RUnlock()
		return s.pubs[s.next.Add(1)%publishers], s.conn, nil
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(ctx); err != nil {
		return nil, nil, err
	}
	return s.pubs[s.next.Add(1)%publishers], s.conn, nil
}

// failed drops conn after a failed append, unless another append has already replaced it.
func (s *Stream) failed(conn *amqp.Connection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == conn {
		s.drop()
	}
}

// Append stores recs in the stream, in order, and returns once the broker has confirmed every
// one: then they are on disk on the stream's replicas. An error means some may not be stored;
// it is retryable.
func (s *Stream) Append(ctx context.Context, recs ...Record) error {
	err := s.append(ctx, recs)
	if s.cfg.Observe != nil {
		s.cfg.Observe(len(recs), err)
	}
	return err
}

func (s *Stream) append(ctx context.Context, recs []Record) error {
	pub, conn, err := s.publisher(ctx)
	if err != nil {
		return &AppendError{Stream: s.cfg.Name, Err: err}
	}
	msgs := make([]amqp.Publishing, len(recs))
	for i, r := range recs {
		body, err := json.Marshal(r)
		if err != nil {
			return &AppendError{Stream: s.cfg.Name, Err: fmt.Errorf("encode record: %w", err)}
		}
		msgs[i] = amqp.Publishing{
			ContentType: "application/json", DeliveryMode: amqp.Persistent, Timestamp: r.Time,
			MessageId: r.TransactionUUID.String() + "/" + string(r.Phase), Type: string(r.Phase), Body: body,
		}
	}
	// One round trip for the batch (an outcome and the next write's intent travel together).
	if _, err := pub.PublishBatch(ctx, "", s.cfg.Name, msgs); err != nil {
		s.failed(conn)
		s.log().Warn("audit trail append failed; reconnecting on the next write", "stream", s.cfg.Name, "error", err)
		return &AppendError{Stream: s.cfg.Name, Err: err}
	}
	return nil
}

// Ping connects if needed and checks that the stream exists (readiness: the trail can be
// written).
func (s *Stream) Ping(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.connect(ctx); err != nil {
		return &AppendError{Stream: s.cfg.Name, Err: err}
	}
	ch, err := s.conn.Channel()
	if err != nil {
		s.drop()
		return &AppendError{Stream: s.cfg.Name, Err: err}
	}
	defer ch.Close()
	if _, err := ch.QueueDeclarePassive(s.cfg.Name, true, false, false, false, s.Arguments()); err != nil {
		s.drop()
		return &AppendError{Stream: s.cfg.Name, Err: err}
	}
	return nil
}

// Close closes the connection.
func (s *Stream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop()
	return nil
}

// AppendError is a failure to store records in the trail; nothing was written to STS for them.
// It is retryable: the trail is usually back after a broker restart.
type AppendError struct {
	Stream string
	Err    error
}

func (e *AppendError) Error() string {
	return fmt.Sprintf("audit trail %q cannot be written (no STS write is made without its record): %v", e.Stream, e.Err)
}
func (e *AppendError) Unwrap() error { return e.Err }

// Retryable says trying again later may succeed.
func (e *AppendError) Retryable() bool { return true }

// Unavailable says the failure is an outage of a dependency, not of this event.
func (e *AppendError) Unavailable() bool { return true }

var retentionPattern = regexp.MustCompile(`^([1-9][0-9]*)(Y|M|D|h|m|s)$`)

// ParseRetention checks a retention age in RabbitMQ's x-max-age syntax (a number and Y, M, D, h,
// m or s; "5y" and "90d" are accepted for 5Y and 90D) and returns it as RabbitMQ writes it.
func ParseRetention(v string) (string, error) {
	if n, ok := strings.CutSuffix(v, "y"); ok {
		v = n + "Y"
	} else if n, ok := strings.CutSuffix(v, "d"); ok {
		v = n + "D"
	}
	if !retentionPattern.MatchString(v) {
		return "", fmt.Errorf("expected a number and a unit Y (years), M (months), D (days), h, m or s, such as 5Y or 90D, got %q", v)
	}
	return v, nil
}

// ParseBytes parses a size: a number of bytes, or with the suffix KB, MB, GB or TB (powers of
// 1000); "0" is no limit.
func ParseBytes(v string) (int64, error) {
	mult := int64(1)
	num := v
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}} {
		if n, ok := strings.CutSuffix(strings.ToUpper(v), u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("expected a size such as 10GB, 500MB or a number of bytes, got %q", v)
	}
	return n * mult, nil
}
