package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/translate"
)

// stsService is STS Organisation as the daemon uses it: stsclient.Client with every call counted
// (metrics); it serves pipeline.STS and reconcile.STS.
type stsService struct {
	client  *stsclient.Client
	observe func(kind, operation, result string, took time.Duration)
	now     func() time.Time
}

// ReadMany reads the objects of one kind in bulk (list, chunked by the client) and returns the
// ones that exist and are not passivated or deleted; the others are (re)created with importer.
func (w *stsService) ReadMany(ctx context.Context, kind oio.Kind, ids []uuid.UUID) (map[uuid.UUID]*oio.Object, error) {
	start := w.now()
	objs, err := w.client.List(ctx, kind, ids)
	w.observe(string(kind), string(oio.OpList), resultOf(err), w.now().Sub(start))
	if err != nil {
		return nil, markUnavailable(err)
	}
	for id, obj := range objs {
		if !obj.Exists() {
			delete(objs, id)
		}
	}
	return objs, nil
}

// Search returns every object matching the template (soeg, all pages).
func (w *stsService) Search(ctx context.Context, in oio.SoegInput) ([]uuid.UUID, error) {
	start := w.now()
	ids, err := w.client.SearchAll(ctx, in, stsclient.DefaultSearchPageSize)
	w.observe(string(in.Kind), string(oio.OpSoeg), resultOf(err), w.now().Sub(start))
	if err != nil {
		return nil, markUnavailable(err)
	}
	return ids, nil
}

// Apply performs one planned operation.
func (w *stsService) Apply(ctx context.Context, op translate.Operation) error {
	start := w.now()
	if op.TransactionUUID != uuid.Nil {
		ctx = stsclient.WithTransactionUUID(ctx, op.TransactionUUID)
	}
	var err error
	switch op.Op {
	case translate.OpImport:
		err = w.client.Import(ctx, &op.Object)
	case translate.OpUpdate:
		err = w.client.Update(ctx, &op.Object)
	default:
		return fmt.Errorf("unknown STS operation %q", op.Op)
	}
	w.observe(string(op.Object.Kind), string(op.Op), resultOf(err), w.now().Sub(start))
	return markUnavailable(err)
}

// unavailableError marks an STS error that says the service did not answer (network failure,
// timeout, HTTP 5xx without a SOAP answer): it feeds the consumer's circuit breaker
// (consumer.Unavailable) and stays retryable.
type unavailableError struct{ err error }

func (e unavailableError) Error() string     { return e.err.Error() }
func (e unavailableError) Unwrap() error     { return e.err }
func (e unavailableError) Retryable() bool   { return true }
func (e unavailableError) Unavailable() bool { return true }

// markUnavailable wraps err in unavailableError when it is a temporary transport failure.
func markUnavailable(err error) error {
	var transport *stsclient.TransportError
	if errors.As(err, &transport) && transport.Temporary {
		return unavailableError{err}
	}
	return err
}

// resultOf is the metrics label of a call's outcome: "ok", the StatusKode, or the error type.
func resultOf(err error) string {
	var status *stsclient.StatusError
	var fault *stsclient.FaultError
	var transport *stsclient.TransportError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &status):
		return fmt.Sprintf("status_%d", status.Code)
	case errors.As(err, &fault):
		return "soap_fault"
	case errors.As(err, &transport):
		return "transport"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}
