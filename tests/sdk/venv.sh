#!/usr/bin/env bash
# Creates or reuses tests/sdk/.venv with requirements.txt (pachyderm-sdk
# 2.12.2 and pytest), installing only when requirements.txt changed since
# the last install. Prints the venv's python. Used by tests/sdk/run.sh and
# tests/browser/run.sh (whose scenario h drives the SDK).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv" >&2
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    -r "$here/requirements.txt" >&2
  echo "$want" >"$stamp"
fi
echo "$venv/bin/python"
