#!/usr/bin/env bash
# Wire tests judged by the official Python client (pachyderm-sdk 2.12.2):
# creates or reuses tests/sdk/.venv, installs requirements.txt, runs pytest
# against TUSK_BIN (default target/debug/tusk; build it with
# `cargo build -p tusk-cli`). Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bin="${TUSK_BIN:-$repo/target/debug/tusk}"
case "$bin" in /*) ;; *) bin="$PWD/$bin" ;; esac
if [ ! -x "$bin" ]; then
  echo "tests/sdk: no tusk binary at $bin; run \`cargo build -p tusk-cli\` or set TUSK_BIN" >&2
  exit 1
fi
export TUSK_BIN="$bin"
export PYTHONDONTWRITEBYTECODE=1

venv="$here/.venv"
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv"
fi
# Install only when requirements.txt changed since the last install.
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt"
  echo "$want" >"$stamp"
fi

cd "$here"
status=0
"$venv/bin/python" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "tests/sdk: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
