package moclient

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	// Europe/Copenhagen must resolve in a static container without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/cenkalti/backoff/v4"
	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/stsorgsync/stsorgsync/model"
)

// queryFiles holds the GraphQL documents the client sends, one operation per file; the operation
// name matches the file name ("OrgUnit" → org_unit.graphql is looked up by operation name at New).
//
//go:embed queries/*.graphql
var queryFiles embed.FS

// maxResponseBytes bounds how much of a response body is read.
const maxResponseBytes = 64 << 20

// Client reads OS2MO over its GraphQL API. It is safe for concurrent use.
type Client struct {
	cfg        Config
	graphqlURL string
	tokenURL   string
	loc        *time.Location
	heads      map[string][]byte // operation name → the start of its request body (requestHead)
	log        *slog.Logger
	bufs       sync.Pool // *bytes.Buffer for response bodies

	mu     sync.Mutex // guards token and expiry; held while fetching a token
	token  string
	expiry time.Time

	// units and people batch concurrent single reads (Client.OrgUnit, Client.Person).
	units  *coalescer[model.OrgUnit]
	people *coalescer[model.Person]
}

// New validates cfg (after defaults) and returns a client. It does not contact OS2MO; use
// [Client.Ping] for that.
func New(cfg Config) (*Client, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation("Europe/Copenhagen")
	if err != nil {
		return nil, fmt.Errorf("moclient: loading time zone: %w", err)
	}
	queries, err := loadQueries()
	if err != nil {
		return nil, err
	}
	heads := make(map[string][]byte, len(queries))
	for name, doc := range queries {
		if heads[name], err = requestHead(name, doc); err != nil {
			return nil, err
		}
	}
	c := &Client{
		cfg:        cfg,
		graphqlURL: fmt.Sprintf("%s/graphql/v%d", strings.TrimRight(cfg.URL, "/"), cfg.GraphQLVersion),
		tokenURL: fmt.Sprintf("%s/realms/%s/protocol/openid-connect/token",
			strings.TrimRight(cfg.AuthServer, "/"), url.PathEscape(cfg.Realm)),
		loc:   loc,
		heads: heads,
		log:   cfg.Logger,
	}
	c.units = &coalescer[model.OrgUnit]{fetch: c.orgUnits}
	c.people = &coalescer[model.Person]{fetch: c.persons}
	return c, nil
}

// loadQueries reads the embedded documents keyed by their single operation's name.
func loadQueries() (map[string]string, error) {
	out := map[string]string{}
	files, err := fs.Glob(queryFiles, "queries/*.graphql")
	if err != nil {
		return nil, fmt.Errorf("moclient: listing embedded queries: %w", err)
	}
	for _, f := range files {
		b, err := queryFiles.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("moclient: reading embedded query %s: %w", f, err)
		}
		name, err := operationName(string(b))
		if err != nil {
			return nil, fmt.Errorf("moclient: embedded query %s: %w", f, err)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("moclient: embedded query %s: operation %q defined twice", f, name)
		}
		out[name] = string(b)
	}
	return out, nil
}

// operationName finds the name of the only "query"/"mutation" operation in doc. It is a
// deliberately small scan; the schema test validates the documents properly.
func operationName(doc string) (string, error) {
	var names []string
	for line := range strings.Lines(doc) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && (fields[0] == "query" || fields[0] == "mutation") {
			names = append(names, strings.FieldsFunc(fields[1], func(r rune) bool { return r == '(' || r == '{' })[0])
		}
	}
	if len(names) != 1 {
		return "", fmt.Errorf("want exactly one named operation, found %d", len(names))
	}
	return names[0], nil
}

// Ping fetches a token and runs a trivial query, for a start-up or "check" command.
func (c *Client) Ping(ctx context.Context) error {
	var out struct {
		Version *struct {
			MOVersion *string `json:"mo_version"`
		} `json:"version"`
	}
	if err := c.do(ctx, "Ping", nil, &out); err != nil {
		return err
	}
	if out.Version == nil {
		return fmt.Errorf("moclient: Ping: response has no version")
	}
	return nil
}

// requestHead encodes the start of a GraphQL request body: a JSON object with the members
// "query" (the document, compacted) and "operationName", not yet closed. The client encodes it
// once per embedded operation, at New, so that a request encodes only its variables.
func requestHead(operation, query string) ([]byte, error) {
	q, err := json.Marshal(compactDocument(query))
	if err != nil {
		return nil, fmt.Errorf("moclient: encoding %s request: %w", operation, err)
	}
	op, err := json.Marshal(operation)
	if err != nil {
		return nil, fmt.Errorf("moclient: encoding %s request: %w", operation, err)
	}
	head := append([]byte(`{"query":`), q...)
	head = append(head, `,"operationName":`...)
	return append(head, op...), nil
}

// requestBody completes a request head with the variables, if there are any.
func requestBody(operation string, head []byte, vars map[string]any) ([]byte, error) {
	var v []byte
	if len(vars) > 0 {
		var err error
		if v, err = json.Marshal(vars); err != nil {
			return nil, fmt.Errorf("moclient: encoding %s request: %w", operation, err)
		}
	}
	body := make([]byte, 0, len(head)+len(v)+len(`,"variables":}`))
	body = append(body, head...)
	if v != nil {
		body = append(body, `,"variables":`...)
		body = append(body, v...)
	}
	return append(body, '}'), nil
}

// do runs the named embedded operation and decodes "data" into out, retrying transient failures.
func (c *Client) do(ctx context.Context, operation string, vars map[string]any, out any) error {
	head, ok := c.heads[operation]
	if !ok {
		return fmt.Errorf("moclient: no embedded query %q", operation)
	}
	return c.run(ctx, operation, head, vars, out)
}

// run sends a request (head from requestHead) and decodes "data" into out.
func (c *Client) run(ctx context.Context, operation string, head []byte, vars map[string]any, out any) error {
	body, err := requestBody(operation, head, vars)
	if err != nil {
		return err
	}
	attempt := func() error {
		if err := c.post(ctx, operation, body, out); err != nil {
			var te *TransientError
			if errors.As(err, &te) && ctx.Err() == nil {
				return err
			}
			return backoff.Permanent(err)
		}
		return nil
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.cfg.RetryDelay
	b.MaxInterval = 20 * c.cfg.RetryDelay
	b.MaxElapsedTime = 0
	policy := backoff.WithContext(backoff.WithMaxRetries(b, uint64(c.cfg.MaxAttempts-1)), ctx)
	notify := func(err error, wait time.Duration) {
		c.log.WarnContext(ctx, "OS2MO request failed, retrying", "operation", operation, "error", err, "wait", wait)
	}
	return backoff.RetryNotify(attempt, policy, notify)
}

// post sends one GraphQL request, refreshing the token once if OS2MO answers 401, and decodes
// the answer's "data" into out.
func (c *Client) post(ctx context.Context, operation string, body []byte, out any) error {
	op := fmt.Sprintf("POST %s (%s)", c.graphqlURL, operation)
	for refreshed := false; ; refreshed = true {
		tok, err := c.bearer(ctx)
		if err != nil {
			return err
		}
		buf := c.buffer()
		defer c.release(buf) // at most two: a 401 is followed by one new attempt
		start := time.Now()
		status, err := c.send(ctx, c.graphqlURL, "application/json", body, tok, buf)
		took := time.Since(start)
		respBody := buf.Bytes()
		if err != nil {
			c.observe(operation, sendResult(err), took)
			return &TransientError{Op: op, Err: err}
		}
		if status != http.StatusOK {
			c.observe(operation, statusResult(status), took)
		}
		switch {
		case status == http.StatusUnauthorized && !refreshed:
			c.log.DebugContext(ctx, "OS2MO rejected the token, fetching a new one", "operation", operation)
			c.invalidate(tok)
			continue
		case status >= 500:
			return &TransientError{Op: op, StatusCode: status, Err: errors.New(snippet(respBody))}
		case status != http.StatusOK:
			return &HTTPError{Op: op, StatusCode: status, Body: snippet(respBody)}
		}
		resp, err := decodeResponse(respBody, out)
		switch {
		case err != nil:
			c.observe(operation, ResultBadResponse, took)
			return fmt.Errorf("moclient: %s: decoding response: %w", op, err)
		case len(resp.errors) > 0:
			c.observe(operation, ResultGraphQLError, took)
			return &GraphQLError{Operation: operation, Errors: resp.errors}
		case !resp.hasData:
			c.observe(operation, ResultBadResponse, took)
			return fmt.Errorf("moclient: %s: response has neither data nor errors", op)
		case resp.dataErr != nil:
			c.observe(operation, ResultBadResponse, took)
			return fmt.Errorf("moclient: decoding %s data: %w", operation, resp.dataErr)
		}
		c.observe(operation, ResultOK, took)
		return nil
	}
}

// decoded is what decodeResponse found besides the data: the GraphQL errors, whether "data" was
// present and not null, and why it did not fit the caller's value (a type mismatch).
type decoded struct {
	errors  []GraphQLErrorItem
	hasData bool
	dataErr error
}

// decodeOptions make the JSON v2 decoder as lenient as encoding/json, which the client used
// before, where it matters: invalid UTF-8 is replaced and a repeated name is taken last, not
// refused. Unlike encoding/json, names match case-sensitively: a GraphQL answer names its fields
// exactly as the query asks for them, and every wire struct's tags are those names.
var decodeOptions = jsonv2.JoinOptions(jsontext.AllowInvalidUTF8(true), jsontext.AllowDuplicateNames(true))

// decodeResponse decodes a GraphQL response body with its "data" straight into out. The data is
// scanned and decoded once, by the JSON v2 decoder (github.com/go-json-experiment/json, the
// mirror of encoding/json/v2), instead of encoding/json decoding the body with "data" kept raw
// and then decoding that again: on the event path the Person answers were most of the daemon's
// CPU (issue 21). A malformed body is an error; a "data" that does not fit out is reported in
// dataErr.
func decodeResponse(body []byte, out any) (decoded, error) {
	var r decoded
	dec := jsontext.NewDecoder(bytes.NewBuffer(body), decodeOptions) // parses the buffer in place
	if t, err := dec.ReadToken(); err != nil {
		return r, err
	} else if t.Kind() != '{' {
		return r, fmt.Errorf("want a JSON object, got %v", t.Kind())
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return r, err
		}
		switch {
		case name.String() == "data" && dec.PeekKind() != 'n':
			r.hasData = true
			if err := jsonv2.UnmarshalDecode(dec, out); err != nil {
				var se *jsonv2.SemanticError
				if !errors.As(err, &se) {
					return r, err
				}
				// The data does not fit out, and the decoder stopped within it: the errors
				// are read from the whole body again (a bug of ours or OS2MO's, not a hot path).
				r.dataErr = err
				var rest struct {
					Errors []GraphQLErrorItem `json:"errors"`
				}
				err = jsonv2.Unmarshal(body, &rest, decodeOptions)
				r.errors = rest.Errors
				return r, err
			}
		case name.String() == "errors":
			if err := jsonv2.UnmarshalDecode(dec, &r.errors); err != nil {
				return r, err
			}
		default:
			if err := dec.SkipValue(); err != nil {
				return r, err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil { // the closing brace
		return r, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return r, errors.New("data after the JSON object")
	}
	return r, nil
}

// maxPooledBuffer is the largest response buffer the client keeps for the next response: a
// batch of persons or units fits; a large listing page is left to the garbage collector.
const maxPooledBuffer = 1 << 20

// buffer returns an empty buffer for a response body; release it with release once the body is
// decoded. Reusing the buffers saves the event path the allocation of each response (tens of
// kilobytes per batch, grown by doubling); what is decoded from a body never refers to it.
func (c *Client) buffer() *bytes.Buffer {
	if b, ok := c.bufs.Get().(*bytes.Buffer); ok {
		return b
	}
	return new(bytes.Buffer)
}

func (c *Client) release(b *bytes.Buffer) {
	if b.Cap() <= maxPooledBuffer {
		b.Reset()
		c.bufs.Put(b)
	}
}

// send performs one HTTP POST bounded by the configured timeout, reads the response body into
// buf and returns the status.
func (c *Client) send(ctx context.Context, target, contentType string, body []byte, bearer string, buf *bytes.Buffer) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxResponseBytes)); err != nil {
		return 0, fmt.Errorf("reading response body: %w", err)
	}
	return resp.StatusCode, nil
}

// bearer returns a cached token, fetching a new one when none is cached or it expires soon.
func (c *Client) bearer(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.cfg.Now().Before(c.expiry) {
		return c.token, nil
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {c.cfg.ClientID},
		"client_secret": {c.cfg.ClientSecret},
	}
	issued := c.cfg.Now()
	start := time.Now()
	buf := c.buffer()
	defer c.release(buf)
	status, err := c.send(ctx, c.tokenURL, "application/x-www-form-urlencoded", []byte(form.Encode()), "", buf)
	took := time.Since(start)
	body := buf.Bytes()
	if err != nil {
		c.observe(OperationToken, sendResult(err), took)
		return "", &TransientError{Op: "POST " + c.tokenURL, Err: err}
	}
	if status >= 500 {
		c.observe(OperationToken, ResultHTTP5xx, took)
		return "", &TransientError{Op: "POST " + c.tokenURL, StatusCode: status, Err: errors.New(snippet(body))}
	}
	if status != http.StatusOK {
		// Keycloak answers a wrong client, secret or realm with 400, 401 or 404.
		result := ResultBadResponse
		if status >= 400 {
			result = ResultAuth
		}
		c.observe(OperationToken, result, took)
		ae := &AuthError{TokenURL: c.tokenURL, StatusCode: status}
		var kc struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(body, &kc) == nil {
			ae.Code, ae.Description = kc.Error, kc.Description
		}
		return "", ae
	}
	var tr struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		c.observe(OperationToken, ResultBadResponse, took)
		return "", fmt.Errorf("moclient: decoding token response from %s: %w", c.tokenURL, err)
	}
	if tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		c.observe(OperationToken, ResultBadResponse, took)
		return "", fmt.Errorf("moclient: token response from %s lacks access_token or a positive expires_in", c.tokenURL)
	}
	c.observe(OperationToken, ResultOK, took)
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	c.token = tr.AccessToken
	c.expiry = issued.Add(lifetime - refreshMargin(lifetime))
	c.log.DebugContext(ctx, "fetched OS2MO access token", "expires_in", lifetime)
	return c.token, nil
}

// refreshMargin is how long before expiry a token is replaced: 30 s, or a fifth of short
// lifetimes.
func refreshMargin(lifetime time.Duration) time.Duration {
	return min(30*time.Second, lifetime/5)
}

// invalidate drops tok from the cache unless another request already replaced it.
func (c *Client) invalidate(tok string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token == tok {
		c.token = ""
	}
}

func snippet(b []byte) string {
	const n = 300
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	if s == "" {
		s = "(empty body)"
	}
	return s
}
