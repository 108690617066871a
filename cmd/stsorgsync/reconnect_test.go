package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestAMQPReconnectMax: AMQP_RECONNECT_MAX is parsed, defaults to 5s, refuses waits too short to
// be a backoff, and reaches the consumer.
func TestAMQPReconnectMax(t *testing.T) {
	tests := []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 5 * time.Second, false},
		{"2s", 2 * time.Second, false},
		{"1m", time.Minute, false},
		{"100ms", 100 * time.Millisecond, false},
		{"99ms", 0, true},
		{"0", 0, true},
		{"-1s", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := validEnv()
			env["AMQP_RECONNECT_MAX"] = tt.value
			cfg, err := loadConfig(getenvOf(env), "")
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "AMQP_RECONNECT_MAX") {
					t.Fatalf("error = %v, want one naming AMQP_RECONNECT_MAX", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("loadConfig: %v", err)
			}
			if cfg.AMQPReconnectMax != tt.want {
				t.Errorf("AMQPReconnectMax = %s, want %s", cfg.AMQPReconnectMax, tt.want)
			}
			if got := consumerConfig(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).ReconnectMax; got != tt.want {
				t.Errorf("consumer ReconnectMax = %s, want %s", got, tt.want)
			}
		})
	}
	// `stsorgsync dlq` reads the AMQP_ settings, so it checks this one too.
	env := map[string]string{"AMQP_RECONNECT_MAX": "nope"}
	if _, err := loadDLQConfig(getenvOf(env), ""); err == nil {
		t.Error("dlq accepted AMQP_RECONNECT_MAX=nope")
	}
}
