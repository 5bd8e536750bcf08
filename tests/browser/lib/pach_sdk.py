"""The official Python client (pachyderm-sdk 2.12.2) as a small command line,
for the browser scenario h (groups that grant, issue 14). Each command
prints one JSON object per line on stdout; a failure exits non-zero with
the SDK's error on stderr.

  login ADDRESS
      GetOIDCLogin, prints {"url", "state"} at once (the test drives Chromium
      to the URL), then blocks in Authenticate(oidc_state) and prints
      {"token"} once the browser has come back to tusk.
  state ADDRESS PROJECT          (token in $PACH_TOKEN)
      prints {"who", "groups", "roles", "authorized"}: WhoAmI, GetGroups,
      GetPermissions on the project, and Authorize for PROJECT_LIST_REPO.
  bind ADDRESS PROJECT PRINCIPAL ROLE...   (an admin's token in $PACH_TOKEN)
      ModifyRoleBinding on the project.

Tokens come from the environment, not the command line, so they never show
in a process listing.
"""

import json
import os
import sys

from pachyderm_sdk import Client
from pachyderm_sdk.api import auth

# The SDK reads these at Client() time; only what the test passes counts.
for _name in ("PACH_PYTHON_AUTH_TOKEN", "PACH_PYTHON_OIDC_TOKEN", "PACH_CONFIG"):
    os.environ.pop(_name, None)


def client(address, token=None):
    host, port = address.rsplit(":", 1)
    return Client(host, int(port), auth_token=token)


def say(**fields):
    print(json.dumps(fields), flush=True)


def project(name):
    return auth.Resource(type=auth.ResourceType.PROJECT, name=name)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    command, address, rest = argv[0], argv[1], argv[2:]
    token = os.environ.get("PACH_TOKEN") or None
    if command == "login" and not rest:
        c = client(address)
        login = c.auth.get_oidc_login()
        say(url=login.login_url, state=login.state)
        say(token=c.auth.authenticate(oidc_state=login.state).pach_token)
    elif command == "state" and len(rest) == 1 and token:
        c = client(address, token)
        say(
            who=c.auth.who_am_i().username,
            groups=list(c.auth.get_groups().groups),
            roles=list(c.auth.get_permissions(resource=project(rest[0])).roles),
            authorized=c.auth.authorize(
                resource=project(rest[0]),
                permissions=[auth.Permission.PROJECT_LIST_REPO],
            ).authorized,
        )
    elif command == "bind" and len(rest) >= 3 and token:
        client(address, token).auth.modify_role_binding(
            resource=project(rest[0]), principal=rest[1], roles=rest[2:]
        )
        say(bound=rest[1], roles=rest[2:])
    else:
        sys.exit(f"unknown command or missing arguments/PACH_TOKEN: {argv}\n{__doc__}")


if __name__ == "__main__":
    main(sys.argv[1:])
