package state

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis stores leases and last-sent hashes in Redis under a key prefix.
//
// Key layout (prefix P) on one server or a Sentinel-watched master:
//
//	P lease:<key>     string token, PX = lease TTL
//	P sent:<key>      string hash of the last desired state written, EX = HashTTL (0 = no expiry)
//
// and on a Redis Cluster (the client is a *redis.ClusterClient), with the key in a hash tag so
// that the two keys Peek reads in one MGET are in one hash slot:
//
//	P{<key>}:lease
//	P{<key>}:sent
//
// The layout outside a Cluster is the one every earlier version used, so replicas of an earlier
// version and of this one exclude each other through the same lease keys during a rolling
// upgrade, and the records stay valid. A Cluster is always a new Redis for stsorgsync (no earlier
// version could use one), so its layout has nothing to stay compatible with.
type Redis struct {
	client      redis.UniversalClient
	prefix      string
	hashTags    bool
	hashTTL     time.Duration
	token       TokenSource
	replicaAcks int
	replicaWait time.Duration
}

// RedisOptions configure a Redis store.
type RedisOptions struct {
	// Prefix is prepended to every key, e.g. "stsorgsync:". Tests use a unique prefix each.
	Prefix string
	// HashTTL bounds how long a last-sent hash is trusted; 0 keeps hashes until overwritten.
	// A finite TTL makes every object be re-read from STS at least that often.
	HashTTL time.Duration
	// Token returns unique lease tokens (instance id + random); required.
	Token TokenSource
	// ReplicaAcks, when above 0, makes AcquireLease and ForgetSent return only once that many
	// replicas hold the lease or the removal (WAIT, at most ReplicaWait, default 100ms), so that
	// a failover to a replica keeps them: no other worker can take a lease while its holder
	// writes, and a record forgotten before a write cannot come back after it. Set it for a
	// master with replicas (Sentinel). When no replica answers in time the work goes ahead
	// (without a replica there is nothing a failover could promote).
	ReplicaAcks int
	ReplicaWait time.Duration
}

// NewRedis returns a store using client. The caller owns the client and closes it.
func NewRedis(client redis.UniversalClient, opts RedisOptions) (*Redis, error) {
	if client == nil {
		return nil, errors.New("state: redis client is nil")
	}
	if opts.Token == nil {
		return nil, errors.New("state: RedisOptions.Token is required")
	}
	_, cluster := client.(*redis.ClusterClient)
	if cluster && strings.ContainsAny(opts.Prefix, "{}") {
		return nil, fmt.Errorf("state: key prefix %q contains { or }: a Redis Cluster would take it for the hash tag of every key", opts.Prefix)
	}
	wait := opts.ReplicaWait
	if wait <= 0 {
		wait = 100 * time.Millisecond
	}
	return &Redis{client: client, prefix: opts.Prefix, hashTags: cluster, hashTTL: opts.HashTTL, token: opts.Token,
		replicaAcks: opts.ReplicaAcks, replicaWait: wait}, nil
}

// releaseScript deletes KEYS[1] only if it holds ARGV[1] (the caller's token).
// Returns 1 when deleted, 0 when the key is missing or held by another token.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// renewScript sets the TTL of KEYS[1] to ARGV[2] ms only if it holds ARGV[1].
// Returns 1 when extended, 0 otherwise.
var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

func (r *Redis) leaseKey(key string) string { return r.keyOf("lease", key) }
func (r *Redis) sentKey(key string) string  { return r.keyOf("sent", key) }

// keyOf returns the Redis key of kind ("lease" or "sent") for key (see Redis for the layout).
func (r *Redis) keyOf(kind, key string) string {
	if r.hashTags {
		return r.prefix + "{" + key + "}:" + kind
	}
	return r.prefix + kind + ":" + key
}

// AcquireLease claims key for ttl. It returns ErrLeaseHeld if someone else holds it.
//
// The claim uses SET NX GET with a unique token: if go-redis retried a SET whose first reply was
// lost, the returned old value is our own token and the claim is still recognised as ours.
func (r *Redis) AcquireLease(ctx context.Context, key string, ttl time.Duration) (Lease, error) {
	token := r.token()
	var set *redis.StatusCmd
	if err := r.replicated(ctx, func(c redis.Cmdable) {
		set = c.SetArgs(ctx, r.leaseKey(key), token, redis.SetArgs{Mode: "NX", TTL: ttl, Get: true})
	}); err != nil {
		return nil, fmt.Errorf("state: acquire lease %q: %w", key, err)
	}
	old, err := set.Result()
	switch {
	case errors.Is(err, redis.Nil):
		return &redisLease{store: r, key: key, token: token}, nil
	case err != nil:
		return nil, fmt.Errorf("state: acquire lease %q: %w", key, err)
	case old == token:
		return &redisLease{store: r, key: key, token: token}, nil
	default:
		return nil, ErrLeaseHeld
	}
}

// LastSent returns the hash recorded for key and whether one was present.
func (r *Redis) LastSent(ctx context.Context, key string) (string, bool, error) {
	v, err := r.client.Get(ctx, r.sentKey(key)).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("state: read last-sent hash of %q: %w", key, err)
	}
	return v, true, nil
}

// Peek returns, in one round trip (MGET), the hash recorded for key, whether one was present,
// and whether a lease on key is held. A caller that reads the record, and only then the source
// state, and finds them equal while no lease was held, may skip the key without taking the
// lease: any writer that takes it later reads the source state after the peek.
func (r *Redis) Peek(ctx context.Context, key string) (hash string, ok, leased bool, err error) {
	vals, err := r.client.MGet(ctx, r.sentKey(key), r.leaseKey(key)).Result()
	if err != nil {
		return "", false, false, fmt.Errorf("state: peek at %q: %w", key, err)
	}
	if len(vals) != 2 {
		return "", false, false, fmt.Errorf("state: peek at %q: MGET returned %d values for 2 keys", key, len(vals))
	}
	hash, ok = vals[0].(string)
	return hash, ok, vals[1] != nil, nil
}

// RecordSent stores hash as the last state written for key. Call it only after STS confirmed the
// write.
func (r *Redis) RecordSent(ctx context.Context, key, hash string) error {
	if err := r.client.Set(ctx, r.sentKey(key), hash, r.hashTTL).Err(); err != nil {
		return fmt.Errorf("state: record last-sent hash of %q: %w", key, err)
	}
	return nil
}

// ForgetSent removes the hash for key, forcing the next event for it to re-read STS. With
// RedisOptions.ReplicaAcks it returns once the replicas hold the removal (see replicated).
func (r *Redis) ForgetSent(ctx context.Context, key string) error {
	var del *redis.IntCmd
	if err := r.replicated(ctx, func(c redis.Cmdable) { del = c.Del(ctx, r.sentKey(key)) }); err != nil {
		return fmt.Errorf("state: forget last-sent hash of %q: %w", key, err)
	}
	if err := del.Err(); err != nil {
		return fmt.Errorf("state: forget last-sent hash of %q: %w", key, err)
	}
	return nil
}

// replicated runs do's commands and, with RedisOptions.ReplicaAcks, then waits (WAIT, at most
// ReplicaWait) until that many replicas hold them and every earlier write of the master (its
// replication stream is one ordered log). The commands' own results are in the commands do made;
// the error is WAIT's (a connection lost on the way).
func (r *Redis) replicated(ctx context.Context, do func(c redis.Cmdable)) error {
	if r.replicaAcks <= 0 {
		do(r.client)
		return nil
	}
	// One pipeline is one connection, and WAIT counts the replicas that hold its writes.
	var wait *redis.Cmd
	_, _ = r.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		do(p)
		wait = p.Do(ctx, "WAIT", r.replicaAcks, r.replicaWait.Milliseconds())
		return nil
	})
	return wait.Err()
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("state: redis ping: %w", err)
	}
	return nil
}

type redisLease struct {
	store *Redis
	key   string
	token string
}

func (l *redisLease) Key() string { return l.key }

func (l *redisLease) Renew(ctx context.Context, ttl time.Duration) error {
	n, err := renewScript.Run(ctx, l.store.client, []string{l.store.leaseKey(l.key)}, l.token, ttl.Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("state: renew lease %q: %w", l.key, err)
	}
	if n == 0 {
		return fmt.Errorf("state: renew lease %q: %w", l.key, ErrLeaseLost)
	}
	return nil
}

func (l *redisLease) Release(ctx context.Context) error {
	n, err := releaseScript.Run(ctx, l.store.client, []string{l.store.leaseKey(l.key)}, l.token).Int()
	if err != nil {
		return fmt.Errorf("state: release lease %q: %w", l.key, err)
	}
	if n == 0 {
		return fmt.Errorf("state: release lease %q: %w", l.key, ErrLeaseLost)
	}
	return nil
}
