package moclient

import (
	"context"
	"errors"
	"net"
	"net/http"
	"slices"
	"time"
)

// OperationToken is the operation [Config.Observe] is given for a token request to Keycloak.
// GraphQL requests are given their operation name (see [Operations]).
const OperationToken = "token"

// The results [Config.Observe] is given: a small fixed set, fit for a metric label.
const (
	// ResultOK is an HTTP 200 with a usable answer: a token, or GraphQL data without errors.
	ResultOK = "ok"
	// ResultGraphQLError is an HTTP 200 whose GraphQL "errors" list is not empty.
	ResultGraphQLError = "graphql_error"
	// ResultAuth is HTTP 401 or 403 from OS2MO (a rejected token; a 401 is followed by one
	// token refresh and a new attempt), or a token request Keycloak refused with HTTP 4xx.
	ResultAuth = "auth"
	// ResultHTTP4xx is any other HTTP 4xx answer from OS2MO.
	ResultHTTP4xx = "http_4xx"
	// ResultHTTP5xx is an HTTP 5xx answer from OS2MO or Keycloak (retried).
	ResultHTTP5xx = "http_5xx"
	// ResultBadResponse is any other status, or an answer whose body is not a usable token or
	// GraphQL response.
	ResultBadResponse = "bad_response"
	// ResultTimeout is a request that got no complete answer within [Config.Timeout] (or before
	// the caller's deadline).
	ResultTimeout = "timeout"
	// ResultCanceled is a request abandoned because the caller's context was cancelled.
	ResultCanceled = "canceled"
	// ResultTransport is any other network failure: connection refused or reset, DNS, TLS.
	ResultTransport = "transport"
)

// Results returns every result [Config.Observe] can be given.
func Results() []string {
	return []string{ResultOK, ResultGraphQLError, ResultAuth, ResultHTTP4xx, ResultHTTP5xx,
		ResultBadResponse, ResultTimeout, ResultCanceled, ResultTransport}
}

// Operations returns, sorted, every operation [Config.Observe] can be given: the name of each
// embedded GraphQL query and [OperationToken]. If the embedded queries cannot be read (which
// [New] reports as an error) it returns only OperationToken.
func Operations() []string {
	out := []string{OperationToken}
	queries, err := loadQueries()
	if err != nil {
		return out
	}
	for name := range queries {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// observe reports one HTTP request to Config.Observe, if set.
func (c *Client) observe(operation, result string, took time.Duration) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(operation, result, took)
	}
}

// statusResult classifies a non-200 answer from OS2MO.
func statusResult(status int) string {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return ResultAuth
	case status >= 500:
		return ResultHTTP5xx
	case status >= 400:
		return ResultHTTP4xx
	}
	return ResultBadResponse
}

// sendResult classifies an error from sending a request (no HTTP answer).
func sendResult(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return ResultCanceled
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ResultTimeout
	}
	return ResultTransport
}
