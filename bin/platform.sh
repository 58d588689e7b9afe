# shellcheck shell=bash
# Helpers shared by bin/run and bin/test (sourced after lib.sh).

SERVICES=(intake review registry metrics)
declare -A SERVICE_PORTS=([intake]=8101 [review]=8102 [registry]=8103 [metrics]=8104)
RUN_DIR="$LOCAL_DIR/run"
LOGS_DIR="$LOCAL_DIR/logs"

# Each service logs in as its own PostgreSQL role. Their passwords are generated once per
# machine into a git-ignored file (mode 600): nothing secret is ever committed.
ensure_secrets() {
  local file="$LOCAL_DIR/secrets.env" svc var
  mkdir -p "$LOCAL_DIR"
  touch "$file"
  chmod 600 "$file"
  for svc in "${SERVICES[@]}"; do
    var="HUIGONG_${svc^^}_DB_PASSWORD"
    grep -q "^$var=" "$file" || echo "$var=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$file"
  done
  # Intake's keys: the HMAC secret that turns ID numbers into member keys, and the key that
  # wraps the per-member data keys sealing name and phone. Also per machine.
  for var in HUIGONG_MEMBER_KEY_SECRET HUIGONG_PERSONAL_DATA_KEK; do
    grep -q "^$var=" "$file" || echo "$var=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$file"
  done
  # Each service's event key (docs/security-events.md): it tags every event the service records,
  # and every consumer checks the tag. `<service>.<version>:<hex>`, comma-separated; rotation adds
  # the next version (`huigong events keys rotate`), so nothing here replaces an existing line.
  if ! grep -q "^HUIGONG_EVENT_KEYS=" "$file"; then
    local keys=""
    for svc in "${SERVICES[@]}"; do
      keys+="${keys:+,}$svc.1:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done
    echo "HUIGONG_EVENT_KEYS=$keys" >>"$file"
  fi
  # Each service's Ed25519 checkpoint key (a 32-byte seed): it signs the service's chain
  # checkpoints; only the public half leaves the service. On this development stack one line
  # holds all four; docker-compose gives each service its own (HUIGONG_<SERVICE>_CHECKPOINT_KEY).
  if ! grep -q "^HUIGONG_CHECKPOINT_KEYS=" "$file"; then
    local seeds=""
    for svc in "${SERVICES[@]}"; do
      seeds+="${seeds:+,}$svc.1:$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    done
    echo "HUIGONG_CHECKPOINT_KEYS=$seeds" >>"$file"
  fi
}

# Exports the stack's connection settings and the secrets into this shell.
load_env() {
  local file
  for file in "$LOCAL_DIR/stack.env" "$LOCAL_DIR/secrets.env"; do
    [ -f "$file" ] || die "$file missing; run bin/stack start first"
    set -a
    # shellcheck disable=SC1090
    . "$file"
    set +a
  done
}

service_dsn() {
  local svc="$1" var="HUIGONG_${1^^}_DB_PASSWORD"
  printf 'postgresql://huigong_%s:%s@%s:%s/%s' "$svc" "${!var}" "$HUIGONG_PG_HOST" "$HUIGONG_PG_PORT" "$HUIGONG_PG_DATABASE"
}

# With a secured broker (HUIGONG_KAFKA_SECURITY=scram, from stack.env) every process logs in to
# Kafka as its own principal (huigong_ops/kafka_acls.py), whose password bin/stack keeps in
# secrets.env as HUIGONG_KAFKA_<NAME>_PASSWORD.
kafka_password_var() { echo "HUIGONG_KAFKA_$(tr 'a-z-' 'A-Z_' <<<"$1")_PASSWORD"; }

kafka_check_login() {
  [ "${HUIGONG_KAFKA_SECURITY:-none}" != none ] || return 0
  local var
  var="$(kafka_password_var "$1")"
  [ -n "${!var:-}" ] || die "$var missing from $LOCAL_DIR/secrets.env (bin/stack start creates it)"
}

# Changes the current shell, so call it in a subshell: forgets every Kafka password loaded from
# secrets.env and logs in as principal $1, so a service never holds another's (or admin's).
kafka_login() {
  local principal="$1" var password=""
  if [ "${HUIGONG_KAFKA_SECURITY:-none}" != none ]; then
    var="$(kafka_password_var "$principal")"
    password="${!var:-}"
  fi
  for var in $(compgen -v HUIGONG_KAFKA_); do
    case "$var" in
      *_PASSWORD | HUIGONG_KAFKA_USERNAME) unset "$var" ;;
    esac
  done
  if [ -n "$password" ]; then
    export HUIGONG_KAFKA_USERNAME="$principal" HUIGONG_KAFKA_PASSWORD="$password"
  fi
}

# Runs a command as Kafka principal $1: `as_kafka admin huigong topics ensure`.
as_kafka() {
  kafka_check_login "$1"
  (
    kafka_login "$1"
    shift
    exec "$@"
  )
}

# API keys of the platform's own clients (the seed registers as a registrar; the simulator sends
# as each district, group union and reporting department), in a git-ignored keyring (mode 600).
# Only missing or no longer valid keys are issued, so a second run issues none.
KEYRING="$LOCAL_DIR/keyring.json"
ensure_keys() {
  local principals
  # shellcheck disable=SC2207
  principals=($("$REPO_ROOT/.venv/bin/python" -c 'from huigong_simulator.transports import principals; print(*principals())'))
  "$REPO_ROOT/.venv/bin/huigong" keys ensure "$KEYRING" registrar:seed-2022 "${principals[@]}" \
    --actor bin/run --label "bin/run: seed and simulator"
}

# Several instances of a service (HUIGONG_REPLICAS, replicas_of in lib.sh): the first is named
# after the service (intake: pid file run/intake.pid, log logs/intake.log, port 8101), the i-th
# <service>.<i> (intake.2: port 8111). Every function below takes an instance name.
instances_of() {
  local n i
  n="$(replicas_of "$1")"
  echo "$1"
  for ((i = 2; i <= n; i++)); do echo "$1.$i"; done
}

# Instances of $1 that have a pid file: those running, and those of a larger HUIGONG_REPLICAS.
known_instances() {
  local file
  for file in "$RUN_DIR/$1.pid" "$RUN_DIR/$1".*.pid; do
    [ -f "$file" ] || continue
    file="${file##*/}"
    echo "${file%.pid}"
  done
}

instance_port() {
  local svc="${1%%.*}" i=1
  [[ "$1" == *.* ]] && i="${1##*.}"
  echo $((SERVICE_PORTS[$svc] + 10 * (i - 1)))
}

service_running() {
  pid_alive "$(read_pid "$RUN_DIR/$1.pid")" "huigong-${1%%.*}"
}

start_service() {
  local inst="$1" svc="${1%%.*}" port
  port="$(instance_port "$1")"
  mkdir -p "$RUN_DIR" "$LOGS_DIR"
  if service_running "$inst"; then
    log "$inst already running (pid $(read_pid "$RUN_DIR/$inst.pid"))"
    return
  fi
  kafka_check_login "$svc"
  # The subshell execs the service, so $! is the service's own pid.
  (
    kafka_login "$svc"
    export HUIGONG_SERVICE="$svc" HUIGONG_DATABASE_URL="$(service_dsn "$svc")" HUIGONG_HTTP_PORT="$port"
    exec nohup "$REPO_ROOT/.venv/bin/huigong-$svc" >>"$LOGS_DIR/$inst.log" 2>&1 9>&- </dev/null
  ) &
  echo $! >"$RUN_DIR/$inst.pid"
  log "$inst started (pid $!, port $port, log $LOGS_DIR/$inst.log)"
}

wait_ready() {
  local svc="$1" port deadline=$((SECONDS + 60))
  port="$(instance_port "$1")"
  until curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; do
    # `kill -0`, not the command-line match of service_running: until the forked shell has
    # exec'd the service its command line is still this script's (seconds on a busy machine).
    if ! kill -0 "$(read_pid "$RUN_DIR/$svc.pid")" 2>/dev/null; then
      tail -n 40 "$LOGS_DIR/$svc.log" >&2 || true
      die "$svc exited during start-up (log above)"
    fi
    if ((SECONDS >= deadline)); then
      curl -sS "http://127.0.0.1:$port/readyz" >&2 || true
      die "$svc not ready after 60 s"
    fi
    sleep 0.5
  done
}

stop_service() {
  local svc="$1" pid
  pid="$(read_pid "$RUN_DIR/$svc.pid")"
  if ! pid_alive "$pid" "huigong-${svc%%.*}"; then
    rm -f "$RUN_DIR/$svc.pid"
    return
  fi
  kill -TERM "$pid"
  wait_pid_exit "$pid" 30 || { warn "$svc did not stop in 30 s; killing"; kill -KILL "$pid" || true; }
  rm -f "$RUN_DIR/$svc.pid"
  log "$svc stopped"
}
