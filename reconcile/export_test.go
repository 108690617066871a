package reconcile

import (
	"context"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/converge"
	"github.com/stsorgsync/stsorgsync/translate"
)

// BundleReads plans like a dry run and returns, for every bundle, its key and lookups and the
// UUIDs the snapshot's index reads for them (converge.Read over the snapshot), for the test that
// the event path's live reads agree.
func (e *Engine) BundleReads(ctx context.Context) ([]BundleRead, error) {
	o := e.Options.withDefaults()
	eng := *e
	eng.retain = true
	plan, err := eng.plan(ctx, o, false)
	if err != nil {
		return nil, err
	}
	var out []BundleRead
	for _, b := range plan.bundles {
		l := b.desired().Lookups()
		found, err := converge.Read(ctx, plan.snap.sts, l)
		if err != nil {
			return nil, err
		}
		ids := make([]uuid.UUID, 0, len(found))
		for id := range found {
			ids = append(ids, id)
		}
		out = append(out, BundleRead{Key: b.key(), Lookups: l, Found: ids})
	}
	return out, nil
}

// BundleRead is one bundle's lookups and what the snapshot read for them.
type BundleRead struct {
	Key     string
	Lookups translate.Lookups
	Found   []uuid.UUID
}

// Peaks returns a copy of e that records the most deferred person bundles it holds translated
// at once and the most STS objects its model holds, and a function reporting them.
func (e *Engine) Peaks() (*Engine, func() (translated, objects int)) {
	eng := *e
	eng.peaks = &peaks{}
	return &eng, func() (int, int) {
		return int(eng.peaks.maxTranslated.Load()), int(eng.peaks.maxObjects.Load())
	}
}

// FeedBatchesAhead is feedBatchesAhead.
const FeedBatchesAhead = feedBatchesAhead
