package stsclient

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"
)

// Defaults applied by Config.WithDefaults (and so by New) to zero-valued settings.
const (
	// DefaultTimeout bounds one call. OS2sync uses 3-minute timeouts for Organisation calls,
	// which can take tens of seconds under load.
	DefaultTimeout = 3 * time.Minute
	// DefaultMaxResponseBytes bounds the response body read per call.
	DefaultMaxResponseBytes = 16 << 20
	// DefaultMaxListIDs is the most UUIDs List sends in one list call. OS2sync reads users in
	// bulks of 50 and clamps its setting to at most 100.
	DefaultMaxListIDs = 100
)

// Config configures a Client. BaseURL is required; zero values of the other fields get
// defaults.
type Config struct {
	// BaseURL is the service root, e.g. "https://organisation.eksterntest-stoettesystemerne.dk";
	// calls go to {BaseURL}/organisation/{kind}/6/.
	BaseURL string
	// HTTPClient sends the requests; default a new http.Client without its own timeout (Timeout
	// is applied per call through the request context).
	HTTPClient *http.Client
	// Timeout bounds each call; default DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for registration times of imports; default time.Now.
	Now func() time.Time
	// NewID generates MessageIDs and TransactionUUIDs; default uuid.New.
	NewID func() uuid.UUID
	// Logger receives one debug record per call; default discards.
	Logger *slog.Logger
	// MaxResponseBytes bounds the response body; a larger response fails the call. Default
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// Security secures requests and verifies responses; default NoSecurity.
	Security Security
	// MaxListIDs is the most UUIDs per list call; List splits longer requests into several
	// calls. Default DefaultMaxListIDs.
	MaxListIDs int
}

// WithDefaults returns a copy of c with defaults filled in for zero-valued settings.
func (c Config) WithDefaults() Config {
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.NewID == nil {
		c.NewID = uuid.New
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if c.Security == nil {
		c.Security = NoSecurity{}
	}
	if c.MaxListIDs == 0 {
		c.MaxListIDs = DefaultMaxListIDs
	}
	return c
}

// Validate reports configuration errors: a missing or non-absolute http(s) BaseURL, or
// negative Timeout, MaxResponseBytes or MaxListIDs. It does not apply defaults.
func (c Config) Validate() error {
	var errs []error
	if c.BaseURL == "" {
		errs = append(errs, errors.New("BaseURL is required"))
	} else if u, err := url.Parse(c.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("BaseURL: %w", err))
	} else if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("the BaseURL %q must be an absolute http(s) URL", c.BaseURL))
	} else if u.RawQuery != "" || u.Fragment != "" {
		errs = append(errs, fmt.Errorf("the BaseURL %q must not have a query or fragment", c.BaseURL))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("negative Timeout %v", c.Timeout))
	}
	if c.MaxResponseBytes < 0 {
		errs = append(errs, fmt.Errorf("negative MaxResponseBytes %d", c.MaxResponseBytes))
	}
	if c.MaxListIDs < 0 {
		errs = append(errs, fmt.Errorf("negative MaxListIDs %d", c.MaxListIDs))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stsclient config: %w", err)
	}
	return nil
}
