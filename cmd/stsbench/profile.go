package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profileResult says where the daemon's CPU went during an initial load and, when profiled
// apart, a no-op storm after it.
type profileResult struct {
	Source      string   `json:"source"` // how it was captured
	Units       int      `json:"units"`
	Persons     int      `json:"persons"`
	Files       []string `json:"files"`
	WallSeconds float64  `json:"load_wall_seconds"`
	TopFlat     []string `json:"load_top_flat"`
	TopCum      []string `json:"load_top_cum"`
	// The no-op storm after the load (when the daemon ran in the test binary).
	NoOpEvents     int      `json:"noop_events,omitempty"`
	NoOpEventType  string   `json:"noop_event_type,omitempty"`
	NoOpPerSecond  float64  `json:"noop_events_per_second,omitempty"`
	NoOpFiles      []string `json:"noop_files,omitempty"`
	NoOpTopFlat    []string `json:"noop_top_flat,omitempty"`
	NoOpTopCum     []string `json:"noop_top_cum,omitempty"`
	NoOpDaemonCPUs float64  `json:"noop_daemon_cpu_seconds,omitempty"`
}

// hasPprof reports whether the daemon serves net/http/pprof (the proposed HTTP_PPROF setting).
func (d *daemon) hasPprof() bool {
	resp, err := http.Get(d.ops + "/debug/pprof/")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode == http.StatusOK
}

// capture records consecutive CPU profiles of a daemon over HTTP until stop is called; pprof
// merges them.
type capture struct {
	files []string
	err   error
	stopC chan struct{}
	wg    sync.WaitGroup
}

func startCapture(ctx context.Context, d *daemon, dir string) *capture {
	c := &capture{stopC: make(chan struct{})}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-c.stopC:
				return
			case <-ctx.Done():
				return
			default:
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-cpu-%03d.pprof", d.name, i))
			if err := fetchProfile(ctx, d.ops+"/debug/pprof/profile?seconds=5", path); err != nil {
				c.err = err
				return
			}
			c.files = append(c.files, path)
		}
	}()
	return c
}

func (c *capture) stop() ([]string, error) {
	close(c.stopC)
	c.wg.Wait()
	return c.files, c.err
}

func fetchProfile(ctx context.Context, url, path string) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
