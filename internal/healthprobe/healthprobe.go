// Package healthprobe implements the `healthcheck` mode of the project's commands: an HTTP GET of
// the process's own health endpoint, so that container health checks work in distroless images,
// which have no shell or curl.
package healthprobe

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// URL returns the health URL of a server listening on listen (":9090", "0.0.0.0:9090",
// "127.0.0.1:9090"): a wildcard or empty host becomes 127.0.0.1.
func URL(listen, path string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen address %q: %w", listen, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + path, nil
}

// Check GETs url and returns nil when it answers 2xx within timeout.
func Check(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health check %s: %w", url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("health check %s: HTTP %d: %s", url, resp.StatusCode, body)
	}
	return nil
}

// Probe is the whole healthcheck mode of a command named program that listens on listen: it
// checks path with a 3-second timeout and returns the process exit code, 0 when healthy and 1
// (after a message on stderr) otherwise.
func Probe(ctx context.Context, program, listen, path string, stderr io.Writer) int {
	url, err := URL(listen, path)
	if err == nil {
		err = Check(ctx, url, 3*time.Second)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", program, err)
		return 1
	}
	return 0
}
