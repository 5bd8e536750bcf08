#!/usr/bin/env bash
# The saml connector against a real SAML 2.0 IdP (npm samlify, idp.mjs),
# issue 14. Installs what is missing (Debian's chromium and openssl, the
# pinned npm packages here and in tests/browser, whose helpers it reuses),
# then:
#  1. captures fresh signed responses from the IdP with a new key
#     (capture.mjs) and runs the Rust tests that mutate them into every bad
#     input (crates/tusk-connector/tests/connectors/saml.rs);
#  2. runs the Chromium login suite (saml.test.mjs).
# Needs a built tusk: cargo build -p tusk-cli (or set TUSK_BIN).
# Exits non-zero when anything fails.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

missing=()
[ -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ] || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing Debian's ${missing[*]}"
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

command -v node >/dev/null || { echo "node (>= 20) is needed for the SAML tests" >&2; exit 1; }
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' \
  || { echo "node $(node --version) is too old: the SAML tests need node >= 20" >&2; exit 1; }

for dir in "$repo/tests/browser" "$here"; do
  if [ ! -f "$dir/node_modules/.package-lock.json" ] \
    || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
done

tusk="${TUSK_BIN:-$repo/target/debug/tusk}"
if [ ! -x "$tusk" ]; then
  echo "no tusk binary at $tusk; build it first: cargo build -p tusk-cli" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "==> fresh responses from the samlify IdP, mutated by the Rust tests"
node "$here/capture.mjs" "$work/fixture.json"
(cd "$repo" && TUSK_SAML_FIXTURE="$work/fixture.json" \
  cargo test -p tusk-connector --locked --test connectors saml:: -- --test-threads=2)

echo "==> Chromium login through the saml connector"
cd "$repo"
exec node --test --test-reporter=spec tests/saml/
