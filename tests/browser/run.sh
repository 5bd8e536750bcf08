#!/usr/bin/env bash
# Browser end-to-end tests of issue 3 ("Log in through Okta"): headless
# Debian Chromium (npm playwright-core) logs in through tusk's upstream
# `oidc` connector against npm oidc-provider standing in for Okta.
#
# Installs what is missing (Debian's chromium, the pinned npm packages,
# tests/sdk's Python venv with pachyderm-sdk), then runs `node --test tests/browser/`. Needs a built tusk:
#   cargo build -p tusk-cli        (or set TUSK_BIN to another binary)
# Exits non-zero when anything fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium" ]; then
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2
    exit 1
  fi
  echo "installing Debian's chromium (playwright's own browser download cannot work here)"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium
fi

command -v node >/dev/null || { echo "node (>= 20) is needed for the browser tests" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "node $(node --version) is too old: the browser tests need node >= 20" >&2; exit 1; }

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f "$here/node_modules/.package-lock.json" ] \
  || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund)
fi

# Scenario h drives the official Python client (pachyderm-sdk) from
# tests/sdk's venv, created or updated here when needed.
if [ -z "${TUSK_SDK_PYTHON:-}" ]; then
  TUSK_SDK_PYTHON="$("$repo/tests/sdk/venv.sh")"
fi
export TUSK_SDK_PYTHON

tusk="${TUSK_BIN:-$repo/target/debug/tusk}"
if [ ! -x "$tusk" ]; then
  echo "no tusk binary at $tusk; build it first: cargo build -p tusk-cli" >&2
  exit 1
fi

cd "$repo"
exec node --test --test-reporter=spec tests/browser/
