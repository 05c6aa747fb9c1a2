# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes API as the collection uses it: plain JSON over HTTPS, objects as dicts.

One table says where each kind lives (``KINDS``); one class (``Kube``) makes every request,
retries 429 and 5xx answers (honouring ``Retry-After``, bounded), pages LISTs, and raises
``KubeError`` with a message that names the cluster, the endpoint and the step. The transport
is urllib3 (which botocore already loads): the ``kubernetes`` package, with its thousand model
modules, is imported only to read a kubeconfig file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.eksops.windows.plugins.module_utils._errors import KubeError

try:
    from urllib.parse import quote, urlencode
except ImportError:  # Python 2 is not supported; this keeps the import checker quiet
    from urllib import quote, urlencode  # type: ignore

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"
FIELD_MANAGER = "eksops-windows"

# kind: (API prefix, plural, namespaced). The one kind-to-API table of the collection.
KINDS = {
    "Node": ("/api/v1", "nodes", False),
    "Pod": ("/api/v1", "pods", True),
    "Service": ("/api/v1", "services", True),
    "ConfigMap": ("/api/v1", "configmaps", True),
    "Secret": ("/api/v1", "secrets", True),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Event": ("/api/v1", "events", True),
    "Deployment": ("/apis/apps/v1", "deployments", True),
    "DaemonSet": ("/apis/apps/v1", "daemonsets", True),
    "StatefulSet": ("/apis/apps/v1", "statefulsets", True),
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "MutatingWebhookConfiguration": (
        "/apis/admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", False),
    "Lease": ("/apis/coordination.k8s.io/v1", "leases", True),
    "CertificateSigningRequest": (
        "/apis/certificates.k8s.io/v1", "certificatesigningrequests", False),
}
# Other API versions of a kind that some clusters need (certificates v1beta1 below 1.22).
API_VERSIONS = {
    ("CertificateSigningRequest", "certificates.k8s.io/v1beta1"): "/apis/certificates.k8s.io/v1beta1",
}

RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRIES = 4
MAX_RETRY_AFTER = 10.0
LIST_LIMIT = 500


def path_of(kind, name=None, namespace=None, api_version=None, subresource=None):
    """The URL path of a kind (LIST across namespaces when namespace is None), an object, or
    its subresource."""
    if kind not in KINDS:
        raise ValueError("no API path known for kind %r" % kind)
    prefix, plural, namespaced = KINDS[kind]
    if api_version:
        prefix = API_VERSIONS.get((kind, api_version), prefix)
    parts = [prefix]
    if namespaced and namespace:
        parts += ["namespaces", quote(namespace, safe="")]
    parts.append(plural)
    if name:
        parts.append(quote(name, safe=""))
        if subresource:
            parts.append(subresource)
    return "/".join(parts)


def ref(kind, name, namespace=None):
    """'Deployment kube-system/aws-node', 'ClusterRole vpc-resource-controller': how messages
    name an object."""
    return "%s %s" % (kind, "%s/%s" % (namespace, name) if namespace else name)


def object_ref(obj):
    """`Kind/namespace/name` (namespaced) or `Kind/name` of an object dict: how findings and
    reports name it."""
    meta = obj.get("metadata") or {}
    if meta.get("namespace"):
        return "%s/%s/%s" % (obj.get("kind"), meta["namespace"], meta.get("name"))
    return "%s/%s" % (obj.get("kind"), meta.get("name"))


def _message(body):
    try:
        return json.loads(body).get("message") or ""
    except (TypeError, ValueError, AttributeError):
        return (body or b"")[:200].decode("utf-8", "replace") if isinstance(body, bytes) else str(body or "")


class Kube(object):
    """Requests to one cluster's API server. ``transport`` sends one request and returns
    (status, headers, body bytes), raising on a connection failure; ``where`` names the
    cluster and endpoint in messages; ``sleep`` is time.sleep (tests pass their own)."""

    def __init__(self, transport, where, retries=RETRIES, sleep=time.sleep, proof=None):
        self.transport = transport
        self.where = where
        self.retries = retries
        self.sleep = sleep
        self._proof = proof
        self.identity = None

    def prove(self):
        """Run the identity proof (``proof(kube)``: how the server was proven to be the cluster
        named, or a raised error) once, before the first request; its answer is ``identity``.
        A failed proof is tried again, and fails again, at every later request."""
        if self._proof is not None:
            proof, self._proof = self._proof, None
            try:
                self.identity = proof(self)
            except Exception:
                self._proof = proof
                raise
        return self.identity

    # --- one request ---------------------------------------------------------------------
    def request(self, method, path, what, body=None, query=None, content_type=JSON,
                missing_ok=False, allow=()):
        """One request with retries; the decoded JSON answer, None on 404 when `missing_ok`.
        Statuses in `allow` (e.g. 409) come back as KubeError for the caller to handle
        without a retry."""
        self.prove()
        url = path + ("?" + urlencode(query) if query else "")
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"Accept": JSON}
        if data is not None:
            headers["Content-Type"] = content_type
        attempt = 0
        while True:
            attempt += 1
            try:
                status, answer_headers, answer = self.transport.request(method, url, headers, data)
            except Exception as e:  # urllib3 raises many kinds; each means "not reached"
                if attempt <= self.retries and _transient(e, method):
                    self.sleep(min(2 ** attempt * 0.25, MAX_RETRY_AFTER))
                    continue
                raise KubeError(self._unreachable(what, e))
            if 200 <= status < 300:
                return json.loads(answer) if answer else {}
            if status == 404 and missing_ok:
                return None
            if status in RETRY_STATUSES and status not in allow and attempt <= self.retries:
                self.sleep(_retry_after(answer_headers, attempt))
                continue
            raise KubeError(self._explain(what, status, answer), status=status)

    def peer_certificate(self, what):
        """The DER certificate the API server presents in a TLS handshake of its own, or None
        when the transport cannot tell (plain HTTP, a proxy, a transport of tests without it)."""
        self.prove()
        handshake = getattr(self.transport, "peer_certificate", None)
        if handshake is None:
            return None
        try:
            return handshake()
        except Exception as e:  # socket and ssl raise many kinds; each means "not reached"
            raise KubeError(self._unreachable(what, e))

    def _unreachable(self, what, error):
        reason = getattr(error, "reason", None) or error
        if "SSL" in type(reason).__name__ or "CERTIFICATE_VERIFY_FAILED" in str(reason):
            return ("%s: TLS verification of %s failed (%s). The server's certificate does not "
                    "chain to the cluster CA from DescribeCluster (or ca_cert)." % (what, self.where, reason))
        return "%s: cannot reach the API server of %s (%s)." % (what, self.where, reason)

    def _explain(self, what, status, body):
        message = _message(body)
        if status == 401:
            return ("%s: the API server of %s refused our credentials (401). With the EKS token "
                    "path, the AWS identity must be the cluster creator or be mapped in aws-auth "
                    "or an access entry." % (what, self.where))
        if status == 403:
            remedy = ""
            if "attempting to grant RBAC permissions not currently held" in message:
                remedy = (" Creating or changing a ClusterRole with rules the identity does not "
                          "hold needs RBAC 'escalate' on clusterroles (or those rules).")
            return ("%s: forbidden (403) on %s: %s.%s Grant the identity that permission: the "
                    "RBAC each procedure needs is in docs/permissions/ of eksops.windows."
                    % (what, self.where, message.rstrip("."), remedy))
        return "%s: the API server of %s answered %s: %s" % (what, self.where, status, message)

    # --- objects -------------------------------------------------------------------------
    def version(self):
        return self.request("GET", "/version", "Reading the server version")

    def get(self, kind, name, namespace=None, api_version=None, what=None):
        """The object, or None when it does not exist."""
        obj = self.request("GET", path_of(kind, name, namespace, api_version),
                           what or "Reading " + ref(kind, name, namespace), missing_ok=True)
        if obj is not None:
            obj.setdefault("kind", kind)
        return obj

    def list(self, kind, namespace=None, label_selector=None, field_selector=None, what=None,
             limit=LIST_LIMIT):
        """Every object of a kind (one namespace or all), all pages, each with its `kind`."""
        query = {"limit": limit}
        if label_selector:
            query["labelSelector"] = label_selector
        if field_selector:
            query["fieldSelector"] = field_selector
        if not what:
            where = " in all namespaces" if KINDS[kind][2] else ""
            what = "Listing %ss%s" % (kind, " in namespace %s" % namespace if namespace else where)
        items = []
        while True:
            page = self.request("GET", path_of(kind, namespace=namespace), what, query=query) or {}
            for item in page.get("items") or []:
                item["kind"] = kind
                items.append(item)
            token = (page.get("metadata") or {}).get("continue")
            if not token:
                return items
            query["continue"] = token

    def create(self, obj, api_version=None, what=None):
        meta = obj["metadata"]
        created = self.request(
            "POST", path_of(obj["kind"], namespace=meta.get("namespace"), api_version=api_version),
            what or "Creating " + ref(obj["kind"], meta["name"], meta.get("namespace")), body=obj,
            query={"fieldManager": FIELD_MANAGER})
        created.setdefault("kind", obj["kind"])
        return created

    def replace(self, obj, what=None, allow=()):
        """PUT; the resourceVersion in `obj` makes the server refuse (409) a stale write."""
        meta = obj["metadata"]
        replaced = self.request(
            "PUT", path_of(obj["kind"], meta["name"], meta.get("namespace")),
            what or "Replacing " + ref(obj["kind"], meta["name"], meta.get("namespace")),
            body=obj, query={"fieldManager": FIELD_MANAGER}, allow=allow)
        replaced.setdefault("kind", obj["kind"])
        return replaced

    def merge_patch(self, kind, name, namespace, patch, what=None, missing_ok=False, allow=(),
                    subresource=None):
        patched = self.request(
            "PATCH", path_of(kind, name, namespace, subresource=subresource),
            what or "Patching " + ref(kind, name, namespace), body=patch,
            query={"fieldManager": FIELD_MANAGER}, content_type=MERGE_PATCH,
            missing_ok=missing_ok, allow=allow)
        if patched is not None:
            patched.setdefault("kind", kind)
        return patched

    def delete(self, kind, name, namespace=None, api_version=None, what=None):
        """True when deleted, False when it was already gone. Dependents go in the background."""
        gone = self.request(
            "DELETE", path_of(kind, name, namespace, api_version),
            what or "Deleting " + ref(kind, name, namespace),
            body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"},
            missing_ok=True)
        return gone is not None


def _retry_after(headers, attempt):
    value = None
    for key, item in (headers or {}).items():
        if key.lower() == "retry-after":
            value = item
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except (TypeError, ValueError):
        return min(2 ** attempt * 0.25, MAX_RETRY_AFTER)


def _transient(error, method):
    """Worth another try: a connection that could not be made (the request was never sent),
    or a connection failure of a read. Not TLS or name errors, not a read timeout (the timeout
    bounds the wait: a frozen API server costs one timeout, not five), and not a write whose
    answer was lost (it may have been applied)."""
    reason = getattr(error, "reason", None)
    text = "%s %s %s" % (type(error).__name__, type(reason).__name__, reason)
    if any(word in text for word in ("SSL", "NameResolution", "LocationParse", "CERTIFICATE",
                                     "ReadTimeout")):
        return False  # a server that took the request and did not answer in time: not again
    return method == "GET" or "NewConnectionError" in text or "ConnectTimeout" in text


class Urllib3Transport(object):
    """One urllib3 pool to one API server. `token` is a callable returning the bearer token
    (None for client-certificate auth), asked before every request so it can refresh."""

    def __init__(self, host, ca_file=None, verify=True, token=None, cert_file=None,
                 key_file=None, proxy=None, connect_timeout=10.0, read_timeout=30.0):
        import urllib3  # pylint: disable=import-outside-toplevel

        self.host = host.rstrip("/")
        self.token = token
        self.ca_file, self.verify = ca_file, verify
        self.proxy, self.connect_timeout = proxy, connect_timeout
        kwargs = dict(maxsize=4, retries=False,
                      timeout=urllib3.Timeout(connect=connect_timeout, read=read_timeout))
        if self.host.startswith("https"):
            kwargs["cert_reqs"] = "CERT_REQUIRED" if verify else "CERT_NONE"
            if ca_file:
                kwargs["ca_certs"] = ca_file
            if cert_file:
                kwargs["cert_file"] = cert_file
            if key_file:
                kwargs["key_file"] = key_file
        if not verify:
            urllib3.disable_warnings()
        self.pool = urllib3.ProxyManager(proxy, **kwargs) if proxy else urllib3.PoolManager(**kwargs)

    def request(self, method, url, headers, body):
        headers = dict(headers)
        token = self.token() if self.token else None
        if token:
            headers["Authorization"] = "Bearer " + token
        answer = self.pool.request(method, self.host + url, headers=headers, body=body,
                                   preload_content=True, redirect=False)
        return answer.status, dict(answer.headers), answer.data

    def peer_certificate(self):
        """The server's certificate (DER) from a TLS handshake of its own, made without
        verification: the caller checks who issued it (eks_access.prove_cluster). The handshake
        proves the server holds that certificate's key. None for plain HTTP and through a proxy."""
        import socket  # pylint: disable=import-outside-toplevel
        import ssl  # pylint: disable=import-outside-toplevel

        from urllib3.util import parse_url  # pylint: disable=import-outside-toplevel

        url = parse_url(self.host)
        if url.scheme != "https" or self.proxy:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection((url.host.strip("[]"), url.port or 443),
                                      timeout=self.connect_timeout) as sock:
            with context.wrap_socket(sock, server_hostname=url.host.strip("[]")) as tls:
                return tls.getpeercert(binary_form=True)
