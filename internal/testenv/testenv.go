// Package testenv gives integration tests isolated resources on the real RabbitMQ and Redis
// servers: a throwaway vhost per test (created through the management API and deleted at
// cleanup) and a unique Redis key prefix (its keys are deleted at cleanup).
//
// When a server is unreachable the test is skipped with instructions, except when the
// environment variable CI is "true": then it fails, so CI can never pass by skipping.
//
// Management and ManagementAt call RabbitMQ's management API, for tests that inspect or change
// the broker (ManagementAt also for a node a test started itself); CreateVHostAt and DeleteVHostAt
// make and remove a vhost through it as AMQP does, for callers that are not a test, such as the
// benchmark driver (cmd/stsbench). These return errors; they neither skip nor fail a test.
//
// Settings: TEST_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672/), TEST_RABBITMQ_API
// (default http://guest:guest@127.0.0.1:15672), TEST_REDIS_ADDR (default 127.0.0.1:6379).
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// unavailable skips the test, or fails it under CI=true.
func unavailable(t testing.TB, what string, err error) {
	t.Helper()
	msg := fmt.Sprintf("%s is not reachable (%v); start it (see README 'Running the tests': `make services`) or set %s",
		what, err, map[string]string{"RabbitMQ": "TEST_AMQP_URL / TEST_RABBITMQ_API", "Redis": "TEST_REDIS_ADDR"}[what])
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// UniqueName returns prefix + a random 8-byte hex suffix.
func UniqueName(prefix string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Redis returns a client for the test Redis server and a unique key prefix ending in ':'. Keys
// under the prefix are deleted when the test ends.
func Redis(t testing.TB) (*redis.Client, string) {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: env("TEST_REDIS_ADDR", "127.0.0.1:6379"), ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		unavailable(t, "Redis", err)
	}
	prefix := UniqueName("test:") + ":"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			client.Del(ctx, iter.Val())
		}
		_ = client.Close()
	})
	return client, prefix
}

// Broker describes an isolated vhost on the test RabbitMQ server.
type Broker struct {
	URL   string // AMQP URL including the vhost
	VHost string
}

// AMQP creates a fresh vhost for the test, grants the test user full permissions, and deletes the
// vhost (and everything in it) at cleanup.
func AMQP(t testing.TB) *Broker {
	t.Helper()
	base, err := url.Parse(env("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"))
	if err != nil {
		t.Fatalf("TEST_AMQP_URL: %v", err)
	}
	vhost := UniqueName("test-")
	user := base.User.Username()
	api := managementAPI()
	if _, err := ManagementAt(api, http.MethodPut, vhostPath(vhost), "", nil); err != nil {
		unavailable(t, "RabbitMQ", fmt.Errorf("management API: %w", err))
	}
	t.Cleanup(func() { _ = DeleteVHostAt(api, vhost) })
	if err := grantAt(api, vhost, user); err != nil {
		t.Fatalf("grant permissions on vhost %s: %v", vhost, err)
	}
	u := *base
	u.Path = "/" + vhost
	return &Broker{URL: u.String(), VHost: vhost}
}

// CreateVHostAt creates vhost through the management API at api (as ManagementAt) and grants
// user every permission on it (configure, write and read).
func CreateVHostAt(api, vhost, user string) error {
	if _, err := ManagementAt(api, http.MethodPut, vhostPath(vhost), "", nil); err != nil {
		return err
	}
	return grantAt(api, vhost, user)
}

// DeleteVHostAt deletes vhost, and everything in it, through the management API at api (as
// ManagementAt); a vhost that is already gone is no error.
func DeleteVHostAt(api, vhost string) error {
	status, err := ManagementAt(api, http.MethodDelete, vhostPath(vhost), "", nil)
	if status == http.StatusNotFound {
		return nil
	}
	return err
}

// grantAt gives user every permission on vhost.
func grantAt(api, vhost, user string) error {
	_, err := ManagementAt(api, http.MethodPut, "/api/permissions/"+url.PathEscape(vhost)+"/"+url.PathEscape(user),
		`{"configure":".*","write":".*","read":".*"}`, nil)
	return err
}

func vhostPath(vhost string) string { return "/api/vhosts/" + url.PathEscape(vhost) }

// managementAPI is TEST_RABBITMQ_API or its default.
func managementAPI() string { return env("TEST_RABBITMQ_API", "http://guest:guest@127.0.0.1:15672") }

// Management calls RabbitMQ's management API (TEST_RABBITMQ_API) at path with body (may be
// empty) and decodes a JSON answer into out (if not nil). It returns the HTTP status (0 when the
// API did not answer) and an error for anything but a 2xx answer that decodes.
func Management(method, path, body string, out any) (int, error) {
	return ManagementAt(managementAPI(), method, path, body, out)
}

// ManagementAt is Management for the management API at api (a base URL with the credentials,
// such as http://guest:guest@127.0.0.1:15672), e.g. of a node a test started itself.
func ManagementAt(api, method, path, body string, out any) (int, error) {
	u, err := url.Parse(strings.TrimSuffix(api, "/") + path)
	if err != nil {
		return 0, fmt.Errorf("management API URL: %w", err)
	}
	pw, _ := u.User.Password()
	name := u.User.Username()
	u.User = nil
	req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(name, pw)
	req.Header.Set("Content-Type", "application/json")
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: %w", method, u.Path, err)
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d: %s", method, u.Path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: decode %s: %w", method, u.Path, data, err)
		}
	}
	return resp.StatusCode, nil
}
