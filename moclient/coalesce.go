package moclient

import (
	"context"
	"sync"

	"github.com/google/uuid"
)

// maxBatchesInFlight is how many batched reads of one object type a Client has in flight at
// once. Single reads (Client.OrgUnit, Client.Person) that arrive while that many are under way
// wait and go together in the next request, so concurrent workers share requests instead of
// each paying for one: at low load a read goes out at once, alone; under load the batches grow
// (up to MaxBatch) and the number of requests stays bounded.
const maxBatchesInFlight = 2

// coalescer turns concurrent single reads of one object type into batched requests.
type coalescer[T any] struct {
	fetch func(context.Context, []uuid.UUID) (map[uuid.UUID]read[T], error)

	mu       sync.Mutex
	pending  []*waiter[T]
	inFlight int
}

// waiter is one single read waiting for its batch.
type waiter[T any] struct {
	id    uuid.UUID
	done  chan struct{}
	r     read[T]
	known bool // OS2MO knows the UUID
	err   error
}

// get reads one object: its state (nil when it is not in effect now), whether OS2MO knows it,
// or the error of its batch (or its own, when OS2MO's answer for it was unusable). It returns
// early, with ctx's cause, when ctx ends; the batch goes on for the others.
func (c *coalescer[T]) get(ctx context.Context, id uuid.UUID) (*T, bool, error) {
	if ctx.Err() != nil {
		return nil, false, context.Cause(ctx) // ended already: ask OS2MO nothing
	}
	w := &waiter[T]{id: id, done: make(chan struct{})}
	c.mu.Lock()
	c.pending = append(c.pending, w)
	start := c.inFlight < maxBatchesInFlight
	if start {
		c.inFlight++
	}
	c.mu.Unlock()
	if start {
		// The batch serves other callers too, so it does not end with this caller's context
		// (the client's request timeout bounds it).
		go c.drain(context.WithoutCancel(ctx))
	}
	select {
	case <-w.done:
		if w.err != nil {
			return nil, false, w.err
		}
		return w.r.val, w.known, w.r.err
	case <-ctx.Done():
		return nil, false, context.Cause(ctx)
	}
}

// drain sends the waiting reads, up to MaxBatch per request, until none are left.
func (c *coalescer[T]) drain(ctx context.Context) {
	for {
		c.mu.Lock()
		n := min(len(c.pending), MaxBatch)
		if n == 0 {
			c.inFlight--
			c.pending = nil
			c.mu.Unlock()
			return
		}
		batch := c.pending[:n:n]
		c.pending = c.pending[n:]
		c.mu.Unlock()

		ids := make([]uuid.UUID, 0, len(batch))
		seen := make(map[uuid.UUID]bool, len(batch))
		for _, w := range batch {
			if !seen[w.id] {
				seen[w.id] = true
				ids = append(ids, w.id)
			}
		}
		got, err := c.fetch(ctx, ids)
		for _, w := range batch {
			if err != nil {
				w.err = err
			} else {
				w.r, w.known = got[w.id]
			}
			close(w.done)
		}
	}
}
