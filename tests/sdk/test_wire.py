"""Wire compatibility with Pachyderm 2.x clients, judged by the official
Python client `pachyderm-sdk==2.12.2`: every RPC of auth_v2, identity_v2,
enterprise_v2, license_v2 and versionpb_v2 (docs/wire-api.md), and tusk's own
tusk.resources.v1, called through the SDK's own client objects against a
real `tusk serve`.

The SDK sets no deadlines: pytest-timeout bounds every test (pytest.ini),
and the blocking Authenticate(oidc_state) runs in a thread joined with a
timeout. No assertion depends on how long anything takes.
"""

import base64
import datetime
import hashlib
import json
import os
import random
import socket
import string
import re
import secrets
import shutil
import subprocess
import threading
import time
import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request

import betterproto
import betterproto.lib.google.protobuf as pbstruct
import grpc
import pytest
from pachyderm_sdk import Client
from pachyderm_sdk.api import auth, enterprise, identity, license
from pachyderm_sdk.errors import AuthServiceNotActivated

from conftest import INACTIVE, UNMANAGED

Code = grpc.StatusCode
P = auth.Permission
RT = auth.ResourceType
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)

# Texts clients match on (docs/wire-api.md §2), byte for byte.
NOT_ACTIVATED = "the auth service is not activated"
ALREADY_ACTIVATED = "the auth service is already activated"
NOT_SIGNED_IN = "no authentication token (try logging in)"
BAD_TOKEN = "provided auth token is corrupted or has expired (try logging in again)"
EXPIRED_TOKEN = "token expiration is in the past"
MULTIPLE_TOKENS = "multiple authentication token keys found in context"
NOT_ENTERPRISE = "cluster does not have enterprise features enabled"
INVALID_ID = "ID does not exist"
ALREADY_EXISTS = "ID already exists"
NO_PREFIX = "subject has no prefix, must be of the form <type>:<name>"


def not_authorized(subject, permission, kind="CLUSTER", name=""):
    return (
        f"{subject} is not authorized to perform this operation - needs permissions "
        f"[{permission}] on {kind} {name}. Run `pachctl auth roles-for-permission` "
        "to find roles that grant a given permission."
    )


def managed_refusal(rpc):
    return (
        f"identity.{rpc}() is disabled when the Identity Connectors are set via environment."
    )


def server_bug(reason):
    """A test that states the spec and fails on today's server. strict: when
    the server is fixed the test XPASSes, which fails the run, so the marker
    gets removed."""
    return pytest.mark.xfail(reason=f"server bug: {reason}", strict=True)


# --------------------------------------------------------------------------
# Helpers


def res(kind, name=""):
    return auth.Resource(type=kind, name=name)


CLUSTER = res(RT.CLUSTER)


def rpc_error(call, *args, **kwargs):
    """Runs an SDK call that must fail and returns the grpc error."""
    try:
        result = call(*args, **kwargs)
    except grpc.RpcError as e:
        return e
    pytest.fail(f"expected an error, got {result!r}")


def expect(call, code, exact=None, prefix=None, contains=None):
    e = rpc_error(call)
    assert e.code() == code, f"{e.code()}: {e.details()!r}"
    details = e.details()
    if exact is not None:
        assert details == exact
    if prefix is not None:
        assert details.startswith(prefix), details
    if contains is not None:
        assert contains in details, details
    return details


def expect_not_activated(server, call, token=None):
    """ErrNotActivated: UNIMPLEMENTED with the exact text on the wire, which
    the SDK's client turns into AuthServiceNotActivated."""
    expect(lambda: call(server.bare(token)), Code.UNIMPLEMENTED, exact=NOT_ACTIVATED)
    with pytest.raises(AuthServiceNotActivated) as info:
        call(server.client(token))
    assert str(info.value) == NOT_ACTIVATED


def robot(server, name, ttl=0):
    """A token for `robot:<name>`, minted by root."""
    return server.root().auth.get_robot_token(robot=name, ttl=ttl).token


def unique(prefix):
    return f"{prefix}-{secrets.token_hex(4)}"


def sha256(token):
    return hashlib.sha256(token.encode()).hexdigest()


def struct_to_py(s):
    def value(v):
        kind, inner = betterproto.which_one_of(v, "kind")
        if kind == "struct_value":
            return struct_to_py(inner)
        if kind == "list_value":
            return [value(x) for x in inner.values]
        if kind == "null_value" or kind == "":
            return None
        return inner

    return {k: value(v) for k, v in s.fields.items()}


def struct(d):
    return pbstruct.Struct(fields={k: pbstruct.Value(string_value=v) for k, v in d.items()})


# --- a browser without a browser ------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


class _LoginBindingOnly(http.cookiejar.DefaultCookiePolicy):
    """Keeps only tusk's login-binding cookie: tusk refuses each later step
    of a login from a user agent without the cookie its /auth set (a
    forwarded link), so this "browser" sends it back as a browser does. The
    session cookie is not kept, so every login here shows the password form."""

    def set_ok(self, cookie, request):
        return cookie.name in ("tusk_login", "__Host-tusk_login") and super().set_ok(cookie, request)


_opener = urllib.request.build_opener(
    _NoRedirect,
    urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar(_LoginBindingOnly())),
)


def follow(url, data=None, stop_at=None):
    """GETs (or POSTs `data` to) url and follows redirects by hand. Returns
    (final url, body); stops without fetching at a Location that starts with
    `stop_at` and returns (that location, None)."""
    for _ in range(20):
        try:
            with _opener.open(urllib.request.Request(url, data=data), timeout=30) as r:
                return url, r.read().decode()
        except urllib.error.HTTPError as e:
            if e.code in (301, 302, 303, 307):
                url = urllib.parse.urljoin(url, e.headers["Location"])
                data = None
                if stop_at and url.startswith(stop_at):
                    return url, None
                continue
            return url, f"HTTP {e.code}: " + e.read().decode()
    pytest.fail("too many redirects")


def browser_login(url, stop_at=None):
    """The mock IdP's form (`admin` / `password`) from an authorization URL."""
    form_url, body = follow(url)
    assert "/auth/test/login" in form_url, (form_url, body)
    return follow(form_url, urllib.parse.urlencode(
        {"login": "admin", "password": "password"}).encode(), stop_at=stop_at)


def in_thread(fn, timeout=60):
    """Starts fn in a thread; returns a join() that gives its result or raises."""
    out = {}

    def run():
        try:
            out["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def join():
        t.join(timeout)
        assert not t.is_alive(), f"still blocked after {timeout}s"
        if "error" in out:
            raise out["error"]
        return out["value"]

    return join


# --------------------------------------------------------------------------
# Tables of RPCs. Each entry: name, permission checked on the cluster (None
# for `authn`), a call with a harmless request.

AUTH_PROTECTED = [
    ("auth.Deactivate", "CLUSTER_AUTH_DEACTIVATE", lambda c: c.auth.deactivate()),
    ("auth.GetConfiguration", "CLUSTER_AUTH_GET_CONFIG", lambda c: c.auth.get_configuration()),
    ("auth.SetConfiguration", "CLUSTER_AUTH_SET_CONFIG",
     lambda c: c.auth.set_configuration(configuration=auth.OidcConfig())),
    ("auth.Authorize", None,
     lambda c: c.auth.authorize(resource=CLUSTER, permissions=[P.CLUSTER_GET_BINDINGS])),
    ("auth.GetPermissions", None, lambda c: c.auth.get_permissions(resource=CLUSTER)),
    ("auth.GetPermissionsForPrincipal", "CLUSTER_AUTH_GET_PERMISSIONS_FOR_PRINCIPAL",
     lambda c: c.auth.get_permissions_for_principal(resource=CLUSTER, principal="robot:x")),
    ("auth.WhoAmI", None, lambda c: c.auth.who_am_i()),
    ("auth.GetRolesForPermission", None,
     lambda c: c.auth.get_roles_for_permission(permission=P.REPO_READ)),
    ("auth.ModifyRoleBinding", "CLUSTER_MODIFY_BINDINGS",
     lambda c: c.auth.modify_role_binding(resource=CLUSTER, principal="robot:x",
                                          roles=["clusterAdmin"])),
    ("auth.GetRoleBinding", None, lambda c: c.auth.get_role_binding(resource=CLUSTER)),
    ("auth.GetRobotToken", "CLUSTER_AUTH_GET_ROBOT_TOKEN",
     lambda c: c.auth.get_robot_token(robot="escalated")),
    ("auth.RevokeAuthToken", None, lambda c: c.auth.revoke_auth_token(token="0" * 32)),
    ("auth.RevokeAuthTokensForUser", "CLUSTER_AUTH_REVOKE_USER_TOKENS",
     lambda c: c.auth.revoke_auth_tokens_for_user(username="robot:x")),
    ("auth.SetGroupsForUser", "CLUSTER_AUTH_MODIFY_GROUP_MEMBERS",
     lambda c: c.auth.set_groups_for_user(username="robot:x", groups=["group:g"])),
    ("auth.ModifyMembers", "CLUSTER_AUTH_MODIFY_GROUP_MEMBERS",
     lambda c: c.auth.modify_members(group="group:g", add=["robot:x"])),
    ("auth.GetGroups", None, lambda c: c.auth.get_groups()),
    ("auth.GetGroupsForPrincipal", "CLUSTER_AUTH_GET_GROUPS",
     lambda c: c.auth.get_groups_for_principal(principal="robot:x")),
    ("auth.GetUsers", "CLUSTER_AUTH_GET_GROUP_USERS", lambda c: c.auth.get_users(group="group:g")),
    ("auth.ExtractAuthTokens", "CLUSTER_AUTH_EXTRACT_TOKENS",
     lambda c: c.auth.extract_auth_tokens()),
    ("auth.RestoreAuthToken", "CLUSTER_AUTH_RESTORE_TOKEN",
     lambda c: c.auth.restore_auth_token(
         token=auth.TokenInfo(subject="robot:restored", hashed_token="f" * 64))),
    ("auth.DeleteExpiredAuthTokens", "CLUSTER_AUTH_DELETE_EXPIRED_TOKENS",
     lambda c: c.auth.delete_expired_auth_tokens()),
    ("auth.RotateRootToken", "CLUSTER_AUTH_ROTATE_ROOT_TOKEN",
     lambda c: c.auth.rotate_root_token(root_token="f" * 32)),
]

IDENTITY_PROTECTED = [
    ("identity.SetIdentityServerConfig", "CLUSTER_IDENTITY_SET_CONFIG",
     lambda c: c.identity.set_identity_server_config(
         config=identity.IdentityServerConfig(issuer="http://elsewhere/dex"))),
    ("identity.GetIdentityServerConfig", "CLUSTER_IDENTITY_GET_CONFIG",
     lambda c: c.identity.get_identity_server_config()),
    ("identity.CreateIDPConnector", "CLUSTER_IDENTITY_CREATE_IDP",
     lambda c: c.identity.create_idp_connector(
         connector=identity.IdpConnector(id="x", name="x", type="mockCallback"))),
    ("identity.UpdateIDPConnector", "CLUSTER_IDENTITY_UPDATE_IDP",
     lambda c: c.identity.update_idp_connector(
         connector=identity.IdpConnector(id="test", name="x", config_version=1))),
    ("identity.ListIDPConnectors", "CLUSTER_IDENTITY_LIST_IDPS",
     lambda c: c.identity.list_idp_connectors()),
    ("identity.GetIDPConnector", "CLUSTER_IDENTITY_GET_IDP",
     lambda c: c.identity.get_idp_connector(id="test")),
    ("identity.DeleteIDPConnector", "CLUSTER_IDENTITY_DELETE_IDP",
     lambda c: c.identity.delete_idp_connector(id="test")),
    ("identity.CreateOIDCClient", "CLUSTER_IDENTITY_CREATE_OIDC_CLIENT",
     lambda c: c.identity.create_oidc_client(client=identity.OidcClient(id="x", name="x"))),
    ("identity.UpdateOIDCClient", "CLUSTER_IDENTITY_UPDATE_OIDC_CLIENT",
     lambda c: c.identity.update_oidc_client(client=identity.OidcClient(id="pachd", name="x"))),
    ("identity.GetOIDCClient", "CLUSTER_IDENTITY_GET_OIDC_CLIENT",
     lambda c: c.identity.get_oidc_client(id="pachd")),
    ("identity.ListOIDCClients", "CLUSTER_IDENTITY_LIST_OIDC_CLIENTS",
     lambda c: c.identity.list_oidc_clients()),
    ("identity.DeleteOIDCClient", "CLUSTER_IDENTITY_DELETE_OIDC_CLIENT",
     lambda c: c.identity.delete_oidc_client(id="console")),
    ("identity.DeleteAll", "CLUSTER_DELETE_ALL", lambda c: c.identity.delete_all()),
]

# `off∨L` RPCs: no check while auth is off; otherwise level L. `outcome` is
# what both an inactive cluster (no token) and root on an active one get:
# None for success, else (code, exact text or prefix ending in "…").
SINGLE_CLUSTER = (Code.UNIMPLEMENTED, "tusk is the license server of its own cluster only…")
OFF_OR = [
    ("enterprise.Activate", "CLUSTER_ENTERPRISE_ACTIVATE",
     lambda c: c.enterprise.activate(license_server="grpc://localhost:1650", id="c", secret="s"),
     (Code.UNKNOWN, "enterprise license is not valid - NONE")),
    ("enterprise.GetActivationCode", "CLUSTER_ENTERPRISE_GET_CODE",
     lambda c: c.enterprise.get_activation_code(), None),
    ("enterprise.Heartbeat", "CLUSTER_ENTERPRISE_HEARTBEAT",
     lambda c: c.enterprise.heartbeat(), (Code.UNIMPLEMENTED, NOT_ENTERPRISE)),
    ("enterprise.Deactivate", "CLUSTER_ENTERPRISE_DEACTIVATE",
     lambda c: c.enterprise.deactivate(), None),
    ("enterprise.Pause", "CLUSTER_ENTERPRISE_PAUSE", lambda c: c.enterprise.pause(),
     (Code.UNKNOWN, "this pachd instance is not in a pausable mode")),
    ("enterprise.Unpause", "CLUSTER_ENTERPRISE_PAUSE", lambda c: c.enterprise.unpause(),
     (Code.UNKNOWN, "this pachd instance is not in an unpausable mode")),
    ("enterprise.PauseStatus", None, lambda c: c.enterprise.pause_status(), None),
    ("license.Activate", "CLUSTER_LICENSE_ACTIVATE",
     lambda c: c.license.activate(activation_code="bm90IGEgY29kZQ=="),
     (Code.FAILED_PRECONDITION, "no license public key is configured…")),
    ("license.GetActivationCode", "CLUSTER_LICENSE_GET_CODE",
     lambda c: c.license.get_activation_code(), None),
    ("license.AddCluster", "CLUSTER_LICENSE_ADD_CLUSTER",
     lambda c: c.license.add_cluster(id="other", address="grpc://other:1650"), SINGLE_CLUSTER),
    ("license.UpdateCluster", "CLUSTER_LICENSE_UPDATE_CLUSTER",
     lambda c: c.license.update_cluster(id="other", address="grpc://other:1650"), SINGLE_CLUSTER),
    ("license.DeleteCluster", "CLUSTER_LICENSE_DELETE_CLUSTER",
     lambda c: c.license.delete_cluster(id="other"), SINGLE_CLUSTER),
    ("license.ListClusters", "CLUSTER_LICENSE_LIST_CLUSTERS",
     lambda c: c.license.list_clusters(), None),
    ("license.DeleteAll", "CLUSTER_DELETE_ALL", lambda c: c.license.delete_all(), None),
    ("license.ListUserClusters", None, lambda c: c.license.list_user_clusters(), None),
]

PROTECTED = AUTH_PROTECTED + IDENTITY_PROTECTED


def ids(table):
    return [row[0] for row in table]


def check_outcome(call, outcome):
    if outcome is None:
        call()
        return
    code, text = outcome
    if text.endswith("…"):
        expect(call, code, prefix=text[:-1])
    else:
        expect(call, code, exact=text)


# --------------------------------------------------------------------------
# The suite itself: every RPC of the SDK's stubs is called somewhere here.


@pytest.mark.parametrize("service,stub", [
    ("auth", auth.ApiStub), ("identity", identity.ApiStub),
    ("enterprise", enterprise.ApiStub), ("license", license.ApiStub)])
def test_every_sdk_rpc_is_exercised(service, stub):
    with open(__file__, encoding="utf-8") as f:
        source = f.read()
    methods = [m for m in vars(stub) if not m.startswith("_") and callable(getattr(stub, m))]
    assert len(methods) >= 8
    missing = [m for m in methods if f".{service}.{m}(" not in source]
    assert missing == [], f"{service} RPCs without a test: {missing}"


# --------------------------------------------------------------------------
# versionpb_v2


def test_get_version(server, inactive):
    for s in (server, inactive):
        for token in (None, "garbage"):
            v = s.client(token).get_version()
            assert (v.major, v.minor) == (2, 11)
            assert v.additional.startswith("tusk-")
            assert v.platform


# --------------------------------------------------------------------------
# Before activation: ErrNotActivated, which the SDK turns into
# AuthServiceNotActivated.


@pytest.mark.parametrize("token", [None, "garbage"], ids=["no-token", "garbage-token"])
@pytest.mark.parametrize("name,perm,call", PROTECTED, ids=ids(PROTECTED))
def test_not_activated(inactive, name, perm, call, token):
    expect_not_activated(inactive, call, token)


@pytest.mark.parametrize("mechanism", [
    {"id_token": "eyJhbGciOiJub25lIn0.e30."}, {"oidc_state": "never-issued"}, {}])
def test_authenticate_not_activated(inactive, mechanism):
    expect_not_activated(inactive, lambda c: c.auth.authenticate(**mechanism))


@pytest.mark.parametrize("name,perm,call,outcome", OFF_OR, ids=ids(OFF_OR))
def test_off_or_rpcs_need_nothing_while_inactive(inactive, name, perm, call, outcome):
    check_outcome(lambda: call(inactive.client()), outcome)


def test_none_rpcs_while_inactive(inactive):
    c = inactive.client()
    assert c.enterprise.get_state().state == enterprise.State.NONE
    assert c.enterprise.pause_status().status == \
        enterprise.PauseStatusResponsePauseStatus.UNPAUSED
    expect(lambda: c.auth.get_oidc_login(), Code.UNKNOWN,
           exact="OIDC ID provider configuration not found")
    expect(lambda: c.license.heartbeat(id="c", secret="s"), Code.UNIMPLEMENTED,
           prefix="cluster ID or secret is not valid")


# --------------------------------------------------------------------------
# auth_v2: Activate / Deactivate


def test_activate_with_chosen_root_token(fresh):
    s = fresh(values=INACTIVE)
    chosen = secrets.token_hex(16)
    assert s.client().auth.activate(root_token=chosen).pach_token == chosen
    who = s.client(chosen).auth.who_am_i()
    assert who.username == "pach:root"
    assert who.expiration == EPOCH  # never expires: field unset on the wire
    entries = s.client(chosen).auth.get_role_binding(resource=CLUSTER).binding.entries
    assert {p: set(r.roles) for p, r in entries.items()} == {
        "pach:root": {"clusterAdmin"},
        "internal:auth-server": {"clusterAdmin"},
        "allClusterUsers": {"projectCreator"},
    }
    # The data plane's default project exists once auth is active.
    project = s.client(chosen).auth.get_role_binding(resource=res(RT.PROJECT, "default"))
    assert {p: set(r.roles) for p, r in project.binding.entries.items()} == {
        "allClusterUsers": {"projectWriter"}}
    for token in (None, chosen):
        expect(lambda: s.client(token).auth.activate(root_token=secrets.token_hex(16)),
               Code.UNIMPLEMENTED, exact=ALREADY_ACTIVATED)
    assert s.client(chosen).auth.who_am_i().username == "pach:root"


def test_activate_generates_root_token(fresh):
    s = fresh(values=INACTIVE)
    token = s.client().auth.activate().pach_token
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert s.client(token).auth.who_am_i().username == "pach:root"


def test_activate_on_active_cluster(server):
    expect(lambda: server.client().auth.activate(), Code.UNIMPLEMENTED, exact=ALREADY_ACTIVATED)


def test_deactivate_then_reactivate(fresh):
    s = fresh()
    root = s.root()
    bot = robot(s, "survivor")
    root.auth.set_groups_for_user(username="robot:survivor", groups=["group:g"])
    assert root.auth.deactivate() == auth.DeactivateResponse()
    expect_not_activated(s, lambda c: c.auth.who_am_i(), s.root_token)
    expect_not_activated(s, lambda c: c.auth.get_role_binding(resource=CLUSTER), bot)
    expect_not_activated(s, lambda c: c.identity.list_oidc_clients(), s.root_token)
    new_root = s.client().auth.activate(root_token=secrets.token_hex(16)).pach_token
    c = s.client(new_root)
    # Every token, binding and membership went with the old activation.
    expect(lambda: s.client(s.root_token).auth.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    expect(lambda: s.client(bot).auth.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    assert c.auth.get_groups_for_principal(principal="robot:survivor").groups == []
    assert set(c.auth.get_role_binding(resource=CLUSTER).binding.entries) == {
        "pach:root", "internal:auth-server", "allClusterUsers"}
    # The OIDC config was deleted too.
    assert c.auth.get_configuration().configuration == auth.OidcConfig()


# --------------------------------------------------------------------------
# Tokens: every way to present a bad one


@pytest.fixture(scope="module")
def tokens(module_factory):
    """A server with a revoked and an expired robot token."""
    s = module_factory()
    revoked = robot(s, "revoked")
    assert s.root().auth.revoke_auth_token(token=revoked).number == 1
    expired = robot(s, "shortlived", ttl=1)
    time.sleep(2)  # ttl is whole seconds: let it pass
    return s, {"revoked": revoked, "expired": expired}


# label → (client, code, text); "…" ends a prefix.
TOKEN_CASES = {
    "absent": (lambda s, t: s.client(None), Code.UNAUTHENTICATED, NOT_SIGNED_IN),
    "empty": (lambda s, t: s.client(""), Code.UNAUTHENTICATED, NOT_SIGNED_IN),
    "garbage": (lambda s, t: s.client("garbage"), Code.UNAUTHENTICATED, BAD_TOKEN),
    "unknown-hex": (lambda s, t: s.client(secrets.token_hex(16)), Code.UNAUTHENTICATED,
                    BAD_TOKEN),
    "huge": (lambda s, t: s.client("a" * 2000), Code.UNAUTHENTICATED, BAD_TOKEN),
    "revoked": (lambda s, t: s.client(t["revoked"]), Code.UNAUTHENTICATED, BAD_TOKEN),
    "expired": (lambda s, t: s.client(t["expired"]), Code.INTERNAL, EXPIRED_TOKEN + "…"),
    "two-same": (lambda s, t: s.client_with_metadata(
        [("authn-token", s.root_token), ("authn-token", s.root_token)]),
        Code.UNKNOWN, MULTIPLE_TOKENS),
    "two-different": (lambda s, t: s.client_with_metadata(
        [("authn-token", s.root_token), ("authn-token", "garbage")]),
        Code.UNKNOWN, MULTIPLE_TOKENS),
}

TOKEN_CALLS = {
    "WhoAmI": lambda c: c.auth.who_am_i(),
    "GetRoleBinding": lambda c: c.auth.get_role_binding(resource=CLUSTER),
    "GetConfiguration": lambda c: c.auth.get_configuration(),
    "ListOIDCClients": lambda c: c.identity.list_oidc_clients(),
    "PauseStatus": lambda c: c.enterprise.pause_status(),
}


@pytest.mark.parametrize("rpc", TOKEN_CALLS)
@pytest.mark.parametrize("case", TOKEN_CASES)
def test_token_checks(tokens, case, rpc):
    s, t = tokens
    make, code, text = TOKEN_CASES[case]
    check_outcome(lambda: TOKEN_CALLS[rpc](make(s, t)), (code, text))


def test_one_token_value_and_none_rpcs(tokens):
    s, _ = tokens
    ok = s.client_with_metadata([("authn-token", s.root_token)])
    assert ok.auth.who_am_i().username == "pach:root"
    # A `none` RPC ignores the token entirely.
    assert s.client("garbage").enterprise.get_state().state == enterprise.State.NONE
    assert s.client("garbage").auth.get_oidc_login().state


@pytest.mark.parametrize("name,perm,call", PROTECTED, ids=ids(PROTECTED))
def test_signed_out_refused(gatekeeper, name, perm, call):
    expect(lambda: call(gatekeeper.client()), Code.UNAUTHENTICATED, exact=NOT_SIGNED_IN)


# --------------------------------------------------------------------------
# ErrNotAuthorized: every perm:X RPC refuses a robot without roles, with
# PERMISSION_DENIED and the reference sentence naming X.

PERM_ROWS = [r for r in PROTECTED if r[1]] + [
    (n, p, c) for (n, p, c, _) in OFF_OR if p]


@pytest.mark.parametrize("name,perm,call", PERM_ROWS, ids=ids(PERM_ROWS))
def test_not_authorized(gatekeeper, name, perm, call):
    token = robot(gatekeeper, "nobody")
    expect(lambda: call(gatekeeper.client(token)), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:nobody", perm))


AUTHN_ROWS = [r for r in PROTECTED if not r[1]]


@pytest.mark.parametrize("name,perm,call", AUTHN_ROWS, ids=ids(AUTHN_ROWS))
def test_authn_rpcs_allow_any_signed_in_subject(gatekeeper, name, perm, call):
    call(gatekeeper.client(robot(gatekeeper, "nobody")))


@pytest.mark.parametrize("name,perm,call,outcome", OFF_OR, ids=ids(OFF_OR))
def test_off_or_rpcs_as_root(gatekeeper, name, perm, call, outcome):
    check_outcome(lambda: call(gatekeeper.root()), outcome)


def test_off_or_authn_rpcs_need_a_token_while_active(gatekeeper):
    for call in (lambda c: c.enterprise.pause_status(), lambda c: c.license.list_user_clusters()):
        expect(lambda: call(gatekeeper.client()), Code.UNAUTHENTICATED, exact=NOT_SIGNED_IN)
        call(gatekeeper.client(robot(gatekeeper, "nobody")))


def test_gatekeeper_unharmed(gatekeeper):
    """The refusals above had no effect."""
    root = gatekeeper.root()
    assert root.auth.who_am_i().username == "pach:root"
    entries = root.auth.get_role_binding(resource=CLUSTER).binding.entries
    assert "robot:x" not in entries
    assert {c.id for c in root.identity.list_oidc_clients().clients} >= {"pachd", "console"}
    assert [c.id for c in root.identity.list_idp_connectors().connectors] == ["test"]
    assert root.auth.get_configuration().configuration.client_id == "pachd"


# --------------------------------------------------------------------------
# auth_v2: configuration


def test_get_configuration(server):
    c = server.root().auth.get_configuration().configuration
    assert c.issuer == f"http://{server.address}/dex"
    assert c.client_id == "pachd"
    assert c.client_secret  # the stored config includes the secret
    assert c.redirect_uri == f"http://{server.address}/authorization-code/callback"
    assert set(c.scopes) == {"email", "profile", "groups", "openid"}
    pachd = server.root().identity.get_oidc_client(id="pachd").client
    assert pachd.secret == c.client_secret


def test_set_configuration(fresh):
    s = fresh()
    root = s.root().auth
    current = root.get_configuration().configuration
    bad = [
        (dict(issuer="not a url", client_id="pachd"), "OIDC issuer must be a valid URL"),
        (dict(issuer=current.issuer), "OIDC configuration must have a non-empty client_id"),
        (dict(issuer=current.issuer, client_id="pachd", redirect_uri="no scheme"),
         "OIDC redirect_uri must be a valid URL"),
        (dict(issuer="http://127.0.0.1:1/dex", client_id="pachd",
              redirect_uri="http://127.0.0.1:1/authorization-code/callback"),
         "provided OIDC issuer does not implement OIDC protocol: …"),
    ]
    for fields, text in bad:
        check_outcome(lambda: root.set_configuration(configuration=auth.OidcConfig(**fields)),
                      (Code.UNKNOWN, text))
    assert root.get_configuration().configuration == current  # refusals stored nothing
    changed = auth.OidcConfig().from_dict(current.to_dict())
    changed.scopes = ["openid", "email"]
    changed.require_email_verified = True
    changed.localhost_issuer = True
    changed.user_accessible_issuer_host = "http://localhost:30080"
    root.set_configuration(configuration=changed)
    assert root.get_configuration().configuration == changed
    # An absent configuration stores the empty default; logins then stop.
    root.set_configuration()
    assert root.get_configuration().configuration == auth.OidcConfig()
    expect(lambda: s.client().auth.get_oidc_login(), Code.UNKNOWN,
           exact="OIDC ID provider configuration not found")


# --------------------------------------------------------------------------
# auth_v2: WhoAmI, Authorize, permissions, roles


def test_who_am_i(server):
    who = server.root().auth.who_am_i()
    assert who.username == "pach:root" and who.expiration == EPOCH
    token = robot(server, "whoami", ttl=3600)
    who = server.client(token).auth.who_am_i()
    assert who.username == "robot:whoami"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now < who.expiration <= now + datetime.timedelta(hours=2)


def test_authorize(server):
    root = server.root().auth
    r = root.authorize(resource=CLUSTER, permissions=[P.CLUSTER_MODIFY_BINDINGS, P.REPO_READ])
    assert r.authorized and r.principal == "pach:root"
    assert set(r.satisfied) == {P.CLUSTER_MODIFY_BINDINGS, P.REPO_READ} and r.missing == []
    bot = server.client(robot(server, "authz")).auth
    r = bot.authorize(resource=CLUSTER, permissions=[P.PROJECT_CREATE, P.CLUSTER_MODIFY_BINDINGS])
    assert not r.authorized and r.principal == "robot:authz"
    assert r.satisfied == [P.PROJECT_CREATE] and r.missing == [P.CLUSTER_MODIFY_BINDINGS]
    r = bot.authorize(resource=res(RT.PROJECT, "default"), permissions=[P.PROJECT_CREATE_REPO])
    assert r.authorized
    # Everyone may read spec repos.
    r = bot.authorize(resource=res(RT.SPEC_REPO, "nope/pipe"), permissions=[P.REPO_READ])
    assert r.authorized and r.satisfied == [P.REPO_READ]
    # A repo whose project has no binding: ErrNoRoleBinding, as NOT_FOUND.
    expect(lambda: bot.authorize(resource=res(RT.REPO, "nope/x"), permissions=[P.REPO_READ]),
           Code.NOT_FOUND, exact="no role binding exists for PROJECT nope")
    expect(lambda: bot.authorize(resource=res(RT.REPO, "default/missing"),
                                 permissions=[P.REPO_READ]),
           Code.NOT_FOUND, exact="no role binding exists for REPO default/missing")


def test_authorize_empty_permission_list(server):
    bot = server.client(robot(server, "authz-empty")).auth
    r = bot.authorize(resource=CLUSTER, permissions=[])
    assert r.authorized and r.satisfied == [] and r.missing == []
    r = bot.authorize(resource=res(RT.SPEC_REPO, "nope/pipe"), permissions=[])
    assert r.authorized and r.satisfied == []
    r = bot.authorize(resource=res(RT.REPO, "nope/x"), permissions=[])
    assert r.authorized and r.satisfied == []


def test_get_permissions(server):
    root = server.root().auth
    r = root.get_permissions(resource=CLUSTER)
    assert r.roles == ["clusterAdmin", "projectCreator"]
    assert P.CLUSTER_MODIFY_BINDINGS in r.permissions and P.PROJECT_CREATE in r.permissions
    bot = server.client(robot(server, "perms")).auth
    assert bot.get_permissions(resource=CLUSTER).roles == ["projectCreator"]
    r = bot.get_permissions(resource=res(RT.PROJECT, "default"))
    assert r.roles == ["projectWriter"]
    assert sorted(r.permissions) == [P.PROJECT_LIST_REPO, P.PROJECT_CREATE_REPO]
    expect(lambda: bot.get_permissions(resource=res(RT.REPO, "default/missing")),
           Code.NOT_FOUND,
           exact="cannot get permissions for principal: no role binding exists for REPO "
                 "default/missing")


def test_get_permissions_for_principal(server):
    root = server.root().auth
    r = root.get_permissions_for_principal(resource=CLUSTER, principal="robot:someone")
    assert r.roles == ["projectCreator"] and r.permissions == [P.PROJECT_CREATE]
    r = root.get_permissions_for_principal(resource=CLUSTER,
                                           principal="user:kilgore@kilgore.trout")
    assert r.roles == ["clusterAdmin", "projectCreator"]
    r = root.get_permissions_for_principal(resource=res(RT.PROJECT, "default"),
                                           principal="robot:someone")
    assert r.roles == ["projectWriter"]
    expect(lambda: root.get_permissions_for_principal(resource=res(RT.PROJECT, "nope"),
                                                      principal="robot:someone"),
           Code.NOT_FOUND,
           exact="cannot evaluate role binding: no role binding exists for PROJECT nope")
    expect(lambda: root.get_permissions_for_principal(resource=CLUSTER, principal="nocolon"),
           Code.UNKNOWN, contains=NO_PREFIX)


ROLES_FOR = [
    (P.CLUSTER_MODIFY_BINDINGS, {"clusterAdmin"}),
    (P.CLUSTER_AUTH_GET_ROBOT_TOKEN, {"robotUser", "clusterAdmin"}),
    (P.PROJECT_CREATE, {"projectCreator", "clusterAdmin"}),
    (P.PROJECT_LIST_REPO, {"projectViewer", "projectWriter", "projectOwner", "clusterAdmin"}),
    (P.REPO_READ, {"repoReader", "repoWriter", "repoOwner", "projectOwner", "clusterAdmin"}),
    (P.REPO_DELETE, {"repoOwner", "projectOwner", "clusterAdmin"}),
    (P.CLUSTER_GET_LOKI_LOGS, {"debugger", "lokiLogReader", "clusterAdmin"}),
    (P.CLUSTER_IDENTITY_GET_CONFIG, {"identityAdmin", "clusterAdmin"}),
    (P.CLUSTER_IDENTITY_GET_IDP, {"idpAdmin", "clusterAdmin"}),
    (P.CLUSTER_IDENTITY_GET_OIDC_CLIENT, {"oidcAppAdmin", "clusterAdmin"}),
    (P.CLUSTER_LICENSE_ACTIVATE, {"licenseAdmin", "clusterAdmin"}),
    (P.SECRET_INSPECT, {"secretAdmin", "clusterAdmin"}),
    (P.JOB_SKIP_CTX, {"jobAdmin", "clusterAdmin"}),
    (P.PERMISSION_UNKNOWN, set()),
]


@pytest.mark.parametrize("permission,roles", ROLES_FOR, ids=[p.name for p, _ in ROLES_FOR])
def test_get_roles_for_permission(server, permission, roles):
    got = server.client(robot(server, "roles")).auth.get_roles_for_permission(
        permission=permission).roles
    assert {r.name for r in got} == roles
    for r in got:
        assert permission in r.permissions


def test_role_shape(server):
    got = {r.name: r for r in server.root().auth.get_roles_for_permission(
        permission=P.REPO_READ).roles}
    reader = got["repoReader"]
    assert set(reader.permissions) == {
        P.REPO_READ, P.REPO_INSPECT_COMMIT, P.REPO_LIST_COMMIT, P.REPO_LIST_BRANCH,
        P.REPO_LIST_FILE, P.REPO_INSPECT_FILE, P.REPO_ADD_PIPELINE_READER,
        P.REPO_REMOVE_PIPELINE_READER, P.PIPELINE_LIST_JOB}
    assert set(reader.can_be_bound_to) == {RT.CLUSTER, RT.PROJECT, RT.REPO}
    assert reader.returned_for == [RT.REPO]
    assert set(got["projectOwner"].returned_for) == {RT.PROJECT, RT.REPO}
    assert set(got["clusterAdmin"].returned_for) == {RT.CLUSTER, RT.PROJECT, RT.REPO}


# --------------------------------------------------------------------------
# auth_v2: role bindings


def test_get_role_binding(server):
    bot = server.client(robot(server, "reader"))  # authn only: no permission check
    entries = bot.auth.get_role_binding(resource=CLUSTER).binding.entries
    got = {p: set(r.roles) for p, r in entries.items()}
    for principal, roles in {
        "pach:root": {"clusterAdmin"},
        "internal:auth-server": {"clusterAdmin"},
        "user:kilgore@kilgore.trout": {"clusterAdmin"},
        "allClusterUsers": {"projectCreator"},
    }.items():
        assert got[principal] == roles
    missing = bot.auth.get_role_binding(resource=res(RT.PROJECT, "never-created"))
    assert missing.binding.entries == {}


MODIFY_ERRORS = [
    ("no-prefix", CLUSTER, "nocolon", ["repoReader"], Code.UNKNOWN, NO_PREFIX),
    ("bad-prefix", CLUSTER, "bogus:x", ["repoReader"], Code.UNKNOWN,
     "subject has unrecognized prefix: bogus:"),
    ("empty-name", CLUSTER, "user:", ["repoReader"], Code.UNKNOWN, None),
    ("pach-on-cluster", CLUSTER, "pach:root", [], Code.UNKNOWN,
     "cannot modify cluster role bindings for pach: users"),
    ("unknown-role", CLUSTER, "robot:x", ["notarole"], Code.UNKNOWN, 'unknown role "notarole"'),
    ("unknown-role-among-many", CLUSTER, "robot:x", ["repoReader"] * 99_999 + ["zzz"],
     Code.UNKNOWN, 'unknown role "zzz"'),
    ("spec-repo", res(RT.SPEC_REPO, "default/x"), "robot:x", ["repoReader"], Code.UNKNOWN,
     "unknown resource type SPEC_REPO"),
    ("missing-project", res(RT.PROJECT, "nope"), "robot:x", ["projectViewer"], Code.NOT_FOUND,
     "no role binding exists for PROJECT nope"),
    ("missing-repo", res(RT.REPO, "default/nope"), "robot:x", ["repoReader"], Code.NOT_FOUND,
     "no role binding exists for REPO default/nope"),
    # Stricter than the reference (issue 11): a role only where it applies.
    ("role-on-wrong-type", res(RT.PROJECT, "default"), "robot:x", ["clusterAdmin"],
     Code.UNKNOWN, "role clusterAdmin cannot be bound to PROJECT default"),
]


@pytest.mark.parametrize("label,resource,principal,roles,code,text", MODIFY_ERRORS,
                         ids=[m[0] for m in MODIFY_ERRORS])
def test_modify_role_binding_errors(server, label, resource, principal, roles, code, text):
    root = server.root().auth
    details = expect(lambda: root.modify_role_binding(
        resource=resource, principal=principal, roles=roles), code)
    if text is not None:
        assert text in details
    if principal != "pach:root":
        assert principal not in root.get_role_binding(resource=CLUSTER).binding.entries


def test_modify_role_binding(server):
    root = server.root().auth
    default = res(RT.PROJECT, "default")
    # 100k entries of one role: accepted, stored once.
    root.modify_role_binding(resource=default, principal="robot:many",
                             roles=["repoReader"] * 100_000)
    entries = root.get_role_binding(resource=default).binding.entries
    assert set(entries["robot:many"].roles) == {"repoReader"}
    # Roles are replaced, not added; an empty list removes the principal.
    root.modify_role_binding(resource=default, principal="robot:many",
                             roles=["projectViewer", "repoWriter"])
    entries = root.get_role_binding(resource=default).binding.entries
    assert set(entries["robot:many"].roles) == {"projectViewer", "repoWriter"}
    root.modify_role_binding(resource=default, principal="robot:many", roles=[])
    assert "robot:many" not in root.get_role_binding(resource=default).binding.entries


def test_cluster_binding_takes_effect_at_once(server):
    root = server.root().auth
    token = robot(server, "promoted")
    bot = server.client(token)
    expect(lambda: bot.auth.get_robot_token(robot="child"), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:promoted", "CLUSTER_AUTH_GET_ROBOT_TOKEN"))
    root.modify_role_binding(resource=CLUSTER, principal="robot:promoted", roles=["robotUser"])
    assert bot.auth.get_robot_token(robot="child").token
    root.modify_role_binding(resource=CLUSTER, principal="robot:promoted", roles=[])
    expect(lambda: bot.auth.get_robot_token(robot="child"), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:promoted", "CLUSTER_AUTH_GET_ROBOT_TOKEN"))


def test_modify_role_binding_needs_resource_permission(server):
    bot = server.client(robot(server, "meddler")).auth
    expect(lambda: bot.modify_role_binding(resource=CLUSTER, principal="robot:meddler",
                                           roles=["clusterAdmin"]),
           Code.PERMISSION_DENIED,
           exact=not_authorized("robot:meddler", "CLUSTER_MODIFY_BINDINGS"))
    expect(lambda: bot.modify_role_binding(resource=res(RT.PROJECT, "default"),
                                           principal="robot:meddler", roles=["projectOwner"]),
           Code.PERMISSION_DENIED,
           exact=not_authorized("robot:meddler", "PROJECT_MODIFY_BINDINGS", "PROJECT",
                                "default"))


# --------------------------------------------------------------------------
# auth_v2: robot tokens, revocation, export/restore, expiry


@pytest.mark.parametrize("name,subject", [("ci", "robot:ci"), ("robot:deploy", "robot:deploy")])
def test_get_robot_token(server, name, subject):
    token = server.root().auth.get_robot_token(robot=name).token
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    who = server.client(token).auth.who_am_i()
    assert who.username == subject and who.expiration == EPOCH


@pytest.mark.parametrize("name", ["robot:robot:x", "a:b", "robot:a:b"])
def test_get_robot_token_colons(server, name):
    expect(lambda: server.root().auth.get_robot_token(robot=name), Code.UNKNOWN,
           exact="robot names cannot contain colons (':')")


@pytest.mark.parametrize("name", ["", "robot:"])
def test_get_robot_token_empty_name(server, name):
    expect(lambda: server.root().auth.get_robot_token(robot=name), Code.UNKNOWN,
           prefix="robot name is empty")


def test_revoke_auth_token(server):
    token = robot(server, "revokee")
    bot = server.client(token).auth
    # authn only, no ownership check: the robot revokes its own token.
    assert bot.revoke_auth_token(token=token).number == 1
    expect(lambda: bot.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    assert server.root().auth.revoke_auth_token(token=token).number == 0


def test_revoke_auth_tokens_for_user(server):
    root = server.root().auth
    tokens = [robot(server, "bulk") for _ in range(3)]
    keep = robot(server, "bulk-neighbour")
    assert root.revoke_auth_tokens_for_user(username="robot:bulk").number == 3
    for t in tokens:
        expect(lambda: server.client(t).auth.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    assert server.client(keep).auth.who_am_i().username == "robot:bulk-neighbour"
    assert root.revoke_auth_tokens_for_user(username="robot:bulk").number == 0
    expect(lambda: root.revoke_auth_tokens_for_user(username="pach:root"), Code.UNKNOWN,
           exact="cannot revoke tokens for pach: users")
    assert root.who_am_i().username == "pach:root"


def test_extract_and_restore_tokens(server):
    root = server.root().auth
    forever = robot(server, "exported")
    expiring = robot(server, "exported-ttl", ttl=3600)
    by_hash = {t.hashed_token: t for t in root.extract_auth_tokens().tokens}
    assert all(t.subject.startswith("robot:") for t in by_hash.values())
    assert sha256(server.root_token) not in by_hash  # robot tokens only
    assert forever not in by_hash and expiring not in by_hash  # hashed, never plaintext
    info = by_hash[sha256(forever)]
    assert info.subject == "robot:exported" and info.expiration == EPOCH
    info_ttl = by_hash[sha256(expiring)]
    assert info_ttl.subject == "robot:exported-ttl" and info_ttl.expiration > EPOCH
    # Revoke both, then restore them from the export: the old plaintext works again.
    for t in (forever, expiring):
        assert root.revoke_auth_token(token=t).number == 1
    for i in (info, info_ttl):
        root.restore_auth_token(token=i)
    assert server.client(forever).auth.who_am_i().username == "robot:exported"
    who = server.client(expiring).auth.who_am_i()
    assert who.username == "robot:exported-ttl" and who.expiration == info_ttl.expiration
    expect(lambda: root.restore_auth_token(token=info), Code.UNKNOWN,
           exact="error restoring auth token: cannot overwrite existing token with same hash")
    past = auth.TokenInfo(subject="robot:old", hashed_token=sha256("old-token"),
                          expiration=datetime.datetime(2001, 1, 1, tzinfo=datetime.timezone.utc))
    expect(lambda: root.restore_auth_token(token=past), Code.INTERNAL, prefix=EXPIRED_TOKEN)


def test_expired_token_and_delete_expired(fresh):
    s = fresh()
    root = s.root().auth
    token = robot(s, "ephemeral", ttl=1)
    time.sleep(2)  # ttl is whole seconds: let it pass
    expect(lambda: s.client(token).auth.who_am_i(), Code.INTERNAL, prefix=EXPIRED_TOKEN)
    assert sha256(token) in {t.hashed_token for t in root.extract_auth_tokens().tokens}
    assert root.delete_expired_auth_tokens() == auth.DeleteExpiredAuthTokensResponse()
    assert sha256(token) not in {t.hashed_token for t in root.extract_auth_tokens().tokens}
    expect(lambda: s.client(token).auth.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    assert root.who_am_i().username == "pach:root"


def test_rotate_root_token(fresh):
    s = fresh()
    old = s.root_token
    chosen = secrets.token_hex(16)
    assert s.client(old).auth.rotate_root_token(root_token=chosen).root_token == chosen
    expect(lambda: s.client(old).auth.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    assert s.client(chosen).auth.who_am_i().username == "pach:root"
    generated = s.client(chosen).auth.rotate_root_token().root_token
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    expect(lambda: s.client(chosen).auth.who_am_i(), Code.UNAUTHENTICATED, exact=BAD_TOKEN)
    assert s.client(generated).auth.who_am_i().username == "pach:root"


def test_rotate_root_token_refused_when_from_env(env_root):
    c = env_root.root()
    assert c.auth.who_am_i().username == "pach:root"
    expect(lambda: c.auth.rotate_root_token(root_token=secrets.token_hex(16)),
           Code.FAILED_PRECONDITION,
           prefix="RotateRootToken() is disabled when the root token is configured in the "
                  "environment")
    assert c.auth.who_am_i().username == "pach:root"


# --------------------------------------------------------------------------
# auth_v2: groups


def test_groups(server):
    root = server.root().auth
    user = "robot:grouped"
    token = robot(server, "grouped")
    root.set_groups_for_user(username=user, groups=["group:ops", "group:dev"])
    assert set(root.get_groups_for_principal(principal=user).groups) == {"group:ops", "group:dev"}
    assert set(server.client(token).auth.get_groups().groups) == {"group:ops", "group:dev"}
    assert user in root.get_users(group="group:ops").usernames
    # SetGroupsForUser replaces the set.
    root.set_groups_for_user(username=user, groups=["group:dev"])
    assert root.get_groups_for_principal(principal=user).groups == ["group:dev"]
    assert user not in root.get_users(group="group:ops").usernames
    # ModifyMembers adds and removes within one group.
    root.modify_members(group="group:ops", add=[user, "user:a@b.c"])
    root.modify_members(group="group:dev", remove=[user])
    assert root.get_groups_for_principal(principal=user).groups == ["group:ops"]
    assert set(root.get_users(group="group:ops").usernames) == {user, "user:a@b.c"}
    assert root.get_users(group="group:dev").usernames == []
    # Empty group: every subject with a membership.
    assert {user, "user:a@b.c"} <= set(root.get_users(group="").usernames)
    assert root.get_groups_for_principal(principal="robot:stranger").groups == []
    assert server.client(robot(server, "loner")).auth.get_groups().groups == []


def test_group_role_binding_grants(server):
    root = server.root().auth
    token = robot(server, "via-group")
    bot = server.client(token).auth
    root.modify_role_binding(resource=CLUSTER, principal="group:robot-makers", roles=["robotUser"])
    try:
        expect(lambda: bot.get_robot_token(robot="made"), Code.PERMISSION_DENIED,
               exact=not_authorized("robot:via-group", "CLUSTER_AUTH_GET_ROBOT_TOKEN"))
        root.modify_members(group="group:robot-makers", add=["robot:via-group"])
        assert bot.get_robot_token(robot="made").token
        root.set_groups_for_user(username="robot:via-group", groups=[])
        expect(lambda: bot.get_robot_token(robot="made"), Code.PERMISSION_DENIED,
               exact=not_authorized("robot:via-group", "CLUSTER_AUTH_GET_ROBOT_TOKEN"))
    finally:
        root.modify_role_binding(resource=CLUSTER, principal="group:robot-makers", roles=[])


GROUP_ERRORS = [
    ("set-no-prefix", lambda a: a.set_groups_for_user(username="nocolon", groups=["group:g"]),
     NO_PREFIX),
    ("set-bad-prefix", lambda a: a.set_groups_for_user(username="bogus:x", groups=["group:g"]),
     "subject has unrecognized prefix: bogus:"),
    ("add-no-prefix", lambda a: a.modify_members(group="group:g", add=["nocolon"]), NO_PREFIX),
    ("add-bad-prefix", lambda a: a.modify_members(group="group:g", add=["bogus:x"]),
     "subject has unrecognized prefix: bogus:"),
    ("remove-no-prefix", lambda a: a.modify_members(group="group:g", remove=["nocolon"]),
     NO_PREFIX),
    ("add-empty-name", lambda a: a.modify_members(group="group:g", add=["user:"]), None),
]


@pytest.mark.parametrize("label,call,text", GROUP_ERRORS, ids=[g[0] for g in GROUP_ERRORS])
def test_group_subject_validation(server, label, call, text):
    details = expect(lambda: call(server.root().auth), Code.UNKNOWN)
    if text:
        assert text in details
    assert "nocolon" not in server.root().auth.get_users(group="").usernames


# --------------------------------------------------------------------------
# auth_v2: OIDC login flows (GetOIDCLogin, Authenticate)


def test_get_oidc_login(server):
    login = server.client().auth.get_oidc_login()  # access `none`
    assert re.fullmatch(r"[A-Za-z0-9]{30}", login.state)
    url = urllib.parse.urlparse(login.login_url)
    assert f"{url.scheme}://{url.netloc}" == f"http://{server.address}"
    assert url.path == "/dex/auth"
    q = dict(urllib.parse.parse_qsl(url.query))
    assert q["client_id"] == "pachd"
    assert q["response_type"] == "code"
    assert q["redirect_uri"] == f"http://{server.address}/authorization-code/callback"
    assert set(q["scope"].split()) == {"email", "profile", "groups", "openid"}
    assert q["state"] == login.state
    assert re.fullmatch(r"[A-Za-z0-9]{30}", q["nonce"])
    assert server.client().auth.get_oidc_login().state != login.state


def test_authenticate_with_oidc_state(server):
    login = server.client().auth.get_oidc_login()
    waiting = in_thread(lambda: server.client().auth.authenticate(oidc_state=login.state))
    final, body = browser_login(login.login_url)
    assert urllib.parse.urlparse(final).path == "/authorization-code/callback"
    # The reference's sentence, in the pages' one design (issue 15).
    assert '<p role="status">You are now logged in. Go back to the terminal to use Pachyderm!</p>' in body, body
    token = waiting().pach_token
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    who = server.client(token).auth.who_am_i()
    assert who.username == "user:kilgore@kilgore.trout"
    now = datetime.datetime.now(datetime.timezone.utc)
    assert now + datetime.timedelta(days=29) < who.expiration <= now + datetime.timedelta(days=31)
    # The mock user is a clusterAdmin.
    assert server.client(token).auth.get_configuration().configuration.client_id == "pachd"
    # The state is single use.
    expect(lambda: server.client().auth.authenticate(oidc_state=login.state), Code.UNKNOWN,
           exact="error during authorization: OIDC state token expired")


def test_authenticate_unknown_state(server):
    expect(lambda: server.client().auth.authenticate(oidc_state="x" * 30), Code.UNKNOWN,
           exact="error during authorization: OIDC state token expired")


def test_authenticate_without_mechanism(server):
    expect(lambda: server.client().auth.authenticate(), Code.UNKNOWN,
           exact="unrecognized authentication mechanism (old pachd?)")


def hidden_field(page, name):
    m = re.search(f'name="{name}" value="([^"]*)"', page)
    assert m, (name, page)
    return m.group(1)


def allow_consent(server, page, stop_at):
    """Answers Allow on tusk's consent page."""
    assert "to use your account?" in page, page
    form = {"req": hidden_field(page, "req"), "token": hidden_field(page, "token"),
            "decision": "allow"}
    return follow(f"{server.base_url}/dex/consent",
                  urllib.parse.urlencode(form).encode(), stop_at=stop_at)


def code_flow(server, client_id, secret, scope):
    """Authorization code flow for a client whose redirect URI is
    `<server>/sdk-test-callback`; returns the token endpoint's JSON."""
    redirect = f"{server.base_url}/sdk-test-callback"
    q = urllib.parse.urlencode({
        "client_id": client_id, "redirect_uri": redirect, "response_type": "code",
        "scope": scope, "state": secrets.token_hex(8), "nonce": secrets.token_hex(8)})
    location, body = browser_login(f"{server.base_url}/dex/auth?{q}", stop_at=redirect)
    if body is not None:
        # identity_v2 clients are third-party: the first login asks consent.
        location, body = allow_consent(server, body, redirect)
    assert body is None, body
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(location).query))["code"]
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(secret)}".encode()).decode()
    req = urllib.request.Request(
        f"{server.base_url}/dex/token",
        data=urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                     "redirect_uri": redirect}).encode(),
        headers={"Authorization": f"Basic {basic}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def claims(jwt):
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture(scope="module")
def peer_client(server):
    """An OIDC client that pachd trusts, so it may ask for pachd's audience
    (what Console does)."""
    root = server.root()
    cid = "sdk-peer"
    created = root.identity.create_oidc_client(client=identity.OidcClient(
        id=cid, name="SDK peer", redirect_uris=[f"{server.base_url}/sdk-test-callback"])).client
    assert created.secret
    peers = root.identity.get_oidc_client(id="pachd").client.trusted_peers
    root.identity.update_oidc_client(
        client=identity.OidcClient(id="pachd", trusted_peers=peers + [cid]))
    assert cid in root.identity.get_oidc_client(id="pachd").client.trusted_peers
    return created


def test_authenticate_with_id_token(server, peer_client):
    tokens = code_flow(server, peer_client.id, peer_client.secret,
                       "openid email audience:server:client_id:pachd")
    id_token = tokens["id_token"]
    assert "pachd" in claims(id_token)["aud"]
    resp = server.client().auth.authenticate(id_token=id_token)
    who = server.client(resp.pach_token).auth.who_am_i()
    assert who.username == "user:kilgore@kilgore.trout"
    # TTL = min(ID token exp - now, session): the ID token's exp bounds it.
    exp = datetime.datetime.fromtimestamp(claims(id_token)["exp"], datetime.timezone.utc)
    assert who.expiration <= exp


def test_pach_python_oidc_token(server, peer_client, monkeypatch):
    id_token = code_flow(server, peer_client.id, peer_client.secret,
                         "openid email audience:server:client_id:pachd")["id_token"]
    monkeypatch.delenv("PACH_PYTHON_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("PACH_PYTHON_OIDC_TOKEN", id_token)
    c = Client(server.host, server.port)
    # SDK 2.12.2 stores the whole AuthenticateResponse; set the token ourselves.
    resp = c.auth_token
    assert isinstance(resp, auth.AuthenticateResponse)
    c.auth_token = resp.pach_token
    assert c.auth.who_am_i().username == "user:kilgore@kilgore.trout"


def test_authenticate_refuses_foreign_id_tokens(server, peer_client):
    # Without pachd's audience the ID token is only for the peer.
    own = code_flow(server, peer_client.id, peer_client.secret, "openid email")["id_token"]
    assert "pachd" not in claims(own)["aud"]
    expect(lambda: server.client().auth.authenticate(id_token=own), Code.UNKNOWN,
           prefix="could not verify token: ")
    for garbage in ("garbage", "a.b.c", own[:-4] + "AAAA"):
        expect(lambda: server.client().auth.authenticate(id_token=garbage), Code.UNKNOWN,
               prefix="could not verify token: ")


def test_audience_needs_trusted_peer(server):
    root = server.root()
    cid = unique("untrusted")
    c = root.identity.create_oidc_client(client=identity.OidcClient(
        id=cid, name=cid, redirect_uris=[f"{server.base_url}/sdk-test-callback"])).client
    q = urllib.parse.urlencode({
        "client_id": cid, "redirect_uri": f"{server.base_url}/sdk-test-callback",
        "response_type": "code", "scope": "openid audience:server:client_id:pachd",
        "state": "s" * 8})
    final, body = follow(f"{server.base_url}/dex/auth?{q}",
                         stop_at=f"{server.base_url}/sdk-test-callback")
    # Refused before any login form, with an error redirect.
    assert body is None, (final, body)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(final).query))
    assert q["error"] == "invalid_scope"
    assert "audience:server:client_id:pachd" in q["error_description"]
    root.identity.delete_oidc_client(id=c.id)


# --------------------------------------------------------------------------
# identity_v2 on the default (mock IdP) configuration: connectors are
# config-managed, so writes are refused.


@pytest.mark.parametrize("rpc,call", [
    ("CreateIDPConnector", lambda i: i.create_idp_connector(
        connector=identity.IdpConnector(id="new", name="new", type="mockCallback"))),
    ("UpdateIDPConnector", lambda i: i.update_idp_connector(
        connector=identity.IdpConnector(id="test", name="renamed", config_version=1))),
    ("DeleteIDPConnector", lambda i: i.delete_idp_connector(id="test")),
])
def test_managed_connectors_refused(server, rpc, call):
    expect(lambda: call(server.root().identity), Code.FAILED_PRECONDITION,
           prefix=managed_refusal(rpc))
    assert [c.id for c in server.root().identity.list_idp_connectors().connectors] == ["test"]


def test_list_and_get_managed_connector(server):
    i = server.root().identity
    [c] = i.list_idp_connectors().connectors
    assert (c.id, c.name, c.type) == ("test", "test", "mockPassword")
    assert c.json_config == ""
    assert struct_to_py(c.config) == {"username": "admin", "password": "password"}
    assert i.get_idp_connector(id="test").connector == c


# --------------------------------------------------------------------------
# identity_v2 with connectors owned by the API


def test_identity_invalid_id_code(unmanaged):
    i = unmanaged.root().identity
    for call in (lambda: i.get_idp_connector(id="nope"), lambda: i.get_oidc_client(id="nope")):
        expect(call, Code.INTERNAL, exact=INVALID_ID)


def test_identity_already_exists_code(unmanaged):
    i = unmanaged.root().identity
    expect(lambda: i.create_oidc_client(client=identity.OidcClient(id="pachd", name="again")),
           Code.INTERNAL, exact=ALREADY_EXISTS)


def test_connector_lifecycle(unmanaged):
    i = unmanaged.root().identity
    cid = unique("conn")
    assert cid not in [c.id for c in i.list_idp_connectors().connectors]
    # config as a Struct
    i.create_idp_connector(connector=identity.IdpConnector(
        id=cid, name="first", type="mockPassword",
        config=struct({"username": "u", "password": "p"})))
    got = i.get_idp_connector(id=cid).connector
    assert (got.name, got.type, got.config_version, got.json_config) == (
        "first", "mockPassword", 0, "")
    assert struct_to_py(got.config) == {"username": "u", "password": "p"}
    assert cid in [c.id for c in i.list_idp_connectors().connectors]
    expect(lambda: i.create_idp_connector(connector=identity.IdpConnector(
        id=cid, name="dup", type="mockCallback")), Code.INTERNAL, exact=ALREADY_EXISTS)
    # configVersion must be stored + 1.
    for wrong in (0, 2, -1):
        expect(lambda: i.update_idp_connector(connector=identity.IdpConnector(
            id=cid, name="second", config_version=wrong)), Code.UNKNOWN,
            exact=f"new config version is {wrong}, expected 1")
    # Name only: type and config are kept.
    i.update_idp_connector(connector=identity.IdpConnector(id=cid, name="second",
                                                           config_version=1))
    got = i.get_idp_connector(id=cid).connector
    assert (got.name, got.type, got.config_version) == ("second", "mockPassword", 1)
    assert struct_to_py(got.config) == {"username": "u", "password": "p"}
    # Config through the legacy jsonConfig text.
    i.update_idp_connector(connector=identity.IdpConnector(
        id=cid, config_version=2, json_config='{"username": "v", "password": "q"}'))
    got = i.get_idp_connector(id=cid).connector
    assert got.config_version == 2 and got.json_config == ""
    assert struct_to_py(got.config) == {"username": "v", "password": "q"}
    expect(lambda: i.update_idp_connector(connector=identity.IdpConnector(
        id=cid, config_version=2)), Code.UNKNOWN, exact="new config version is 2, expected 3")
    # A new config is validated like a new connector; nothing changes.
    expect(lambda: i.update_idp_connector(connector=identity.IdpConnector(
        id=cid, config_version=3, json_config='{"username": "v"}')),
        Code.INVALID_ARGUMENT, contains="password")
    assert i.get_idp_connector(id=cid).connector.config_version == 2
    i.delete_idp_connector(id=cid)
    assert rpc_error(lambda: i.get_idp_connector(id=cid)).details() == INVALID_ID
    assert cid not in [c.id for c in i.list_idp_connectors().connectors]


def test_connector_validation(unmanaged):
    i = unmanaged.root().identity

    def create(**kw):
        return lambda: i.create_idp_connector(connector=identity.IdpConnector(**kw))

    expect(create(name="n", type="mockCallback"), Code.UNKNOWN, exact="no id specified")
    expect(create(id="v", name="n"), Code.UNKNOWN, exact="no type specified")
    expect(create(id="v", type="mockCallback"), Code.UNKNOWN, exact="no name specified")
    expect(create(id="v", name="n", type="mockPassword", json_config="{nope"), Code.UNKNOWN,
           prefix="unable to deserialize JSON: ")
    # tusk names the problem (text kept as the reference's substring).
    e = rpc_error(create(id="v", name="n", type="bogus"))
    assert 'unknown connector type "bogus"' in e.details()
    e = rpc_error(create(id="v", name="n", type="mockPassword",
                         config=struct({"username": "only"})))
    assert "password" in e.details()
    assert "v" not in [c.id for c in i.list_idp_connectors().connectors]
    for missing in ("nope-update", "nope-delete"):
        assert rpc_error(lambda: i.delete_idp_connector(id=missing)).details() == INVALID_ID
    assert rpc_error(lambda: i.update_idp_connector(connector=identity.IdpConnector(
        id="nope", config_version=1))).details() == INVALID_ID


def test_identity_server_config(unmanaged):
    i = unmanaged.root().identity
    # tusk reports the issuer and lifetimes it runs with (read at start from
    # its configuration), never an empty issuer; a stored change does not
    # alter them, so Get keeps answering the running ones (issue 13).
    running = i.get_identity_server_config().config
    assert running.issuer.endswith("/dex") and running.id_token_expiry == "24h" \
        and running.rotation_token_expiry == "48h", running
    wanted = identity.IdentityServerConfig(issuer="http://pachd:1658/dex",
                                           id_token_expiry="12h", rotation_token_expiry="48h")
    i.set_identity_server_config(config=wanted)
    assert i.get_identity_server_config().config == running
    e = rpc_error(lambda: i.set_identity_server_config(config=identity.IdentityServerConfig(
        issuer="http://pachd:1658/dex", id_token_expiry="forever")))
    assert e.code() == Code.INVALID_ARGUMENT and "id_token_expiry" in e.details()
    assert i.get_identity_server_config().config == running


def test_oidc_client_lifecycle(unmanaged):
    i = unmanaged.root().identity
    cid = unique("app")
    expect(lambda: i.create_oidc_client(client=identity.OidcClient(id=cid)), Code.UNKNOWN,
           exact="no client name specified")
    expect(lambda: i.create_oidc_client(client=identity.OidcClient(name="n")), Code.UNKNOWN,
           exact="no client id specified")
    # An empty secret is generated and returned.
    created = i.create_oidc_client(client=identity.OidcClient(
        id=cid, name="App", redirect_uris=["http://app.example/cb"],
        trusted_peers=["console"])).client
    assert created.secret and len(created.secret) >= 16
    assert (created.id, created.name, created.redirect_uris, created.trusted_peers) == (
        cid, "App", ["http://app.example/cb"], ["console"])
    assert i.get_oidc_client(id=cid).client == created  # includes the secret
    # A given secret is kept.
    other = i.create_oidc_client(client=identity.OidcClient(
        id=cid + "-2", name="Two", secret="s3cret-given-0123")).client
    assert other.secret == "s3cret-given-0123"
    # A given secret shorter than 16 bytes is refused, and not echoed.
    details = expect(lambda: i.create_oidc_client(client=identity.OidcClient(
        id=cid + "-3", name="Weak", secret="s3cret")), Code.INVALID_ARGUMENT,
        contains="at least 16 bytes")
    assert "s3cret" not in details
    expect(lambda: i.create_oidc_client(client=identity.OidcClient(id=cid, name="dup")),
           Code.INTERNAL, exact=ALREADY_EXISTS)
    listed = {c.id: c for c in i.list_oidc_clients().clients}
    assert listed[cid] == created and {"pachd", "console", cid + "-2"} <= set(listed)
    # Update: name and lists replace, empty lists keep, the secret never changes.
    i.update_oidc_client(client=identity.OidcClient(
        id=cid, name="Renamed", redirect_uris=["http://app.example/cb2"], secret="hijack"))
    got = i.get_oidc_client(id=cid).client
    assert (got.name, got.redirect_uris, got.trusted_peers, got.secret) == (
        "Renamed", ["http://app.example/cb2"], ["console"], created.secret)
    expect(lambda: i.update_oidc_client(client=identity.OidcClient(id="nope", name="x")),
           Code.UNKNOWN, exact='unable to find OIDC client with id "nope"')
    i.delete_oidc_client(id=cid)
    i.delete_oidc_client(id=cid + "-2")
    assert rpc_error(lambda: i.get_oidc_client(id=cid)).details() == INVALID_ID
    expect(lambda: i.delete_oidc_client(id=cid), Code.UNKNOWN,
           exact=f'unable to find OIDC client with id "{cid}"')


def test_identity_delete_all(fresh):
    s = fresh(values=UNMANAGED)
    i = s.root().identity
    i.create_idp_connector(connector=identity.IdpConnector(id="cb", name="cb",
                                                           type="mockCallback"))
    i.create_oidc_client(client=identity.OidcClient(id="app", name="app"))
    i.set_identity_server_config(config=identity.IdentityServerConfig(
        issuer="http://pachd:1658/dex", id_token_expiry="1h"))
    assert i.delete_all() == identity.DeleteAllResponse()
    assert i.list_idp_connectors().connectors == []
    assert i.list_oidc_clients().clients == []
    assert i.get_identity_server_config().config.issuer.endswith("/dex")
    # Auth itself is untouched.
    assert s.root().auth.who_am_i().username == "pach:root"


# --------------------------------------------------------------------------
# enterprise_v2 and license_v2 without a license


def test_enterprise_state_without_license(server):
    for c in (server.client(), server.root()):
        st = c.enterprise.get_state()  # access `none`
        assert st.state == enterprise.State.NONE and st.activation_code == ""
    code = server.root().enterprise.get_activation_code()
    assert code.state == enterprise.State.NONE and code.activation_code == ""
    lic = server.root().license.get_activation_code()
    assert lic.state == enterprise.State.NONE and lic.activation_code == ""
    assert server.root().license.list_clusters().clusters == []
    assert server.root().license.list_user_clusters().clusters == []
    assert server.root().enterprise.pause_status().status == \
        enterprise.PauseStatusResponsePauseStatus.UNPAUSED


def test_license_heartbeat_refuses_unknown_cluster(server):
    expect(lambda: server.client().license.heartbeat(id="c", secret="s", version="2.11.6"),
           Code.UNIMPLEMENTED, prefix="cluster ID or secret is not valid")


@pytest.mark.parametrize("code", ["", "not base64!", "bm90IGEgY29kZQ=="])
def test_license_activate_without_public_key(server, code):
    expect(lambda: server.root().license.activate(activation_code=code),
           Code.FAILED_PRECONDITION, prefix="no license public key is configured")


# --- with a license public key: activation codes signed with openssl -------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


class Signer:
    def __init__(self, directory):
        self.key = directory / "license.key"
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", str(self.key)],
                       check=True, capture_output=True, timeout=60)
        self.public_pem = subprocess.run(
            ["openssl", "pkey", "-in", str(self.key), "-pubout"],
            check=True, capture_output=True, timeout=60, text=True).stdout

    def sign(self, text):
        return subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                              input=text.encode(), check=True, capture_output=True,
                              timeout=60).stdout

    def code(self, token_text, signature=None):
        sig = self.sign(token_text) if signature is None else signature
        doc = {"token": token_text, "signature": base64.b64encode(sig).decode()}
        return base64.b64encode(json.dumps(doc).encode()).decode()


def rfc3339(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


@needs_openssl
def test_license_and_enterprise_with_signed_code(fresh, tmp_path):
    signer = Signer(tmp_path)
    pem = "\n".join("      " + line for line in signer.public_pem.strip().splitlines())
    s = fresh(values=f"tusk:\n  license:\n    publicKey: |\n{pem}\n")
    root = s.root()
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    expiry = now + datetime.timedelta(days=30)
    token_text = json.dumps({"expiry": rfc3339(expiry)})
    good = signer.code(token_text)
    prefix = "error validating activation code: "
    bad = [
        ("not base64!", "activation code is not base64 encoded"),
        (base64.b64encode(b"not json").decode(), "activation code is not valid JSON"),
        (base64.b64encode(json.dumps({"token": token_text, "signature": "!!"}).encode())
         .decode(), "signature is not base64 encoded"),
        (signer.code(token_text, signature=b"\0" * 256), "invalid signature in activation code"),
        (signer.code(json.dumps({"expiry": rfc3339(expiry + datetime.timedelta(days=1))}),
                     signature=signer.sign(token_text)), "invalid signature in activation code"),
        (signer.code("not json"), "token is not valid JSON"),
        (signer.code(json.dumps({"expiry": "next tuesday"})),
         "expiration is not valid ISO 8601 string"),
        (signer.code(json.dumps({"expiry": "2001-01-01T00:00:00Z"})),
         "the activation code has expired"),
    ]
    for code, why in bad:
        expect(lambda: root.license.activate(activation_code=code), Code.UNKNOWN,
               exact=prefix + why)
    assert root.license.get_activation_code().state == enterprise.State.NONE
    # `expires` can only lower the code's own expiry.
    lower = expiry - datetime.timedelta(days=1)
    info = root.license.activate(activation_code=good, expires=lower).info
    assert info.expires == lower
    info = root.license.activate(activation_code=good).info
    assert info.expires == expiry
    lic = root.license.get_activation_code()
    assert lic.state == enterprise.State.ACTIVE and lic.activation_code == good
    # Enterprise: NONE until activated against the license.
    assert root.enterprise.get_state().state == enterprise.State.NONE
    expect(lambda: root.enterprise.heartbeat(), Code.UNIMPLEMENTED, exact=NOT_ENTERPRISE)
    root.enterprise.activate(license_server="grpc://localhost:1650", id="localhost",
                             secret="s")
    st = s.client().enterprise.get_state()
    assert st.state == enterprise.State.ACTIVE and st.info.expires == expiry
    # GetState shows the code with an empty signature; GetActivationCode the full one.
    shown = json.loads(base64.b64decode(st.activation_code))
    assert shown == {"token": token_text, "signature": ""}
    assert root.enterprise.get_activation_code().activation_code == good
    root.enterprise.heartbeat()
    root.enterprise.deactivate()
    assert root.enterprise.get_state().state == enterprise.State.NONE
    expect(lambda: root.enterprise.heartbeat(), Code.UNIMPLEMENTED, exact=NOT_ENTERPRISE)
    root.license.delete_all()
    assert root.license.get_activation_code().state == enterprise.State.NONE
    expect(lambda: root.enterprise.activate(license_server="grpc://localhost:1650",
                                            id="localhost", secret="s"),
           Code.UNKNOWN, exact="enterprise license is not valid - NONE")


# --------------------------------------------------------------------------
# tusk.resources.v1.Resources, through the SDK's channel with hand-built
# request bytes: field 1 = auth_v2.Resource, field 2 = owner.


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def resources_call(client, method, resource, owner=""):
    body = _field(1, bytes(resource))
    if owner:
        body += _field(2, owner.encode())
    call = client._channel.unary_unary(f"/tusk.resources.v1.Resources/{method}",
                                       request_serializer=lambda b: b,
                                       response_deserializer=lambda b: b)
    return call(body)


def create_resource(client, resource, owner=""):
    return resources_call(client, "CreateResource", resource, owner)


def delete_resource(client, resource):
    return resources_call(client, "DeleteResource", resource)


def binding_of(client, resource):
    entries = client.auth.get_role_binding(resource=resource).binding.entries
    return {p: set(r.roles) for p, r in entries.items()}




def test_resources_lifecycle(server):
    root = server.root()
    alice_token = robot(server, "alice")
    alice = server.client(alice_token)
    bob = server.client(robot(server, "bob"))
    project = res(RT.PROJECT, unique("proj"))
    repo = res(RT.REPO, f"{project.name}/data")
    # allClusterUsers hold projectCreator: any subject may create a project
    # and becomes its owner.
    assert create_resource(alice, project) == b""
    assert binding_of(root, project) == {"robot:alice": {"projectOwner"}}
    expect(lambda: create_resource(alice, project), Code.UNKNOWN,
           exact=f"PROJECT {project.name} already exists")
    # A repo needs PROJECT_CREATE_REPO on its project.
    expect(lambda: create_resource(bob, repo), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:bob", "PROJECT_CREATE_REPO", "PROJECT", project.name))
    create_resource(alice, repo)
    assert binding_of(root, repo) == {"robot:alice": {"repoOwner"}}
    # The new bindings drive evaluation.
    r = alice.auth.authorize(resource=repo, permissions=[P.REPO_WRITE, P.REPO_DELETE])
    assert r.authorized
    assert bob.auth.authorize(resource=repo, permissions=[P.REPO_READ]).authorized is False
    alice.auth.modify_role_binding(resource=repo, principal="robot:bob", roles=["repoReader"])
    assert bob.auth.authorize(resource=repo, permissions=[P.REPO_READ]).authorized
    assert bob.auth.get_permissions(resource=repo).roles == ["repoReader"]
    # Deleting needs REPO_DELETE / PROJECT_DELETE.
    expect(lambda: delete_resource(bob, repo), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:bob", "REPO_DELETE", "REPO", repo.name))
    assert delete_resource(alice, repo) == b""
    assert binding_of(root, repo) == {}
    # Alice still reads through her project role; Bob's check reaches the
    # repo's own binding, which is gone.
    assert alice.auth.authorize(resource=repo, permissions=[P.REPO_READ]).authorized
    expect(lambda: bob.auth.authorize(resource=repo, permissions=[P.REPO_READ]),
           Code.NOT_FOUND, exact=f"no role binding exists for REPO {repo.name}")
    expect(lambda: delete_resource(alice, repo), Code.NOT_FOUND,
           exact=f"no role binding exists for REPO {repo.name}")
    expect(lambda: delete_resource(bob, project), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:bob", "PROJECT_DELETE", "PROJECT", project.name))
    delete_resource(alice, project)
    assert binding_of(root, project) == {}


def test_resources_owner(server):
    root = server.root()
    bob = server.client(robot(server, "owner-bob"))
    project = res(RT.PROJECT, unique("owned"))
    # Naming another owner is an admin act.
    expect(lambda: create_resource(bob, project, owner="robot:someone"), Code.PERMISSION_DENIED,
           exact=not_authorized("robot:owner-bob", "CLUSTER_MODIFY_BINDINGS"))
    expect(lambda: create_resource(root, project, owner="nocolon"), Code.UNKNOWN,
           contains=NO_PREFIX)
    create_resource(root, project, owner="user:carol@example.com")
    assert binding_of(root, project) == {"user:carol@example.com": {"projectOwner"}}
    delete_resource(root, project)


@pytest.mark.parametrize("resource", [
    CLUSTER, res(RT.SPEC_REPO, "default/x"), res(RT.RESOURCE_TYPE_UNKNOWN, "x"),
    res(RT.PROJECT, ""), res(RT.PROJECT, "has space"), res(RT.PROJECT, "a/b"),
    res(RT.REPO, "norepo"), res(RT.REPO, "default/"), res(RT.REPO, "a/b/c"),
], ids=["cluster", "spec-repo", "unknown", "empty", "space", "slash", "repo-no-project",
        "repo-empty", "repo-deep"])
def test_resources_invalid(server, resource):
    expect(lambda: create_resource(server.root(), resource), Code.INVALID_ARGUMENT)


def test_resources_need_sign_in(server, inactive):
    expect(lambda: create_resource(server.client(), res(RT.PROJECT, "p")),
           Code.UNAUTHENTICATED, exact=NOT_SIGNED_IN)
    expect_not_activated(inactive, lambda c: create_resource(c, res(RT.PROJECT, "p")))




# --------------------------------------------------------------------------
# Replicas on one PostgreSQL database (issue 5: the callback may land on
# another replica than the one the CLI waits on).


def _fresh_postgres_database():
    base = os.environ.get("TUSK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432").rstrip("/")
    name = "tusk_sdk_" + "".join(random.choice(string.ascii_lowercase) for _ in range(12))
    subprocess.run(["psql", f"{base}/postgres", "-v", "ON_ERROR_STOP=1", "-qc", f"CREATE DATABASE {name}"],
                   check=True, timeout=30)
    return base, name


def test_login_callback_on_another_replica(fresh):
    servers = fresh
    base, db = _fresh_postgres_database()
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # Both replicas are one deployment: one issuer, one pachd redirect,
        # one root token, one database.
        values = (f"oidc:\n  issuerURI: http://127.0.0.1:{port}/dex\n"
                  f"  userAccessibleOauthIssuerHost: http://127.0.0.1:{port}\n"
                  f"pachd:\n  oauthRedirectURI: http://127.0.0.1:{port}/authorization-code/callback\n")
        # Replicas on PostgreSQL must share the key that seals the store.
        env = {"AUTH_ROOT_TOKEN": "0123456789abcdef0123456789abcdef",
               "TUSK_ENCRYPTION_KEYS": base64.b64encode(secrets.token_bytes(32)).decode()}
        url = f"{base}/{db}"
        a = servers(values=values, env=env, listen=f"127.0.0.1:{port}", extra_args=["--database-url", url])
        b = servers(values=values, env=env, extra_args=["--database-url", url])
        login = a.client().auth.get_oidc_login()
        waiting = in_thread(lambda: a.client().auth.authenticate(oidc_state=login.state))
        callback, body = browser_login(login.login_url, stop_at=f"{a.base_url}/authorization-code/callback")
        assert body is None, body
        # The load balancer sends the browser's callback to replica b.
        _, page = follow(callback.replace(a.base_url, b.base_url, 1))
        assert '<p role="status">You are now logged in. Go back to the terminal to use Pachyderm!</p>' in page, page
        token = waiting().pach_token
        # The session works on both replicas.
        for replica in (a, b):
            assert replica.client(token).auth.who_am_i().username == "user:kilgore@kilgore.trout"
        # A binding written on one replica is enforced on the other at once.
        a.root().auth.modify_role_binding(resource=auth.Resource(type=auth.ResourceType.CLUSTER),
                                          principal="user:kilgore@kilgore.trout", roles=[])
        deadline = time.monotonic() + 20
        while True:
            try:
                b.client(token).auth.get_configuration()
            except grpc.RpcError as e:
                assert e.code() == Code.PERMISSION_DENIED, e
                break
            assert time.monotonic() < deadline, "replica b never saw the binding change"
            time.sleep(0.1)
    finally:
        subprocess.run(["psql", f"{base}/postgres", "-qc", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"],
                       timeout=30, check=False)
