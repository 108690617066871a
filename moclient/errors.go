package moclient

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrNotFound means OS2MO does not know the UUID at all (the query returned no objects). For a
// change event this means the object was deleted bitemporally or never existed.
var ErrNotFound = errors.New("moclient: object not found in OS2MO")

// ErrNotCurrent means OS2MO knows the object but it is not in effect now (terminated, or valid
// only in the future).
var ErrNotCurrent = errors.New("moclient: object is not currently valid in OS2MO")

// ErrUnsupportedObjectType is returned (wrapped) by [Client.Owners] for an object type it cannot
// resolve to owners (e.g. "class", "facet", "itsystem").
var ErrUnsupportedObjectType = errors.New("moclient: object type has no owner look-up")

// GraphQLError is an answer of HTTP 200 whose "errors" list is non-empty: a query OS2MO
// rejected (validation) or failed to resolve. The client does not retry it itself; see
// [GraphQLError.Retryable].
type GraphQLError struct {
	// Operation is the GraphQL operation name, e.g. "OrgUnit".
	Operation string
	// Errors are the reported errors, in order.
	Errors []GraphQLErrorItem
}

// GraphQLErrorItem is one entry of a GraphQL "errors" list.
type GraphQLErrorItem struct {
	// Message is the error text.
	Message string `json:"message"`
	// Path is the response path of the failing field, e.g. ["org_units", "objects", 0]; empty for
	// validation errors.
	Path []any `json:"path,omitempty"`
}

// Error implements error.
func (e *GraphQLError) Error() string {
	msgs := make([]string, 0, len(e.Errors))
	for _, it := range e.Errors {
		if len(it.Path) > 0 {
			msgs = append(msgs, fmt.Sprintf("%s (at %s)", it.Message, formatPath(it.Path)))
		} else {
			msgs = append(msgs, it.Message)
		}
	}
	return fmt.Sprintf("moclient: GraphQL %s: %s", e.Operation, strings.Join(msgs, "; "))
}

// Retryable reports whether a later attempt may succeed: false when every error is a
// validation error (no path: the query itself is wrong and stays wrong), true when some field
// failed while executing (it has a path), which in OS2MO can be a passing database or upstream
// problem.
func (e *GraphQLError) Retryable() bool {
	for _, it := range e.Errors {
		if len(it.Path) > 0 {
			return true
		}
	}
	return false
}

// Messages returns the error messages in order.
func (e *GraphQLError) Messages() []string {
	out := make([]string, len(e.Errors))
	for i, it := range e.Errors {
		out[i] = it.Message
	}
	return out
}

func formatPath(p []any) string {
	var b strings.Builder
	for i, el := range p {
		switch v := el.(type) {
		case float64:
			fmt.Fprintf(&b, "[%d]", int(v))
		default:
			if i > 0 {
				b.WriteByte('.')
			}
			fmt.Fprint(&b, v)
		}
	}
	return b.String()
}

// TransientError is a failure that may succeed when retried later: a network error or an HTTP
// 5xx answer (from OS2MO or Keycloak). The client has already retried it MaxAttempts times.
type TransientError struct {
	// Op describes the request, e.g. "POST http://mo/graphql/v25 (OrgUnit)".
	Op string
	// StatusCode is the HTTP status, or 0 for a network error.
	StatusCode int
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *TransientError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("moclient: %s: HTTP %d (transient): %v", e.Op, e.StatusCode, e.Err)
	}
	return fmt.Sprintf("moclient: %s (transient): %v", e.Op, e.Err)
}

// Unwrap returns the underlying error.
func (e *TransientError) Unwrap() error { return e.Err }

// Retryable reports true: a later attempt may succeed.
func (e *TransientError) Retryable() bool { return true }

// AuthError is a token request Keycloak rejected (HTTP 4xx), typically because of wrong client
// credentials or an unknown realm. It is not retryable.
type AuthError struct {
	// TokenURL is the token endpoint that was called.
	TokenURL string
	// StatusCode is the HTTP status.
	StatusCode int
	// Code and Description are Keycloak's "error" and "error_description", when given.
	Code, Description string
}

// Error implements error.
func (e *AuthError) Error() string {
	detail := e.Code
	if e.Description != "" {
		detail += ": " + e.Description
	}
	if detail == "" {
		detail = "no error details"
	}
	return fmt.Sprintf("moclient: token request to %s rejected with HTTP %d (%s); check ClientID, ClientSecret, AuthServer and Realm",
		e.TokenURL, e.StatusCode, detail)
}

// Retryable reports false: credentials or configuration must be fixed first.
func (e *AuthError) Retryable() bool { return false }

// HTTPError is an unexpected non-retryable HTTP answer from OS2MO (4xx other than a 401 that a
// token refresh fixed).
type HTTPError struct {
	// Op describes the request.
	Op string
	// StatusCode is the HTTP status.
	StatusCode int
	// Body is the start of the response body.
	Body string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("moclient: %s: unexpected HTTP %d: %s", e.Op, e.StatusCode, e.Body)
}

// Retryable reports whether the status suggests a later attempt may succeed (408 Request Timeout,
// 429 Too Many Requests); other 4xx answers are permanent.
func (e *HTTPError) Retryable() bool {
	return e.StatusCode == http.StatusRequestTimeout || e.StatusCode == http.StatusTooManyRequests
}
