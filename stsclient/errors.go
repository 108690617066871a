package stsclient

import (
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// Sentinels matched by errors.Is against a *StatusError with the corresponding StatusKode.
var (
	ErrInvalidInput       = errors.New("sts: invalid input (StatusKode 40)")
	ErrUnauthorized       = errors.New("sts: not authorised (StatusKode 41)")
	ErrNotFound           = errors.New("sts: object not found (StatusKode 44)")
	ErrFutureRegistration = errors.New("sts: registration time in the future (StatusKode 45)")
	ErrInvalidVirkning    = errors.New("sts: invalid validity period (StatusKode 47)")
	ErrAlreadyExists      = errors.New("sts: object exists or is passivated (StatusKode 49)")
)

var statusSentinels = map[int]error{
	oio.StatusInvalidInput:       ErrInvalidInput,
	oio.StatusUnauthorized:       ErrUnauthorized,
	oio.StatusNotFound:           ErrNotFound,
	oio.StatusFutureRegistration: ErrFutureRegistration,
	oio.StatusInvalidVirkning:    ErrInvalidVirkning,
	oio.StatusAlreadyExists:      ErrAlreadyExists,
}

// call identifies the call an error belongs to.
type call struct {
	Kind       oio.Kind
	Operation  oio.Operation
	ObjectUUID uuid.UUID
}

func (c call) String() string {
	return fmt.Sprintf("sts %s %s %s", c.Operation, c.Kind, c.ObjectUUID)
}

// StatusError is a response whose StandardRetur StatusKode is not 20.
type StatusError struct {
	Kind       oio.Kind
	Operation  oio.Operation
	ObjectUUID uuid.UUID
	Code       int    // StatusKode
	Text       string // FejlbeskedTekst
}

// Error names the call (operation, kind, UUID), StatusKode and FejlbeskedTekst.
func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: StatusKode %d, FejlbeskedTekst %q",
		call{e.Kind, e.Operation, e.ObjectUUID}, e.Code, e.Text)
}

// Is matches the sentinel of e's StatusKode (ErrNotFound for 44, …).
func (e *StatusError) Is(target error) bool {
	s, ok := statusSentinels[e.Code]
	return ok && s == target
}

// Retryable reports whether repeating the call may succeed: false for the business outcomes 40,
// 41, 44, 47 and 49; true for 45 (the service's clock lags ours, and a later attempt carries a
// later server time) and for other codes, which the service documents as technical errors.
func (e *StatusError) Retryable() bool {
	switch e.Code {
	case oio.StatusInvalidInput, oio.StatusUnauthorized, oio.StatusNotFound,
		oio.StatusInvalidVirkning, oio.StatusAlreadyExists:
		return false
	}
	return true
}

// FaultError is a SOAP fault returned by the service (security and technical failures).
type FaultError struct {
	Kind       oio.Kind
	Operation  oio.Operation
	ObjectUUID uuid.UUID
	HTTPStatus int
	Fault      soap.Fault
}

// Error names the call, the HTTP status and the fault's code, subcode and reason.
func (e *FaultError) Error() string {
	return fmt.Sprintf("%s: HTTP %d: %v", call{e.Kind, e.Operation, e.ObjectUUID}, e.HTTPStatus, &e.Fault)
}

// Retryable reports whether the fault blames the receiver (env:Receiver), i.e. the service.
// Security faults are Sender faults and not retryable: a Client with TokenSecurity has already
// retried the call once with a fresh token when it returns one.
func (e *FaultError) Retryable() bool { return e.Fault.Code == soap.CodeReceiver }

// Security reports whether the fault is a WS-Security fault (subcode in the wsse namespace,
// e.g. InvalidSecurityToken, FailedCheck, MessageExpired): a rejected token, signature or
// timestamp, usually a configuration problem (certificates, clock).
func (e *FaultError) Security() bool { return IsSecurityFault(&e.Fault) }

// TransportError is a call that produced no usable response: a network failure or timeout, an
// HTTP error status without a SOAP fault, an oversized or malformed response, or a failure of
// the Security layer.
type TransportError struct {
	Kind       oio.Kind
	Operation  oio.Operation
	ObjectUUID uuid.UUID
	HTTPStatus int // 0 when no response arrived
	Err        error
	// Temporary reports whether a retry may succeed (network errors, timeouts, HTTP 5xx, 408,
	// 429).
	Temporary bool
}

// Error names the call, the HTTP status (if any) and the underlying error.
func (e *TransportError) Error() string {
	s := call{e.Kind, e.Operation, e.ObjectUUID}.String()
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(": HTTP %d", e.HTTPStatus)
	}
	return s + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *TransportError) Unwrap() error { return e.Err }

// Retryable returns e.Temporary.
func (e *TransportError) Retryable() bool { return e.Temporary }

// IsRetryable reports whether err (or an error it wraps) says that repeating the call may
// succeed. Errors that do not say so, including context cancellation by the caller, are not
// retryable.
func IsRetryable(err error) bool {
	var r interface{ Retryable() bool }
	return errors.As(err, &r) && r.Retryable()
}

// StatusKode returns the StatusKode STS answered (for callers that see only an error, such as
// the audit trail).
func (e *StatusError) StatusKode() int { return e.Code }
