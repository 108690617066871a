package state

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Memory is an in-process store with the same contract as Redis, for a single instance and for
// unit tests. Its clock is injected so lease expiry is deterministic in tests.
type Memory struct {
	mu     sync.Mutex
	now    func() time.Time
	token  TokenSource
	leases map[string]memoryEntry
	sent   map[string]string
}

type memoryEntry struct {
	token   string
	expires time.Time
}

// NewMemory returns an empty in-memory store. now and token must not be nil.
func NewMemory(now func() time.Time, token TokenSource) *Memory {
	return &Memory{now: now, token: token, leases: map[string]memoryEntry{}, sent: map[string]string{}}
}

// AcquireLease claims key for ttl, or returns ErrLeaseHeld.
func (m *Memory) AcquireLease(_ context.Context, key string, ttl time.Duration) (Lease, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e, ok := m.leases[key]; ok && m.now().Before(e.expires) {
		return nil, ErrLeaseHeld
	}
	t := m.token()
	m.leases[key] = memoryEntry{token: t, expires: m.now().Add(ttl)}
	return &memoryLease{store: m, key: key, token: t}, nil
}

// LastSent returns the hash recorded for key and whether one was present.
func (m *Memory) LastSent(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.sent[key]
	return h, ok, nil
}

// Peek returns the hash recorded for key, whether one was present, and whether a lease on key
// is held (see Redis.Peek).
func (m *Memory) Peek(_ context.Context, key string) (hash string, ok, leased bool, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	hash, ok = m.sent[key]
	e, held := m.leases[key]
	return hash, ok, held && m.now().Before(e.expires), nil
}

// RecordSent stores hash as the last state written for key.
func (m *Memory) RecordSent(_ context.Context, key, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[key] = hash
	return nil
}

// ForgetSent removes the hash for key.
func (m *Memory) ForgetSent(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.sent, key)
	return nil
}

// Ping always succeeds.
func (m *Memory) Ping(context.Context) error { return nil }

type memoryLease struct {
	store *Memory
	key   string
	token string
}

func (l *memoryLease) Key() string { return l.key }

// owned reports whether the lease is still held by this token; the caller holds the mutex.
func (l *memoryLease) owned() bool {
	e, ok := l.store.leases[l.key]
	return ok && e.token == l.token && l.store.now().Before(e.expires)
}

func (l *memoryLease) Renew(_ context.Context, ttl time.Duration) error {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	if !l.owned() {
		return fmt.Errorf("state: renew lease %q: %w", l.key, ErrLeaseLost)
	}
	l.store.leases[l.key] = memoryEntry{token: l.token, expires: l.store.now().Add(ttl)}
	return nil
}

func (l *memoryLease) Release(_ context.Context) error {
	l.store.mu.Lock()
	defer l.store.mu.Unlock()
	if !l.owned() {
		return fmt.Errorf("state: release lease %q: %w", l.key, ErrLeaseLost)
	}
	delete(l.store.leases, l.key)
	return nil
}
