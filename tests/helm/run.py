"""Tests of deploy/helm/tusk without a cluster; run by scripts/test-helm.

1. `helm lint`; `helm template` of the values users have (the Okta guide's
   YAML and JSON, a named Secret, two replicas on PostgreSQL, a whole
   Pachyderm file) and of bad ones that must fail naming the key; every
   successful render validated by kubernetes-validate --strict.
2. The wiring: the rendered Deployment's args and env, its Secrets and
   ConfigMap laid out on disk as the kubelet lays out volumes (a timestamped
   dir, a `..data` symlink, `key -> ..data/key`), run with the real binary
   on 127.0.0.1; then the `helm test` pod's command against it, the trusted
   proxy, two replicas on a fresh PostgreSQL database, and last a `..data`
   swap of `upstream-idps` that must apply without a restart.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import http.client
import urllib.parse

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CHART = os.path.join(ROOT, "deploy", "helm", "tusk")
VALUES = os.path.join(ROOT, "tests", "helm", "values")
EXAMPLES = os.path.join(ROOT, "examples")
HELM = os.environ["HELM"]
VALIDATE = os.environ["KUBERNETES_VALIDATE"]
TUSK = os.environ["TUSK_BIN"]
POSTGRES = os.environ["TUSK_TEST_POSTGRES"]
K8S_VERSION = "1.32.0"

PROCS = []
TMP = tempfile.mkdtemp(prefix="tusk-helm-")


def say(msg):
    print(msg, flush=True)


def fail(msg):
    raise SystemExit(f"test-helm: FAIL: {msg}")


def check(cond, msg):
    if not cond:
        fail(msg)
    say(f"  ok  {msg}")


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- rendering


def helm_template(name, files, sets=(), expect_ok=True):
    cmd = [HELM, "template", "tusk", CHART, "--namespace", "pachyderm"]
    for f in files:
        cmd += ["-f", f]
    for s in sets:
        cmd += ["--set", s]
    r = run(cmd)
    if expect_ok and r.returncode != 0:
        fail(f"render {name}: helm template failed:\n{r.stderr}")
    return r


def render(name, files, sets=()):
    r = helm_template(name, files, sets)
    out = os.path.join(TMP, f"{name}.yaml")
    with open(out, "w") as f:
        f.write(r.stdout)
    v = run([VALIDATE, "-k", K8S_VERSION, "--strict", "--quiet", out])
    if v.returncode != 0:
        fail(f"render {name}: kubernetes-validate --strict:\n{v.stdout}{v.stderr}")
    if "<nil>" in r.stdout:
        fail(f"render {name}: an unset value rendered as <nil>:\n{r.stdout}")
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    say(f"  ok  render {name}: {len(docs)} manifests, valid for Kubernetes {K8S_VERSION}")
    return docs


def must_fail(name, files, pattern, sets=()):
    r = helm_template(name, files, sets, expect_ok=False)
    check(r.returncode != 0, f"render {name} is refused")
    m = re.search(pattern, r.stderr)
    if m is None:
        fail(f"render {name}: the error does not match {pattern!r}:\n{r.stderr}")
    line = next(l for l in r.stderr.splitlines() if m.group(0) in l or pattern.split("/")[-1] in l)
    check(True, f"render {name} says: {line.strip()[:200]}")


def find(docs, kind, suffix=""):
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"].endswith(suffix)]
    if not found:
        fail(f"no {kind} *{suffix} rendered")
    return found[0]


def secret_data(docs):
    import base64
    out = {}
    for d in docs:
        if d["kind"] == "Secret":
            out[d["metadata"]["name"]] = {
                k: base64.b64decode(v).decode() for k, v in (d.get("data") or {}).items()
            }
    return out


def config_values(docs):
    cm = find(docs, "ConfigMap")
    return yaml.safe_load(cm["data"]["values.yaml"])


def test_renders():
    say("==> helm lint")
    r = run([HELM, "lint", "--strict", CHART])
    if r.returncode != 0:
        fail(f"helm lint:\n{r.stdout}{r.stderr}")
    say("  ok  helm lint --strict")

    say("==> helm template + kubernetes-validate --strict")
    okta_yaml = os.path.join(EXAMPLES, "okta-values.yaml")
    okta_json = os.path.join(EXAMPLES, "okta-values.json")
    renders = {}
    renders["okta-yaml"] = render("okta-yaml", [okta_yaml])
    renders["okta-json"] = render("okta-json", [okta_json])
    renders["okta-proxy"] = render(
        "okta-proxy", [os.path.join(EXAMPLES, "proxy-values.yaml"), okta_yaml])
    renders["secret-name"] = render("secret-name", [os.path.join(VALUES, "secret-name.yaml")])
    renders["two-replicas"] = render(
        "two-replicas", [os.path.join(VALUES, "two-replicas-postgresql.yaml")])
    renders["pachyderm-full"] = render(
        "pachyderm-full", [os.path.join(VALUES, "pachyderm-full.yaml")])
    renders["ingress"] = render(
        "ingress", [okta_yaml], ["ingress.enabled=true", "ingress.host=pachyderm.example.com",
                   "ingress.tls.enabled=true", "ingress.tls.secretName=pachyderm-tls"])
    renders["defaults"] = render("defaults", [])

    say("==> what the renders hold")
    # The document's YAML and JSON forms are the same chart input.
    y, j = secret_data(renders["okta-yaml"]), secret_data(renders["okta-json"])
    check(yaml.safe_load(y["tusk-values"]["upstream-idps"]) ==
          yaml.safe_load(j["tusk-values"]["upstream-idps"]),
          "YAML and JSON values give the same upstream-idps Secret")
    text = json.dumps(json.load(open(okta_json))["oidc"]["upstreamIDPs"])
    as_text = os.path.join(TMP, "okta-as-text.yaml")
    yaml.safe_dump({"oidc": {"upstreamIDPs": text}}, open(as_text, "w"))
    renders["okta-json-text"] = render("okta-json-text", [as_text])
    check(secret_data(renders["okta-json-text"])["tusk-values"]["upstream-idps"] == text,
          "upstreamIDPs given as JSON text go into the Secret as written")
    v = config_values(renders["okta-yaml"])
    check(v["oidc"]["upstreamIDPsSecretName"] == "tusk-values" and "upstreamIDPs" not in v["oidc"],
          "inline upstreamIDPs become a Secret the ConfigMap names")
    cm_text = find(renders["okta-yaml"], "ConfigMap")["data"]["values.yaml"]
    check("VNwbzOBltNcaotD2CU5iRyTuqOPpwLR" not in cm_text, "no client secret in the ConfigMap")
    full_text = yaml.safe_dump(find(renders["pachyderm-full"], "ConfigMap"))
    check("an-aws-secret" not in full_text and "etcd" not in full_text and "storage" not in full_text,
          "a whole Pachyderm file: only keys tusk reads reach the ConfigMap")
    full = config_values(renders["pachyderm-full"])
    check(full["pachd"]["rootTokenSecretName"] == "pachyderm-root"
          and full["pachd"]["enterpriseLicenseKeySecretName"] == "pachyderm-license",
          "named Secrets are kept as given")
    dep = find(renders["pachyderm-full"], "Deployment")
    mounts = {m["mountPath"] for m in dep["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
    for name in ["pachyderm-root", "pachyderm-oauth", "pachyderm-license", "pachyderm-tls",
                 "tusk-values", "encryption-keys"]:
        check(f"/etc/tusk/secrets/{name}" in mounts, f"Secret {name} mounted at /etc/tusk/secrets/{name}")
    env = {e["name"]: e for e in dep["spec"]["template"]["spec"]["containers"][0]["env"]}
    check(env["TUSK_DATABASE_URL"]["value"].startswith(
        "postgres://pachyderm@pachyderm.cluster-abc123.us-east-1.rds.amazonaws.com:5432/tusk?"),
        "global.postgresql gives the database URL, without a password")
    check(env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "rds-credentials", "key": "password"},
          "PGPASSWORD comes from global.postgresql's existing Secret")
    check(env["CONSOLE_OAUTH_SECRET"]["valueFrom"]["secretKeyRef"] ==
          {"name": "console-oauth", "key": "OAUTH_CLIENT_SECRET"},
          "Console's secret comes from console.config.oauthClientSecretSecretName")
    two = renders["two-replicas"]
    check(find(two, "Deployment")["spec"]["replicas"] == 2, "two replicas render")
    two_env = {e["name"]: e for e in find(two, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
    check(two_env["PGPASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": "tusk-postgresql", "key": "password"}
          and secret_data(two)["tusk-postgresql"]["password"] == "a-long-database-password",
          "global.postgresql.postgresqlPassword goes into the chart's Secret, read as PGPASSWORD")
    check(two_env["TUSK_DATABASE_URL"]["value"] ==
          "postgres://pachyderm@db.example.internal:5432/tusk?sslmode=require",
          "the database URL from global.postgresql, tusk's own database, its SSL mode")
    check(find(two, "PodDisruptionBudget")["spec"]["maxUnavailable"] == 1, "two replicas get a PodDisruptionBudget")
    check(not [d for d in two if d["kind"] == "PersistentVolumeClaim"], "PostgreSQL: no PersistentVolumeClaim")
    check("podAntiAffinity" in find(two, "Deployment")["spec"]["template"]["spec"]["affinity"],
          "two replicas prefer different nodes")
    check("strategy" not in find(two, "Deployment")["spec"], "PostgreSQL: rolling updates")
    one = renders["okta-yaml"]
    check(find(one, "PersistentVolumeClaim")["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep",
          "SQLite: a PersistentVolumeClaim, kept")
    check(find(one, "Deployment")["spec"]["strategy"]["type"] == "Recreate", "SQLite: strategy Recreate")
    check(not [d for d in one if d["kind"] == "PodDisruptionBudget"], "one replica: no PodDisruptionBudget")
    gen = find(one, "Secret", "-generated")
    check(gen["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
          and set(gen["data"]) >= {"root-token", "pachd-oauth-client-secret", "encryption-keys"},
          "generated root token, client secret and encryption key, kept")
    pod = find(one, "Deployment")["spec"]["template"]["spec"]
    c = pod["containers"][0]
    check(pod["securityContext"]["runAsUser"] == 65532 and pod["securityContext"]["runAsNonRoot"]
          and pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
          and c["securityContext"]["readOnlyRootFilesystem"]
          and c["securityContext"]["capabilities"]["drop"] == ["ALL"]
          and c["securityContext"]["allowPrivilegeEscalation"] is False,
          "pod: uid 65532, read-only root, no capabilities, RuntimeDefault seccomp")
    check(c["livenessProbe"]["httpGet"]["path"] == "/healthz"
          and c["readinessProbe"]["httpGet"]["path"] == "/readyz", "probes /healthz and /readyz")
    proxy_cm = config_values(renders["okta-proxy"])
    check(proxy_cm["tusk"]["trustedProxies"] and "0.0.0.0/0" not in proxy_cm["tusk"]["trustedProxies"],
          f"behind Pachyderm's proxy the private ranges are trusted: {proxy_cm['tusk']['trustedProxies']}")
    check(config_values(one)["tusk"]["trustedProxies"] == [], "nothing in front: nobody is trusted")
    check(config_values(renders["pachyderm-full"])["tusk"]["trustedProxies"],
          "explicit or default list present for the whole file")
    ing = [d for d in renders["ingress"] if d["kind"] == "Ingress"]
    paths = {p["path"] for d in ing for p in d["spec"]["rules"][0]["http"]["paths"]}
    check({"/dex", "/authorization-code/callback", "/auth_v2.API", "/identity_v2.API"} <= paths,
          "Ingress for /dex, /authorization-code/callback and gRPC")
    notes = run([HELM, "install", "tusk", CHART, "--dry-run=client", "-n", "pachyderm",
                 "-f", os.path.join(EXAMPLES, "proxy-values.yaml"), "-f", okta_yaml])
    check("https://pachyderm.example.com/dex/callback" in notes.stdout,
          "NOTES print the redirect URI https://<proxy.host>/dex/callback")

    say("==> values that must not render")
    must_fail("bad-replicas", [os.path.join(VALUES, "bad-replicas.yaml")],
              r"replicaCount is 3, but SQLite serves one replica only: set database.type: postgresql")
    must_fail("bad-type", [os.path.join(VALUES, "bad-type.yaml")], r"replicaCount")
    must_fail("bad-unknown-oidc", [os.path.join(VALUES, "bad-unknown-oidc.yaml")],
              r"oidc.*upstreamIDP")
    must_fail("bad-unknown-tusk", [os.path.join(VALUES, "bad-unknown-tusk.yaml")], r"tusk.*rateLimits")
    must_fail("bad-database", [os.path.join(VALUES, "bad-database.yaml")], r"/database/postgresql/port")
    must_fail("postgresql-without-host", [], r"database.type is postgresql, but no host is set: set database.postgresql.host",
              ["database.type=postgresql"])
    must_fail("ingress-without-host", [], r"ingress.enabled is true but neither ingress.host nor proxy.host is set",
              ["ingress.enabled=true"])
    must_fail("tls-without-host", [], r"proxy.tls.enabled is true but proxy.host is empty",
              ["proxy.tls.enabled=true", "proxy.tls.secretName=pachyderm-tls"])
    must_fail("bad-sslmode", [], r"/database/postgresql/sslMode", ["database.postgresql.sslMode=sometimes"])
    return renders


def test_upgrade_keeps_secrets():
    say("==> helm upgrade keeps generated secrets (lookup against a fake API server)")
    port = free_port()
    existing = {"tusk-generated": {"root-token": "the-root-token-from-install",
                                   "encryption-keys": "a2V5IGZyb20gaW5zdGFsbA==",
                                   "pachd-oauth-client-secret": "the-client-secret-from-install"},
                "pachyderm-root": {"root-token": "the-admins-own-root-token"}}
    api = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "helm", "fake_apiserver.py"),
                            str(port), "pachyderm", json.dumps(existing)], start_new_session=True)
    PROCS.append(api)
    kubeconfig = os.path.join(TMP, "kubeconfig")
    with open(kubeconfig, "w") as f:
        yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                        "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
                        "users": [{"name": "fake", "user": {}}],
                        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                                  "namespace": "pachyderm"}}]}, f)
    for _ in range(50):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)

    def upgrade(*sets):
        cmd = [HELM, "template", "tusk", CHART, "-n", "pachyderm", "--dry-run=server",
               "--disable-openapi-validation", "-f", os.path.join(EXAMPLES, "okta-values.yaml")]
        for x in sets:
            cmd += ["--set", x]
        r = run(cmd, env={**os.environ, "KUBECONFIG": kubeconfig})
        if r.returncode != 0:
            fail(f"helm template --dry-run=server: {r.stderr}")
        return [d for d in yaml.safe_load_all(r.stdout) if d]

    docs = upgrade()
    gen = secret_data(docs)["tusk-generated"]
    check(gen["root-token"] == "the-root-token-from-install"
          and gen["encryption-keys"] == "a2V5IGZyb20gaW5zdGFsbA=="
          and gen["pachd-oauth-client-secret"] == "the-client-secret-from-install",
          "the root token, encryption key and client secret of the install are kept")
    check(len(gen["console-oauth-client-secret"]) == 43, "a value missing from the old Secret is generated")
    check(test_pod_token(docs) == ("tusk-generated", "root-token"),
          "the helm test pod mounts the kept root token from the generated Secret")
    fresh = secret_data([d for d in yaml.safe_load_all(
        helm_template("fresh", [os.path.join(EXAMPLES, "okta-values.yaml")]).stdout) if d])
    check(fresh["tusk-generated"]["root-token"] != "the-root-token-from-install",
          "without an existing Secret a new root token is generated")
    docs = upgrade("pachd.rootTokenSecretName=pachyderm-root")
    check(test_pod_token(docs) == ("pachyderm-root", "root-token")
          and "root-token" in secret_data(docs)["tusk-generated"],
          "with rootTokenSecretName the test pod mounts the admin's Secret, and the old generated token stays stored")
    stop(api)


def test_pod_token(docs):
    """(Secret, key) the `helm test` pod reads the root token from. Issue 12:
    it mounts the key read-only and passes the file's path, so no copy of the
    token is kept in another Secret and no env value of the pod holds it."""
    pod = find(docs, "Pod")
    check(not any(d["kind"] == "Secret" and d["metadata"]["name"].endswith("-test") for d in docs),
          "no -test Secret copies the root token")
    container = pod["spec"]["containers"][0]
    env = {e["name"]: e for e in container.get("env", [])}
    check(env["TUSK_TOKEN_FILE"].get("value") == "/etc/tusk/root-token/root-token"
          and all("value" in e for e in env.values()),
          "the test pod names the token's file, and no env var takes a Secret's value")
    mount = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/tusk/root-token"]
    check(len(mount) == 1 and mount[0].get("readOnly") is True, "the root token is mounted read-only")
    vol = {v["name"]: v for v in pod["spec"]["volumes"]}[mount[0]["name"]]["secret"]
    check([i["path"] for i in vol["items"]] == ["root-token"], "only the key root-token is mounted")
    return vol["secretName"], vol["items"][0]["key"]


# ------------------------------------------------------------------ wiring


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kubelet_volume(path, files, mode):
    """Writes `files` (key -> text) the way the kubelet writes a Secret or
    ConfigMap volume: the data in a timestamped dir, `..data` pointing at it,
    and each key a symlink through `..data`."""
    os.makedirs(path, exist_ok=True)
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.") + str(time.time_ns() % 10**9)
    real = os.path.join(path, stamp)
    os.mkdir(real)
    for key, text in files.items():
        with open(os.path.join(real, key), "w") as f:
            f.write(text)
        os.chmod(os.path.join(real, key), mode)
    tmp_link = os.path.join(path, "..data_tmp")
    if os.path.lexists(tmp_link):
        os.unlink(tmp_link)
    os.symlink(stamp, tmp_link)
    old = os.path.realpath(os.path.join(path, "..data")) if os.path.lexists(os.path.join(path, "..data")) else None
    os.rename(tmp_link, os.path.join(path, "..data"))  # atomic, as the kubelet does
    for key in files:
        link = os.path.join(path, key)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..data", key), link)
    if old and old != real:
        shutil.rmtree(old)


class Pod:
    """One container of a rendered Deployment (or test Pod), run locally."""

    def __init__(self, docs, name, extra_secrets=None, pod_kind="Deployment"):
        self.docs = docs
        self.root = os.path.join(TMP, name)
        os.makedirs(self.root)
        self.secrets = secret_data(docs)
        self.secrets.update(extra_secrets or {})
        obj = find(docs, pod_kind)
        spec = obj["spec"]["template"]["spec"] if pod_kind == "Deployment" else obj["spec"]
        self.spec = spec
        self.container = spec["containers"][0]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        for m in self.container.get("volumeMounts", []):
            host = self.host_path(m["mountPath"])
            v = volumes[m["name"]]
            if "configMap" in v:
                cm = find(docs, "ConfigMap")
                check(cm["metadata"]["name"] == v["configMap"]["name"], f"{name}: ConfigMap volume resolves")
                kubelet_volume(host, cm["data"], 0o644)
            elif "secret" in v:
                sname = v["secret"]["secretName"]
                if sname not in self.secrets:
                    fail(f"{name}: Secret {sname} is mounted but neither rendered nor given by the test")
                data = self.secrets[sname]
                if "items" in v["secret"]:
                    data = {i["path"]: data[i["key"]] for i in v["secret"]["items"]}
                kubelet_volume(host, data, v["secret"].get("defaultMode", 0o644))
            else:
                # emptyDir or a PersistentVolumeClaim: group-writable like a
                # volume with fsGroup, which tusk must not use as its data dir.
                os.makedirs(host)
                os.chmod(host, 0o2775)

    def host_path(self, path):
        """The container's file system is `<root>/fs`: mounts keep their
        place, so /etc/tusk/secrets holds the mounted Secrets as in the pod."""
        return os.path.join(self.root, "fs") + path

    def args(self, port=None):
        out = []
        args = list(self.container.get("args", []))
        i = 0
        while i < len(args):
            a = args[i]
            if a == "--listen" and port is not None:
                out += ["--listen", f"127.0.0.1:{port}"]
                i += 2
                continue
            out.append(self.host_path(a) if a.startswith("/") else a)
            i += 1
        return out

    def env(self):
        env = {"PATH": os.environ["PATH"], "HOME": self.root}
        for e in self.container.get("env", []):
            if "value" in e:
                v = e["value"]
                env[e["name"]] = self.host_path(v) if v.startswith("/") else v
            else:
                ref = e["valueFrom"]["secretKeyRef"]
                env[e["name"]] = self.secrets[ref["name"]][ref["key"]]
        return env


def start(pod, port, label):
    log = open(os.path.join(TMP, f"{label}.log"), "w")
    p = subprocess.Popen([TUSK] + pod.args(port), env=pod.env(), stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    PROCS.append(p)
    deadline = time.time() + 30
    while time.time() < deadline:
        if p.poll() is not None:
            fail(f"{label}: tusk exited with {p.returncode}:\n{open(log.name).read()[-3000:]}")
        try:
            status, _ = get(port, "/healthz")
            if status == 200:
                say(f"  ok  {label}: tusk started from the rendered args and env on 127.0.0.1:{port}")
                return p
        except OSError:
            pass
        time.sleep(0.2)
    fail(f"{label}: /healthz did not answer in 30 s:\n{open(log.name).read()[-3000:]}")


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def request(port, method, path, body=None, headers=None, source="127.0.0.1"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def get(port, path):
    return request(port, "GET", path)


def readyz(port):
    status, body = get(port, "/readyz")
    return status, json.loads(body)


def doctor(pod_docs, label, port, extra_secrets):
    """The rendered `helm test` Pod's command, with the release's Service
    address mapped to the local port (as its paths are mapped)."""
    test = Pod(pod_docs, f"{label}-doctor", extra_secrets, pod_kind="Pod")
    test_pod_token(pod_docs)
    env = test.env()
    check(env["TUSK_ADDRESS"].startswith("grpc://tusk.pachyderm.svc:"),
          f"{label}: the test Pod names the release's Service ({env['TUSK_ADDRESS']})")
    env["TUSK_ADDRESS"] = f"grpc://127.0.0.1:{port}"
    r = run([TUSK] + test.args(), env=env, timeout=60)
    # From loopback /readyz shows its detail to anyone; in the cluster the
    # doctor needs the root token, so check the file it was given holds root's.
    w = run([TUSK, "auth", "whoami"], env=env, timeout=30)
    check(w.returncode == 0 and "pach:root" in w.stdout,
          f"{label}: the test Pod's token file holds the root token: {w.stdout.strip()} {w.stderr.strip()}")
    return r


def user_secrets():
    """The Secrets the test values name but do not create, as an admin
    would have made them."""
    key = os.path.join(TMP, "tls.key")
    crt = os.path.join(TMP, "tls.crt")
    if not os.path.exists(crt):
        r = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                 "-nodes", "-days", "30", "-subj", "/CN=pachyderm.example.com",
                 "-addext", "subjectAltName=DNS:pachyderm.example.com,DNS:pachyderm.acme.example",
                 "-keyout", key, "-out", crt])
        if r.returncode != 0:
            fail(f"openssl: {r.stderr}")
    tls = {"tls.crt": open(crt).read(), "tls.key": open(key).read()}
    okta = yaml.safe_load(open(os.path.join(EXAMPLES, "okta-values.yaml")))["oidc"]["upstreamIDPs"]
    return {
        "pachyderm-tls": tls,
        "okta-idps": {"upstream-idps": yaml.safe_dump(okta)},
        "pachyderm-root": {"root-token": "an-admins-root-token-of-some-length"},
        "pachyderm-oauth": {"pachd-oauth-client-secret": "a-pachd-client-secret-long-enough"},
        "pachyderm-license": {"enterprise-license-key": "a-license-key"},
        "console-oauth": {"OAUTH_CLIENT_SECRET": "a-console-client-secret-long-enough"},
        "rds-credentials": {"password": "a-database-password"},
    }


def test_tusk_accepts(renders):
    say("==> tusk config check accepts every rendered ConfigMap with its mounted Secrets")
    for name, docs in renders.items():
        pod = Pod(docs, f"check-{name}", user_secrets())
        args = pod.args()
        keep = []
        for flag in ("--values", "--secrets-dir"):
            keep += [flag, args[args.index(flag) + 1]]
        env = pod.env()
        r = run([TUSK, "config", "check", *keep], env=env, timeout=30)
        if r.returncode != 0:
            fail(f"{name}: tusk config check refused the rendered configuration:\n{r.stdout}{r.stderr}")
        check(True, f"{name}: {r.stdout.strip()}")


def wiring_document(renders):
    say("==> wiring: the Okta guide's values, as rendered")
    docs = renders["okta-yaml"]
    pod = Pod(docs, "okta")
    port = free_port()
    p = start(pod, port, "okta")
    status, body = readyz(port)
    conf = body["checks"]["config"]
    ids = [c["id"] for c in conf["connectors"]]
    check(ids == ["okta"], f"/readyz lists the Okta connector only: {ids}")
    check(conf["mockIDP"] is False, "the mock IdP is off")
    check(conf["connectorsOrigin"] == "secret tusk-values, key upstream-idps",
          f"connectors come from the mounted Secret: {conf['connectorsOrigin']}")
    check(conf["rootToken"] == "***", "the root token came from the chart's Secret (masked)")
    data = os.path.join(pod.host_path("/var/lib/tusk"), "data")
    check(os.path.isdir(data) and (os.stat(data).st_mode & 0o777) == 0o700
          and not os.path.exists(os.path.join(data, "root-token"))
          and not os.path.exists(os.path.join(data, "encryption-keys")),
          "SQLite in /var/lib/tusk/data (0700); no root token or key generated on the pod's disk")
    stop(p)


def wiring_tls(renders):
    say("==> wiring: proxy.tls (the Okta guide's TLS): tusk serves the mounted certificate")
    import ssl
    docs = renders["okta-proxy"]
    c = find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    check(c["readinessProbe"]["httpGet"]["scheme"] == "HTTPS", "probes use HTTPS")
    pod = Pod(docs, "tls", user_secrets())
    port = free_port()
    log = open(os.path.join(TMP, "tls.log"), "w")
    p = subprocess.Popen([TUSK] + pod.args(port), env=pod.env(), stdout=log, stderr=subprocess.STDOUT,
                         start_new_session=True)
    PROCS.append(p)
    ctx = ssl.create_default_context(cafile=os.path.join(TMP, "tls.crt"))
    status, issuer = None, None
    deadline = time.time() + 30
    while time.time() < deadline and p.poll() is None:
        try:
            conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=5, context=ctx)
            conn._tunnel_host = None
            # Verify against the name on the certificate, as clients do.
            conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                        server_hostname="pachyderm.example.com")
            conn.request("GET", "/dex/.well-known/openid-configuration")
            r = conn.getresponse()
            status, issuer = r.status, json.loads(r.read())["issuer"]
            break
        except (OSError, ValueError):
            time.sleep(0.2)
    check(status == 200 and issuer == "https://pachyderm.example.com/dex",
          f"TLS with the certificate of Secret pachyderm-tls; issuer {issuer}")
    stop(p)


def standin(port_tusk, secret):
    port = free_port()
    log = open(os.path.join(TMP, "standin.log"), "w")
    p = subprocess.Popen(
        ["node", os.path.join(ROOT, "tests", "browser", "okta-standin.mjs"), "--port", str(port),
         "--redirect-uri", f"http://127.0.0.1:{port_tusk}/dex/callback", "--client-secret", secret],
        stdout=subprocess.PIPE, stderr=log, text=True, start_new_session=True)
    PROCS.append(p)
    line = p.stdout.readline()
    if not line:
        fail(f"the Okta stand-in did not start:\n{open(log.name).read()}")
    return json.loads(line)["issuer"]


def connector(issuer, port, secret, name="Okta"):
    return [{"type": "oidc", "id": "okta", "name": name, "config": {
        "issuer": issuer, "clientID": "tusk", "clientSecret": secret,
        "redirectURI": f"http://127.0.0.1:{port}/dex/callback",
        "insecureEnableGroups": True, "insecureSkipEmailVerified": True}}]


def wiring_live(renders):
    say("==> wiring: a reachable Okta stand-in, helm test, then a live Secret swap")
    port = free_port()
    secret = "a-client-secret-for-the-stand-in"
    issuer = standin(port, secret)
    values = os.path.join(TMP, "standin-values.yaml")
    yaml.safe_dump({"oidc": {"upstreamIDPs": connector(issuer, port, secret)}}, open(values, "w"))
    docs = render("standin", [values])
    pod = Pod(docs, "standin")
    p = start(pod, port, "standin")
    deadline = time.time() + 20
    while time.time() < deadline:
        status, body = readyz(port)
        if body["checks"]["connectors"] and body["checks"]["connectors"][0].get("ok"):
            break
        time.sleep(0.3)
    check(status == 200 and body["checks"]["connectors"][0]["ok"], "/readyz: the Okta stand-in connector is open")
    r = doctor(docs, "standin", port, {})
    out = r.stdout + r.stderr
    check(r.returncode == 0, f"the helm test command (tusk doctor) passes:\n{out.strip()}")
    check(re.search(r"^ok\s+tusk: connector okta", out, re.M) is not None
          and re.search(r"^ok\s+okta: credentials", out, re.M) is not None,
          "doctor checked the connector's health and the upstream credentials")
    return pod, p, port, issuer, secret


def wiring_swap(pod, p, port, issuer, secret):
    say("==> live reload: swap the Secret's ..data to a changed upstream-idps")
    path = pod.host_path("/etc/tusk/secrets/tusk-values")

    def swap(name):
        files = dict(pod.secrets["tusk-values"])
        files["upstream-idps"] = yaml.safe_dump(connector(issuer, port, secret, name=name))
        kubelet_volume(path, files, 0o440)

    token = pod.secrets["tusk-generated"]["root-token"]

    def wait_for(name, seconds):
        # The identity API shows the connectors tusk runs now.
        deadline = time.time() + seconds
        seen = None
        while time.time() < deadline:
            r = as_root(port, token, "idp", "get-connector", "okta", "-o", "json")
            if r.returncode != 0:
                fail(f"tusk idp get-connector okta: {r.stderr}")
            seen = json.loads(r.stdout)["name"]
            if seen == name:
                break
            time.sleep(0.3)
        return seen

    # First with SIGHUP, which re-reads every source: this proves the swapped
    # layout is one tusk reads, whatever watching the binary does.
    swap("Okta (after SIGHUP)")
    p.send_signal(signal.SIGHUP)
    seen = wait_for("Okta (after SIGHUP)", 15)
    check(seen == "Okta (after SIGHUP)", f"after a ..data swap and SIGHUP the connector is renamed ({seen!r})")
    # Then with no signal at all, as in a cluster.
    swap("Okta (renamed)")
    # tusk polls its sources every 2 s; the kubelet itself takes up to a
    # minute to propagate, which this test does not need to wait for.
    seen = wait_for("Okta (renamed)", 30)
    check(p.poll() is None, "tusk kept running")
    check(seen == "Okta (renamed)",
          f"the changed upstream-idps applied without a restart or signal (connector name now {seen!r}; "
          "needs the secrets-dir watching of the hruntime branch)")


def wiring_proxy(renders):
    say("==> trusted proxy through the rendered configuration")
    docs = render("rate-limit", [os.path.join(VALUES, "rate-limit.yaml")])
    check(config_values(docs)["tusk"]["trustedProxies"] == ["127.0.0.1/32"], "explicit tusk.trustedProxies wins")
    pod = Pod(docs, "rate-limit")
    port = free_port()
    p = start(pod, port, "rate-limit")
    form = "grant_type=authorization_code&code=x&client_id=pachd&redirect_uri=http%3A%2F%2Fx"
    hdr = {"Content-Type": "application/x-www-form-urlencoded"}

    def token(xff, source):
        h = dict(hdr)
        if xff:
            h["X-Forwarded-For"] = xff
        status, _ = request(port, "POST", "/dex/token", form, h, source=source)
        return status

    # From the trusted proxy the forwarded address keys the limit.
    a1, a2, b1 = token("203.0.113.7", "127.0.0.1"), token("203.0.113.7", "127.0.0.1"), token("203.0.113.8", "127.0.0.1")
    check(a1 != 429 and a2 == 429 and b1 != 429,
          f"from the trusted proxy, each forwarded client has its own limit ({a1}, {a2}, {b1})")
    # From an untrusted peer a spoofed header changes nothing.
    c1, c2 = token("198.51.100.1", "127.0.0.2"), token("198.51.100.2", "127.0.0.2")
    check(c1 != 429 and c2 == 429,
          f"from an untrusted peer, a spoofed X-Forwarded-For does not escape its limit ({c1}, {c2})")
    stop(p)


def as_root(port, token, *args):
    """A tusk client command with the root token, against 127.0.0.1:port."""
    cfg = os.path.join(TMP, f"client-{port}.json")
    with open(cfg, "w") as f:
        json.dump({"v2": {"active_context": "t", "contexts": {"t": {
            "pachd_address": f"grpc://127.0.0.1:{port}", "session_token": token}}}}, f)
    env = {"PATH": os.environ["PATH"], "HOME": TMP, "PACH_CONFIG": cfg}
    return run([TUSK, *args], env=env, timeout=30)


def psql(sql):
    r = run(["psql", POSTGRES + "/postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql])
    if r.returncode != 0:
        fail(f"psql {sql}: {r.stderr}")


def wiring_postgres(renders):
    say("==> two replicas on PostgreSQL, from the rendered Deployment")
    u = urllib.parse.urlparse(POSTGRES)
    db = f"tusk_helm_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    try:
        docs = render("two-replicas-local", [os.path.join(VALUES, "two-replicas-postgresql.yaml")], [
            f"global.postgresql.postgresqlHost={u.hostname}",
            f"global.postgresql.postgresqlPort={u.port or 5432}",
            f"global.postgresql.postgresqlUsername={u.username}",
            "global.postgresql.postgresqlSSL=disable",
            f"database.postgresql.database={db}"])
        env = {e["name"]: e for e in find(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"]}
        check(":" not in urllib.parse.urlparse(env["TUSK_DATABASE_URL"]["value"]).netloc.split("@")[0],
              "the database URL carries no password")
        check("PGPASSWORD" in env, "PGPASSWORD from the chart's Secret")
        pod = Pod(docs, "pg")
        ports = [free_port(), free_port()]
        procs = [start(pod, ports[0], "pg-a"), start(pod, ports[1], "pg-b")]
        for port in ports:
            status, body = readyz(port)
            check(status == 200 and body["checks"]["store"]["backend"] == "postgres",
                  f"replica on {port}: ready on PostgreSQL")
        # The root token both replicas share comes from the chart's Secret.
        token = pod.secrets["tusk-generated"]["root-token"]

        def tusk_cli(port, *args):
            return as_root(port, token, *args)
        r = tusk_cli(ports[0], "resource", "create", "project", "helmchart")
        check(r.returncode == 0, f"replica a: the chart's root token creates a project {r.stderr.strip()}")
        r = tusk_cli(ports[0], "auth", "set", "project", "helmchart", "projectViewer", "user:alice@example.com")
        check(r.returncode == 0, f"replica a: and binds a role on it {r.stderr.strip()}")
        r = tusk_cli(ports[1], "auth", "get", "project", "helmchart")
        check(r.returncode == 0 and "user:alice@example.com" in r.stdout,
              f"replica b sees it with the same root token: {r.stdout.strip()} {r.stderr.strip()}")
        for p in procs:
            stop(p)
    finally:
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def main():
    started = time.time()
    ok = False
    try:
        renders = test_renders()
        test_upgrade_keeps_secrets()
        test_tusk_accepts(renders)
        wiring_document(renders)
        wiring_tls(renders)
        wiring_proxy(renders)
        wiring_postgres(renders)
        live = wiring_live(renders)
        # Last, so that everything above is proven even while the binary
        # cannot yet watch its secrets directory.
        wiring_swap(*live)
        ok = True
    finally:
        for p in PROCS:
            stop(p)
        if not ok or os.environ.get("TUSK_HELM_KEEP"):
            say(f"test-helm: renders, laid-out volumes and server logs kept in {TMP}")
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    say(f"test-helm: all passed in {time.time() - started:.0f} s")


if __name__ == "__main__":
    main()
