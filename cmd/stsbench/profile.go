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

// profileResult are the daemon's CPU profiles: during an event-driven initial load and during a
// no-op storm.
type profileResult struct {
	Load *cpuProfile `json:"initial_load,omitempty"`
	NoOp *cpuProfile `json:"noop_storm,omitempty"`
}

// cpuProfile is one CPU profile of a daemon over a measured span, with pprof's tops.
type cpuProfile struct {
	Source           string   `json:"source"` // how it was captured
	What             string   `json:"what"`   // the span profiled
	Files            []string `json:"files"`
	WallSeconds      float64  `json:"wall_seconds"`
	Events           int      `json:"events"`
	EventsPerSecond  float64  `json:"events_per_second"`
	DaemonCPUSeconds float64  `json:"daemon_cpu_seconds"`
	TopFlat          []string `json:"top_flat"`
	TopCum           []string `json:"top_cum"`
}

// tops runs pprof over the files: the top 15 by own time and the top 25 by cumulative time.
func (c *cpuProfile) tops(ctx context.Context, goBin string) error {
	var err error
	if c.TopFlat, err = pprofTop(ctx, goBin, c.Files, 15, false); err != nil {
		return err
	}
	c.TopCum, err = pprofTop(ctx, goBin, c.Files, 25, true)
	return err
}

// merge returns p with q's profiles added (p may be nil).
func (p *profileResult) merge(q *profileResult) *profileResult {
	if q == nil {
		return p
	}
	if p == nil {
		c := *q
		return &c
	}
	if q.Load != nil {
		p.Load = q.Load
	}
	if q.NoOp != nil {
		p.NoOp = q.NoOp
	}
	return p
}

func (p *profileResult) load() *cpuProfile {
	if p == nil {
		return nil
	}
	return p.Load
}

func (p *profileResult) noop() *cpuProfile {
	if p == nil {
		return nil
	}
	return p.NoOp
}

// hasPprof reports whether the daemon serves net/http/pprof (HTTP_PPROF=true).
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

func startCapture(ctx context.Context, d *daemon, dir, label string) *capture {
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
			path := filepath.Join(dir, fmt.Sprintf("%s-%s-cpu-%03d.pprof", d.name, label, i))
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
