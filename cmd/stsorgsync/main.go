// Command stsorgsync keeps KOMBIT's STS Organisation in step with a municipality's OS2MO.
//
// Usage:
//
//	stsorgsync [--config FILE] run       consume OS2MO events and write STS Organisation
//	stsorgsync [--config FILE] check     validate the configuration and report what can be reached
//	stsorgsync [--config FILE] sync [--dry-run] [--adopt] [--max-deactivations N] [--orphans POLICY]
//	                                     bring all of STS Organisation in line with OS2MO
//	stsorgsync [--config FILE] verify [--json] [--html FILE]
//	                                     compare STS Organisation with OS2MO (exit 0 in sync, 1 drift, 2 error)
//	stsorgsync [--config FILE] dlq list|export|replay [flags]
//	                                     inspect, export and replay the dead-letter queue
//	stsorgsync settings                  print every setting with its default and meaning
//	stsorgsync [--config FILE] healthcheck [--ready]
//	                                     GET the daemon's /healthz (or /readyz) for container health checks
//	stsorgsync version                   print the version (also --version)
//	stsorgsync completion bash|zsh|fish|powershell
//	                                     print a shell completion script
//	stsorgsync help [command]            help for any command (also -h/--help)
//
// Configuration comes from environment variables, optionally from a KEY=VALUE file named by
// --config or STSORGSYNC_CONFIG (the environment wins; an unknown key in the file is an error).
// dlq reads only LOG_LEVEL and the AMQP_ settings, healthcheck only HTTP_LISTEN. See README.md.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// Exit codes.
const (
	exitOK          = 0
	exitFailure     = 1 // runtime failure, or `check` found something unreachable
	exitConfig      = 2 // invalid configuration or usage
	exitUnclean     = 3 // shutdown deadline hit: in-flight events were cancelled and requeued
	defaultLogLevel = slog.LevelInfo
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs through a process-wide logger (a Sentinel's switch of master, a failed
	// dial); here, before any client exists, it becomes a JSON record like every other line.
	redis.SetLogger(redisLog{newLogger(os.Stderr, "warn").With("component", "redis")})
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// redisLog writes go-redis's log lines (redis.SetLogger) as warnings of logger.
type redisLog struct{ logger *slog.Logger }

// Printf logs one line of go-redis.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.logger.WarnContext(ctx, "redis client", "detail", strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: "))
}
