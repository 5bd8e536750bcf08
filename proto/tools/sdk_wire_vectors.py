#!/usr/bin/env python3
"""Print the wire bytes pachyderm-sdk 2.12.2 produces for the messages that
crates/tusk-proto/tests/wire.rs checks, as hex, one `name = hex` line each.

    python3 -m venv /tmp/sdkvenv && /tmp/sdkvenv/bin/pip install pachyderm-sdk==2.12.2
    /tmp/sdkvenv/bin/python proto/tools/sdk_wire_vectors.py

The messages here and in wire.rs must stay identical, field for field.
Maps and Structs hold at most one key, or keys in sorted order, because prost
encodes a HashMap in arbitrary order (Struct is a BTreeMap there) while
betterproto keeps insertion order.
"""
from datetime import datetime, timezone

import betterproto.lib.google.protobuf as g
from pachyderm_sdk.api import auth, enterprise, identity, license, version

TS = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)  # 1893553445 s, 678901000 ns

VECTORS = {
    "AUTH_ACTIVATE_REQUEST": auth.ActivateRequest(root_token="root-token-0123"),
    "AUTH_ACTIVATE_RESPONSE": auth.ActivateResponse(pach_token="b1946ac92492d2347c6235b4d2611184"),
    "AUTH_WHO_AM_I_RESPONSE": auth.WhoAmIResponse(username="user:alice@example.com", expiration=TS),
    "AUTH_WHO_AM_I_RESPONSE_NO_EXPIRY": auth.WhoAmIResponse(username="pach:root"),
    "AUTH_AUTHORIZE_REQUEST": auth.AuthorizeRequest(
        resource=auth.Resource(type=auth.ResourceType.REPO, name="default/images"),
        permissions=[
            auth.Permission.REPO_READ,
            auth.Permission.REPO_WRITE,
            auth.Permission.CLUSTER_AUTH_GET_ROBOT_TOKEN,
            auth.Permission.JOB_SKIP_CTX,
        ],
    ),
    "AUTH_AUTHORIZE_RESPONSE": auth.AuthorizeResponse(
        authorized=False,
        satisfied=[auth.Permission.REPO_READ],
        missing=[auth.Permission.REPO_WRITE],
        principal="robot:ci",
    ),
    "AUTH_MODIFY_ROLE_BINDING_REQUEST": auth.ModifyRoleBindingRequest(
        resource=auth.Resource(type=auth.ResourceType.PROJECT, name="default"),
        principal="group:data-eng",
        roles=["projectOwner", "repoReader"],
    ),
    "AUTH_GET_ROBOT_TOKEN_REQUEST": auth.GetRobotTokenRequest(robot="robot:ci", ttl=3600),
    "AUTH_GET_ROBOT_TOKEN_REQUEST_NEGATIVE_TTL": auth.GetRobotTokenRequest(robot="ci", ttl=-1),
    "AUTH_GET_ROLE_BINDING_RESPONSE": auth.GetRoleBindingResponse(
        binding=auth.RoleBinding(entries={"user:alice@example.com": auth.Roles(roles={"clusterAdmin": True})})
    ),
    "AUTH_TOKEN_INFO": auth.TokenInfo(subject="robot:ci", expiration=TS, hashed_token="9f86d081884c7d65"),
    "AUTH_SET_CONFIGURATION_REQUEST": auth.SetConfigurationRequest(
        configuration=auth.OidcConfig(
            issuer="http://pachd:30658/dex",
            client_id="pachd",
            client_secret="notsecret",
            redirect_uri="http://localhost:30657/authorization-code/callback",
            scopes=["email", "profile", "groups", "openid"],
            require_email_verified=True,
            localhost_issuer=True,
            user_accessible_issuer_host="localhost:30658",
        )
    ),
    "AUTH_GET_ROLES_FOR_PERMISSION_RESPONSE": auth.GetRolesForPermissionResponse(
        roles=[
            auth.Role(
                name="repoReader",
                permissions=[auth.Permission.REPO_READ, auth.Permission.REPO_LIST_FILE],
                can_be_bound_to=[auth.ResourceType.CLUSTER, auth.ResourceType.PROJECT, auth.ResourceType.REPO],
                returned_for=[auth.ResourceType.REPO],
            )
        ]
    ),
    "IDENTITY_IDP_CONNECTOR": identity.IdpConnector(
        id="okta",
        name="Okta",
        type="oidc",
        config_version=3,
        json_config='{"issuer":"https://example.okta.com"}',
        config=g.Struct(
            fields={
                "clientID": g.Value(string_value="tusk"),
                "insecureSkipEmailVerified": g.Value(bool_value=True),
                "scopes": g.Value(
                    list_value=g.ListValue(values=[g.Value(string_value="openid"), g.Value(string_value="email")])
                ),
            }
        ),
    ),
    "IDENTITY_OIDC_CLIENT": identity.OidcClient(
        id="pachd",
        redirect_uris=["http://localhost:30657/authorization-code/callback", "http://pachd:1657/cb"],
        trusted_peers=["console"],
        name="pachd",
        secret="s3cr3t",
    ),
    "ENTERPRISE_GET_STATE_RESPONSE": enterprise.GetStateResponse(
        state=enterprise.State.ACTIVE,
        info=enterprise.TokenInfo(expires=TS),
        activation_code="eyJ0b2tlbiI6In0=",
    ),
    "ENTERPRISE_PAUSE_STATUS_RESPONSE": enterprise.PauseStatusResponse(
        status=enterprise.PauseStatusResponsePauseStatus.PAUSED
    ),
    "LICENSE_CLUSTER_STATUS": license.ClusterStatus(
        id="localhost",
        address="grpc://localhost:1653",
        version="2.11.6",
        auth_enabled=True,
        client_id="pachd",
        last_heartbeat=TS,
    ),
    "VERSION": version.Version(
        major=2,
        minor=11,
        micro=6,
        additional="-tusk",
        git_commit="cece6fe",
        git_tree_modified="false",
        build_date="2030-01-02T03:04:05Z",
        go_version="rustc 1.95.0",
        platform="amd64",
    ),
}

for name, msg in VECTORS.items():
    print(f"{name} = {bytes(msg).hex()}")
