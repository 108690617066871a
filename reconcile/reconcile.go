// Package reconcile is the full synchronisation (`stsorgsync sync`) and the drift verification
// (`stsorgsync verify`) of STS Organisation against OS2MO.
//
// Both start from one snapshot: every unit and person OS2MO has in effect now (listed in pages,
// then read in batches), translated into bundles (translate.UnitDesired/PersonDesired), and the
// municipality's STS Organisation read in bulk (fremsoegobjekthierarki for units, functions and
// users; list for the Adresse and Person objects the bundles name). The STS objects are indexed
// the way the event path searches them (users by person, functions by user and by unit and type),
// so each bundle is planned with translate.PlanAll against exactly the objects the event path
// would read for it. Units and users in the municipality's hierarchy that no OS2MO unit or person
// accounts for are orphans, planned as bundles that deactivate them, unless Options.Orphans says
// to only report them or Options.Keep keeps them (with a kept unit's subtree and the objects
// linked to them).
//
// Sync converges the bundles — units top-down, then persons, then deactivations — each under the
// same lease and with the same last-sent record as the event path, after guards against mass
// deactivation. Verify plans the same way, writes nothing, and turns the plan into a
// report.Report.
package reconcile

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/model"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// Source reads OS2MO. *moclient.Client implements it. ListUnits and ListPersons page through the
// UUIDs of the units and persons in effect now; OrgUnits and Persons read many at once and map
// each UUID OS2MO knows to its current state, or to nil when it is not in effect now (unknown
// UUIDs are absent).
type Source interface {
	ListUnits(ctx context.Context, fn func(page []uuid.UUID) error) error
	ListPersons(ctx context.Context, fn func(page []uuid.UUID) error) error
	OrgUnits(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*model.OrgUnit, error)
	Persons(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*model.Person, error)
}

// STS reads and writes STS Organisation. HierarchyPage returns one page of the municipality's
// hierarchy (fremsoegobjekthierarki: units, functions and users, each list paged with first and
// max); an empty page means the end. ReadMany returns the objects of one kind that exist and are
// not passivated (one list call for the UUIDs it is given). Apply performs one planned write.
type STS interface {
	HierarchyPage(ctx context.Context, first, max int) (*oio.Hierarchy, error)
	ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error)
	Apply(ctx context.Context, op translate.Operation) error
}

// ErrRefused is matched by the error Sync returns when a safety guard stops it before any write:
// OS2MO returned no units or persons while deactivations were planned, or the planned
// deactivations exceed the limit.
var ErrRefused = errors.New("sync refused")

// Options tune a sync or verification. The zero value of every field but Settings is a sensible
// default.
type Options struct {
	// Settings are the translation settings; the event path must use the same.
	Settings translate.Settings
	// CVR is the municipality's CVR number, shown in the verify report.
	CVR string
	// Concurrency bounds the STS calls (and the OS2MO requests) in flight at once (default 8).
	Concurrency int
	// Workers bounds the bundles converged at once (default Concurrency). Set it above
	// Concurrency only when the STS client itself keeps its calls on the wire to Concurrency
	// (stsclient.Client.WithMaxInFlight): the extra bundles then sign their requests and check
	// the answers while others wait for STS, so STS's capacity is used fully.
	Workers int
	// MaxDeactivationShare is the largest share (0–1) of the active units and users in STS that
	// one sync may deactivate (default 0.10). MaxDeactivations, when set, replaces it.
	MaxDeactivationShare float64
	// MaxDeactivations, when not nil, is the most units and users one sync may deactivate.
	MaxDeactivations *int
	// Orphans says what a sync does with orphan units and with orphan users: the units and users
	// STS holds active in the municipality's hierarchy that no OS2MO unit or person accounts for.
	// The zero value deactivates both (within the guards); OrphanReport leaves them active and
	// lists them in the plan (Plan.OrphanList). Verify reports orphans as drift either way.
	Orphans OrphanPolicy
	// Keep lists STS units and users that are never ended as orphans: a listed unit with its STS
	// subtree (by Overordnet) and the orphan units above it, a listed user, and a user with an
	// active function in a kept unit's subtree. A kept orphan and the functions linked to it are
	// left as they are by every bundle, and verify counts it as kept, not as drift. A listed unit
	// or user that OS2MO accounts for is synced as usual: keeping only protects orphans.
	Keep []uuid.UUID
	// DryRun plans and reports without taking leases or writing.
	DryRun bool
	// Adopt lists, in the plan, every object written by another tool that the sync ends or
	// takes over (without it they are only counted).
	Adopt bool
	// LeaseTTL is how long a bundle stays locked if the process dies mid-write (default 2m).
	LeaseTTL time.Duration
	// Attempts bounds the tries of one STS write that fails transiently (default 3);
	// RetryDelay is the first wait between them, doubling (default 1s).
	Attempts   int
	RetryDelay time.Duration
	// MaxFailures stops the sync after this many bundles failed (default 100).
	MaxFailures int
	// HierarchyPageSize is the page size of fremsoegobjekthierarki (default 500); ListChunk the
	// UUIDs per list call (default 100).
	HierarchyPageSize int
	ListChunk         int
	// HierarchyConcurrency bounds the hierarchy pages read at once (default 1): a page of 500
	// objects of each kind takes tens of MB to parse and verify, and the pages are few (one per
	// 500 objects), so reading more at once would raise the peak memory more than it shortens
	// the sync.
	HierarchyConcurrency int
	// PersonBatch is the persons per OS2MO read (default and most moclient.MaxBatch): the sync
	// holds a few such batches translated at once.
	PersonBatch int
	// Now is the clock (default time.Now); NewID returns each write's TransactionUUID (default
	// uuid.New).
	Now   func() time.Time
	NewID func() uuid.UUID
	// Logger receives progress, problems and one audit line per STS write (default discard).
	Logger *slog.Logger
	// Progress, if set, is told how far the sync or verification has come.
	Progress func(Progress)
}

// Progress is how far one phase of a sync or verification has come.
type Progress struct {
	// Phase names what is being done ("OS2MO", "STS", "sync").
	Phase string
	// Done and Total count the phase's items (objects read, bundles converged).
	Done, Total int
}

func (o Options) withDefaults() Options {
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Workers <= 0 {
		o.Workers = o.Concurrency
	}
	if o.MaxDeactivationShare <= 0 {
		o.MaxDeactivationShare = 0.10
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = 2 * time.Minute
	}
	if o.Attempts <= 0 {
		o.Attempts = 3
	}
	if o.RetryDelay <= 0 {
		o.RetryDelay = time.Second
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 100
	}
	if o.HierarchyPageSize <= 0 {
		o.HierarchyPageSize = 500
	}
	if o.ListChunk <= 0 {
		o.ListChunk = 100
	}
	if o.HierarchyConcurrency <= 0 {
		o.HierarchyConcurrency = 1
	}
	if o.PersonBatch <= 0 || o.PersonBatch > moclient.MaxBatch {
		o.PersonBatch = moclient.MaxBatch
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.NewID == nil {
		o.NewID = uuid.New
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(Progress) {}
	}
	return o
}

// Engine runs syncs and verifications. Store (leases and last-sent records, shared with the event
// path; *state.Redis) is needed by Sync only (Verify never writes).
type Engine struct {
	MO    Source
	STS   STS
	Store converge.Store
	// Trail, if set, is the audit trail every STS write is recorded in before it is made.
	Trail   converge.Trail
	Options Options

	// retain keeps every deferred bundle translated and every object read once planned (tests
	// that inspect the snapshot after planning).
	retain bool
	// peaks, if set, records the most deferred bundles translated and STS objects held at once
	// (the memory test).
	peaks *peaks
}
