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

python="$("$here/venv.sh")"

cd "$here"
status=0
"$python" -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "tests/sdk: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
