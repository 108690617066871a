package stsclient

import (
	"context"

	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// Security applies the message-security profile to envelopes. SecureRequest runs on every
// request envelope after its headers and body are final (it may add header blocks such as
// wsse:Security and sign elements by wsu:Id; nothing touches the envelope afterwards).
// VerifyResponse runs on every non-fault response envelope before its body is read; after it
// the Client requires exactly one wsa:RelatesTo naming the request's wsa:MessageID.
// Implementations must be safe for concurrent use.
type Security interface {
	SecureRequest(ctx context.Context, env *soap.Envelope) error
	VerifyResponse(ctx context.Context, env *soap.Envelope) error
}

// FaultHandler is implemented by a Security that can recover from SOAP faults, e.g. by
// dropping a cached token the service rejected. After a fault, the Client calls HandleFault with
// the request envelope it sent; if it returns true, the Client rebuilds the request (new
// MessageID), secures it again and sends it once more. A call is retried at most once.
type FaultHandler interface {
	HandleFault(ctx context.Context, req *soap.Envelope, f *soap.Fault) (retry bool)
}

// NoSecurity sends envelopes unsigned and accepts responses unverified. It is the default and
// is only fit for the fake service.
type NoSecurity struct{}

// SecureRequest does nothing.
func (NoSecurity) SecureRequest(context.Context, *soap.Envelope) error { return nil }

// VerifyResponse does nothing.
func (NoSecurity) VerifyResponse(context.Context, *soap.Envelope) error { return nil }
