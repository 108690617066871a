package healthprobe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestURL(t *testing.T) {
	tests := []struct {
		listen, want string
		wantErr      bool
	}{
		{":9090", "http://127.0.0.1:9090/healthz", false},
		{"0.0.0.0:8081", "http://127.0.0.1:8081/healthz", false},
		{"[::]:8081", "http://127.0.0.1:8081/healthz", false},
		{"10.0.0.5:5000", "http://10.0.0.5:5000/healthz", false},
		{"9090", "", true},
	}
	for _, tt := range tests {
		got, err := URL(tt.listen, "/healthz")
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("URL(%q) = %q, %v; want %q, error %v", tt.listen, got, err, tt.want, tt.wantErr)
		}
	}
}

func TestCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			return
		}
		http.Error(w, "redis unreachable", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	if err := Check(context.Background(), srv.URL+"/ok", time.Second); err != nil {
		t.Errorf("healthy server: %v", err)
	}
	err := Check(context.Background(), srv.URL+"/bad", time.Second)
	if err == nil || !strings.Contains(err.Error(), "503") || !strings.Contains(err.Error(), "redis unreachable") {
		t.Errorf("unhealthy server: got %v, want HTTP 503 with the body", err)
	}
}
