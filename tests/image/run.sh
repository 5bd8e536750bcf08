#!/usr/bin/env bash
# The container image, tested on a machine without a registry or a container
# engine: builds localhost/tusk with scripts/image (FROM scratch, buildah),
# then runs it with `buildah run --isolation chroot`, which shares the host's
# network, so the host reaches a server inside on 127.0.0.1. It checks:
#   - the image's settings (user, entrypoint, command, env, port, volume,
#     labels) and that Containerfile states the same ones; its runtime
#     stage, built with `buildah bud` on stand-ins for the base images,
#     gives the same settings, user files and /var/lib/tusk;
#   - its files: all root-owned and not writable by others, except
#     /var/lib/tusk (65532, 0700); no setuid; no shell; its size;
#   - `tusk --version`, and `tusk config check` on the document's Okta values
#     (examples/) and on a broken copy (exit 1, the key named);
#   - upstream TLS: `tusk doctor` inside trusts the image's CA bundle at
#     /etc/ssl/certs/ca-certificates.crt, and only what that path holds
#     (a private CA mounted there is trusted; an empty file, nothing);
#   - `tusk serve` (the image's entrypoint and command) as the image's user,
#     with the container's root file system mounted read-only and only
#     /var/lib/tusk writable: it answers /healthz, logs JSON, writes its
#     files there as 65532, `tusk doctor --address` from a second container
#     passes (the Helm test hook's command), and a data directory elsewhere
#     fails with EROFS.
# buildah run does not apply ENTRYPOINT/CMD and has no --read-only, so the
# script runs the entrypoint and command read from the image, and remounts
# the container's root read-only itself (needs root, as buildah does).
# Usage: tests/image/run.sh   (exits non-zero on the first failed check)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$repo"

fail() {
  printf 'tests/image: FAIL: %s\n' "$1" >&2
  exit 1
}
pass() { printf 'ok    %s\n' "$1"; }

scripts/image

driver="${STORAGE_DRIVER:-vfs}"
bah() { buildah --storage-driver "$driver" "$@"; }
version="$(cargo metadata --no-deps --format-version 1 --locked |
  python3 -c 'import json, sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "tusk-cli"))')"
image="localhost/tusk:$version"
ctr="tusk-image-test"
client="tusk-image-test-client"
work="$(mktemp -d)"
chmod 0755 "$work"
serve_pid=""
upstream_pid=""
ro_mnt=""
cleanup() {
  for pid in $serve_pid $upstream_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  [ -z "$ro_mnt" ] || umount "$ro_mnt" 2>/dev/null || true
  for c in "$ctr" "$client"; do bah rm "$c" >/dev/null 2>&1 || true; done
  remove_standins
  rm -rf "$work"
}
# The images the Containerfile check builds, and any container on them.
standins=(localhost/tusk-standin-build localhost/tusk-standin-runtime localhost/tusk-containerfile-test)
remove_standins() {
  local name image
  while read -r name image; do
    for s in "${standins[@]}"; do
      [ "$image" != "$s:latest" ] || bah rm "$name" >/dev/null 2>&1 || true
    done
  done < <(bah containers --all --noheading --format '{{.ContainerName}} {{.ImageName}}' 2>/dev/null || true)
  for s in "${standins[@]}"; do bah rmi "$s" >/dev/null 2>&1 || true; done
}
trap cleanup EXIT
# Containers and images left by an interrupted run hold the same names.
for c in "$ctr" "$client"; do bah rm "$c" >/dev/null 2>&1 || true; done
remove_standins

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# --- The image's settings, and Containerfile's -----------------------------
# (buildah 1.28's --format has no `json` function: take the whole document.)
bah inspect --type image "$image" |
  python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]))' >"$work/config.json"
python3 - "$work/config.json" "$repo/Containerfile" "$version" <<'EOF' || fail "image settings (above)"
import json, sys
config = json.load(open(sys.argv[1]))
containerfile = open(sys.argv[2]).read().splitlines()
version = sys.argv[3]
problems = []
def want(what, got, expected):
    if got != expected:
        problems.append(f"{what}: the image has {got!r}, expected {expected!r}")
env = dict(e.split("=", 1) for e in config.get("Env", []))
want("User", config.get("User"), "65532:65532")
want("Entrypoint", config.get("Entrypoint"), ["/usr/local/bin/tusk"])
want("Cmd", config.get("Cmd"), ["serve"])
want("WorkingDir", config.get("WorkingDir"), "/var/lib/tusk")
want("ExposedPorts", sorted(config.get("ExposedPorts", {})), ["30650/tcp"])
want("Volumes", sorted(config.get("Volumes", {})), ["/var/lib/tusk"])
want("StopSignal", config.get("StopSignal"), "SIGTERM")
for k, v in {"TUSK_LOG_FORMAT": "json", "TUSK_LISTEN": "0.0.0.0:30650",
             "TUSK_DATA_DIR": "/var/lib/tusk", "PATH": "/usr/local/bin"}.items():
    want(f"Env {k}", env.get(k), v)
# Secrets are mounted by the chart, which sets TUSK_SECRETS_DIR; a default
# here would make a plain `podman run` fail on the missing directory.
want("Env TUSK_SECRETS_DIR", env.get("TUSK_SECRETS_DIR"), None)
labels = config.get("Labels", {})
want("label title", labels.get("org.opencontainers.image.title"), "tusk")
want("label version", labels.get("org.opencontainers.image.version"), version)
# Containerfile, the conventional build that cannot run here, must state
# the same runtime settings, line for line.
lines = [
    f"USER {config['User']}",
    f"WORKDIR {config['WorkingDir']}",
    *[f"ENV {e}" for e in config["Env"]],
    *[f"EXPOSE {p.split('/')[0]}" for p in config["ExposedPorts"]],
    *[f"VOLUME {v}" for v in config["Volumes"]],
    f"STOPSIGNAL {config['StopSignal']}",
    f"ENTRYPOINT {json.dumps(config['Entrypoint'])}",
    f"CMD {json.dumps(config['Cmd'])}",
    f"ARG TUSK_VERSION={version}",
]
for line in lines:
    if line not in containerfile:
        problems.append(f"Containerfile lacks `{line}`, which scripts/image sets")
for line in containerfile:
    if line.startswith("ENV ") and line not in lines:
        problems.append(f"Containerfile has `{line}`, which scripts/image does not set")
for p in problems:
    print(f"  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
pass "image settings: user 65532:65532, entrypoint tusk, command serve, env, port 30650, volume, labels; Containerfile agrees"

# --- The files, before anything runs in the container ----------------------
bah from --name "$ctr" "$image" >/dev/null
mnt="$(bah mount "$ctr")"
offenders="$(find "$mnt" -mindepth 1 -path "$mnt/var/lib/tusk" -prune -o \
  \( ! -uid 0 -o ! -gid 0 -o -perm /6000 -o \( ! -type l -perm /022 \) \) -printf '%P %u:%g %m\n')"
[ -z "$offenders" ] || fail "files owned by or writable for non-root, or setuid:
$offenders"
[ "$(stat -c '%u:%g %a' "$mnt/var/lib/tusk")" = "65532:65532 700" ] ||
  fail "/var/lib/tusk is $(stat -c '%u:%g %a' "$mnt/var/lib/tusk"), expected 65532:65532 700"
[ -z "$(find "$mnt/var/lib/tusk" -mindepth 1)" ] || fail "/var/lib/tusk is not empty in the image"
pass "files: root-owned, not writable by others, no setuid; /var/lib/tusk 65532:65532 0700"
grep -qx 'tusk:x:65532:65532:tusk:/var/lib/tusk:/sbin/nologin' "$mnt/etc/passwd" || fail "/etc/passwd does not name uid 65532 tusk"
mnt_passwd="$work/image-passwd" mnt_group="$work/image-group"
cp "$mnt/etc/passwd" "$mnt_passwd"
cp "$mnt/etc/group" "$mnt_group"
grep -qx 'tusk:x:65532:' "$mnt/etc/group" || fail "/etc/group does not name gid 65532 tusk"
for sh in bin/sh bin/bash usr/bin/sh; do
  [ ! -e "$mnt/$sh" ] || fail "the image has a shell at /$sh"
done
cmp -s "$mnt/etc/ssl/certs/ca-certificates.crt" /etc/ssl/certs/ca-certificates.crt ||
  fail "/etc/ssl/certs/ca-certificates.crt differs from the build machine's bundle"
cas="$(grep -c 'BEGIN CERTIFICATE' "$mnt/etc/ssl/certs/ca-certificates.crt")"
pass "passwd/group name tusk (65532), no shell, CA bundle with $cas certificates"
echo "      files in the image:"
(cd "$mnt" && find . -type f -printf '        /%P  %s bytes\n' | sort)
size="$(bah images --noheading --format '{{.Size}}' "$image" | sed -n 1p)"
echo "      image size: $size (binary $(du -h "$mnt/usr/local/bin/tusk" | cut -f1), root file system $(du -sh "$mnt" | cut -f1))"
# What a base image such as distroless cc-debian12 provides, taken from
# this image: the C libraries, the loader and the CA bundle.
standin_rt="$work/standin-runtime"
mkdir -p "$standin_rt/etc" "$standin_rt/var/lib"
(cd "$mnt" && cp -a --parents lib* etc/ssl "$standin_rt/")
bah umount "$ctr" >/dev/null

# --- Containerfile's runtime stage, built with buildah bud -----------------
# The rust and distroless base images cannot be pulled here, so stand-ins
# replace them: the build stage becomes an image holding what its RUN line
# produces (run here on the release binary scripts/image built, minus the
# cargo build), the runtime base an image with the C libraries and CA
# bundle. Everything from the runtime stage's FROM on is built verbatim.
python3 - "$repo/Containerfile" "$work" "${CARGO_TARGET_DIR:-$repo/target}/release/tusk" <<'PY' || fail "cannot derive the stand-in build from Containerfile (above)"
import re, sys
path, work, binary = sys.argv[1:4]
text = open(path).read()
lines = re.sub(r"\\\n", " ", text).splitlines()
froms = [i for i, l in enumerate(lines) if l.startswith("FROM ")]
if len(froms) != 2 or not lines[froms[0]].endswith(" AS build"):
    sys.exit("Containerfile: expected two stages, the first `AS build`")
runs = [l[4:] for l in lines[froms[0]:froms[1]] if l.startswith("RUN ")]
cargo = r"^cargo build --release -p tusk-cli --locked\s*&&\s*"
if len(runs) != 1 or not re.search(cargo, runs[0]):
    sys.exit("Containerfile: expected one RUN in the build stage, starting with the cargo build")
script = re.sub(cargo, "", runs[0]).replace("target/release/tusk", binary)
script = re.sub(r"(?<![\w/])/out\b", f"{work}/standin-build/out", script)
open(f"{work}/standin-build.sh", "w").write("set -euo pipefail\n" + script + "\n")
runtime = [l for l in text.splitlines()[text.splitlines().index(lines[froms[1]]):]]
runtime[0] = "FROM localhost/tusk-standin-runtime"
open(f"{work}/Containerfile", "w").write("FROM localhost/tusk-standin-build AS build\n" + "\n".join(runtime) + "\n")
PY
mkdir -p "$work/standin-build" "$work/context"
(cd "$work" && bash standin-build.sh) || fail "Containerfile's build-stage RUN failed when run here on the release binary"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >"$standin_rt/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$standin_rt/etc/group"
for part in build runtime; do
  bah from --name "tusk-standin-$part" scratch >/dev/null
  smnt="$(bah mount "tusk-standin-$part")"
  cp -a "$work/standin-$part/." "$smnt/"
  bah commit --quiet --rm "tusk-standin-$part" "localhost/tusk-standin-$part" >/dev/null
done
bah bud --isolation chroot --pull-never --quiet -f "$work/Containerfile" \
  -t localhost/tusk-containerfile-test "$work/context" >"$work/bud.log" 2>&1 ||
  fail "buildah bud of Containerfile's runtime stage failed:
$(cat "$work/bud.log")"
bah inspect --type image localhost/tusk-containerfile-test |
  python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["OCIv1"]["config"]))' >"$work/cf-config.json"
python3 - "$work/config.json" "$work/cf-config.json" <<'PY' || fail "Containerfile builds an image unlike scripts/image's (above)"
import json, sys
ours, theirs = (json.load(open(p)) for p in sys.argv[1:3])
bad = False
for key in ("User", "Entrypoint", "Cmd", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal", "Env"):
    a, b = ours.get(key), theirs.get(key)
    if key == "ExposedPorts":
        # A Containerfile's EXPOSE 30650 is 30650/tcp.
        a, b = sorted(p if "/" in p else p + "/tcp" for p in a), sorted(p if "/" in p else p + "/tcp" for p in b)
    if a != b:
        print(f"  {key}: scripts/image {a!r}, Containerfile {b!r}", file=sys.stderr)
        bad = True
v = "org.opencontainers.image.version"
if ours["Labels"].get(v) != theirs.get("Labels", {}).get(v):
    print(f"  label {v}: scripts/image {ours['Labels'].get(v)!r}, Containerfile {theirs.get('Labels', {}).get(v)!r}", file=sys.stderr)
    bad = True
sys.exit(1 if bad else 0)
PY
bah from --name tusk-containerfile-test localhost/tusk-containerfile-test >/dev/null
cmnt="$(bah mount tusk-containerfile-test)"
[ "$(stat -c '%u:%g %a' "$cmnt/var/lib/tusk")" = "65532:65532 700" ] ||
  fail "Containerfile's /var/lib/tusk is $(stat -c '%u:%g %a' "$cmnt/var/lib/tusk"), expected 65532:65532 700"
[ "$(stat -c '%u:%g %a' "$cmnt/usr/local/bin/tusk")" = "0:0 755" ] ||
  fail "Containerfile's /usr/local/bin/tusk is $(stat -c '%u:%g %a' "$cmnt/usr/local/bin/tusk"), expected 0:0 755"
cmp -s "$cmnt/etc/passwd" "$mnt_passwd" || fail "Containerfile's /etc/passwd differs from scripts/image's"
cmp -s "$cmnt/etc/group" "$mnt_group" || fail "Containerfile's /etc/group differs from scripts/image's"
out="$(bah run --isolation chroot tusk-containerfile-test -- /usr/local/bin/tusk --version)" ||
  fail "tusk --version failed in the image built from Containerfile"
[ "$out" = "tusk $version" ] || fail "the Containerfile image's tusk --version printed '$out'"
remove_standins
pass "Containerfile's runtime stage (buildah bud, stand-in bases): same settings, user files, /var/lib/tusk 65532 0700; $out"

# The command the image runs by default: buildah run does not apply it.
mapfile -t entry < <(python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); print("\n".join(c["Entrypoint"] + c["Cmd"]))' "$work/config.json")
tusk="${entry[0]}"

# --- tusk --version --------------------------------------------------------
out="$(bah run --isolation chroot "$ctr" -- "$tusk" --version)" || fail "tusk --version failed in the image"
[ "$out" = "tusk $version" ] || fail "tusk --version printed '$out', expected 'tusk $version'"
pass "tusk --version: $out"

# --- tusk config check -----------------------------------------------------
install -m 0644 examples/okta-values.yaml examples/okta-values.json "$work/"
# A key from `tusk idp` connector files, misplaced in Helm values.
sed 's/^    name: Okta$/    name: Okta\n    version: v2/' examples/okta-values.yaml >"$work/broken.yaml"
chmod 0644 "$work/broken.yaml"
grep -q '^    version: v2$' "$work/broken.yaml" || fail "could not derive broken.yaml from examples/okta-values.yaml"
for f in okta-values.yaml okta-values.json; do
  out="$(bah run --isolation chroot -v "$work/$f:/config/$f:ro" "$ctr" -- "$tusk" config check --values "/config/$f" 2>"$work/check.err")" ||
    fail "tusk config check --values $f failed in the image:
$out$(cat "$work/check.err")"
  case "$out" in "configuration ok"*) ;; *) fail "tusk config check --values $f did not say ok: $out" ;; esac
  pass "tusk config check on the document's $f: $out"
done
status=0
out="$(bah run --isolation chroot -v "$work/broken.yaml:/config/values.yaml:ro" "$ctr" -- "$tusk" config check --values /config/values.yaml 2>&1)" || status=$?
[ "$status" = 1 ] || fail "tusk config check on a broken file exited $status, expected 1:
$out"
case "$out" in
  *"values.yaml:8: oidc.upstreamIDPs[0].version: unknown key"*) ;;
  *) fail "tusk config check on a broken file did not name the key oidc.upstreamIDPs[0].version:
$out" ;;
esac
pass "tusk config check on a broken file: exit 1, $(grep -m1 'unknown key' <<<"$out")"

# --- Upstream TLS: whose certificates tusk trusts inside the image ---------
# A private CA the image's bundle does not hold, and an HTTPS provider on
# 127.0.0.1 whose certificate it signs.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tusk-image-test-ca \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout "$work/upstream.key" \
  -out "$work/upstream.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$work/ext.cnf"
openssl x509 -req -in "$work/upstream.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" \
  -CAcreateserial -days 2 -extfile "$work/ext.cnf" -out "$work/upstream.pem" 2>/dev/null
chmod 0644 "$work/ca.pem"
python3 "$here/upstream.py" "$work/upstream.pem" "$work/upstream.key" "$work/upstream.port" &
upstream_pid=$!
for _ in $(seq 1 100); do [ -s "$work/upstream.port" ] && break; sleep 0.1; done
[ -s "$work/upstream.port" ] || fail "the test HTTPS provider did not start"
issuer="https://127.0.0.1:$(cat "$work/upstream.port")"
cat >"$work/upstream.yaml" <<EOF
oidc:
  upstreamIDPs:
  - type: oidc
    id: upstream
    name: Upstream
    config:
      issuer: $issuer
      clientID: tusk
      clientSecret: a-client-secret-for-the-image-test
      redirectURI: http://localhost:30650/dex/callback
EOF
chmod 0644 "$work/upstream.yaml"
# Runs doctor in the image with extra buildah run arguments; prints the
# discovery check's status and detail. doctor exits 1 here either way (the
# empty key set fails a later check): the discovery check is the one that
# shows whose certificates it trusts.
discovery() {
  bah run --isolation chroot -v "$work/upstream.yaml:/config/values.yaml:ro" "$@" "$ctr" -- \
    "$tusk" doctor --values /config/values.yaml -o json >"$work/doctor.json" 2>"$work/doctor.err" || true
  python3 -c 'import json, sys
checks = json.load(open(sys.argv[1]))
c = next(c for c in checks if c["check"] == "upstream: discovery")
print(c["status"], c["detail"])' "$work/doctor.json" ||
    fail "tusk doctor in the image gave no discovery check; its output:
$(cat "$work/doctor.json" "$work/doctor.err")"
}
out="$(discovery)"
case "$out" in
  FAIL*"cannot load the system's trusted certificates"*) fail "tusk in the image found no CA certificates: $out" ;;
  FAIL*UnknownIssuer*) ;;
  *) fail "with the image's bundle, a private CA's certificate should be refused as UnknownIssuer: $out" ;;
esac
pass "upstream TLS with the image's bundle: a certificate from a private CA is refused (UnknownIssuer)"
out="$(discovery -v "$work/ca.pem:/etc/ssl/certs/ca-certificates.crt:ro")"
case "$out" in ok*) ;; *) fail "with the private CA at /etc/ssl/certs/ca-certificates.crt, discovery should succeed: $out" ;; esac
pass "upstream TLS with the private CA at /etc/ssl/certs/ca-certificates.crt: $out"
# And the roots come from that file alone: nothing compiled in.
: >"$work/empty.pem"
chmod 0644 "$work/empty.pem"
out="$(discovery -v "$work/empty.pem:/etc/ssl/certs/ca-certificates.crt:ro")"
case "$out" in
  FAIL*"cannot load the system's trusted certificates"*) ;;
  *) fail "with an empty /etc/ssl/certs/ca-certificates.crt, tusk should find no CA certificates: $out" ;;
esac
pass "upstream TLS with an empty bundle: $(grep -o "cannot load the system's trusted certificates[^;]*" <<<"$out")"
kill "$upstream_pid"
wait "$upstream_pid" 2>/dev/null || true
upstream_pid=""

# --- tusk serve, read-only root, only /var/lib/tusk writable ---------------
# The runs above made the mount points buildah binds into the container
# (/dev, /proc, /sys, /etc/hosts, ...); it also binds /run/.containerenv,
# which it cannot create on a read-only root, so make it now.
mnt="$(bah mount "$ctr")"
touch "$mnt/run/.containerenv"
mount --bind "$mnt" "$mnt"
ro_mnt="$mnt"
mount -o remount,bind,ro "$mnt"
touch "$mnt/probe" 2>/dev/null && fail "the container's root file system is still writable"
data="$work/data"
install -d -m 0700 -o 65532 -g 65532 "$data"
port="$(free_port)"
# No --user: the image's own user runs it. buildah 1.28 panics while
# tearing down a container on a read-only root, after tusk exits; that
# noise is in serve.log, never in a check.
# buildah itself, not the bah function: $! must be buildah's pid, which
# stops tusk when it gets SIGTERM (a subshell's would orphan it).
buildah --storage-driver "$driver" run --isolation chroot -v "$data:/var/lib/tusk" \
  -e "TUSK_LISTEN=127.0.0.1:$port" "$ctr" -- "${entry[@]}" >"$work/serve.log" 2>&1 &
serve_pid=$!
up=""
for _ in $(seq 1 120); do
  if curl -fsS -m 2 "http://127.0.0.1:$port/healthz" >"$work/healthz" 2>/dev/null; then up=1; break; fi
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.5
done
[ -n "$up" ] || fail "tusk serve in the image did not answer /healthz on 127.0.0.1:$port; its output:
$(cat "$work/serve.log")"
pass "tusk serve (${entry[*]}) answers /healthz from the host: $(cat "$work/healthz")"
python3 - "$work/serve.log" <<'EOF' || fail "tusk serve in the image did not log JSON (TUSK_LOG_FORMAT=json)"
import json, sys
first = open(sys.argv[1]).readline()
record = json.loads(first)
assert "level" in record or "fields" in record, first
EOF
pass "logs are JSON: $(head -c 120 "$work/serve.log")..."
[ "$(stat -c '%u:%g %a' "$data/root-token")" = "65532:65532 600" ] ||
  fail "root-token in /var/lib/tusk is $(stat -c '%u:%g %a' "$data/root-token"), expected 65532:65532 600 (the image's user)"
pass "runs as 65532: it wrote $(cd "$data" && echo *) to /var/lib/tusk, owner-only"
# What the Helm chart's test hook runs: doctor from the same image, in a
# second container (buildah's exit status on the read-only one is its
# teardown panic's, not tusk's).
bah from --name "$client" "$image" >/dev/null
out="$(bah run --isolation chroot "$client" -- "$tusk" doctor --address "127.0.0.1:$port" 2>&1)" ||
  fail "tusk doctor --address 127.0.0.1:$port in the image failed:
$out"
pass "tusk doctor in a second container against it: $(tail -n1 <<<"$out")"
# Only the message counts here: buildah exits non-zero on this root anyway.
out="$(bah run --isolation chroot -e TUSK_DATA_DIR=/probe -e "TUSK_LISTEN=127.0.0.1:$(free_port)" \
  "$ctr" -- "${entry[@]}" 2>&1)" || true
grep -q 'cannot create data directory /probe: Read-only file system' <<<"$out" ||
  fail "a data directory on the root should fail with EROFS; got:
$out"
pass "root file system read-only: $(grep -m1 -o 'cannot create data directory /probe: Read-only file system' <<<"$out")"
kill "$serve_pid"
wait "$serve_pid" 2>/dev/null || true
serve_pid=""
for _ in $(seq 1 20); do
  curl -fsS -m 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 || break
  sleep 0.5
done
if curl -fsS -m 1 "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; then
  fail "tusk serve still answers 10 s after its container was stopped"
fi
umount "$ro_mnt"
ro_mnt=""
echo "tests/image: all checks passed ($image, $size)"
