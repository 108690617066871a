package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestOpsHandler checks the operational endpoints, and that the profiler is served only with
// HTTP_PPROF.
func TestOpsHandler(t *testing.T) {
	m := newMetrics(func() consumerStats { return nil })
	healthy := []readinessCheck{{"Redis", func(context.Context) error { return nil }}}
	broken := []readinessCheck{{"Redis", func(context.Context) error { return errors.New("connection refused") }}}
	tests := []struct {
		name   string
		checks []readinessCheck
		pprof  bool
		path   string
		want   int
	}{
		{"liveness", broken, false, "/healthz", http.StatusOK},
		{"ready", healthy, false, "/readyz", http.StatusOK},
		{"not ready", broken, false, "/readyz", http.StatusServiceUnavailable},
		{"metrics", healthy, false, "/metrics", http.StatusOK},
		{"no profiler by default", healthy, false, "/debug/pprof/", http.StatusNotFound},
		{"profiler index with HTTP_PPROF", healthy, true, "/debug/pprof/", http.StatusOK},
		{"heap profile with HTTP_PPROF", healthy, true, "/debug/pprof/heap", http.StatusOK},
		{"symbols with HTTP_PPROF", healthy, true, "/debug/pprof/symbol", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			opsHandler(m, tc.checks, tc.pprof).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
			if rec.Code != tc.want {
				t.Errorf("GET %s: HTTP %d, want %d; body %q", tc.path, rec.Code, tc.want, rec.Body.String())
			}
		})
	}
}
