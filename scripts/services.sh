#!/usr/bin/env bash
# scripts/services.sh — make sure RabbitMQ (AMQP and the management API) and Redis answer, for
# the integration tests (`make test`) and the native demo (`make demo`). Idempotent: servers
# that already answer are left alone; local servers that are installed but stopped are
# started; nothing is ever stopped.
#
# Honours the tests' settings (see internal/testenv):
#   TEST_AMQP_URL      default amqp://guest:guest@127.0.0.1:5672/
#   TEST_RABBITMQ_API  default http://guest:guest@127.0.0.1:15672 (needs rabbitmq_management)
#   TEST_REDIS_ADDR    default 127.0.0.1:6379
# Servers those point to on another host are only checked, never started.
#   SERVICES_WAIT      seconds to wait for a started server to answer, default 60
set -euo pipefail

amqp_url=${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
api_url=${TEST_RABBITMQ_API:-http://guest:guest@127.0.0.1:15672}
api_url=${api_url%/}
redis_addr=${TEST_REDIS_ADDR:-127.0.0.1:6379}
wait_s=${SERVICES_WAIT:-60}

say() { printf 'services: %s\n' "$*"; }
die() { printf 'services: %s\n' "$*" >&2; exit 1; }

# hostport URL DEFAULT_PORT -> "host port" of a URL (userinfo and path removed).
hostport() {
	local rest=${1#*://}
	rest=${rest%%/*}
	rest=${rest##*@}
	local host port
	if [[ $rest == \[* ]]; then # [::1]:5672
		host=${rest%%]*}
		host=${host#[}
		port=${rest##*]}
		port=${port#:}
	elif [[ $rest == *:* ]]; then
		host=${rest%:*}
		port=${rest##*:}
	else
		host=$rest
		port=
	fi
	printf '%s %s\n' "${host:-127.0.0.1}" "${port:-$2}"
}

# redact URL -> URL without user:password.
redact() { sed -E 's#://[^/@]*@#://#' <<<"$1"; }

is_local() { [[ $1 == 127.0.0.1 || $1 == localhost || $1 == ::1 ]]; }

# shellcheck disable=SC2016 # $1 and $2 expand in the inner shell
tcp_open() { timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null; }

amqp_up() { tcp_open "$amqp_host" "$amqp_port"; }
api_up() { curl -fsS -m 3 -o /dev/null "$api_url/api/overview" 2>/dev/null; }
rabbit_up() { amqp_up && api_up; }

redis_up() {
	if command -v redis-cli >/dev/null 2>&1; then
		[[ $(timeout 3 redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null) == PONG ]]
	else # speak RESP directly
		# shellcheck disable=SC2016 # expanded by the inner shell
		timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2" && printf "PING\r\n" >&3 && read -r line <&3 && [[ $line == +PONG* ]]' \
			_ "$redis_host" "$redis_port" 2>/dev/null
	fi
}

# wait_for NAME CHECK: poll CHECK for up to $wait_s seconds.
wait_for() {
	local name=$1 check=$2 deadline=$((SECONDS + wait_s))
	until "$check"; do
		if ((SECONDS >= deadline)); then
			return 1
		fi
		sleep 1
	done
	say "$name is up after $((SECONDS - started))s"
}

find_cmd() { # find_cmd NAME: path of an sbin tool even when sbin is not on PATH
	command -v "$1" 2>/dev/null || { [[ -x /usr/sbin/$1 ]] && echo "/usr/sbin/$1"; } || { [[ -x /usr/lib/rabbitmq/bin/$1 ]] && echo "/usr/lib/rabbitmq/bin/$1"; } || true
}

not_installed() { # not_installed WHAT PACKAGE VAR
	die "$1 is not reachable and not installed here. Install it (Debian/Ubuntu: sudo apt-get install $2),
          or point $3 at a running server."
}

read -r amqp_host amqp_port < <(hostport "$amqp_url" 5672)
read -r api_host _ < <(hostport "$api_url" 15672)
read -r redis_host redis_port < <(hostport "redis://$redis_addr" 6379)
started=$SECONDS

# --- RabbitMQ ---------------------------------------------------------------------------------
if rabbit_up; then
	say "RabbitMQ is up (amqp $amqp_host:$amqp_port, management $(redact "$api_url"))"
else
	if ! is_local "$amqp_host" || ! is_local "$api_host"; then
		amqp_up || die "RabbitMQ at $amqp_host:$amqp_port (TEST_AMQP_URL) is not reachable; start it there, or unset TEST_AMQP_URL to use a local server."
		die "RabbitMQ's management API at $(redact "$api_url") (TEST_RABBITMQ_API) does not answer; enable it there: rabbitmq-plugins enable rabbitmq_management"
	fi
	server=$(find_cmd rabbitmq-server)
	plugins=$(find_cmd rabbitmq-plugins)
	[[ -n $server && -n $plugins ]] || not_installed RabbitMQ rabbitmq-server "TEST_AMQP_URL and TEST_RABBITMQ_API"
	if [[ $EUID -ne 0 ]] && [[ $(id -un) != rabbitmq ]]; then
		die "RabbitMQ is installed but not answering; starting it needs root: sudo $0"
	fi
	if amqp_up; then
		# The broker runs but the management API does not answer: enable the plugin on the node.
		say "enabling rabbitmq_management on the running node"
		"$plugins" -q enable rabbitmq_management >/dev/null
	else
		say "starting RabbitMQ (rabbitmq-server -detached)"
		"$plugins" -q enable --offline rabbitmq_management >/dev/null
		# Fails harmlessly when the node is already booting; the wait below decides.
		"$server" -detached >/dev/null 2>&1 || true
	fi
	wait_for RabbitMQ rabbit_up || die "RabbitMQ did not answer on $amqp_host:$amqp_port and $(redact "$api_url") within ${wait_s}s; see /var/log/rabbitmq/ (rabbitmqctl status)"
fi

# --- Redis ------------------------------------------------------------------------------------
if redis_up; then
	say "Redis is up ($redis_host:$redis_port)"
else
	is_local "$redis_host" || die "Redis at $redis_host:$redis_port (TEST_REDIS_ADDR) is not reachable; start it there, or unset TEST_REDIS_ADDR to use a local server."
	server=$(find_cmd redis-server)
	[[ -n $server ]] || not_installed Redis "redis-server redis-tools" TEST_REDIS_ADDR
	say "starting Redis on 127.0.0.1:$redis_port (no persistence)"
	"$server" --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no >/dev/null
	wait_for Redis redis_up || die "Redis did not answer on 127.0.0.1:$redis_port within ${wait_s}s"
fi
