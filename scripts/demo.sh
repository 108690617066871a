#!/usr/bin/env bash
# scripts/demo.sh — the stack of docker-compose.yml, natively: RabbitMQ and Redis (started by
# scripts/services.sh if needed), fakests, stsorgsync and fakemo. stsorgsync runs with the
# mapping settings of scripts/demo.env; fakemo's municipality has data for each of them.
#
# With DEMO_SOURCE=graphql (the default, what a current OS2MO offers) fakemo runs with AMQP off
# like a current OS2MO; stsorgsync declares its GraphQL event listeners, `stsorgsync sync` loads
# the municipality (the first start's initial load), then the script changes units in OS2MO
# through fakemo's API and waits until the changes have come through OS2MO's GraphQL events into
# STS. With DEMO_SOURCE=amqp fakemo publishes one AMQP event per seeded unit and person to the
# os2mo exchange and the daemon loads everything from those events. Either way the script prints
# the units in the fake STS Organisation and what the daemon did, runs `stsorgsync verify` (it
# must find STS in sync with OS2MO) and a short summary, then stops everything and exits 0.
#
# stsorgsync's settings for the stack are written to .demo/stsorgsync.env (mode 0600; it holds
# the demo's passwords): the daemon runs with exactly that file, and the CLI can be pointed at the
# running stack with it (DEMO_KEEP=1), e.g. `bin/stsorgsync --config .demo/stsorgsync.env check`.
# Settings in the caller's environment are cleared first (they would take precedence over the
# file); the mapping settings come from DEMO_ENV.
#
# Each run gets its own RabbitMQ vhost and Redis key prefix, both removed at the end, so the
# demo never touches the tests' or another run's queues and keys. Logs: .demo/*.log.
#
#   DEMO_KEEP=1      keep everything running after the check, until Ctrl-C (or SIGTERM)
#   DEMO_DIR=.demo   directory of the logs, the settings file and the fake's certificates
#   DEMO_UNITS=40    units fakemo generates;  DEMO_SEED=1  its generator seed
#   DEMO_PERSONS=120 persons fakemo generates (with engagements, AD accounts, addresses)
#   DEMO_ENV=scripts/demo.env   mapping settings added to stsorgsync's configuration
#                    (DEMO_ENV= runs the defaults)
#   DEMO_SOURCE=graphql  stsorgsync's EVENT_SOURCE: graphql or amqp (see above)
#   DEMO_TIMEOUT=60  seconds to wait for the units to arrive in STS
#   DEMO_STS_PORT=18081 DEMO_MO_PORT=15000 DEMO_HTTP_PORT=19090
#                    first port tried for fakests, fakemo and stsorgsync (127.0.0.1); the next
#                    free one is used when it is taken
# plus services.sh's TEST_AMQP_URL, TEST_RABBITMQ_API and TEST_REDIS_ADDR.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
bin=$root/bin
logs=${DEMO_DIR:-$root/.demo}
logs=$(mkdir -p "$logs" && cd "$logs" && pwd)
shown=${logs#"$root"/} # $logs as printed: relative to the repository when inside it

keep=${DEMO_KEEP:-0}
units=${DEMO_UNITS:-40}
persons=${DEMO_PERSONS:-120}
demo_env=${DEMO_ENV-$root/scripts/demo.env}
seed=${DEMO_SEED:-1}
timeout_s=${DEMO_TIMEOUT:-60}
source=${DEMO_SOURCE:-graphql}
[[ $source == graphql || $source == amqp ]] || { echo "demo: DEMO_SOURCE must be graphql or amqp, not $source" >&2; exit 2; }
amqp_base=${TEST_AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}
api=${TEST_RABBITMQ_API:-http://guest:guest@127.0.0.1:15672}
api=${api%/}
redis_addr=${TEST_REDIS_ADDR:-127.0.0.1:6379}
org_uuid=3b0d2b7f-6c2f-4c8e-9a55-2f6b8f1c0a11 # the municipality's Organisation in STS
cvr=29189846
mo_client_id=dipex                                  # motest.DefaultClientID
mo_client_secret=603f1c82-d012-4d04-9382-dbe659c533fb # motest.DefaultClientSecret

if [[ -t 1 ]]; then bold=$'\033[1m' plain=$'\033[0m'; else bold="" plain=""; fi
say() { printf '%sdemo:%s %s\n' "$bold" "$plain" "$*"; }
fail() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

for tool in curl jq redis-cli go; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (Debian: apt-get install curl jq redis-tools)"
done

# --- state for cleanup ------------------------------------------------------------------------
declare -A pid=()  # name -> pid of the processes this script started
vhost=""
prefix=""
pki=""
redis_host=${redis_addr%:*}
redis_port=${redis_addr##*:}
sts_rc=""

# stop NAME: SIGTERM, wait up to 20 s (stsorgsync drains in-flight events), then SIGKILL.
stop() {
	local name=$1 p=${pid[$1]:-} rc=0 i
	[[ -n $p ]] || return 0
	unset "pid[$name]"
	if kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$p" 2>/dev/null; then
			printf 'demo: %s did not stop within 20s; killing it\n' "$name" >&2
			kill -KILL "$p" 2>/dev/null || true
		fi
	fi
	wait "$p" 2>/dev/null || rc=$?
	if [[ $name == stsorgsync ]]; then sts_rc=$rc; fi
	return 0
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	# The daemon first, so it can finish in-flight events while the fakes still answer.
	stop stsorgsync
	stop fakemo
	stop fakests
	if [[ -n $vhost ]]; then
		curl -fsS -m 10 -o /dev/null -X DELETE "$api/api/vhosts/$vhost" ||
			printf 'demo: could not delete RabbitMQ vhost %s\n' "$vhost" >&2
	fi
	if [[ -n $pki ]]; then rm -rf "$pki"; fi
	rm -f "$logs/stsorgsync.env" # holds the p12 password
	if [[ -n $prefix ]]; then
		redis-cli -h "$redis_host" -p "$redis_port" --scan --pattern "${prefix}*" |
			xargs -r redis-cli -h "$redis_host" -p "$redis_port" del >/dev/null
	fi
	if [[ -n $sts_rc && $sts_rc != 0 && $rc == 0 ]]; then
		printf 'demo: stsorgsync exited with code %s, want 0 (see %s/stsorgsync.log)\n' "$sts_rc" "$logs" >&2
		rc=1
	fi
	if [[ -n $sts_rc ]]; then say "stopped (stsorgsync exit code $sts_rc); logs in $shown/"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port FIRST: FIRST, or the next port on 127.0.0.1 nobody listens on.
free_port() {
	local p
	for ((p = $1; p < $1 + 100; p++)); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	fail "no free port in $1..$(($1 + 99))"
}

# wait_until SECONDS WHAT NAME CMD...: poll CMD every 0.2 s; fail early if process NAME died.
wait_until() {
	local secs=$1 what=$2 name=$3 deadline
	shift 3
	deadline=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		if ! kill -0 "${pid[$name]}" 2>/dev/null; then
			tail -n 20 "$logs/$name.log" >&2
			fail "$name exited while waiting for $what (log: $shown/$name.log)"
		fi
		((SECONDS < deadline)) || fail "timed out after ${secs}s waiting for $what (logs: $shown/)"
		sleep 0.2
	done
}

# start NAME ENV... -- ARGS...: run bin/NAME in the background, stderr+stdout to $logs/NAME.log.
start() {
	local name=$1
	shift
	local env=()
	while [[ $1 != -- ]]; do env+=("$1"); shift; done
	shift
	env "${env[@]}" "$bin/$name" "$@" >"$logs/$name.log" 2>&1 &
	pid[$name]=$!
}

# --- 1. servers and binaries ------------------------------------------------------------------
"$root/scripts/services.sh"
say "building bin/stsorgsync bin/fakemo bin/fakests"
mkdir -p "$bin" "$logs"
go build -ldflags "-X main.version=demo" -o "$bin/" ./cmd/stsorgsync ./cmd/fakemo ./cmd/fakests

# stsorgsync reads its environment before the --config file: clear the caller's stsorgsync
# settings (and their NAME_FILE forms), so that the demo runs with exactly the settings file
# (an STS_BASE_URL or AMQP_URL left in a shell must not point the demo at a real service).
# shellcheck disable=SC2016 # the backquotes are sed's, not the shell's
mapfile -t setting_names < <("$bin/stsorgsync" settings | sed -nE 's/^\| `([A-Z][A-Z0-9_]*)`.*/\1/p')
((${#setting_names[@]} > 0)) || fail "bin/stsorgsync settings listed no settings"
for name in "${setting_names[@]}"; do unset "$name" "${name}_FILE"; done

run_id=$(date +%s)-$$
vhost=stsorgsync-demo-$run_id
prefix=stsorgsync-demo:$run_id:
amqp_user=$(sed -E 's#^amqps?://([^:@/]*).*#\1#' <<<"$amqp_base")
amqp_url=$(sed -E 's#^(amqps?://[^/]*).*#\1#' <<<"$amqp_base")/$vhost
curl -fsS -m 10 -o /dev/null -X PUT "$api/api/vhosts/$vhost" ||
	{ vhost=""; fail "could not create a RabbitMQ vhost through the management API (TEST_RABBITMQ_API)"; }
curl -fsS -m 10 -o /dev/null -X PUT -H 'content-type: application/json' \
	-d '{"configure":".*","write":".*","read":".*"}' "$api/api/permissions/$vhost/$amqp_user" ||
	fail "could not grant $amqp_user access to vhost $vhost"
say "RabbitMQ vhost $vhost, Redis key prefix $prefix"

sts_addr=127.0.0.1:$(free_port "${DEMO_STS_PORT:-18081}")
http_addr=127.0.0.1:$(free_port "${DEMO_HTTP_PORT:-19090}")
mo_addr=127.0.0.1:$(free_port "${DEMO_MO_PORT:-15000}")

# --- 2. fake STS, then the daemon ---------------------------------------------------------------
# The fake STS runs with KOMBIT's security profile: it creates its own CA, token-service and
# service certificates in $pki and issues the daemon an organisation certificate (client.p12).
# The municipality's Organisation object is there from the start, as in a municipality's STS
# Organisation (`stsorgsync check` reads it; the daemon writes units and users belonging to it).
pki=$(mktemp -d "$logs/pki.XXXXXX")
p12_password=demo-$RANDOM$RANDOM
start fakests FAKESTS_CLIENT_P12_PASSWORD="$p12_password" -- -listen "$sts_addr" -security \
	-pki-dir "$pki" -write-client-p12 "$pki/client.p12" -client-cvr "$cvr" -organisation "$org_uuid"
wait_until 15 "fakests on $sts_addr" fakests curl -fsS -m 2 "http://$sts_addr/healthz"
say "fakests listening on http://$sts_addr (WS-Security required; certificates in ${pki#"$root"/})"

# stsorgsync's whole configuration in one file, which the daemon runs with and the CLI can be
# pointed at (`bin/stsorgsync --config .demo/stsorgsync.env verify`): the stack's settings, then
# DEMO_ENV's. Only settings (`stsorgsync settings`); created readable by the owner alone (the
# umask, so it never exists with wider permissions), removed when the demo stops.
config=$logs/stsorgsync.env
rm -f "$config"
saved_umask=$(umask)
umask 077
{
	echo "# stsorgsync's settings for the stack scripts/demo.sh started $(date '+%F %T'); removed when it stops."
	echo "# Use: bin/stsorgsync --config ${config#"$root"/} check   (settings in the environment take precedence)"
	echo "LOG_LEVEL=info"
	echo "HTTP_LISTEN=$http_addr"
	echo "AMQP_URL=$amqp_url"
	echo "EVENT_SOURCE=$source"
	echo "REDIS_URL=redis://$redis_addr/0"
	echo "REDIS_KEY_PREFIX=$prefix"
	echo "MO_URL=http://$mo_addr"
	echo "MO_AUTH_SERVER=http://$mo_addr/auth"
	echo "MO_CLIENT_ID=$mo_client_id"
	echo "MO_CLIENT_SECRET=$mo_client_secret"
	echo "STS_BASE_URL=http://$sts_addr"
	echo "STS_CVR=$cvr"
	echo "STS_ORGANISATION_UUID=$org_uuid"
	echo "STS_P12_FILE=$pki/client.p12"
	echo "STS_P12_PASSWORD=$p12_password"
	echo "STS_TOKEN_ENDPOINT=http://$sts_addr/runtime/services/kombittrust/14/certificatemixed"
	echo "STS_TOKEN_ENTITY_ID=https://saml.fakests.invalid/runtime"
	echo "STS_TOKEN_CERT_FILE=$pki/sts.pem"
	echo "STS_SERVICE_CERT_FILE=$pki/service.pem"
	echo "SHUTDOWN_TIMEOUT=10s"
	if [[ -n $demo_env ]]; then
		echo "# mapping settings from ${demo_env#"$root"/}"
		grep -v '^[[:space:]]*\(#\|$\)' "$demo_env"
	fi
} >"$config"
umask "$saved_umask"

# fakemo_start [ARGS...]: the fake OS2MO with the seeded municipality.
fakemo_start() {
	start fakemo FAKEMO_CLIENT_ID="$mo_client_id" FAKEMO_CLIENT_SECRET="$mo_client_secret" "$@" -- \
		-listen "$mo_addr" -units "$units" -persons "$persons" -seed "$seed" -unit-accounts "${fakemo_args[@]}"
	wait_until 15 "fakemo on $mo_addr" fakemo curl -fsS -m 2 "http://$mo_addr/healthz"
}
stsorgsync_start() {
	start stsorgsync -- --config "$config" run
	# Ready means: the queue is declared and bound, Redis answers, the STS token is issued and
	# (graphql) the event listeners are declared in OS2MO.
	wait_until 30 "stsorgsync /readyz on $http_addr" stsorgsync curl -fsS -m 2 "http://$http_addr/readyz"
	say "stsorgsync ready on http://$http_addr (EVENT_SOURCE=$source)"
}
units_in_sts() { curl -fsS -m 5 "http://$sts_addr/_inspect/objects/organisationenhed" | jq length; }
users_in_sts() { curl -fsS -m 5 "http://$sts_addr/_inspect/objects/bruger" | jq length; }
metric_sum() { curl -fsS -m 5 "http://$http_addr/metrics" | awk -v re="$1" '$0 ~ re { n += $NF } END { print n + 0 }'; }
# Every event taken in and every event stsorgsync queued itself (a unit's cascade) settled.
settled() { metric_sum '^stsorgsync_events_total\\{'; }
# wait_settled WHAT EXPECTED-CMD: until settled ≥ the number EXPECTED-CMD prints.
wait_settled() {
	local what=$1 started=$SECONDS
	shift
	until [[ $(settled) -ge $("$@") ]]; do
		kill -0 "${pid[stsorgsync]}" 2>/dev/null || fail "stsorgsync exited (log: $shown/stsorgsync.log)"
		if ((SECONDS - started >= timeout_s)); then
			tail -n 20 "$logs/stsorgsync.log" >&2
			fail "after ${timeout_s}s $(settled) of $("$@") events settled waiting for $what; STS has $(units_in_sts) units (logs: $shown/)"
		fi
		sleep 0.5
	done
	say "$what: settled after $((SECONDS - started))s"
}
fakemo_args=()

if [[ $source == amqp ]]; then
	# --- 3. the daemon, then fake OS2MO publishes its seed over AMQP ------------------------------
	# Only in this order: OS2MO's exchange drops events while no queue is bound. stsorgsync reads
	# OS2MO only while handling an event, and fakemo listens before it publishes the first one.
	stsorgsync_start
	fakemo_args=(-publish-seed)
	fakemo_start FAKEMO_AMQP_URL="$amqp_url"
	say "fakemo listening on http://$mo_addr, publishing $units org_unit and $persons person events"
	seed_expected() { metric_sum '^stsorgsync_cascade_events_total ' | awk -v p="$((units + persons))" '{ print $1 + p }'; }
	wait_settled "the AMQP events of $units units and $persons persons" seed_expected
	say "$(units_in_sts) units and $(users_in_sts) users in STS Organisation"
else
	# --- 3. fake OS2MO (AMQP off, as a current OS2MO), the daemon, the initial load ----------------
	fakemo_start
	say "fakemo listening on http://$mo_addr (GraphQL events; AMQP off)"
	stsorgsync_start
	say "OS2MO event listeners: $(curl -fsS -m 5 "http://$mo_addr/api/events" | jq -r '[.listeners[].user_key] | join(", ")')"
	"$bin/stsorgsync" --config "$config" sync >"$logs/sync.txt" 2>"$logs/sync.log" ||
		{ tail -n 20 "$logs/sync.log" >&2; fail "stsorgsync sync (the initial load) failed (logs: $shown/sync.*)"; }
	say "initial load by stsorgsync sync: $(units_in_sts) units and $(users_in_sts) users in STS Organisation"

	# --- 4. changes in OS2MO arrive through its GraphQL events --------------------------------------
	# Three exported units (in STS under OS2MO's UUID; the top unit and units whose STS UUID comes
	# from UUID_FROM_IT_SYSTEMS are left out) are renamed through fakemo's API.
	mapfile -t renamed < <(curl -fsS -m 5 "http://$sts_addr/_inspect/objects/organisationenhed" |
		jq -r '[.[] | select((.parent // "") != "")] | sort_by(.name) | .[].uuid' |
		while read -r id; do
			if curl -fsS -m 5 -o /dev/null "http://$mo_addr/api/org_unit/$id"; then echo "$id"; fi
		done | head -n 3)
	((${#renamed[@]} == 3)) || fail "found ${#renamed[@]} exported units to rename, want 3"
	base=$(settled) cbase=$(metric_sum '^stsorgsync_cascade_events_total ')
	for i in "${!renamed[@]}"; do
		curl -fsS -m 5 -o /dev/null -X POST -H 'content-type: application/json' \
			-d "{\"uuid\": \"${renamed[$i]}\", \"name\": \"Omdøbt i OS2MO $((i + 1))\"}" "http://$mo_addr/api/org_unit" ||
			fail "renaming unit ${renamed[$i]} through fakemo's API failed"
	done
	say "renamed ${#renamed[@]} units in OS2MO; OS2MO holds their events for stsorgsync's listeners"
	change_expected() { metric_sum '^stsorgsync_cascade_events_total ' | awk -v b="$base" -v cb="$cbase" '{ print b + 3 + $1 - cb }'; }
	wait_settled "3 renames through OS2MO's GraphQL events" change_expected
	for i in "${!renamed[@]}"; do
		name=$(curl -fsS -m 5 "http://$sts_addr/_inspect/objects/organisationenhed" | jq -r --arg id "${renamed[$i]}" '.[] | select(.uuid == $id) | .name')
		[[ $name == "Omdøbt i OS2MO $((i + 1))" ]] || fail "unit ${renamed[$i]} is \"$name\" in STS, want \"Omdøbt i OS2MO $((i + 1))\""
	done
	say "STS Organisation has the 3 new names; OS2MO events acknowledged: $(metric_sum '^stsorgsync_mo_events_total\\{step="acknowledged"'), pending in OS2MO: $(curl -fsS -m 5 "http://$mo_addr/api/events" | jq '[.listeners[].pending] | add')"
fi

# --- 5. show the result -------------------------------------------------------------------------
echo
# The units as a tree (children indented under their parent), padded in jq so that names with
# æ, ø and å line up too.
curl -fsS "http://$sts_addr/_inspect/objects/organisationenhed" | jq -r '
	. as $all
	| (map({key: .uuid, value: .name}) | from_entries) as $name
	| def rows($p; $depth):
		($all | map(select((.parent // "") == $p)) | sort_by(.name)[])
		| [.uuid, ("  " * $depth) + .name, ($name[.parent // ""] // "-"), (.gyldighed // "")],
		  rows(.uuid; $depth + 1);
	[["UUID", "NAME", "PARENT", "GYLDIGHED"]]
	+ [rows(""; 0)]
	# units whose parent is not in STS (there should be none) would be missing from the tree
	+ [$all[] | select((.parent // "") != "" and $name[.parent] == null)
		| [.uuid, .name, .parent + " (not in STS)", (.gyldighed // "")]]
	| (transpose | map(map(length) | max)) as $w
	| .[] | [to_entries[] | .value + " " * ($w[.key] - (.value | length))] | join("  ")
	| sub(" +$"; "")'
# --- 6. verify: STS Organisation must match OS2MO under the demo's settings -------------------------
verify_rc=0
"$bin/stsorgsync" --config "$config" verify >"$logs/verify.txt" 2>"$logs/verify.log" || verify_rc=$?
if ((verify_rc != 0)); then
	head -n 40 "$logs/verify.txt" >&2
	tail -n 5 "$logs/verify.log" >&2
	fail "stsorgsync verify exited $verify_rc, want 0: STS Organisation differs from OS2MO (report: $shown/verify.txt)"
fi

# --- 7. summary: what arrived, what it cost, what is left (read from the stack, not assumed) ------
count_in_sts() { curl -fsS -m 5 "http://$sts_addr/_inspect/objects/$1" | jq length; }
# metric_by NAME LABEL: "value label-value" per label value of the counter NAME, summed, largest first.
metric_by() {
	curl -fsS -m 5 "http://$http_addr/metrics" | awk -v name="$1" -v label="$2" '
		index($0, name "{") == 1 && match($0, label "=\"[^\"]*\"") {
			v = substr($0, RSTART + length(label) + 2, RLENGTH - length(label) - 3); n[v] += $NF
		}
		END { for (v in n) if (n[v] > 0) printf "%d %s\n", n[v], v }' | sort -rn
}
# joined: "a 1, b 2" from lines "1 a" / "2 b".
joined() { awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $2, $1 }'; }
sts_calls=$(curl -fsS -m 5 "http://$sts_addr/_inspect/calls")
events_done=$(metric_by stsorgsync_events_total outcome)
# dlq list's first line: "... is empty", or the number of messages (a table of them follows).
if dlq=$("$bin/stsorgsync" --config "$config" dlq list 2>"$logs/dlq.log"); then
	dlq=${dlq%%$'\n'*}
else
	dlq="could not be read (log: $shown/dlq.log)"
fi
say "summary"
printf '  %-24s %s units, %s users, %s functions, %s persons, %s addresses, and the municipality'"'"'s Organisation\n' \
	"fake STS Organisation" "$(count_in_sts organisationenhed)" "$(count_in_sts bruger)" \
	"$(count_in_sts organisationfunktion)" "$(count_in_sts person)" "$(count_in_sts adresse)"
callers="sync, daemon and verify"
if [[ $source == amqp ]]; then callers="daemon and verify"; fi
printf '  %-24s %s SOAP calls (%s): %s\n' "calls to the fake STS" "$(jq .total <<<"$sts_calls")" "$callers" \
	"$(jq -r '.calls | to_entries | group_by(.key | split("/")[1])
		| map({n: (map(.value) | add), op: (.[0].key | split("/")[1])}) | sort_by(-.n) | .[] | "\(.n) \(.op)"' <<<"$sts_calls" | joined)"
cascades=$(metric_sum '^stsorgsync_cascade_events_total ')
printf '  %-24s %s settled (%s)%s\n' "events (daemon)" "$(awk '{ n += $1 } END { print n + 0 }' <<<"$events_done")" \
	"$(joined <<<"$events_done")" "$(if ((cascades > 0)); then echo ", $cascades of them queued by the daemon (a changed unit's subtree and persons)"; fi)"
if [[ $source == graphql ]]; then
	mo_events=$(metric_by stsorgsync_mo_events_total step)
	mo_step() { awk -v s="$1" '$2 == s { n = $1 } END { print n + 0 }' <<<"$mo_events"; }
	printf '  %-24s fetched %s, published %s, acknowledged %s; %s pending in OS2MO\n' "OS2MO GraphQL events" \
		"$(mo_step fetched)" "$(mo_step published)" "$(mo_step acknowledged)" "$(curl -fsS -m 5 "http://$mo_addr/api/events" | jq '[.listeners[].pending] | add')"
fi
printf '  %-24s %s\n' "dead letters" "$dlq" "verify" "$(head -n 1 "$logs/verify.txt")"
if [[ -n $demo_env ]]; then
	say "mapping settings from ${demo_env#"$root"/}: $(grep -v '^[[:space:]]*\(#\|$\)' "$demo_env" | cut -d= -f1 | paste -sd, - | sed 's/,/, /g')"
fi
echo

# --- 8. how to use the stack ----------------------------------------------------------------------
cli="${bin#"$root"/}/stsorgsync --config ${config#"$root"/}"
usage() {
	printf '  %s check                      # can it reach RabbitMQ, Redis, OS2MO and STS?\n' "$cli"
	printf '  %s verify --html report.html  # STS against OS2MO, as a report\n' "$cli"
	printf '  %s dlq list                   # the dead-letter queue\n' "$cli"
}
if [[ $keep == 1 ]]; then
	say "stsorgsync's settings: ${config#"$root"/} (mode 0600: it holds the demo's passwords). The CLI against the stack:"
	usage
	say "fakests http://$sts_addr/_inspect/objects/organisationenhed   fakemo http://$mo_addr/graphql/v25"
	say "stsorgsync http://$http_addr/metrics   RabbitMQ vhost $vhost   logs $shown/"
	# The last line (TestDemoStackPassesCheck waits for it).
	say "the stack keeps running (DEMO_KEEP=1); Ctrl-C (or kill -TERM $$) stops it and removes its vhost, Redis keys and settings file."
	# wait returns at once when a trapped signal arrives; the trap then cleans up.
	rc=0
	wait "${pid[stsorgsync]}" || rc=$?
	unset "pid[stsorgsync]"
	fail "stsorgsync exited on its own with code $rc (log: $shown/stsorgsync.log)"
fi
say "passed; stopping the stack. \`DEMO_KEEP=1 make demo\` keeps it running, with stsorgsync's settings in ${config#"$root"/} for the CLI:"
usage
