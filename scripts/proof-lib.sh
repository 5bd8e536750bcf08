# Shared by scripts/proof-*: builds the binaries, writes a values file with a
# proof client and fresh secrets, starts and stops tusk servers, and makes
# fresh PostgreSQL databases. Sourced, not run.
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-debug}"
TARGET="${CARGO_TARGET_DIR:-$PWD/target}/$PROFILE"
TUSK="$TARGET/tusk"
PROOF="$TARGET/tusk-proof"
PG_URL="${TUSK_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/tusk-proof.XXXXXX")"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

say() { printf '\n==> %s\n' "$*"; }

build() {
  local flag=()
  [ "$PROFILE" = release ] && flag=(--release)
  nice -n 5 cargo build --quiet --locked "${flag[@]}" -p tusk-cli -p tusk-proof
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Fresh random secrets per run, so a scan for them cannot match anything else.
ROOT_TOKEN="root-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
CLIENT_SECRET="proof-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export TUSK_PROOF_CLIENT_SECRET="$CLIENT_SECRET" TUSK_PROOF_TOKEN="$ROOT_TOKEN"
# The key that seals the store's secrets: PostgreSQL replicas require one
# (and must share it); SQLite would generate its own.
TUSK_ENCRYPTION_KEYS="$(head -c 32 /dev/urandom | base64)"
export TUSK_ENCRYPTION_KEYS

# Logins come from one address, so the per-address limits are off here:
# they are proven by their own tests, not by this load.
VALUES="$WORK/values.yaml"
cat > "$VALUES" <<YAML
pachd:
  rootToken: $ROOT_TOKEN
oidc:
  additionalClients:
  - id: proof
    name: Proof driver
    trusted: true
    secret: $CLIENT_SECRET
    redirect_uris: ["http://127.0.0.1:9/cb"]
tusk:
  rateLimit:
    passwordPerMinute: 0
    tokenPerMinute: 0
    authorizePerMinute: 0
YAML

# start_server NAME PORT [serve flags...]: logs to $WORK/NAME.log, pid in SERVER_PID.
start_server() {
  local name=$1 port=$2; shift 2
  # tusk refuses a data directory others can read.
  mkdir -p -m 700 "$WORK/$name-data"
  "$TUSK" serve --values "$VALUES" --listen "127.0.0.1:$port" --data-dir "$WORK/$name-data" "$@" \
    >>"$WORK/$name.log" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  for _ in $(seq 1 150); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/readyz" 2>/dev/null && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { echo "$name exited at start; its log:"; tail -20 "$WORK/$name.log"; return 1; }
    sleep 0.2
  done
  echo "$name did not become ready on port $port in 30 s; its log:"; tail -20 "$WORK/$name.log"; return 1
}

# fresh_db NAME [BASE_URL]: drops and creates the database, prints its URL.
fresh_db() {
  local name=$1 base=${2:-$PG_URL}
  export PGOPTIONS="-c client_min_messages=warning"
  psql "$base/postgres" -qAt -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
  psql "$base/postgres" -qAt -c "CREATE DATABASE $name" >/dev/null
  echo "$base/$name"
}
