"""The few Kubernetes API answers `helm template --dry-run=server` needs:
discovery, and GET of the Secrets given on the command line, so that the
chart's `lookup` of an existing Secret (an upgrade) can be tested offline.

Usage: fake_apiserver.py PORT NAMESPACE SECRETS_JSON   ({name: {key: text}})
"""

import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, NAMESPACE, SECRETS = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])

CORE = [("configmaps", "ConfigMap"), ("secrets", "Secret"), ("services", "Service"),
        ("persistentvolumeclaims", "PersistentVolumeClaim"), ("pods", "Pod")]
GROUPS = {"apps": [("deployments", "Deployment")],
          "policy": [("poddisruptionbudgets", "PodDisruptionBudget")],
          "networking.k8s.io": [("ingresses", "Ingress")]}


def resources(gv, items):
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
        {"name": n, "singularName": k.lower(), "namespaced": True, "kind": k,
         "verbs": ["get", "list", "create", "update", "patch", "delete"]} for n, k in items]}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/version":
            return self.reply(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0"})
        if path == "/api":
            return self.reply(200, {"kind": "APIVersions", "versions": ["v1"],
                                    "serverAddressByClientCIDRs": []})
        if path == "/api/v1":
            return self.reply(200, resources("v1", CORE))
        if path == "/apis":
            return self.reply(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/v1", "version": "v1"}],
                 "preferredVersion": {"groupVersion": f"{g}/v1", "version": "v1"}} for g in GROUPS]})
        for g, items in GROUPS.items():
            if path == f"/apis/{g}/v1":
                return self.reply(200, resources(f"{g}/v1", items))
        prefix = f"/api/v1/namespaces/{NAMESPACE}/secrets/"
        name = path[len(prefix):] if path.startswith(prefix) else None
        if name in SECRETS:
            data = {k: base64.b64encode(v.encode()).decode() for k, v in SECRETS[name].items()}
            return self.reply(200, {"kind": "Secret", "apiVersion": "v1", "type": "Opaque", "data": data,
                                    "metadata": {
                                        "name": name, "namespace": NAMESPACE,
                                        # What Helm put there at install.
                                        "labels": {"app.kubernetes.io/managed-by": "Helm"},
                                        "annotations": {"meta.helm.sh/release-name": "tusk",
                                                        "meta.helm.sh/release-namespace": NAMESPACE}}})
        return self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                "reason": "NotFound", "code": 404})


ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
