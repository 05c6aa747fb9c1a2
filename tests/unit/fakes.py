"""Fakes for unit tests of the steps: an in-memory Kubernetes API server behind the real
module_utils._kube.Kube (so paths, paging, retries and errors are the real code's), and a
Clients over it with botocore Stubbers for AWS."""

import copy
import json
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from botocore.stub import Stubber

from ansible_collections.eksops.windows.plugins.module_utils._eks_access import RETRY, Clients
from ansible_collections.eksops.windows.plugins.module_utils._kube import KINDS, Kube

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")
_BY_PATH = {}
for _kind, (_prefix, _plural, _namespaced) in KINDS.items():
    _BY_PATH[(_prefix, _plural)] = (_kind, _namespaced)
_BY_PATH[("/apis/certificates.k8s.io/v1beta1", "certificatesigningrequests")] = (
    "CertificateSigningRequest", False)


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def obj(kind, name, namespace=None, **fields):
    meta = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    meta.update(fields.pop("metadata", {}))
    found = {"kind": kind, "metadata": meta}
    found.update(fields)
    return found


def node(name, os_name="linux", instance_type="m5.large", pods=29, fargate=False, labels=None,
         kernel=None):
    all_labels = {"kubernetes.io/os": os_name, "kubernetes.io/arch": "amd64",
                  "node.kubernetes.io/instance-type": instance_type}
    if fargate:
        all_labels["eks.amazonaws.com/compute-type"] = "fargate"
    if labels is not None:
        all_labels = labels
    status = {"capacity": {"pods": str(pods)},
              "conditions": [{"type": "Ready", "status": "True"}]}
    if kernel:
        status["nodeInfo"] = {"kernelVersion": kernel}
    return obj("Node", name, metadata={"labels": all_labels}, status=status)


def _field(item, dotted):
    value = item
    for part in dotted.split("."):
        value = (value or {}).get(part) if isinstance(value, dict) else None
    return value or ""


class FakeApiServer:
    """The transport of a Kube: objects in memory, every request recorded in `requests` as
    (method, path). `fail(method, path_fragment, status, times=1, headers=None)` makes the next
    matching requests answer that status."""

    def __init__(self, *objects):
        self.objects = {}
        self.requests = []
        self.failures = []
        self.version = 0
        for item in objects:
            self.put(item)

    # --- state ---
    def put(self, item):
        item = copy.deepcopy(item)
        meta = item.setdefault("metadata", {})
        self.version += 1
        meta["resourceVersion"] = str(self.version)
        meta.setdefault("uid", "uid-%d" % self.version)
        self.objects[(item["kind"], meta.get("namespace"), meta["name"])] = item
        return item

    def find(self, kind, name, namespace=None):
        return self.objects.get((kind, namespace, name))

    @property
    def writes(self):
        return [r for r in self.requests if r[0] in WRITE_METHODS]

    def fail(self, method, fragment, status, times=1, headers=None, body=None):
        self.failures.append([method, fragment, status, times, headers or {}, body])

    # --- transport ---
    def request(self, method, url, headers, body):
        parts = urlsplit(url)
        path, query = parts.path, parse_qs(parts.query)
        self.requests.append((method, path))
        for failure in self.failures:
            if failure[0] == method and failure[1] in path and failure[3] > 0:
                failure[3] -= 1
                return failure[2], failure[4], json.dumps(failure[5] or {"message": "injected %d" % failure[2]}).encode()
        if path == "/version":
            return self._ok({"major": "1", "minor": "29", "gitVersion": "v1.29.0-fake"})
        kind, namespace, name, subresource = self._parse(path)
        data = json.loads(body) if body else None
        key = (kind, namespace, name)
        if method == "GET" and name is None:
            return self._list(kind, namespace, query)
        if method == "GET":
            return self._ok(self.objects[key]) if key in self.objects else self._missing(kind, name)
        if method == "POST":
            data["kind"] = kind
            data["metadata"].setdefault("namespace", namespace) if namespace else None
            new_key = (kind, data["metadata"].get("namespace"), data["metadata"]["name"])
            if new_key in self.objects:
                return 409, {}, json.dumps({"message": "already exists"}).encode()
            return self._ok(self.put(data), 201)
        if key not in self.objects:
            return self._missing(kind, name)
        current = self.objects[key]
        if method == "DELETE":
            del self.objects[key]
            return self._ok({"kind": "Status", "status": "Success"})
        if method == "PUT":
            sent = (data.get("metadata") or {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                return 409, {}, json.dumps({"message": "the object has been modified"}).encode()
            data["kind"] = kind
            if subresource:
                data = merge_patch(current, {"status": data.get("status")})
            return self._ok(self.put(data))
        if method == "PATCH":
            sent = ((data or {}).get("metadata") or {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                return 409, {}, json.dumps({"message": "the object has been modified"}).encode()
            patched = merge_patch(current, data)
            patched["metadata"].pop("resourceVersion", None)
            return self._ok(self.put(patched))
        raise AssertionError("unexpected %s %s" % (method, path))

    def _parse(self, path):
        segments = [unquote(p) for p in path.strip("/").split("/")]
        for split in range(len(segments), 0, -1):
            prefix = "/" + "/".join(segments[:split])
            rest = segments[split:]
            namespace = None
            if rest[:1] == ["namespaces"] and len(rest) >= 3:
                namespace, rest = rest[1], rest[2:]
            if rest and (prefix, rest[0]) in _BY_PATH:
                kind, _namespaced = _BY_PATH[(prefix, rest[0])]
                name = rest[1] if len(rest) > 1 else None
                sub = rest[2] if len(rest) > 2 else None
                return kind, namespace, name, sub
        raise AssertionError("no kind for path %s" % path)

    def _list(self, kind, namespace, query):
        items = [copy.deepcopy(o) for (k, ns, _n), o in sorted(self.objects.items(), key=lambda i: str(i[0]))
                 if k == kind and (namespace is None or ns == namespace)]
        for term in filter(None, query.get("fieldSelector", [""])[0].split(",")):
            negate = "!=" in term
            field, value = term.split("!=" if negate else "=", 1)
            items = [i for i in items if (_field(i, field) == value) != negate]
        for item in items:
            item.pop("kind", None)
        limit = int(query.get("limit", ["0"])[0] or 0)
        start = int(query.get("continue", ["0"])[0])
        meta = {}
        if limit and len(items) > start + limit:
            meta["continue"] = str(start + limit)
            items = items[start:start + limit]
        else:
            items = items[start:]
        return self._ok({"kind": kind + "List", "metadata": meta, "items": items})

    @staticmethod
    def _ok(item, status=200):
        return status, {}, json.dumps(item).encode()

    @staticmethod
    def _missing(kind, name):
        return 404, {}, json.dumps({"message": "%s %s not found" % (kind, name)}).encode()


CLUSTER = {"name": "c", "arn": "arn:aws:eks:us-west-2:123456789012:cluster/c",
           "region": "us-west-2", "partition": "aws", "version": "1.29", "platform_version": "eks.5",
           "status": "ACTIVE", "endpoint": "https://c.example", "ip_family": "ipv4",
           "role_arn": "arn:aws:iam::123456789012:role/c-role", "tags": {}, "ca_data": None}


class FakeClients(Clients):
    """Clients over a FakeApiServer and Stubbers: `stub(service)` is the Stubber of that
    service (activated), `warnings` the warnings given, `secrets` the values registered as
    secrets."""

    def __init__(self, server, cluster=None, **cluster_overrides):
        self.server = server
        self.raw = {}
        self.stubbers = {}
        self.warnings = []
        self.secrets = []
        self.answered = []
        facts = dict(cluster or CLUSTER)
        facts.update(cluster_overrides)
        super().__init__(facts, Kube(server, "EKS cluster 'c' (fake)", sleep=lambda s: None),
                         self._client, self.warnings.append, self.secrets.append)

    def _raw(self, service):
        if service not in self.raw:
            self.raw[service] = boto3.client(service, region_name="us-west-2",
                                             aws_access_key_id="AKIAUNIT", aws_secret_access_key="s")
            self.stubbers[service] = Stubber(self.raw[service])
            self.stubbers[service].activate()
            self.raw[service].meta.events.register(
                "after-call.*", lambda model, **_kw: self.answered.append(model.name))
        return self.raw[service]

    def stub(self, service):
        self._raw(service)
        return self.stubbers[service]

    def _client(self, service):
        return RetryingBotoClientWrapper(self._raw(service), RETRY)

    def aws_writes(self):
        """AWS operations answered (by the Stubbers) that are not reads."""
        return [name for name in self.answered if not name.startswith(("Describe", "List", "Get"))]
