package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stsorgsync/stsorgsync/audit"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/consumer"
	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
	"github.com/stsorgsync/stsorgsync/reconcile"
	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Config is the daemon's complete, typed configuration.
type Config struct {
	LogLevel   string
	HTTPListen string
	HTTPPprof  bool

	// EventSources are where OS2MO's events come from: "amqp" (OS2MO's exchange on the broker),
	// "graphql" (the GraphQL event bridge), or both during a migration.
	EventSources        []string
	EventParallelism    int
	EventPollInterval   time.Duration
	EventRetryMax       time.Duration
	EventListenerPrefix string

	// AMQPURL is one AMQP URL or a cluster's comma-separated node URLs (amqpdial.ParseURLs).
	AMQPURL string
	// AMQPCAFile, AMQPCertFile and AMQPKeyFile configure TLS for amqps:// (amqpTLS).
	AMQPCAFile, AMQPCertFile, AMQPKeyFile string

	AMQPMOExchange string
	AMQPExchange   string
	AMQPQueue      string
	AMQPDLX        string
	AMQPDLQ        string
	// AuditStream, AuditRetention (x-max-age) and AuditMaxBytes configure the audit trail.
	AuditStream       string
	AuditRetention    string
	AuditMaxBytes     int64
	AMQPPrefetch      int
	AMQPDeliveryLimit int
	AMQPRoutingKeys   []string
	AMQPLegacyEvents  bool
	AMQPReconnectMax  time.Duration

	Workers              int
	RetryInitial         time.Duration
	RetryMax             time.Duration
	RetryMaxElapsed      time.Duration
	RetryMaxAttempts     int
	ShutdownTimeout      time.Duration
	BreakerThreshold     int
	BreakerProbeInterval time.Duration

	RedisURL       string
	RedisKeyPrefix string
	StateHashTTL   time.Duration
	LeaseTTL       time.Duration
	// RedisSentinelAddrs and RedisSentinelMaster select Redis Sentinel, RedisClusterAddrs a
	// Redis Cluster (state.RedisConfig); RedisCAFile, RedisCertFile and RedisKeyFile configure
	// TLS for rediss://.
	RedisSentinelAddrs    []string
	RedisSentinelMaster   string
	RedisSentinelPassword string
	RedisClusterAddrs     []string
	RedisCAFile           string
	RedisCertFile         string
	RedisKeyFile          string

	MOURL            string
	MOGraphQLVersion int
	MOAuthServer     string
	MOAuthRealm      string
	MOClientID       string
	MOClientSecret   string
	MOTimeout        time.Duration

	STSBaseURL string
	STSCVR     string
	STSTimeout time.Duration

	STSSecurity        bool
	STSP12File         string
	STSP12Password     string
	STSTokenEndpoint   string
	STSTokenEntityID   string
	STSTokenCertFile   string
	STSServiceCertFile string
	STSVerifyResponses bool
	STSCAFile          string

	SyncInterval               time.Duration
	SyncConcurrency            int
	SyncMaxDeactivationPercent float64
	SyncOrphans                reconcile.OrphanPolicy
	SyncKeepUUIDs              []uuid.UUID

	// Mapping is what is written to STS Organisation and how (the municipality's Organisation
	// object, the top unit and every mapping choice): built once here and used as it is by the
	// daemon's event path, its scheduled sync, `sync` and `verify`.
	Mapping translate.Settings
}

// setting describes one configuration variable: its environment name, default, meaning, and how
// it is parsed into Config.
type setting struct {
	Name     string
	Default  string
	Help     string
	Required bool
	Secret   bool // may also be given as <Name>_FILE; never logged
	// Section is the heading the setting is listed under (`stsorgsync settings`, README).
	Section string
	parse   func(c *Config, v string) error
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func integer(min int, dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return fmt.Errorf("expected a whole number ≥ %d, got %q", min, v)
		}
		*dst(c) = n
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		switch strings.ToLower(v) {
		case "true", "on", "yes", "1":
			*dst(c) = true
		case "false", "off", "no", "0":
			*dst(c) = false
		default:
			return fmt.Errorf("expected true or false, got %q", v)
		}
		return nil
	}
}

// negated parses a boolean setting into a field that means its opposite (SYNC_MANAGERS into
// Mapping.DisableManagers).
func negated(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		var on bool
		if err := boolean(func(*Config) *bool { return &on })(c, v); err != nil {
			return err
		}
		*dst(c) = !on
		return nil
	}
}

func duration(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("expected a duration such as 30s, 5m or 1h, got %q", v)
		}
		*dst(c) = d
		return nil
	}
}

func percentage(dst func(*Config) *float64) func(*Config, string) error {
	return func(c *Config, v string) error {
		f, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%")), 64)
		if err != nil || f < 0 || f > 100 {
			return fmt.Errorf("expected a percentage from 0 to 100 such as 10, got %q", v)
		}
		*dst(c) = f
		return nil
	}
}

func urlOf(schemes string, dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error {
		u, err := url.Parse(v)
		if err != nil || u.Host == "" || !strings.Contains(" "+schemes+" ", " "+u.Scheme+" ") {
			return fmt.Errorf("expected a URL with scheme %s and a host, got %q", strings.ReplaceAll(schemes, " ", " or "), redactURL(v))
		}
		*dst(c) = strings.TrimSuffix(v, "/")
		if u.Scheme == "amqp" || u.Scheme == "amqps" || u.Scheme == "redis" || u.Scheme == "rediss" {
			*dst(c) = v // path (vhost / db) is significant
		}
		return nil
	}
}

func uuidOf(dst func(*Config) *uuid.UUID) func(*Config, string) error {
	return func(c *Config, v string) error {
		id, err := uuid.Parse(v)
		if err != nil || len(v) != 36 {
			return fmt.Errorf("expected a UUID such as 89cba575-d106-4732-87ab-45c09ac56874, got %q", v)
		}
		*dst(c) = id
		return nil
	}
}

// listItems splits a list setting: a JSON array of strings (os2mo-os2sync-export's format, e.g.
// ["Linjeorganisation","Selvejet institution"]) or comma-separated items, each trimmed and
// repeats dropped. An empty value is an empty list; an empty item ("a,,b") is an error.
func listItems(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	var items []string
	switch {
	case strings.HasPrefix(v, "["):
		if err := json.Unmarshal([]byte(v), &items); err != nil {
			return nil, fmt.Errorf("expected a JSON list of strings such as [\"a\", \"b\"] or comma-separated items, got %q", v)
		}
	case v != "":
		items = strings.Split(v, ",")
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		it = strings.TrimSpace(it)
		if it == "" {
			return nil, fmt.Errorf("expected a list without empty items, got \"\" in %q", v)
		}
		if !slices.Contains(out, it) {
			out = append(out, it)
		}
	}
	return out, nil
}

// uuidList parses UUIDs (comma-separated or a JSON list), dropping repeats; an empty value is an
// empty list.
func uuidList(dst func(*Config) *[]uuid.UUID) func(*Config, string) error {
	return func(c *Config, v string) error {
		items, err := listItems(v)
		if err != nil {
			return err
		}
		var ids []uuid.UUID
		for _, item := range items {
			id, err := uuid.Parse(item)
			if err != nil || len(item) != 36 {
				return fmt.Errorf("expected comma-separated UUIDs such as 89cba575-d106-4732-87ab-45c09ac56874, got %q", item)
			}
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
		*dst(c) = ids
		return nil
	}
}

// nameList parses names (comma-separated or a JSON list), dropping repeats.
func nameList(dst func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		items, err := listItems(v)
		if err != nil {
			return err
		}
		*dst(c) = items
		return nil
	}
}

// roleList parses address types by OS2sync's names (case-insensitive) into the roles of names.
func roleList(names map[string]uuid.UUID, dst func(*Config) *[]uuid.UUID) func(*Config, string) error {
	return func(c *Config, v string) error {
		items, err := listItems(v)
		if err != nil {
			return err
		}
		roles := []uuid.UUID{} // not nil: an empty list keeps no role
		for _, item := range items {
			role, ok := names[strings.ToUpper(item)]
			if !ok {
				return fmt.Errorf("expected address types from %s, got %q", strings.Join(slices.Sorted(maps.Keys(names)), ", "), item)
			}
			roles = append(roles, role)
		}
		*dst(c) = append(*dst(c), roles...)
		if *dst(c) == nil {
			*dst(c) = roles
		}
		return nil
	}
}

var cvrPattern = regexp.MustCompile(`^[0-9]{8}$`)

// objectTypes returns every OS2MO object type an event can be about (consumer.ObjectType).
func objectTypes() []string {
	return []string{
		string(consumer.TypeOrgUnit), string(consumer.TypePerson), string(consumer.TypeAddress),
		string(consumer.TypeEngagement), string(consumer.TypeITUser), string(consumer.TypeManager),
		string(consumer.TypeKLE), string(consumer.TypeAssociation), string(consumer.TypeLeave),
	}
}

// requiredObjectTypes returns the object types AMQP_ROUTING_KEYS must include: the pipeline queues
// events of these types itself (a unit's subtree and persons), and they must be routable.
func requiredObjectTypes() []string {
	return []string{string(consumer.TypeOrgUnit), string(consumer.TypePerson)}
}

// optionalObjectTypes returns the object types AMQP_ROUTING_KEYS may leave out.
func optionalObjectTypes() []string {
	return slices.DeleteFunc(objectTypes(), func(t string) bool { return slices.Contains(requiredObjectTypes(), t) })
}

// Event sources (EVENT_SOURCE).
const (
	sourceAMQP    = "amqp"
	sourceGraphQL = "graphql"
)

// eventSources parses EVENT_SOURCE: amqp, graphql, or both, comma-separated.
func eventSources(c *Config, v string) error {
	var out []string
	for part := range strings.SplitSeq(v, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		switch {
		case part != sourceAMQP && part != sourceGraphQL:
			return fmt.Errorf("expected graphql, amqp or amqp,graphql, got %q", v)
		case slices.Contains(out, part):
			return fmt.Errorf("%q is listed twice in %q", part, v)
		}
		out = append(out, part)
	}
	slices.Sort(out)
	c.EventSources = out
	return nil
}

// hasSource reports whether EVENT_SOURCE includes source.
func (c Config) hasSource(source string) bool { return slices.Contains(c.EventSources, source) }

// routingKeys parses a comma-separated list of object types into c.AMQPRoutingKeys, dropping
// repeats.
func routingKeys(c *Config, v string) error {
	known := objectTypes()
	var keys []string
	for k := range strings.SplitSeq(v, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(known, k) {
			return fmt.Errorf("expected a comma-separated list of object types from %s, got %q", strings.Join(known, ", "), k)
		}
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	c.AMQPRoutingKeys = keys
	return nil
}

// usedByDLQ reports whether `stsorgsync dlq` reads the setting: LOG_LEVEL and the AMQP_ settings.
// The other commands read them all.
func (s setting) usedByDLQ() bool {
	return s.Name == "LOG_LEVEL" || strings.HasPrefix(s.Name, "AMQP_")
}

// usedByAudit reports whether `stsorgsync audit` reads the setting: LOG_LEVEL, AMQP_URL, the
// AMQP TLS files and the AUDIT_ settings.
func (s setting) usedByAudit() bool {
	switch s.Name {
	case "LOG_LEVEL", "AMQP_URL", "AMQP_CA_FILE", "AMQP_CERT_FILE", "AMQP_KEY_FILE":
		return true
	}
	return strings.HasPrefix(s.Name, "AUDIT_")
}

// settings is the single source of truth for configuration: loading, validation, `stsorgsync
// settings` and the README table all come from it.
func settings() []setting {
	return []setting{
		{Name: "LOG_LEVEL", Default: "info", Help: "Log level: debug, info, warn or error. Logs are JSON on standard error.",
			parse: func(c *Config, v string) error {
				switch v {
				case "debug", "info", "warn", "error":
					c.LogLevel = v
					return nil
				}
				return fmt.Errorf("expected debug, info, warn or error, got %q", v)
			}},
		{Name: "HTTP_LISTEN", Default: ":9090", Help: "Address of the HTTP server for /metrics, /healthz and /readyz.", parse: str(func(c *Config) *string { return &c.HTTPListen })},
		{Name: "HTTP_PPROF", Default: "false", Help: "Also serve Go's profiler (net/http/pprof) under /debug/pprof/ on HTTP_LISTEN, e.g. `go tool pprof http://host:9090/debug/pprof/profile?seconds=30`. It exposes internals and costs CPU while a profile runs: enable it only on a listener operators alone can reach.", parse: boolean(func(c *Config) *bool { return &c.HTTPPprof })},

		{Name: "EVENT_SOURCE", Default: "graphql", Help: "Where OS2MO's change events come from: `graphql` (OS2MO's GraphQL event system, which a current OS2MO always offers: the daemon declares one listener per type in AMQP_ROUTING_KEYS, fetches the events and publishes them to AMQP_EXCHANGE, acknowledging each in OS2MO once RabbitMQ confirmed it), `amqp` (OS2MO's own AMQP exchange AMQP_MO_EXCHANGE on the broker at AMQP_URL; OS2MO has it off by default and will remove it), or `amqp,graphql` while migrating (every change then arrives twice; the second is a cheap no-op). RabbitMQ is the work queue either way. Without amqp the binding to AMQP_MO_EXCHANGE is removed.",
			parse: eventSources},
		{Name: "EVENT_PARALLELISM", Default: "4", Help: "With EVENT_SOURCE graphql: fetchers per listener (object type). While there is no work one fetcher per listener polls; the first event it finds wakes the others.", parse: func(c *Config, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 64 {
				return fmt.Errorf("expected a whole number from 1 to 64, got %q", v)
			}
			c.EventParallelism = n
			return nil
		}},
		{Name: "EVENT_POLL_INTERVAL", Default: "2s", Help: "With EVENT_SOURCE graphql: the longest a listener's poller waits after OS2MO had no event due. After an event it looks again 100 ms later, doubling the wait with each empty poll up to this; so a change after a quiet spell waits up to this long, and changes that keep coming are picked up within a few hundred milliseconds (within a burst events are fetched at once). FastRAMQPI polls every 5s; each poll is one small query per type.", parse: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 50*time.Millisecond || d > 10*time.Minute {
				return fmt.Errorf("expected a duration from 50ms to 10m such as 2s, got %q", v)
			}
			c.EventPollInterval = d
			return nil
		}},
		{Name: "EVENT_RETRY_MAX", Default: "30s", Help: "With EVENT_SOURCE graphql: caps the jittered wait between attempts while OS2MO's event API fails (the first waits about a second). Events wait in OS2MO meanwhile; nothing is lost.", parse: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < time.Second {
				return fmt.Errorf("expected a duration of at least 1s such as 30s, got %q", v)
			}
			c.EventRetryMax = d
			return nil
		}},
		{Name: "EVENT_LISTENER_PREFIX", Default: "stsorgsync_", Help: "With EVENT_SOURCE graphql: the listeners' user_key is this prefix and the object type (e.g. `stsorgsync_org_unit`). OS2MO keeps one listener per (Keycloak client, namespace, user_key), so every replica with the same client and prefix shares the listeners. Change it only to run a second, independent installation with the same Keycloak client.", parse: func(c *Config, v string) error {
			if v == "" || len(v) > 100 || strings.ContainsAny(v, " \t\n") {
				return fmt.Errorf("expected a non-empty name without spaces (at most 100 characters), got %q", v)
			}
			c.EventListenerPrefix = v
			return nil
		}},
		{Name: "AMQP_URL", Default: "amqp://guest:guest@localhost:5672/", Secret: true, Help: "RabbitMQ URL (amqp:// or amqps://, with user, password and vhost), or for a cluster the nodes' URLs comma-separated (same scheme, user and vhost), e.g. `amqps://u:p@rabbit-0:5671/os2mo,amqps://u:p@rabbit-1:5671/os2mo`. Every connection (the daemon's, `dlq`, `audit`, `check`) goes to the first node that takes it, starting after the node whose connection was last lost.", parse: func(c *Config, v string) error {
			if _, err := amqpdial.ParseURLs(v); err != nil {
				return err
			}
			c.AMQPURL = v
			return nil
		}},
		{Name: "AMQP_CA_FILE", Help: "With amqps://: PEM bundle of the CAs that sign the RabbitMQ nodes' certificates; it replaces the system's roots for RabbitMQ (empty: the system's roots). TLS is always verified, against the host name in AMQP_URL.", parse: str(func(c *Config) *string { return &c.AMQPCAFile })},
		{Name: "AMQP_CERT_FILE", Help: "With amqps://: PEM client certificate (chain) presented to RabbitMQ, for brokers that require one; set AMQP_KEY_FILE with it.", parse: str(func(c *Config) *string { return &c.AMQPCertFile })},
		{Name: "AMQP_KEY_FILE", Help: "With amqps://: the PEM private key of AMQP_CERT_FILE (unencrypted; mount it as a secret file).", parse: str(func(c *Config) *string { return &c.AMQPKeyFile })},
		{Name: "AMQP_MO_EXCHANGE", Default: "os2mo", Help: "OS2MO's durable topic exchange that events are published on (EVENT_SOURCE amqp).", parse: str(func(c *Config) *string { return &c.AMQPMOExchange })},
		{Name: "AMQP_EXCHANGE", Default: "stsorgsync", Help: "The integration's own topic exchange: the GraphQL event bridge and the daemon's cascades publish to it, and with EVENT_SOURCE amqp it is bound to AMQP_MO_EXCHANGE with \"#\".", parse: str(func(c *Config) *string { return &c.AMQPExchange })},
		{Name: "AMQP_QUEUE", Default: "stsorgsync", Help: "Durable quorum queue the daemon consumes.", parse: str(func(c *Config) *string { return &c.AMQPQueue })},
		{Name: "AMQP_DLX", Default: "stsorgsync.dlx", Help: "Dead-letter exchange (fanout) for events that could not be written.", parse: str(func(c *Config) *string { return &c.AMQPDLX })},
		{Name: "AMQP_DLQ", Default: "stsorgsync.dlq", Help: "Dead-letter queue; inspect and replay it with `stsorgsync dlq`.", parse: str(func(c *Config) *string { return &c.AMQPDLQ })},
		{Name: "AUDIT_STREAM", Default: "stsorgsync.audit", Help: "RabbitMQ stream (on AMQP_URL's broker) holding the audit trail: one record before every STS write (it is not made unless the record is stored) and one with its result, read with `stsorgsync audit`. Never holds a CPR number.", parse: func(c *Config, v string) error {
			c.AuditStream = v
			return nil
		}},
		{Name: "AUDIT_RETENTION", Default: "5Y", Help: "How long the audit trail keeps records (the stream's x-max-age): a number and Y, M, D, h, m or s, e.g. 5Y or 400D. Fixed when the stream is first declared; change it later with a RabbitMQ policy (OPERATIONS.md).", parse: func(c *Config, v string) error {
			r, err := audit.ParseRetention(v)
			c.AuditRetention = r
			return err
		}},
		{Name: "AUDIT_MAX_BYTES", Default: "20GB", Help: "Size limit of the audit trail (the stream's x-max-length-bytes; the oldest segments go first): bytes, or with KB, MB, GB or TB; 0 for none. A record is about 1 KB. Fixed when the stream is first declared, like AUDIT_RETENTION.", parse: func(c *Config, v string) error {
			n, err := audit.ParseBytes(v)
			c.AuditMaxBytes = n
			return err
		}},
		{Name: "AMQP_PREFETCH", Default: "0", Help: "Unacknowledged deliveries the broker sends ahead; 0 means 2 × WORKERS.", parse: integer(0, func(c *Config) *int { return &c.AMQPPrefetch })},
		{Name: "AMQP_DELIVERY_LIMIT", Default: "20", Help: "Quorum queue x-delivery-limit: after this many redeliveries (crashes) the broker dead-letters a message.", parse: integer(1, func(c *Config) *int { return &c.AMQPDeliveryLimit })},
		{Name: "AMQP_ROUTING_KEYS", Default: strings.Join(consumer.DefaultRoutingKeys(), ","), Help: "Comma-separated object types (routing keys) whose events AMQP_QUEUE is bound to: " + strings.Join(requiredObjectTypes(), " and ") + " (required: a unit's change queues events of both), and any of " + strings.Join(optionalObjectTypes(), ", ") + ". The default is every type this version acts on. A type left out later stays bound until the binding is deleted in RabbitMQ's management UI; its events are then acknowledged without action.", parse: routingKeys},
		{Name: "AMQP_LEGACY_EVENTS", Default: "false", Help: "Also bind OS2MO's deprecated event style for the types in AMQP_ROUTING_KEYS: routing key `<service>.<type>.<action>` (e.g. `org_unit.address.update`) with body `{\"uuid\": …}` naming the owning unit or person. Enable it only if OS2MO sends the legacy style alone (with both, every change is processed twice). Turning it off again does not remove the bindings; delete them in RabbitMQ's management UI.", parse: boolean(func(c *Config) *bool { return &c.AMQPLegacyEvents })},
		{Name: "AMQP_RECONNECT_MAX", Default: "5s", Help: "Caps the jittered wait between reconnect attempts after the connection to RabbitMQ was lost: the first attempt waits 125–250 ms and each failed one doubles the wait up to this, so the daemon resumes within about this long of the broker's return. Raise it only to spare a broker that very many clients reconnect to at once.",
			parse: func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				if err != nil || d < 100*time.Millisecond {
					return fmt.Errorf("expected a duration of at least 100ms such as 5s, got %q", v)
				}
				c.AMQPReconnectMax = d
				return nil
			}},

		{Name: "WORKERS", Default: "8", Help: "Events processed at once. Events for the same object are never processed concurrently.", parse: integer(1, func(c *Config) *int { return &c.Workers })},
		{Name: "RETRY_INITIAL", Default: "500ms", Help: "First wait before retrying an event after a transient error (network, 5xx, timeout).", parse: duration(func(c *Config) *time.Duration { return &c.RetryInitial })},
		{Name: "RETRY_MAX", Default: "30s", Help: "Longest wait between two retries of one event.", parse: duration(func(c *Config) *time.Duration { return &c.RetryMax })},
		{Name: "RETRY_MAX_ELAPSED", Default: "2m", Help: "Give up retrying an event after this long and dead-letter it (error class retries-exhausted). Must stay well below RabbitMQ's consumer timeout (30m). With the circuit breaker on (STS_BREAKER_THRESHOLD), an STS outage stops counting against it once the breaker is open: consumption pauses and the events wait in the queue, however long the outage lasts (README: STS outages). It still bounds OS2MO failures, and STS failures too few or too scattered to open the breaker.", parse: duration(func(c *Config) *time.Duration { return &c.RetryMaxElapsed })},
		{Name: "RETRY_MAX_ATTEMPTS", Default: "0", Help: "Dead-letter an event after this many failed attempts; 0 = limited by RETRY_MAX_ELAPSED only.", parse: integer(0, func(c *Config) *int { return &c.RetryMaxAttempts })},
		{Name: "STS_BREAKER_THRESHOLD", Default: "5", Help: "Open the circuit breaker (pause consumption) after this many consecutive attempts failed because STS was unreachable, timed out or answered 5xx; 0 disables it. While it is open no event is dead-lettered for the outage, whatever RETRY_MAX_ELAPSED says; only the deliveries held meanwhile (AMQP_PREFETCH) meet RabbitMQ's consumer timeout (30m), which returns them to the queue, each return counting toward AMQP_DELIVERY_LIMIT (README: STS outages). With 0, every event that meets an STS outage longer than RETRY_MAX_ELAPSED is dead-lettered; replay them with `stsorgsync dlq replay` once STS answers.", parse: integer(0, func(c *Config) *int { return &c.BreakerThreshold })},
		{Name: "STS_BREAKER_PROBE_INTERVAL", Default: "5s", Help: "While the circuit breaker is open, let one event through this often to probe STS.", parse: duration(func(c *Config) *time.Duration { return &c.BreakerProbeInterval })},
		{Name: "SHUTDOWN_TIMEOUT", Default: "30s", Help: "On SIGTERM, how long in-flight events may finish before they are cancelled and requeued.", parse: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},

		{Name: "REDIS_URL", Default: "redis://localhost:6379/0", Secret: true, Help: "Redis for leases and last-sent hashes: redis:// or rediss:// (TLS, always verified), with user, password and database, e.g. `rediss://:password@redis:6380/0`. With REDIS_SENTINEL_ADDRS or REDIS_CLUSTER_ADDRS it gives only the scheme, user, password and database of the data nodes, and its host may be left out (`rediss://:password@/0`).", parse: redisURL},
		{Name: "REDIS_SENTINEL_ADDRS", Help: "Redis Sentinel: the Sentinels' comma-separated host:port, e.g. `redis-sentinel-0:26379,redis-sentinel-1:26379,redis-sentinel-2:26379`. The daemon asks them for the master of REDIS_SENTINEL_MASTER and follows it through a failover. Needs REDIS_SENTINEL_MASTER.", parse: hostPorts(func(c *Config) *[]string { return &c.RedisSentinelAddrs })},
		{Name: "REDIS_SENTINEL_MASTER", Help: "Redis Sentinel: the name the Sentinels monitor the master by (`sentinel monitor <name> …`, often `mymaster`).", parse: str(func(c *Config) *string { return &c.RedisSentinelMaster })},
		{Name: "REDIS_SENTINEL_PASSWORD", Secret: true, Help: "Redis Sentinel: the Sentinels' own password (requirepass in sentinel.conf), if they have one; the data nodes' password is REDIS_URL's.", parse: str(func(c *Config) *string { return &c.RedisSentinelPassword })},
		{Name: "REDIS_CLUSTER_ADDRS", Help: "Redis Cluster: comma-separated host:port of some of its nodes (seeds; the client learns the others), e.g. `redis-0:6379,redis-1:6379,redis-2:6379`. REDIS_URL's database must be 0. Not with REDIS_SENTINEL_ADDRS.", parse: hostPorts(func(c *Config) *[]string { return &c.RedisClusterAddrs })},
		{Name: "REDIS_CA_FILE", Help: "With rediss://: PEM bundle of the CAs that sign the Redis servers' (and Sentinels') certificates; it replaces the system's roots for Redis (empty: the system's roots). TLS is always verified, against the host name dialled.", parse: str(func(c *Config) *string { return &c.RedisCAFile })},
		{Name: "REDIS_CERT_FILE", Help: "With rediss://: PEM client certificate (chain) presented to Redis, for servers with tls-auth-clients; set REDIS_KEY_FILE with it.", parse: str(func(c *Config) *string { return &c.RedisCertFile })},
		{Name: "REDIS_KEY_FILE", Help: "With rediss://: the PEM private key of REDIS_CERT_FILE (unencrypted; mount it as a secret file).", parse: str(func(c *Config) *string { return &c.RedisKeyFile })},
		{Name: "REDIS_KEY_PREFIX", Default: "stsorgsync:", Help: "Prefix of every Redis key, so several municipalities can share one Redis.", parse: str(func(c *Config) *string { return &c.RedisKeyPrefix })},
		{Name: "STATE_HASH_TTL", Default: "0", Help: "How long a last-sent hash is trusted; 0 = until overwritten. A finite value re-checks every object against STS at least that often.", parse: duration(func(c *Config) *time.Duration { return &c.StateHashTTL })},
		{Name: "LEASE_TTL", Default: "30s", Help: "How long one unit or person stays locked if a process dies while writing it (a live lease is renewed every third of this). Events for a locked unit or person wait for the lease; the wait does not count against RETRY_MAX_ELAPSED.", parse: duration(func(c *Config) *time.Duration { return &c.LeaseTTL })},

		{Name: "MO_URL", Required: true, Help: "Base URL of OS2MO, e.g. https://os2mo.kommune.dk.", parse: urlOf("http https", func(c *Config) *string { return &c.MOURL })},
		{Name: "MO_GRAPHQL_VERSION", Default: "25", Help: "OS2MO GraphQL API version the queries are written for.", parse: integer(1, func(c *Config) *int { return &c.MOGraphQLVersion })},
		{Name: "MO_AUTH_SERVER", Required: true, Help: "Keycloak base URL, e.g. https://os2mo.kommune.dk/auth.", parse: urlOf("http https", func(c *Config) *string { return &c.MOAuthServer })},
		{Name: "MO_AUTH_REALM", Default: "mo", Help: "Keycloak realm.", parse: str(func(c *Config) *string { return &c.MOAuthRealm })},
		{Name: "MO_CLIENT_ID", Required: true, Help: "Keycloak client id of this integration.", parse: str(func(c *Config) *string { return &c.MOClientID })},
		{Name: "MO_CLIENT_SECRET", Required: true, Secret: true, Help: "Keycloak client secret (or MO_CLIENT_SECRET_FILE).", parse: str(func(c *Config) *string { return &c.MOClientSecret })},
		{Name: "MO_TIMEOUT", Default: "30s", Help: "Timeout of one OS2MO request.", parse: duration(func(c *Config) *time.Duration { return &c.MOTimeout })},
		{Name: "MO_TOP_UNIT_UUID", Help: "OS2MO unit written as the root of the municipality's tree (no parent in STS); only it and its descendants are exported, and it is never deactivated (os2mo-os2sync-export: TOP_UNIT_UUID). Empty: OS2MO's root units.",
			parse: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				return uuidOf(func(c *Config) *uuid.UUID { return &c.Mapping.TopUnit })(c, v)
			}},

		{Name: "STS_BASE_URL", Default: "https://organisation.eksterntest-stoettesystemerne.dk", Help: "STS Organisation base URL; services are at {base}/organisation/{object}/6/. Production: https://organisation.stoettesystemerne.dk.", parse: urlOf("http https", func(c *Config) *string { return &c.STSBaseURL })},
		{Name: "STS_CVR", Required: true, Help: "The municipality's CVR number (8 digits); the token is issued for it.",
			parse: func(c *Config, v string) error {
				if !cvrPattern.MatchString(v) {
					return fmt.Errorf("expected 8 digits, got %q", v)
				}
				c.STSCVR = v
				return nil
			}},
		{Name: "STS_ORGANISATION_UUID", Required: true, Help: "UUID of the municipality's Organisation object in STS Organisation (every unit and user belongs to it).", parse: uuidOf(func(c *Config) *uuid.UUID { return &c.Mapping.Organisation })},
		{Name: "STS_TIMEOUT", Default: "30s", Help: "Timeout of one STS Organisation call.", parse: duration(func(c *Config) *time.Duration { return &c.STSTimeout })},
		{Name: "STS_SECURITY", Default: "true", Help: "Use KOMBIT's security profile: a WS-Trust token from STS_TOKEN_ENDPOINT and signed requests and responses. false sends unsigned requests, which only a fake STS accepts.", parse: boolean(func(c *Config) *bool { return &c.STSSecurity })},
		{Name: "STS_P12_FILE", Help: "PKCS#12 file with the organisation certificate (FOCES/OCES3) and its private key. Required when STS_SECURITY is true.", parse: str(func(c *Config) *string { return &c.STSP12File })},
		{Name: "STS_P12_PASSWORD", Secret: true, Help: "Password of STS_P12_FILE (empty if it has none).", parse: str(func(c *Config) *string { return &c.STSP12Password })},
		{Name: "STS_TOKEN_ENDPOINT", Default: stsclient.STSEndpointTest, Help: "KOMBIT's security token service (WS-Trust). Production: " + stsclient.STSEndpointProduction + ".", parse: urlOf("http https", func(c *Config) *string { return &c.STSTokenEndpoint })},
		{Name: "STS_TOKEN_ENTITY_ID", Default: stsclient.STSEntityIDTest, Help: "Entity id the token service signs its assertions as. Production: " + stsclient.STSEntityIDProduction + ".", parse: str(func(c *Config) *string { return &c.STSTokenEntityID })},
		{Name: "STS_TOKEN_CERT_FILE", Help: "PEM file with the token service's signing certificate(s) (KOMBIT's STS certificate; several during a rollover). Required when STS_SECURITY is true.", parse: str(func(c *Config) *string { return &c.STSTokenCertFile })},
		{Name: "STS_SERVICE_CERT_FILE", Help: "PEM file with STS Organisation's response-signing certificate(s). Required when STS_SECURITY and STS_VERIFY_RESPONSES are true.", parse: str(func(c *Config) *string { return &c.STSServiceCertFile })},
		{Name: "STS_VERIFY_RESPONSES", Default: "true", Help: "Verify the signature of every STS Organisation response.", parse: boolean(func(c *Config) *bool { return &c.STSVerifyResponses })},
		{Name: "STS_CA_FILE", Help: "PEM bundle of extra CAs trusted for TLS to the STS services (empty: the system's roots only). TLS is always verified.", parse: str(func(c *Config) *string { return &c.STSCAFile })},

		{Name: "SYNC_INTERVAL", Default: "0", Help: "How often the daemon runs a full sync in the background (as `stsorgsync sync` does, sharing the per-object leases with the event path); 0 = never.", parse: duration(func(c *Config) *time.Duration { return &c.SyncInterval })},
		{Name: "SYNC_CONCURRENCY", Default: "8", Help: "STS Organisation calls (and OS2MO requests) a full sync or verify has in flight at once. A sync works on twice as many bundles, so signing requests and checking answers overlap the calls; STS never sees more than this many at once.", parse: integer(1, func(c *Config) *int { return &c.SyncConcurrency })},
		{Name: "SYNC_MAX_DEACTIVATION_PERCENT", Default: "10", Help: "A full sync refuses to run when it would deactivate more than this percentage of the units and users active in STS (`stsorgsync sync --max-deactivations N` sets an absolute limit instead).", parse: percentage(func(c *Config) *float64 { return &c.SyncMaxDeactivationPercent })},
		{Name: "SYNC_ORPHANS", Default: "deactivate", Help: "What a full sync (`stsorgsync sync` and SYNC_INTERVAL) does with orphans: units and users active in the municipality's STS hierarchy that no OS2MO unit or person accounts for (terminated in or unknown to OS2MO, made by hand or by another tool). `deactivate`: end them and their positions, within SYNC_MAX_DEACTIVATION_PERCENT. `report`: leave them active, and list them in the sync's output and log. One action per kind, e.g. `units=report,users=deactivate` (a kind left out is deactivated): leave units made by hand in STS while the users of people who left are still ended. `stsorgsync verify` reports orphans as drift either way; `stsorgsync sync --orphans` overrides this setting for one run. The event path is not affected.",
			parse: func(c *Config, v string) error {
				p, err := reconcile.ParseOrphanPolicy(v)
				if err != nil {
					return err
				}
				c.SyncOrphans = p
				return nil
			}},
		{Name: "SYNC_KEEP_UUIDS", Help: "Comma-separated STS UUIDs of units and users a full sync never ends as orphans, whatever SYNC_ORPHANS says: e.g. a unit for external consultants or a service user made by hand in STS. A listed unit keeps its whole STS subtree (by Overordnet; so listing the top unit would keep every orphan unit) and the orphan units above it; a user with an active position (or other function) in a kept subtree is kept too; the functions of a kept unit or user are left as they are. `stsorgsync verify` counts kept orphans as kept, not as drift, and the event path leaves the functions of kept units and users alone too. A listed UUID that OS2MO does account for is synced as usual: keeping only protects orphans. A UUID STS does not hold in the municipality's hierarchy is logged as a warning.", parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.SyncKeepUUIDs })},

		// Mapping. Names follow os2mo-os2sync-export where it has the setting, OS2sync for the
		// choices made on the STS side. Lists are comma-separated or a JSON list.
		{Section: sectionUnits, Name: "FILTER_ORGUNIT_UUID", Help: "OS2MO units that, with all their descendants, are not exported (UUIDs). A subtree excluded here that STS holds is deactivated by the event path and the full sync.",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.ExcludedSubtrees })},
		{Section: sectionUnits, Name: "FILTER_HIERARCHY_NAMES", Help: "When set, only units whose org_unit_hierarchy class has one of these names (or user keys) are exported, e.g. `Linjeorganisation,Selvejet institution`; a unit with an FK bookkeeping IT user (FK_ORG_IT_SYSTEMS) or an IT user of UUID_FROM_IT_SYSTEMS is exported whatever its hierarchy. Empty: every hierarchy.",
			parse: nameList(func(c *Config) *[]string { return &c.Mapping.HierarchyNames })},
		{Section: sectionUnits, Name: "IGNORED_UNIT_LEVELS", Help: "org_unit_level classes (UUIDs) whose units are not exported (checked on the unit itself, not inherited by its children), unless the unit has an FK bookkeeping IT user.",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.IgnoredUnitLevels })},
		{Section: sectionUnits, Name: "IGNORED_UNIT_TYPES", Help: "org_unit_type classes (UUIDs) whose units are not exported (checked on the unit itself), unless the unit has an FK bookkeeping IT user.",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.IgnoredUnitTypes })},
		{Section: sectionUnits, Name: "TEAM_UNIT_TYPES", Help: "org_unit_type classes (UUIDs) written as Enhedstype \"Team\"; every other unit is an \"Afdeling\".",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.TeamUnitTypes })},
		{Section: sectionUnits, Name: "SYNC_MANAGERS", Default: "true", Help: "Write each unit's manager (the first to start of its current managers) as its \"Leder\" function, and end manager functions other tools wrote for the unit. false leaves manager functions to FK Organisation's own UI: those made by others are kept, and stsorgsync's own are ended.",
			parse: negated(func(c *Config) *bool { return &c.Mapping.DisableManagers })},
		{Section: sectionUnits, Name: "ENABLE_KLE", Default: "true", Help: "Write the units' KLE numbers as their Opgaver. false leaves Opgaver to FK Organisation's own UI (OS2sync: DisableOpgaver=true).",
			parse: negated(func(c *Config) *bool { return &c.Mapping.DisableKLE })},
		{Section: sectionUnits, Name: "USE_CONTACT_FOR_TASKS", Default: "false", Help: "Split a unit's KLE by aspect: \"Udførende\" become its Opgaver, \"Ansvarlig\" the tasks of its Henvendelsessted function, \"Indsigt\" is not exported (OS2sync: DisableHenvendelsessteder=false). false writes every KLE number as an Opgave and leaves Henvendelsessted functions to FK Organisation's own UI (stsorgsync's own are ended). Needs ENABLE_KLE.",
			parse: boolean(func(c *Config) *bool { return &c.Mapping.ContactForTasks })},
		{Section: sectionUnits, Name: "SYNC_IT_SYSTEMS", Default: "true", Help: "Write the IT systems of a unit's IT users (except AD, FK bookkeeping and UUID_FROM_IT_SYSTEMS accounts) as its TilknyttedeItSystemer. false leaves them to FK Organisation's own UI.",
			parse: negated(func(c *Config) *bool { return &c.Mapping.DisableITSystems })},
		{Section: sectionUnits, Name: "IGNORED_OU_ADDRESS_TYPES", Default: "SOR", Help: "Unit address types stsorgsync never writes, creates or ends, by OS2sync's names: " + strings.Join(slices.Sorted(maps.Keys(translate.UnitAddressRoleNames())), ", ") + " (OS2sync's IgnoredOUAddressTypes), e.g. `SOR,EAN` to co-exist with KOMBIT's SOR synchroniser. SOR, LOSSHORTNAME, LOSID and FOA have no source in OS2MO and are never written anyway.",
			parse: roleList(translate.UnitAddressRoleNames(), func(c *Config) *[]uuid.UUID { return &c.Mapping.KeptAddressRoles })},
		{Section: sectionUnits, Name: "KEPT_RELATIONS", Help: "Relations of units and users stsorgsync never changes, left to FK Organisation's own UI or another tool: any of " + relationNames(translate.KeepableRelations()) + ".",
			parse: keptRelations},

		{Section: sectionUsers, Name: "USER_MODE", Default: "person", Help: "How OS2MO persons become STS users (Bruger): `person` writes one user per person, with the person's UUID (or UUID_FROM_IT_SYSTEMS'); `ituser` writes one user per AD account (USER_KEY_IT_SYSTEM_NAMES), with the UUID its FK bookkeeping IT user holds (FK_ORG_IT_SYSTEMS) or else the account's external id (the AD ObjectGUID), holding the positions of the engagements the account is linked to (os2mo-os2sync-export's NEW=true).",
			parse: func(c *Config, v string) error {
				switch m := translate.UserMode(strings.ToLower(v)); m {
				case translate.UsersPerPerson, translate.UsersPerITUser:
					c.Mapping.UserMode = m
					return nil
				}
				return fmt.Errorf("expected person or ituser, got %q", v)
			}},
		{Section: sectionUsers, Name: "USER_KEY_IT_SYSTEM_NAMES", Default: "Active Directory", Help: "IT systems (names or user keys), in priority order, whose accounts are the users' AD accounts: an account's user key is the BrugerNavn; in USER_MODE=ituser each account is a user (os2mo-os2sync-export: USER_KEY_IT_SYSTEM_NAMES, new mode IT_SYSTEM_USER_KEYS).",
			parse: nameList(func(c *Config) *[]string { return &c.Mapping.ADITSystems })},
		{Section: sectionUsers, Name: "FK_ORG_IT_SYSTEMS", Default: "FK-ORG-UUID,FK-ORG UUID", Help: "FK bookkeeping IT systems (names or user keys): on a person, an IT user whose user key is an AD account's external id and whose external id is the UUID of that account's STS user (USER_MODE=ituser); on a unit, such an IT user makes it exported whatever FILTER_HIERARCHY_NAMES, IGNORED_UNIT_LEVELS and IGNORED_UNIT_TYPES say.",
			parse: nameList(func(c *Config) *[]string { return &c.Mapping.FKITSystems })},
		{Section: sectionUsers, Name: "UUID_FROM_IT_SYSTEMS", Help: "IT systems (names or user keys), in priority order, whose IT user on an OS2MO unit, or on a person in USER_MODE=person, holds the UUID the unit or user has in STS (in its user key, else its external id): FK objects created earlier under other UUIDs are updated, not duplicated. Used wherever the unit or user is referred to (parents, positions, managers); such an IT user also makes its unit exported. A unit or user stsorgsync wrote under OS2MO's UUID before is deactivated by the next full sync as an orphan.",
			parse: nameList(func(c *Config) *[]string { return &c.Mapping.UUIDFromITSystems })},
		{Section: sectionUsers, Name: "FILTER_USERS_BY_IT_SYSTEM", Default: "false", Help: "In USER_MODE=person, export only persons with an account in USER_KEY_IT_SYSTEM_NAMES; the users of the others are deactivated. (USER_MODE=ituser exports only such persons anyway.)",
			parse: boolean(func(c *Config) *bool { return &c.Mapping.RequireADAccount })},
		{Section: sectionUsers, Name: "SYNC_CPR", Default: "false", Help: "Write the person's CPR number to the STS Person (os2mo-os2sync-export: SYNC_CPR, formerly XFER_CPR). Without it no CPR number is written and one already in STS is left as it is. CPR numbers never appear in logs, reports or audit records.",
			parse: boolean(func(c *Config) *bool { return &c.Mapping.SyncCPR })},
		{Section: sectionUsers, Name: "USE_NICKNAME", Default: "false", Help: "Write the person's nickname, when OS2MO has one, as the STS Person's name instead of the name.",
			parse: boolean(func(c *Config) *bool { return &c.Mapping.UseNickname })},
		{Section: sectionUsers, Name: "EXTENSION_FIELD_AS_JOB_FUNCTION", Help: "A number N from 1 to 10: a position's name is the engagement's extension_N when that is not empty (e.g. an AD job title), else its job function. Empty: always the job function.",
			parse: func(c *Config, v string) error {
				if v == "" {
					return nil
				}
				n, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSpace(v), "extension_"))
				if err != nil || n < 1 || n > 10 {
					return fmt.Errorf("expected a number from 1 to 10 (the engagement's extension_N), got %q", v)
				}
				c.Mapping.JobTitleExtension = n
				return nil
			}},
		{Section: sectionUsers, Name: "EMAIL_SCOPE_CLASSES", Help: "Address-type classes (UUIDs), in priority order, for a user's email (only addresses that may be shown externally: visibility PUBLIC or none). Empty: any EMAIL address. On units they rank email addresses.",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.EmailClasses })},
		{Section: sectionUsers, Name: "PHONE_SCOPE_CLASSES", Help: "Address-type classes (UUIDs), in priority order, for a user's mobile phone. Empty: any PHONE address of a class not in LANDLINE_SCOPE_CLASSES. On units they rank phone numbers.",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.MobileClasses })},
		{Section: sectionUsers, Name: "LANDLINE_SCOPE_CLASSES", Help: "Address-type classes (UUIDs), in priority order, for a user's landline; a unit phone of one of them is written as the unit's landline (FastnetTelefon). Empty: no landline.",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.LandlineClasses })},
		{Section: sectionUsers, Name: "LOCATION_SCOPE_CLASSES", Help: "Address-type classes (UUIDs), in priority order, for a user's location (Lokation). Empty: a DAR address linked to one of the user's engagements (a work place; home addresses are never linked to engagements).",
			parse: uuidList(func(c *Config) *[]uuid.UUID { return &c.Mapping.LocationClasses })},
		{Section: sectionUsers, Name: "EMPLOYEE_ENGAGEMENT_ADDRESS", Help: "Unit address types (names or user keys), in priority order: a user's location is the first such address, shown externally, of the unit of the user's primary engagement (else its earliest), e.g. `Lokation,Postadresse`; when that unit has none, LOCATION_SCOPE_CLASSES applies. A changed address of a unit re-evaluates its persons.",
			parse: nameList(func(c *Config) *[]string { return &c.Mapping.EngagementAddressTypes })},
		{Section: sectionUsers, Name: "IGNORED_USER_ADDRESS_TYPES", Help: "User address types stsorgsync never writes, creates or ends: any of " + strings.Join(slices.Sorted(maps.Keys(translate.UserAddressRoleNames())), ", ") + " (RACFID and FMKID are never written anyway).",
			parse: roleList(translate.UserAddressRoleNames(), func(c *Config) *[]uuid.UUID { return &c.Mapping.KeptAddressRoles })},
	}
}

// The sections settings are listed under (the others are listed first, without a heading).
const (
	sectionUnits = "Mapping: units"
	sectionUsers = "Mapping: users and persons"
)

// relationNames joins relation names for help texts.
func relationNames(rs []oio.RelationName) string {
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}

// keptRelations parses KEPT_RELATIONS into Mapping.KeptRelations.
func keptRelations(c *Config, v string) error {
	items, err := listItems(v)
	if err != nil {
		return err
	}
	keepable := translate.KeepableRelations()
	c.Mapping.KeptRelations = nil
	for _, item := range items {
		i := slices.IndexFunc(keepable, func(r oio.RelationName) bool { return strings.EqualFold(string(r), item) })
		if i < 0 {
			return fmt.Errorf("expected relations from %s, got %q", relationNames(keepable), item)
		}
		c.Mapping.KeptRelations = append(c.Mapping.KeptRelations, keepable[i])
	}
	return nil
}

// loadConfig builds the configuration from, in increasing precedence: defaults, the optional
// config file (KEY=VALUE lines), and the environment. Secrets may be given as NAME_FILE. All
// problems are reported at once, each naming its setting.
func loadConfig(getenv func(string) string, file string) (Config, error) {
	c, err := loadSettings(getenv, file, func(setting) bool { return true })
	if err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

// loadDLQConfig loads only what `stsorgsync dlq` needs, LOG_LEVEL and the AMQP_ settings, the way
// loadConfig does. The daemon's other settings are neither required nor checked, so the command
// can be run with the broker's settings alone.
func loadDLQConfig(getenv func(string) string, file string) (Config, error) {
	c, err := loadSettings(getenv, file, setting.usedByDLQ)
	if err != nil {
		return Config{}, err
	}
	return c, c.validateAMQP()
}

// loadSettings parses the settings for which use returns true; the others keep their zero value.
func loadSettings(getenv func(string) string, file string, use func(setting) bool) (Config, error) {
	fileValues := map[string]string{}
	if file != "" {
		var err error
		if fileValues, err = readConfigFile(file); err != nil {
			return Config{}, err
		}
	}
	lookup := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return fileValues[name]
	}
	var c Config
	var errs []error
	for _, s := range settings() {
		if !use(s) {
			continue
		}
		v := lookup(s.Name)
		if v == "" && s.Secret {
			if path := lookup(s.Name + "_FILE"); path != "" {
				b, err := os.ReadFile(path)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s_FILE: cannot read %s: %w", s.Name, path, err))
					continue
				}
				v = strings.TrimRight(string(b), "\r\n")
			}
		}
		if v == "" {
			if s.Required {
				errs = append(errs, fmt.Errorf("%s is required: %s", s.Name, s.Help))
				continue
			}
			v = s.Default
		}
		if err := s.parse(&c, v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.Name, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Validate checks rules that involve more than one setting.
func (c Config) Validate() error {
	errs := []error{c.validateAMQP()}
	if c.AMQPPrefetch != 0 && c.AMQPPrefetch < c.Workers {
		errs = append(errs, fmt.Errorf("AMQP_PREFETCH (%d) must be 0 or at least WORKERS (%d)", c.AMQPPrefetch, c.Workers))
	}
	if c.RetryMaxElapsed >= 25*time.Minute {
		errs = append(errs, fmt.Errorf("RETRY_MAX_ELAPSED (%s) must stay well below RabbitMQ's 30m consumer timeout", c.RetryMaxElapsed))
	}
	if c.RetryInitial > c.RetryMax {
		errs = append(errs, fmt.Errorf("RETRY_INITIAL (%s) must not exceed RETRY_MAX (%s)", c.RetryInitial, c.RetryMax))
	}
	if c.STSSecurity {
		if c.STSP12File == "" {
			errs = append(errs, errors.New("STS_P12_FILE is required when STS_SECURITY is true: the PKCS#12 file with the organisation certificate"))
		}
		if c.STSTokenCertFile == "" {
			errs = append(errs, errors.New("STS_TOKEN_CERT_FILE is required when STS_SECURITY is true: a PEM file with the token service's certificate"))
		}
		if c.STSVerifyResponses && c.STSServiceCertFile == "" {
			errs = append(errs, errors.New("STS_SERVICE_CERT_FILE is required when STS_VERIFY_RESPONSES is true: a PEM file with STS Organisation's signing certificate"))
		}
	}
	if c.Mapping.ContactForTasks && c.Mapping.DisableKLE {
		errs = append(errs, errors.New("USE_CONTACT_FOR_TASKS=true needs ENABLE_KLE=true: the Henvendelsessted functions are made from the units' KLE"))
	}
	errs = append(errs, c.validateRedis())
	if c.LeaseTTL < 5*time.Second {
		errs = append(errs, fmt.Errorf("LEASE_TTL (%s) must be at least 5s", c.LeaseTTL))
	}

	return errors.Join(errs...)
}

// validateAMQP checks the rules that involve only AMQP_ settings (what `stsorgsync dlq` reads).
func (c Config) validateAMQP() error {
	errs := []error{c.validateAMQPTLS()}
	if c.AMQPQueue == c.AMQPDLQ {
		errs = append(errs, errors.New("AMQP_QUEUE and AMQP_DLQ must differ"))
	}
	if c.AuditStream != "" && (c.AuditStream == c.AMQPQueue || c.AuditStream == c.AMQPDLQ) {
		errs = append(errs, errors.New("AUDIT_STREAM must differ from AMQP_QUEUE and AMQP_DLQ"))
	}
	var missing []string
	for _, t := range requiredObjectTypes() {
		if !slices.Contains(c.AMQPRoutingKeys, t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("AMQP_ROUTING_KEYS must include %s: a unit's change queues events of both types (its subtree and its persons)", strings.Join(missing, " and ")))
	}
	if c.AMQPExchange == c.AMQPMOExchange {
		errs = append(errs, fmt.Errorf("AMQP_EXCHANGE must differ from AMQP_MO_EXCHANGE (%q): events re-sent to this integration, such as DLQ replays, would reach every OS2MO integration", c.AMQPMOExchange))
	}
	return errors.Join(errs...)
}

// readConfigFile reads the --config file (readEnvFile) and refuses a key that is not a setting
// (or, for a secret, its NAME_FILE), naming the line and the nearest setting: a misspelt key
// would otherwise be ignored and its default used.
func readConfigFile(path string) (map[string]string, error) {
	values, lines, err := parseEnvFile(path)
	if err != nil {
		return nil, err
	}
	var known []string
	for _, s := range settings() {
		known = append(known, s.Name)
		if s.Secret {
			known = append(known, s.Name+"_FILE")
		}
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(values)) {
		if slices.Contains(known, k) {
			continue
		}
		hint := ""
		if c := closest(k, known); c != "" {
			hint = "; did you mean " + c + "?"
		}
		errs = append(errs, fmt.Errorf("config file %s line %d: unknown setting %s%s (`stsorgsync settings` lists them all)", path, lines[k], k, hint))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return values, nil
}

// readEnvFile reads KEY=VALUE lines; blank lines and lines starting with # are ignored, and a
// value may be wrapped in single or double quotes.
func readEnvFile(path string) (map[string]string, error) {
	values, _, err := parseEnvFile(path)
	return values, err
}

// parseEnvFile is readEnvFile that also returns the line of each key.
func parseEnvFile(path string) (values map[string]string, lines map[string]int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	values, lines = map[string]string{}, map[string]int{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(strings.TrimPrefix(k, "export "))
		if !ok || k == "" {
			return nil, nil, fmt.Errorf("config file %s line %d: expected KEY=VALUE (the line is not shown: it may hold a secret)", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		values[k], lines[k] = v, n
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("config file %s: %w", path, err)
	}
	return values, lines, nil
}

// redactURLs is redactURL for each URL of a comma-separated list (AMQP_URL of a cluster).
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, p := range parts {
		parts[i] = redactURL(strings.TrimSpace(p))
	}
	return strings.Join(parts, ",")
}

// redactURL hides the password of a URL for logs and error messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
