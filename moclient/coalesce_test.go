package moclient_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/moclient"
)

// TestConcurrentReadsShareRequests: many workers reading units at once share batched requests,
// and each still gets its own answer: the unit, ErrNotFound or ErrNotCurrent.
func TestConcurrentReadsShareRequests(t *testing.T) {
	e := newEnv(t, 0)
	top, child := e.fixture(t)
	c := e.client(t, nil)
	if _, err := c.OrgUnit(t.Context(), top.UUID); err != nil { // fetch the token first
		t.Fatal(err)
	}
	before := e.count.count("/graphql/v25")
	const workers = 64
	unknown := uuid.New()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for i := range workers {
		wg.Go(func() {
			var id uuid.UUID
			switch i % 3 {
			case 0:
				id = top.UUID
			case 1:
				id = child.UUID
			default:
				id = unknown
			}
			u, err := c.OrgUnit(t.Context(), id)
			switch {
			case id == unknown && !errors.Is(err, moclient.ErrNotFound):
				errs <- errors.New("unknown unit: want ErrNotFound, got " + errString(err))
			case id != unknown && (err != nil || u.UUID != id):
				errs <- errors.New("unit " + id.String() + ": " + errString(err))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.count.count("/graphql/v25") - before; n >= workers || n < 1 {
		t.Errorf("%d concurrent reads made %d requests; want fewer, shared", workers, n)
	} else {
		t.Logf("%d concurrent reads made %d requests", workers, n)
	}
}

// TestCancelledReadReturnsAtOnce: a caller whose context ends gets its cause, whatever its batch
// does.
func TestCancelledReadReturnsAtOnce(t *testing.T) {
	e := newEnv(t, 0)
	_, child := e.fixture(t)
	c := e.client(t, nil)
	ctx, cancel := context.WithCancelCause(t.Context())
	stop := errors.New("shutting down")
	cancel(stop)
	if _, err := c.OrgUnit(ctx, child.UUID); !errors.Is(err, stop) {
		t.Errorf("OrgUnit with a cancelled context = %v, want its cause", err)
	}
	if _, err := c.OrgUnit(t.Context(), child.UUID); err != nil {
		t.Errorf("the next read failed: %v", err)
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
