"""Fixtures for the pachyderm-sdk wire tests: a real `tusk serve` per
configuration, each on a fresh data directory, driven through the official
Python client."""

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from pachyderm_sdk import Client
from pachyderm_sdk.client import _apply_metadata_interceptor, _create_channel
from pachyderm_sdk.constants import GRPC_CHANNEL_OPTIONS

REPO = Path(__file__).resolve().parents[2]
TUSK_BIN = Path(os.environ.get("TUSK_BIN", REPO / "target" / "debug" / "tusk"))
if not TUSK_BIN.is_absolute():
    TUSK_BIN = REPO / TUSK_BIN

START_TIMEOUT = 60.0

# The SDK reads these at Client() time; a developer's own must not leak in.
for _name in ("PACH_PYTHON_AUTH_TOKEN", "PACH_PYTHON_OIDC_TOKEN", "PACH_CONFIG"):
    os.environ.pop(_name, None)

# Pachyderm's environment, which tusk reads as configuration (README), and
# tusk's own flags' variables: the servers here are configured explicitly.
_SERVER_ENV = {
    "IDP_CONNECTORS", "IDP_CONFIG", "IDP_CLIENTS", "IDP_ADDITIONAL_CLIENTS", "TRUSTED_PEERS",
    "ACTIVATE_AUTH", "AUTH_ROOT_TOKEN", "AUTH_CONFIG", "AUTH_CLIENT_SECRET",
    "AUTH_CLUSTER_RBAC", "CONSOLE_OAUTH_ID", "CONSOLE_OAUTH_SECRET",
    "SESSION_DURATION_MINUTES", "LICENSE_KEY", "ENTERPRISE_SECRET", "RUST_LOG",
}

# Values files for the configurations the tests need.
INACTIVE = "pachd:\n  activateAuth: false\n"
UNMANAGED = "oidc:\n  mockIDP: false\n"


class Tusk:
    """One `tusk serve` process on its own temporary data directory."""

    def __init__(self, values=None, env=None, listen="127.0.0.1:0", extra_args=()):
        if not TUSK_BIN.exists():
            raise RuntimeError(
                f"{TUSK_BIN} does not exist: run `cargo build -p tusk-cli` or set TUSK_BIN"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="tusk-sdk-"))
        self.values = values
        self.extra_env = dict(env or {})
        self.listen = listen
        self.extra_args = list(extra_args)
        self.proc = None
        self.log = []
        self.address = None
        self._start()

    def _start(self):
        cmd = [str(TUSK_BIN), "serve", "--data-dir", str(self.dir / "data"),
               "--listen", self.listen, "--log-format", "json", *self.extra_args]
        if self.values is not None:
            path = self.dir / "values.yaml"
            path.write_text(self.values)
            cmd += ["--values", str(path)]
        env = {k: v for k, v in os.environ.items()
               if k not in _SERVER_ENV and not k.startswith("TUSK_")}
        env["RUST_LOG"] = "info"  # the start is read from INFO lines
        env.update(self.extra_env)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, env=env)
        lines = queue.Queue()

        def drain(stream):
            for line in stream:
                self.log.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=drain, args=(self.proc.stderr,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        while self.address is None:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"tusk did not start in {START_TIMEOUT}s:\n{self.logs()}")
            if line is None:
                raise RuntimeError(f"tusk exited with {self.proc.wait()}:\n{self.logs()}")
            try:
                fields = json.loads(line).get("fields", {})
            except ValueError:
                continue
            if fields.get("message") == "tusk is serving":
                self.address = fields["listen"]
        # The port is bound before the bootstrap (activation, root token
        # file) runs; the HTTP routes answer once it has finished.
        while True:
            try:
                with urllib.request.urlopen(f"http://{self.address}/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"tusk exited with {self.proc.returncode}:\n{self.logs()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tusk never answered /healthz:\n{self.logs()}")
            time.sleep(0.05)

    def logs(self):
        return "".join(self.log[-200:])

    @property
    def host(self):
        return self.address.rsplit(":", 1)[0]

    @property
    def port(self):
        return int(self.address.rsplit(":", 1)[1])

    @property
    def base_url(self):
        return f"http://{self.address}"

    @property
    def root_token(self):
        if "AUTH_ROOT_TOKEN" in self.extra_env:
            return self.extra_env["AUTH_ROOT_TOKEN"]
        return (self.dir / "data" / "root-token").read_text().strip()

    def client(self, token=None):
        """The SDK's client; `token=None` sends no `authn-token` at all."""
        return Client(self.host, self.port, auth_token=token)

    def root(self):
        return self.client(self.root_token)

    def client_with_metadata(self, metadata):
        """An SDK client whose calls carry exactly `metadata`."""
        c = Client(self.host, self.port)
        c._channel = _apply_metadata_interceptor(
            _create_channel(c.address, None, options=GRPC_CHANNEL_OPTIONS), metadata)
        c._init_api()
        return c

    def bare(self, token=None):
        """The SDK's API stubs on a plain channel, without the SDK's error
        mapping, so the raw status (code and details) shows."""
        c = Client(self.host, self.port)
        channel = grpc.insecure_channel(c.address, options=GRPC_CHANNEL_OPTIONS)
        if token is not None:
            channel = grpc.intercept_channel(channel, _AddMetadata([("authn-token", token)]))
        c._channel = channel
        c._init_api()
        return c

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        self.address = None

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class _AddMetadata(grpc.UnaryUnaryClientInterceptor):
    def __init__(self, metadata):
        self.metadata = metadata

    def intercept_unary_unary(self, continuation, details, request):
        details = details._replace(metadata=list(details.metadata or []) + self.metadata)
        return continuation(details, request)


class Factory:
    def __init__(self):
        self.servers = []

    def __call__(self, **kw):
        t = Tusk(**kw)
        self.servers.append(t)
        return t

    def close(self):
        for t in self.servers:
            t.close()


@pytest.fixture
def fresh():
    """A factory of servers that live for one test (for destructive tests)."""
    f = Factory()
    yield f
    f.close()


@pytest.fixture(scope="module")
def module_factory():
    f = Factory()
    yield f
    f.close()


@pytest.fixture(scope="module")
def server(module_factory):
    """Default configuration: mock IdP, auth active, generated root token.
    The issuer follows the bound port, so login URLs are reachable."""
    return module_factory()


@pytest.fixture(scope="module")
def inactive(module_factory):
    """Auth never activated."""
    return module_factory(values=INACTIVE)


@pytest.fixture(scope="module")
def unmanaged(module_factory):
    """No mock IdP: connectors are not config-managed."""
    return module_factory(values=UNMANAGED)


@pytest.fixture(scope="module")
def env_root(module_factory):
    """Root token from the environment (AUTH_ROOT_TOKEN)."""
    return module_factory(env={"AUTH_ROOT_TOKEN": "0123456789abcdef0123456789abcdef"})


@pytest.fixture(scope="module")
def gatekeeper(module_factory):
    """A server only used to check that non-admins are refused, so a
    missing check cannot damage the state other tests rely on."""
    return module_factory()


def pytest_report_header(config):
    return f"tusk binary: {TUSK_BIN}"

