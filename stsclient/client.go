package stsclient

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/beevik/etree"
	"github.com/google/uuid"

	"github.com/stsorgsync/stsorgsync/stsclient/oio"
	"github.com/stsorgsync/stsorgsync/stsclient/soap"
)

// transactionKey is the context key of WithTransactionUUID.
type transactionKey struct{}

// WithTransactionUUID returns a context whose calls send id as RequestHeader/TransactionUUID
// instead of a fresh one, so the caller can log the id of a write and find it in KOMBIT's logs.
func WithTransactionUUID(ctx context.Context, id uuid.UUID) context.Context {
	return context.WithValue(ctx, transactionKey{}, id)
}

// transactionUUID returns the context's transaction id, or a new one.
func (c *Client) transactionUUID(ctx context.Context) string {
	if id, ok := ctx.Value(transactionKey{}).(uuid.UUID); ok && id != uuid.Nil {
		return id.String()
	}
	return c.cfg.NewID().String()
}

// Client calls the Organisation 6 object services. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string // BaseURL without trailing slash
	// wire, when not nil, holds a slot per request on the wire (WithMaxInFlight).
	wire chan struct{}
}

// WithMaxInFlight returns a client that shares c's configuration, transport and security but
// has at most n requests on the wire at once: a slot is taken after the request is built and
// signed and given back once the response is read, before it is parsed and its signature
// checked. A caller can so run more calls than n at once, and the signing and checking of some
// overlap the service time of others, while the service never sees more than n. n < 1 means
// no bound. The bound is the returned client's own; c and other clients made from it are not
// counted in it.
func (c *Client) WithMaxInFlight(n int) *Client {
	l := &Client{cfg: c.cfg, base: c.base}
	if n > 0 {
		l.wire = make(chan struct{}, n)
	}
	return l
}

// send posts req once a slot on the wire is free (WithMaxInFlight) and reads the response body,
// at most limit+1 bytes. The slot is held from sending until the body is read.
func (c *Client) send(req *http.Request, limit int64) (*http.Response, []byte, error) {
	if c.wire != nil {
		select {
		case c.wire <- struct{}{}:
			defer func() { <-c.wire }()
		case <-req.Context().Done():
			return nil, nil, req.Context().Err()
		}
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return resp, nil, &readError{err: err}
	}
	return resp, data, nil
}

// readError marks a failure to read a response body (as against sending the request).
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// New validates cfg, applies defaults and returns a Client.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/")}, nil
}

// Endpoint returns the URL requests for kind are posted to (and the wsa:To value):
// {BaseURL}/organisation/{kind}/6/.
func (c *Client) Endpoint(k oio.Kind) string {
	return c.base + "/organisation/" + string(k) + "/6/"
}

// roundTrip sends payload as op on kind and returns the checked output element of a response
// whose StandardRetur is 20. The returned element stays attached to its envelope document. If
// the Security is a FaultHandler that asks for it, a call answered with a SOAP fault is sent
// once more (as a new message).
func (c *Client) roundTrip(ctx context.Context, id call, payload *etree.Element) (out *etree.Element, err error) {
	start := c.cfg.Now()
	attempts := 0
	defer func() {
		c.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "sts call",
			slog.String("kind", string(id.Kind)), slog.String("operation", string(id.Operation)),
			slog.String("uuid", id.ObjectUUID.String()), slog.Duration("duration", c.cfg.Now().Sub(start)),
			slog.Int("attempts", attempts), slog.Any("error", err))
	}()
	handler, _ := c.cfg.Security.(FaultHandler)
	for {
		attempts++
		send := payload
		if handler != nil && attempts == 1 {
			send = payload.Copy() // keep the original for a retry
		}
		var req *soap.Envelope
		out, req, err = c.attempt(ctx, id, send)
		var fe *FaultError
		if attempts == 1 && handler != nil && errors.As(err, &fe) && handler.HandleFault(ctx, req, &fe.Fault) {
			c.cfg.Logger.LogAttrs(ctx, slog.LevelDebug, "sts call retried after fault",
				slog.String("kind", string(id.Kind)), slog.String("operation", string(id.Operation)),
				slog.String("fault", fe.Fault.Error()))
			continue
		}
		return out, err
	}
}

// attempt sends one request; it returns the request envelope along with the outcome.
func (c *Client) attempt(ctx context.Context, id call, payload *etree.Element) (*etree.Element, *soap.Envelope, error) {
	transportErr := func(status int, temporary bool, err error) error {
		return &TransportError{Kind: id.Kind, Operation: id.Operation, ObjectUUID: id.ObjectUUID,
			HTTPStatus: status, Temporary: temporary, Err: err}
	}

	action := soap.Action(id.Kind, id.Operation)
	endpoint := c.Endpoint(id.Kind)
	transactionID := c.transactionUUID(ctx)
	messageID := "urn:uuid:" + c.cfg.NewID().String()
	env := soap.New(soap.Addressing{
		Action:          action,
		TransactionUUID: transactionID,
		MessageID:       messageID,
		ReplyTo:         soap.AnonymousAddress,
		To:              endpoint,
	}, payload)
	if err := c.cfg.Security.SecureRequest(ctx, env); err != nil {
		// A token service that failed transiently makes the call retryable.
		return nil, env, transportErr(0, IsRetryable(err), fmt.Errorf("secure request: %w", err))
	}
	body, err := env.Bytes()
	if err != nil {
		return nil, env, transportErr(0, false, fmt.Errorf("serialise envelope: %w", err))
	}

	callCtx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, env, transportErr(0, false, fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", soap.ContentType(action))
	resp, data, err := c.send(req, c.cfg.MaxResponseBytes)
	var rerr *readError
	switch {
	case errors.As(err, &rerr):
		return nil, env, transportErr(resp.StatusCode, ctx.Err() == nil, fmt.Errorf("read response: %w", rerr.err))
	case err != nil:
		// The caller's own cancellation is not retryable; our timeout and network errors are.
		return nil, env, transportErr(0, ctx.Err() == nil, fmt.Errorf("post %s: %w", endpoint, err))
	}
	if int64(len(data)) > c.cfg.MaxResponseBytes {
		return nil, env, transportErr(resp.StatusCode, false,
			fmt.Errorf("response exceeds %d bytes", c.cfg.MaxResponseBytes))
	}

	renv, perr := soap.Parse(data)
	if perr == nil {
		if f := renv.Fault(); f != nil {
			return nil, env, &FaultError{Kind: id.Kind, Operation: id.Operation, ObjectUUID: id.ObjectUUID,
				HTTPStatus: resp.StatusCode, Fault: *f}
		}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, env, transportErr(resp.StatusCode, temporaryStatus(resp.StatusCode),
			fmt.Errorf("unexpected HTTP status: %s", snippet(data)))
	}
	if perr != nil {
		return nil, env, transportErr(resp.StatusCode, false, perr)
	}
	if err := c.cfg.Security.VerifyResponse(ctx, renv); err != nil {
		return nil, env, transportErr(resp.StatusCode, false, fmt.Errorf("verify response: %w", err))
	}
	if err := checkRelatesTo(renv, messageID); err != nil {
		return nil, env, transportErr(resp.StatusCode, false, fmt.Errorf("verify response: %w", err))
	}
	out, err := renv.Payload()
	if err != nil {
		return nil, env, transportErr(resp.StatusCode, false, err)
	}
	ret, err := oio.UnmarshalOutput(id.Kind, id.Operation, out)
	if err != nil {
		return nil, env, transportErr(resp.StatusCode, false, fmt.Errorf("response: %w", err))
	}
	if !ret.OK() {
		return nil, env, &StatusError{Kind: id.Kind, Operation: id.Operation, ObjectUUID: id.ObjectUUID,
			Code: ret.StatusKode, Text: ret.FejlbeskedTekst}
	}
	return out, env, nil
}

// checkRelatesTo requires a response to name the request it answers: exactly one wsa:RelatesTo,
// equal to the request's wsa:MessageID (as the token client and KOMBIT's own client require).
// Without this check an earlier response, validly signed and with its Timestamp still fresh,
// could be replayed as the answer to a later request. The signature's coverage of RelatesTo is
// checked by the Security (TokenSecurity.VerifyResponse).
func checkRelatesTo(env *soap.Envelope, messageID string) error {
	var relatesTo []string
	if env.Header != nil {
		for _, h := range env.Header.ChildElements() {
			if h.Tag == "RelatesTo" && h.NamespaceURI() == soap.NSAddressing {
				relatesTo = append(relatesTo, strings.TrimSpace(h.Text()))
			}
		}
	}
	switch {
	case len(relatesTo) == 0:
		return fmt.Errorf("the response does not name the request: it has no wsa:RelatesTo (the request's "+
			"wsa:MessageID was %s); it may be a replayed earlier response", messageID)
	case len(relatesTo) > 1:
		return fmt.Errorf("the response does not name the request unambiguously: it has %d wsa:RelatesTo "+
			"headers %q (the request's wsa:MessageID was %s)", len(relatesTo), relatesTo, messageID)
	case relatesTo[0] != messageID:
		return fmt.Errorf("the response does not name the request: its wsa:RelatesTo is %s, but the request's "+
			"wsa:MessageID was %s; it answers another request (a replayed or misrouted response)", relatesTo[0], messageID)
	}
	return nil
}

// temporaryStatus reports whether an HTTP status without a SOAP fault is worth retrying.
func temporaryStatus(code int) bool {
	return code >= 500 || code == http.StatusRequestTimeout || code == http.StatusTooManyRequests
}

// snippet returns the start of a response body for error messages.
func snippet(data []byte) string {
	const max = 200
	s := strings.TrimSpace(string(data))
	if len(s) > max {
		s = s[:max] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return fmt.Sprintf("%q", s)
}
