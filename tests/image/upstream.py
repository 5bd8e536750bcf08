"""A minimal HTTPS OpenID provider for tests/image/run.sh: it serves only the
discovery document and an empty key set, enough for `tusk doctor` inside the
image to show whose certificates it trusts.

Usage: python3 upstream.py CERT KEY PORTFILE
Listens on 127.0.0.1 (a free port, written to PORTFILE) until killed.
"""

import http.server
import json
import ssl
import sys


def main() -> None:
    cert, key, portfile = sys.argv[1:4]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    Handler.issuer = f"https://127.0.0.1:{port}"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(portfile, "w", encoding="ascii") as f:
        f.write(str(port))
    server.serve_forever()


class Handler(http.server.BaseHTTPRequestHandler):
    issuer = ""

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path == "/.well-known/openid-configuration":
            body = {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/auth",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            }
        elif self.path == "/keys":
            body = {"keys": []}
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


if __name__ == "__main__":
    main()
