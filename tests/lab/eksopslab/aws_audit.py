"""moto's server with an audit log: one JSON line per AWS request it answers.

The Kubernetes API servers keep audit logs; this is the same for AWS, so tests and benchmarks
can count and check AWS calls (which access key called which action, with what status) instead
of only comparing moto's state before and after. The log is `<state>/aws-audit.log`.
"""

import io
import json
import re
import threading
import time
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/")
# EKS is a REST API: its action is the route. Routes the lab's clients use; others are
# logged as "<METHOD> <path>".
EKS_ROUTES = [(method, re.compile(pattern), action) for method, pattern, action in (
    ("GET", r"^/clusters$", "ListClusters"),
    ("POST", r"^/clusters$", "CreateCluster"),
    ("GET", r"^/clusters/[^/]+$", "DescribeCluster"),
    ("GET", r"^/clusters/[^/]+/node-groups$", "ListNodegroups"),
    ("POST", r"^/clusters/[^/]+/node-groups$", "CreateNodegroup"),
    ("GET", r"^/clusters/[^/]+/node-groups/[^/]+$", "DescribeNodegroup"),
    ("GET", r"^/clusters/[^/]+/fargate-profiles$", "ListFargateProfiles"),
    ("POST", r"^/clusters/[^/]+/fargate-profiles$", "CreateFargateProfile"),
    ("GET", r"^/clusters/[^/]+/fargate-profiles/[^/]+$", "DescribeFargateProfile"),
    ("GET", r"^/clusters/[^/]+/addons$", "ListAddons"),
    ("POST", r"^/clusters/[^/]+/addons$", "CreateAddon"),
    ("GET", r"^/clusters/[^/]+/addons/[^/]+$", "DescribeAddon"),
    ("POST", r"^/clusters/[^/]+/addons/[^/]+/update$", "UpdateAddon"),
    ("GET", r"^/clusters/[^/]+/updates/[^/]+$", "DescribeUpdate"),
    ("GET", r"^/addons/configuration-schemas$", "DescribeAddonConfiguration"),
    ("GET", r"^/clusters/[^/]+/access-entries$", "ListAccessEntries"),
    ("POST", r"^/clusters/[^/]+/access-entries$", "CreateAccessEntry"),
    ("GET", r"^/clusters/[^/]+/access-entries/.+$", "DescribeAccessEntry"),
    ("DELETE", r"^/clusters/[^/]+/access-entries/.+$", "DeleteAccessEntry"),
)]


def action_of(environ, service):
    """The API action of a request: X-Amz-Target (JSON APIs), Action= in the query or the form
    body (query APIs: IAM, STS, EC2), or the route (EKS). Reads a form body only to put it back."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(environ.get("QUERY_STRING", "")).get("Action")
    if action:
        return action[0]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    method, path = environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")
    if service == "eks":
        for route_method, pattern, name in EKS_ROUTES:
            if method == route_method and pattern.match(path):
                return name
    return "%s %s" % (method, path)


class AuditedApp:
    """WSGI middleware around moto's dispatcher that appends each request to the log."""

    def __init__(self, app, path):
        self.app = app
        self.path = path
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        found = CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        key, region, service = found.groups() if found else ("", "", "")
        action = action_of(environ, service)
        statuses = []

        def recording_start_response(status, headers, exc_info=None):
            statuses.append(int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info)

        result = self.app(environ, recording_start_response)
        line = json.dumps({"time": time.time(), "access_key": key, "region": region,
                           "service": service, "action": action,
                           "status": statuses[0] if statuses else None})
        with self.lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
        return result


class AuditedMotoServer:
    """moto's server on 127.0.0.1 in a thread, every request logged (see AuditedApp)."""

    def __init__(self, port, audit_path):
        app = AuditedApp(DomainDispatcherApplication(create_backend_app), audit_path)
        self.server = make_server("127.0.0.1", port, app, True,
                                  request_handler=MotoRequestHandler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.thread.join()


def read(path, access_key=None):
    """The logged requests, oldest first, as dicts; only `access_key`'s when given."""
    try:
        with open(path, encoding="utf-8") as handle:
            entries = [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []
    return [e for e in entries if access_key is None or e["access_key"] == access_key]
