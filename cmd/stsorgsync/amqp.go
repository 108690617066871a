package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/stsorgsync/stsorgsync/internal/amqpdial"
)

// validateAMQPTLS checks the combination of the AMQP TLS settings: a client certificate needs
// its key and the other way round, and none of them means anything without amqps://.
func (c Config) validateAMQPTLS() error {
	var errs []error
	if (c.AMQPCertFile == "") != (c.AMQPKeyFile == "") {
		errs = append(errs, errors.New("AMQP_CERT_FILE and AMQP_KEY_FILE go together: set both (a client certificate and its key) or neither"))
	}
	if nodes, err := amqpdial.ParseURLs(c.AMQPURL); err == nil && !amqpdial.TLS(nodes) {
		for _, s := range []struct{ name, value string }{{"AMQP_CA_FILE", c.AMQPCAFile}, {"AMQP_CERT_FILE", c.AMQPCertFile}, {"AMQP_KEY_FILE", c.AMQPKeyFile}} {
			if s.value != "" {
				errs = append(errs, fmt.Errorf("%s is set but AMQP_URL is amqp://: TLS settings apply to amqps:// only (use amqps:// and the TLS port, 5671 by default, or unset %s)", s.name, s.name))
			}
		}
	}
	return errors.Join(errs...)
}

// amqpTLS returns the client TLS configuration for AMQP_URL (nil for amqp://): TLS 1.2 or later,
// verified against AMQP_CA_FILE's CAs only when it is set (else the system's roots), with the
// client certificate of AMQP_CERT_FILE and AMQP_KEY_FILE when set. A file that cannot be read or
// does not hold what it should is a configError naming the setting.
func amqpTLS(cfg Config) (*tls.Config, error) {
	if err := cfg.validateAMQPTLS(); err != nil {
		return nil, configError{err}
	}
	nodes, err := amqpdial.ParseURLs(cfg.AMQPURL)
	if err != nil {
		return nil, configError{fmt.Errorf("AMQP_URL: %w", err)}
	}
	if !amqpdial.TLS(nodes) {
		return nil, nil
	}
	pool, certs, err := clientTLSFiles(fileSetting{"AMQP_CA_FILE", cfg.AMQPCAFile}, fileSetting{"AMQP_CERT_FILE", cfg.AMQPCertFile}, fileSetting{"AMQP_KEY_FILE", cfg.AMQPKeyFile})
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: certs}, nil
}

// amqpDialer returns the dialer of AMQP_URL's nodes and amqpTLS's configuration, which it uses
// (a configError if the TLS files are not usable).
func amqpDialer(cfg Config, logger *slog.Logger) (*amqpdial.Dialer, *tls.Config, error) {
	tc, err := amqpTLS(cfg)
	if err != nil {
		return nil, nil, err
	}
	d, err := amqpdial.New(amqpdial.Config{URLs: cfg.AMQPURL, TLS: tc, Logger: logger})
	if err != nil {
		return nil, nil, configError{fmt.Errorf("AMQP_URL: %w", err)}
	}
	return d, tc, nil
}

// checkAMQP is `check`'s RabbitMQ probe: it opens a connection and a channel on every node of
// AMQP_URL at once. With several nodes it writes one line per node (ok, or down with the cause)
// and succeeds if at least one node takes the connection, naming the nodes that are down; with
// one node it returns that node's error.
func checkAMQP(ctx context.Context, d *amqpdial.Dialer, out io.Writer) error {
	nodes := d.Nodes()
	errs := make([]error, len(nodes))
	done := make(chan struct{})
	for i := range nodes {
		go func() {
			defer func() { done <- struct{}{} }()
			conn, err := d.DialNode(ctx, i, "stsorgsync check")
			if err != nil {
				errs[i] = fmt.Errorf("connect: %w", err)
				return
			}
			defer conn.Close()
			ch, err := conn.Channel()
			if err != nil {
				errs[i] = fmt.Errorf("open channel: %w", err)
				return
			}
			errs[i] = ch.Close()
		}()
	}
	for range nodes {
		<-done
	}
	if len(nodes) == 1 {
		return errs[0]
	}
	var down []string
	for i, n := range nodes {
		if errs[i] != nil {
			down = append(down, n.Addr)
			fmt.Fprintf(out, "RabbitMQ node %s (%d of %d): down: %v\n", n.Addr, i+1, len(nodes), errs[i])
			continue
		}
		fmt.Fprintf(out, "RabbitMQ node %s (%d of %d): ok\n", n.Addr, i+1, len(nodes))
	}
	switch {
	case len(down) == len(nodes):
		return fmt.Errorf("no node of %d takes connections", len(nodes))
	case len(down) > 0:
		fmt.Fprintf(out, "RabbitMQ cluster: %d of %d nodes take connections; down: %s\n", len(nodes)-len(down), len(nodes), strings.Join(down, ", "))
	}
	return nil
}
