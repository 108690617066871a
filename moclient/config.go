package moclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied by [Config.WithDefaults] (and so by [New]) to zero-valued settings.
const (
	DefaultGraphQLVersion = 25
	DefaultRealm          = "mo"
	DefaultTimeout        = 30 * time.Second
	DefaultMaxAttempts    = 3
	DefaultRetryDelay     = 250 * time.Millisecond
	DefaultPageSize       = 500
)

// Config configures a [Client]. Zero values get the defaults above; URL, AuthServer, ClientID and
// ClientSecret are required.
type Config struct {
	// URL is OS2MO's base URL, e.g. "http://mo-service:5000"; the client posts to
	// {URL}/graphql/v{GraphQLVersion}.
	URL string
	// GraphQLVersion pins the GraphQL API version. Only 25 is supported: the embedded queries are
	// validated against the v25 schema.
	GraphQLVersion int
	// AuthServer is Keycloak's base URL, e.g. "http://keycloak-service:8080/auth"; tokens come from
	// {AuthServer}/realms/{Realm}/protocol/openid-connect/token.
	AuthServer string
	// Realm is the Keycloak realm (default "mo").
	Realm string
	// ClientID and ClientSecret are the Keycloak client credentials.
	ClientID, ClientSecret string
	// Timeout bounds each HTTP attempt (token or GraphQL request), default 30 s.
	Timeout time.Duration
	// MaxAttempts bounds the attempts for a request that fails transiently (HTTP 5xx, network
	// error), default 3; 1 disables retrying.
	MaxAttempts int
	// RetryDelay is the initial back-off between attempts (doubling, with jitter), default 250 ms.
	RetryDelay time.Duration
	// PageSize is the limit per page for paginated reads (listings, a unit's persons, a subtree),
	// default 500.
	PageSize int
	// HTTPClient is used for all requests; default a new client without its own timeout (Timeout
	// is applied per attempt through the request context).
	HTTPClient *http.Client
	// EngagementUnitAddresses makes [Client.Person] also read the addresses of each engagement's
	// unit (UnitSummary.Addresses), for a user's location taken from the unit it works in
	// (translate.Settings.EngagementAddressTypes). Off, they are not read.
	EngagementUnitAddresses bool
	// Now is the clock used for token expiry; default time.Now.
	Now func() time.Time
	// Logger receives debug and warning logs; default discards.
	Logger *slog.Logger
	// Observe, if set, is called once for every HTTP request the client sends: each GraphQL
	// request (every attempt of a retried request, every page of a listing) with its operation
	// name (see [Operations]), and each token request with [OperationToken]; result is one of
	// [Results] and took is how long the request took. It is called synchronously on the
	// requesting goroutine, sometimes with the token lock held, so it must be fast and safe for
	// concurrent use; it is meant for metrics. Nil observes nothing.
	Observe func(operation, result string, took time.Duration)
}

// WithDefaults returns a copy of c with defaults filled in for zero-valued settings.
func (c Config) WithDefaults() Config {
	if c.GraphQLVersion == 0 {
		c.GraphQLVersion = DefaultGraphQLVersion
	}
	if c.Realm == "" {
		c.Realm = DefaultRealm
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.RetryDelay == 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.PageSize == 0 {
		c.PageSize = DefaultPageSize
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every invalid setting of c (after defaults); each message names the setting.
func (c Config) Validate() error {
	var errs []error
	if err := checkBaseURL(c.URL); err != nil {
		errs = append(errs, fmt.Errorf("moclient: URL: %w", err))
	}
	if err := checkBaseURL(c.AuthServer); err != nil {
		errs = append(errs, fmt.Errorf("moclient: AuthServer: %w", err))
	}
	if c.GraphQLVersion != DefaultGraphQLVersion {
		errs = append(errs, fmt.Errorf("moclient: GraphQLVersion: %d is not supported, only %d (the queries are validated against that schema)", c.GraphQLVersion, DefaultGraphQLVersion))
	}
	if c.Realm == "" {
		errs = append(errs, errors.New("moclient: Realm: must not be empty"))
	}
	if c.ClientID == "" {
		errs = append(errs, errors.New("moclient: ClientID: must not be empty"))
	}
	if c.ClientSecret == "" {
		errs = append(errs, errors.New("moclient: ClientSecret: must not be empty"))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("moclient: Timeout: must be positive, got %v", c.Timeout))
	}
	if c.MaxAttempts < 1 || c.MaxAttempts > 10 {
		errs = append(errs, fmt.Errorf("moclient: MaxAttempts: must be between 1 and 10, got %d", c.MaxAttempts))
	}
	if c.PageSize < 1 || c.PageSize > 10000 {
		errs = append(errs, fmt.Errorf("moclient: PageSize: must be between 1 and 10000, got %d", c.PageSize))
	}
	if c.RetryDelay < 0 {
		errs = append(errs, fmt.Errorf("moclient: RetryDelay: must not be negative, got %v", c.RetryDelay))
	}
	return errors.Join(errs...)
}

func checkBaseURL(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("invalid URL %q: %w", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an http or https URL", s)
	}
	if u.Host == "" {
		return fmt.Errorf("%q has no host", s)
	}
	return nil
}
