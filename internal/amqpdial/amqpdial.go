// Package amqpdial is the one way stsorgsync connects to RabbitMQ: a list of broker nodes (one
// cluster, the same user and vhost on each), tried in order, starting with the node after the one
// whose connection was last lost, so that a reconnect after a node dies moves on to the next node
// instead of waiting for the dead one to time out; verified TLS for amqps:// with an optional CA
// bundle and client certificate. The daemon's consumer, its audit trail, `stsorgsync dlq`,
// `stsorgsync audit` and `stsorgsync check` all dial through it.
package amqpdial

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultTimeout bounds one node's TCP connect, TLS and AMQP handshake when the context has no
// earlier deadline.
const DefaultTimeout = 15 * time.Second

// Node is one broker node of the list: its URL (with credentials: never log it) and its
// host:port (safe to log).
type Node struct {
	URL  string
	Addr string
}

// ParseURLs splits a comma-separated list of amqp:// or amqps:// URLs (AMQP_URL) and checks each:
// it parses, names a host, and all use the same scheme, user and vhost (the nodes of one
// cluster). An error names the 1-based position of the bad entry and never contains a password.
func ParseURLs(list string) ([]Node, error) {
	parts := strings.Split(list, ",")
	nodes := make([]Node, 0, len(parts))
	var first amqp.URI
	for i, p := range parts {
		p = strings.TrimSpace(p)
		// fail names the entry when there are several.
		fail := func(format string, args ...any) error {
			err := fmt.Errorf(format, args...)
			if len(parts) == 1 {
				return err
			}
			return fmt.Errorf("entry %d of %d: %w", i+1, len(parts), err)
		}
		if p == "" {
			return nil, fail("empty (expected comma-separated amqp:// or amqps:// URLs)")
		}
		// Neither url.Parse's nor amqp.ParseURI's errors are quoted: they can contain the URL,
		// password included.
		u, err := url.Parse(p)
		if err != nil {
			return nil, fail("expected a URL with scheme amqp or amqps such as amqp://user:password@host:5672/vhost, got one that does not parse (a reserved character in the user or password must be percent-encoded)")
		}
		if u.Scheme != "amqp" && u.Scheme != "amqps" {
			return nil, fail("expected a URL with scheme amqp or amqps, got scheme %q", u.Scheme)
		}
		if u.Hostname() == "" {
			return nil, fail("expected a URL with a host, got none")
		}
		uri, err := amqp.ParseURI(p)
		if err != nil {
			return nil, fail("expected an AMQP URL such as amqp://user:password@host:5672/vhost (check the port)")
		}
		if i == 0 {
			first = uri
		} else {
			switch {
			case uri.Scheme != first.Scheme:
				return nil, fail("%s:// but entry 1 is %s://: use amqps:// for every node or for none", uri.Scheme, first.Scheme)
			case uri.Username != first.Username:
				return nil, fail("user %q but entry 1 has %q: the nodes of one cluster share their users", uri.Username, first.Username)
			case uri.Vhost != first.Vhost:
				return nil, fail("vhost %q but entry 1 has %q: every node must name the same vhost", uri.Vhost, first.Vhost)
			}
		}
		nodes = append(nodes, Node{URL: p, Addr: net.JoinHostPort(uri.Host, strconv.Itoa(uri.Port))})
	}
	return nodes, nil
}

// TLS reports whether the nodes are amqps:// (ParseURLs makes them all the same).
func TLS(nodes []Node) bool {
	return len(nodes) > 0 && strings.HasPrefix(strings.ToLower(nodes[0].URL), "amqps:")
}

// Config configures a Dialer.
type Config struct {
	// URLs is AMQP_URL: one URL, or several comma-separated URLs of one cluster's nodes.
	URLs string
	// TLS is the client TLS configuration for amqps:// (nil: the system's roots, no client
	// certificate). It is cloned for every connection, with ServerName set to the node's host
	// unless given. Verification is never skipped.
	TLS *tls.Config
	// Heartbeat is the AMQP heartbeat (default 10s).
	Heartbeat time.Duration
	// Timeout bounds one node's dial and handshakes (default DefaultTimeout; an earlier deadline
	// of the context wins).
	Timeout time.Duration
	// Logger is told which node each connection went to (host:port only) and which nodes failed
	// (default: discards).
	Logger *slog.Logger
}

// Dialer dials the nodes of Config.URLs. It remembers the node whose connection was last lost and
// starts the next dial at the node after it. It is safe for concurrent use.
type Dialer struct {
	nodes     []Node
	tls       *tls.Config
	heartbeat time.Duration
	timeout   time.Duration
	log       *slog.Logger

	mu    sync.Mutex
	start int // the node the next Dial tries first
}

// New parses cfg.URLs (see ParseURLs) and returns a Dialer.
func New(cfg Config) (*Dialer, error) {
	nodes, err := ParseURLs(cfg.URLs)
	if err != nil {
		return nil, err
	}
	if cfg.TLS != nil && cfg.TLS.InsecureSkipVerify {
		return nil, errors.New("amqpdial: TLS verification must not be skipped")
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = 10 * time.Second
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Dialer{nodes: nodes, tls: cfg.TLS, heartbeat: cfg.Heartbeat, timeout: cfg.Timeout, log: cfg.Logger}, nil
}

// Nodes returns the configured nodes in order.
func (d *Dialer) Nodes() []Node { return append([]Node(nil), d.nodes...) }

// Dial connects to the first node that takes the connection, trying each node once, starting
// with the node after the one whose connection was last lost (or the one last connected to), and
// names the connection name in the management UI. It returns the connection and the node's
// host:port. When every node fails, the error names each node's failure (host:port only).
func (d *Dialer) Dial(ctx context.Context, name string) (*amqp.Connection, string, error) {
	d.mu.Lock()
	start := d.start
	d.mu.Unlock()
	var errs []error
	for k := range d.nodes {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		i := (start + k) % len(d.nodes)
		n := d.nodes[i]
		conn, err := d.DialNode(ctx, i, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("node %s: %w", n.Addr, err))
			if len(d.nodes) > 1 {
				d.log.Warn("amqp node refused the connection; trying the next", "node", n.Addr, "connection", name, "error", err)
			}
			continue
		}
		d.mu.Lock()
		d.start = i
		d.mu.Unlock()
		d.watch(conn, i, name)
		d.log.Info("amqp connected", "node", n.Addr, "connection", name, "nodes", len(d.nodes))
		return conn, n.Addr, nil
	}
	if len(d.nodes) == 1 {
		return nil, "", errors.Join(errs...)
	}
	return nil, "", fmt.Errorf("no node of %d took the connection: %w", len(d.nodes), errors.Join(errs...))
}

// watch moves the next dial's first node past node i when conn is closed by anything but our own
// Close (the node died, the network broke, the broker closed it).
func (d *Dialer) watch(conn *amqp.Connection, i int, name string) {
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		err, ok := <-closed
		if !ok || err == nil {
			return // closed by us
		}
		d.mu.Lock()
		if d.start == i {
			d.start = (i + 1) % len(d.nodes)
		}
		d.mu.Unlock()
		d.log.Warn("amqp connection lost", "node", d.nodes[i].Addr, "connection", name, "error", err.Reason, "code", err.Code)
	}()
}

// DialNode connects to node i of Nodes alone (for `stsorgsync check`, which reports every node);
// it does not change where Dial starts.
func (d *Dialer) DialNode(ctx context.Context, i int, name string) (*amqp.Connection, error) {
	n := d.nodes[i]
	deadline := time.Now().Add(d.timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	cfg := amqp.Config{
		Heartbeat:  d.heartbeat,
		Properties: amqp.Table{"connection_name": name},
		Dial: func(network, addr string) (net.Conn, error) {
			dctx, cancel := context.WithDeadline(ctx, deadline)
			defer cancel()
			conn, err := (&net.Dialer{}).DialContext(dctx, network, addr)
			if err != nil {
				return nil, err
			}
			// Bounds the TLS and AMQP handshakes; the client clears it once AMQP is open.
			if err := conn.SetDeadline(deadline); err != nil {
				_ = conn.Close()
				return nil, err
			}
			return conn, nil
		},
	}
	if d.tls != nil {
		// The client sets ServerName on the config it is given: each connection gets its own.
		cfg.TLSClientConfig = d.tls.Clone()
	} else if TLS(d.nodes) {
		cfg.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	return amqp.DialConfig(n.URL, cfg)
}
