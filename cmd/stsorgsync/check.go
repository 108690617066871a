package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/stsorgsync/stsorgsync/moclient"
	"github.com/stsorgsync/stsorgsync/stsclient/oio"
)

// check reports, one line per dependency, whether the configured services can be reached and
// accept our credentials. The configuration and certificates are valid by now (d was built from
// them). It exits exitFailure if any dependency cannot be used.
func check(ctx context.Context, cfg Config, d *deps, out io.Writer) int {
	fmt.Fprintln(out, "configuration: ok (settings valid, certificates loaded)")
	type probe struct {
		name string
		run  func(context.Context) error
	}
	checks := []probe{
		{"RabbitMQ " + redactURLs(cfg.AMQPURL), func(ctx context.Context) error { return checkAMQP(ctx, d.amqp, out) }},
		{"Redis (" + d.redisCfg.Topology() + ")", func(ctx context.Context) error { return checkRedis(ctx, d, out) }},
		{"audit trail (stream " + cfg.AuditStream + ", retention " + cfg.AuditRetention + ")", d.trail.Ping},
		{"OS2MO " + cfg.MOURL + " (token and GraphQL)", d.mo.Ping},
	}
	if cfg.hasSource(sourceGraphQL) {
		checks = append(checks, probe{"OS2MO GraphQL events (listeners " + cfg.EventListenerPrefix + "<type>)", func(ctx context.Context) error {
			return checkListeners(ctx, d.mo, cfg, out)
		}})
	}
	if d.stsToken != nil {
		checks = append(checks, probe{"STS token " + cfg.STSTokenEndpoint + " (CVR " + cfg.STSCVR + ")", d.stsToken})
	} else {
		fmt.Fprintln(out, "STS token: skipped (STS_SECURITY=false; requests are unsigned)")
	}
	checks = append(checks, probe{"STS Organisation " + cfg.STSBaseURL + " (laes organisation " + cfg.Mapping.Organisation.String() + ")", func(ctx context.Context) error {
		_, err := d.sts.Read(ctx, oio.KindOrganisation, cfg.Mapping.Organisation)
		return err
	}})
	code := exitOK
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := c.run(cctx)
		cancel()
		if err != nil {
			fmt.Fprintf(out, "%s: FAILED: %v\n", c.name, err)
			code = exitFailure
			continue
		}
		fmt.Fprintf(out, "%s: ok\n", c.name)
	}
	return code
}

// checkListeners asks OS2MO for the daemon's event listeners: an OS2MO without the event system
// (or a client not allowed to see it) fails; listeners not declared yet are reported, not a
// failure (the daemon declares them when it starts).
func checkListeners(ctx context.Context, mo *moclient.Client, cfg Config, out io.Writer) error {
	keys := make([]string, len(cfg.AMQPRoutingKeys))
	for i, k := range cfg.AMQPRoutingKeys {
		keys[i] = cfg.EventListenerPrefix + k
	}
	found, err := mo.EventListeners(ctx, keys)
	if err != nil {
		return fmt.Errorf("%w (EVENT_SOURCE=graphql needs OS2MO's GraphQL event system; else use EVENT_SOURCE=amqp)", err)
	}
	have := map[string]bool{}
	for _, l := range found {
		have[l.UserKey] = true
	}
	var missing []string
	for _, k := range keys {
		if !have[k] {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(out, "OS2MO GraphQL events: %d of %d listeners declared; the daemon declares %s when it starts\n", len(keys)-len(missing), len(keys), strings.Join(missing, ", "))
	}
	return nil
}
