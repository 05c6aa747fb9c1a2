"""A fault proxy for the lab's AWS endpoint: forwards every request to moto (the lab's
``aws_endpoint``) and answers chosen calls with the failures AWS gives under load.

Use it from a test (it runs in the test's process, on 127.0.0.1 and a free port)::

    from eksopslab.faults import FaultProxy

    with FaultProxy(lab.info["aws_endpoint"]) as proxy:
        proxy.fail("ListClusters", "throttle", times=3)               # the next 3: ThrottlingException
        proxy.fail("DescribeCluster", "server", region="eu-west-1")   # every one there: 500
        env["AWS_ENDPOINT_URL"] = proxy.url   # what boto3, the modules and plugins call
        ... run ansible-playbook / ansible-inventory with env ...
        proxy.calls("ListClusters")           # what the proxy saw, oldest first

An inventory or module option ``endpoint_url`` pointing at moto bypasses the proxy: point it at
``proxy.url`` too, or leave it out and set AWS_ENDPOINT_URL. When a playbook talks to the lab's
API servers, send only EKS through the proxy (``AWS_ENDPOINT_URL_EKS=proxy.url``, botocore's
per-service variable): EKS tokens are presigned STS URLs, and the lab's token webhook only takes
those presigned for moto's own address (AWS_ENDPOINT_URL).

Kinds of fault (``FAULTS``): ``throttle`` (400 ThrottlingException, or the service's own throttling
code: Throttling for IAM/STS, RequestLimitExceeded for EC2), ``server`` (500 ServerException for
EKS, InternalFailure/InternalError elsewhere), ``unavailable`` (503 ServiceUnavailableException /
ServiceUnavailable / Unavailable), ``refused`` (400 ClientException for EKS, ValidationError /
InvalidParameterValue / ValidationException elsewhere: an error no one retries), ``reset`` (the TCP
connection is reset before any answer) and ``slow`` (forwarded, and answered ``seconds=`` late: a run
held inside a call for that long). ``code=`` overrides the error code of the first four.

An action is named as AWS names it: the ``X-Amz-Target`` operation (json services), the ``Action=``
parameter (query services: IAM, STS, EC2) or, for REST services such as EKS, the operation of
botocore's service model whose HTTP method and request URI match (``GET /clusters`` is
ListClusters, ``GET /clusters/NAME`` DescribeCluster, ``GET /clusters/NAME/addons/ADDON``
DescribeAddon). The region and service come from the request's SigV4 credential scope.

Another process can drive a proxy over HTTP: ``POST /__faults__/rules`` with a JSON body of
``fail()``'s arguments adds a rule, ``DELETE /__faults__/rules`` clears them, ``GET /__faults__/calls``
returns the calls seen. ``python -m eksopslab.faults UPSTREAM`` runs one in the foreground and
prints its URL.
"""

import http.client
import http.server
import json
import re
import socket
import struct
import sys
import threading
import time
import urllib.parse

import botocore.session

FAULTS = ("throttle", "server", "unavailable", "refused", "reset", "slow")
CONTROL = "/__faults__"
_CREDENTIAL = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
               "upgrade", "content-length"}

# (kind, protocol) -> (status, code); protocol "*" for every other one
_ANSWERS = {
    ("throttle", "query"): (400, "Throttling"),
    ("throttle", "ec2"): (503, "RequestLimitExceeded"),
    ("throttle", "*"): (400, "ThrottlingException"),
    ("server", "rest-json"): (500, "ServerException"),
    ("server", "ec2"): (500, "InternalError"),
    ("server", "*"): (500, "InternalFailure"),
    ("unavailable", "query"): (503, "ServiceUnavailable"),
    ("unavailable", "ec2"): (503, "Unavailable"),
    ("unavailable", "*"): (503, "ServiceUnavailableException"),
    ("refused", "rest-json"): (400, "ClientException"),
    ("refused", "query"): (400, "ValidationError"),
    ("refused", "ec2"): (400, "InvalidParameterValue"),
    ("refused", "*"): (400, "ValidationException"),
}


class _Operations:
    """Names the action of a REST request from botocore's service models."""

    def __init__(self):
        self._session = botocore.session.get_session()
        self._models = {}
        self._lock = threading.Lock()

    def model(self, service):
        with self._lock:
            if service not in self._models:
                try:
                    model = self._session.get_service_model(service)
                except Exception:  # pylint: disable=broad-except  # an unknown signing name
                    model = None
                routes = []
                if model is not None:
                    for name in model.operation_names:
                        http = model.operation_model(name).http
                        uri = http.get("requestUri", "/").split("?", 1)[0]
                        pattern = re.sub(r"\\\{[^}]+?\\\+\\\}", ".+", re.escape(uri))
                        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", pattern)
                        routes.append((uri.count("{"), http.get("method", "POST"),
                                       re.compile("^%s/?$" % pattern), name))
                self._models[service] = (model, sorted(routes, key=lambda route: (route[0], route[3])))
            return self._models[service]

    def protocol(self, service):
        model = self.model(service)[0]
        return model.metadata.get("protocol", "json") if model is not None else "json"

    def rest_action(self, service, method, path):
        """The operation whose method and URI match; the one with the fewest placeholders first."""
        for _placeholders, verb, regex, name in self.model(service)[1]:
            if verb == method and regex.match(path):
                return name
        return None


class FaultProxy:
    """A forwarding HTTP proxy on 127.0.0.1 in front of ``upstream`` (a URL), with fault rules."""

    def __init__(self, upstream, host="127.0.0.1", port=0):
        parsed = urllib.parse.urlsplit(upstream)
        self.upstream = (parsed.hostname, parsed.port or 80)
        self._rules = []
        self._calls = []
        self._lock = threading.Lock()
        self._operations = _Operations()
        self._server = http.server.ThreadingHTTPServer((host, port), _handler(self))
        self._server.daemon_threads = True
        self._thread = None
        self.url = "http://%s:%d" % self._server.server_address[:2]

    # --- life ----------------------------------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._server.serve_forever, name="aws-fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- rules and records ----------------------------------------------------------------------
    def fail(self, action, kind, times=None, region=None, service=None, code=None, seconds=None):
        """Answer the next ``times`` calls of ``action`` (all of them when None) with ``kind``
        (one of FAULTS), only in ``region`` / for ``service`` when given; ``seconds`` is the
        delay of a ``slow`` answer. Rules are tried in the order they were added; a rule whose
        count is spent no longer applies."""
        if kind not in FAULTS:
            raise ValueError("fault kind %r is not one of %s" % (kind, ", ".join(FAULTS)))
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every call")
        if (kind == "slow") != (seconds is not None) or (seconds is not None and not 0 < seconds <= 60):
            raise ValueError("seconds (above 0, at most 60) goes with the kind slow, and only with it")
        with self._lock:
            self._rules.append({"action": action, "kind": kind, "left": times, "region": region,
                                "service": service, "code": code, "seconds": seconds})

    def clear(self):
        """Forget every rule (the calls seen are kept)."""
        with self._lock:
            self._rules = []

    def calls(self, action=None, region=None):
        """The calls seen, oldest first: dicts of service, region, action, method, path, status
        (what the client got; None for a reset) and fault (the kind, or None when forwarded)."""
        with self._lock:
            return [dict(c) for c in self._calls
                    if (action is None or c["action"] == action) and (region is None or c["region"] == region)]

    def _fault_for(self, call):
        with self._lock:
            for rule in self._rules:
                if rule["left"] == 0 or rule["action"] != call["action"]:
                    continue
                if rule["region"] not in (None, call["region"]) or rule["service"] not in (None, call["service"]):
                    continue
                if rule["left"] is not None:
                    rule["left"] -= 1
                return rule
        return None

    def _record(self, call):
        with self._lock:
            self._calls.append(call)

    def _identify(self, method, path, headers, body):
        match = _CREDENTIAL.search(headers.get("Authorization", ""))
        region, service = match.groups() if match else (None, None)
        action = None
        target = headers.get("X-Amz-Target")
        split = urllib.parse.urlsplit(path)
        if target:
            action = target.rsplit(".", 1)[-1]
        else:
            params = urllib.parse.parse_qs(split.query)
            if "x-www-form-urlencoded" in headers.get("Content-Type", ""):
                params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
            if "Action" in params:
                action = params["Action"][0]
            elif service:
                action = self._operations.rest_action(service, method, urllib.parse.unquote(split.path))
        return {"service": service, "region": region, "action": action, "method": method, "path": split.path}

    def _answer(self, rule, service):
        protocol = self._operations.protocol(service) if service else "json"
        status, code = _ANSWERS.get((rule["kind"], protocol)) or _ANSWERS[(rule["kind"], "*")]
        code = rule["code"] or code
        message = "Injected by the lab's fault proxy (%s)" % rule["kind"]
        if protocol == "query":
            body = ("<ErrorResponse><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error>"
                    "<RequestId>fault-proxy</RequestId></ErrorResponse>"
                    % ("Sender" if status < 500 else "Receiver", code, message))
            return status, "text/xml", {}, body.encode()
        if protocol == "ec2":
            body = ("<Response><Errors><Error><Code>%s</Code><Message>%s</Message></Error></Errors>"
                    "<RequestID>fault-proxy</RequestID></Response>" % (code, message))
            return status, "text/xml", {}, body.encode()
        body = json.dumps({"__type": code, "message": message}).encode()
        return status, "application/x-amz-json-1.1", {"x-amzn-ErrorType": code}, body


def _handler(proxy):

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            pass

        def finish(self):
            try:
                super().finish()
            except OSError:
                pass  # a reset connection

        def _send(self, status, content_type, headers, body):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _control(self, body):
            if self.command == "POST" and self.path == CONTROL + "/rules":
                try:
                    proxy.fail(**json.loads(body or b"{}"))
                except (TypeError, ValueError) as e:
                    return self._send(400, "application/json", {}, json.dumps({"error": str(e)}).encode())
                return self._send(200, "application/json", {}, b"{}")
            if self.command == "DELETE" and self.path == CONTROL + "/rules":
                proxy.clear()
                return self._send(200, "application/json", {}, b"{}")
            if self.command == "GET" and self.path == CONTROL + "/calls":
                return self._send(200, "application/json", {}, json.dumps(proxy.calls()).encode())
            return self._send(404, "application/json", {}, b'{"error": "unknown control path"}')

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if self.path.startswith(CONTROL):
                return self._control(body)
            call = proxy._identify(self.command, self.path, self.headers, body)
            rule = proxy._fault_for(call)
            if rule is not None and rule["kind"] == "reset":
                call.update(status=None, fault="reset")
                proxy._record(call)
                # SO_LINGER 0: close() sends RST, as a dropped connection does
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return None
            if rule is not None and rule["kind"] == "slow":
                time.sleep(rule["seconds"])
            elif rule is not None:
                status, content_type, headers, answer = proxy._answer(rule, call["service"])
                call.update(status=status, fault=rule["kind"])
                proxy._record(call)
                return self._send(status, content_type, headers, answer)
            upstream = http.client.HTTPConnection(*proxy.upstream, timeout=120)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                upstream.request(self.command, self.path, body=body, headers=headers)
                response = upstream.getresponse()
                answer = response.read()
                call.update(status=response.status, fault=rule["kind"] if rule else None)
                proxy._record(call)
                self.send_response(response.status, response.reason)
                for name, value in response.getheaders():
                    if name.lower() not in _HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer)
            finally:
                upstream.close()
            return None

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    return Handler


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: python -m eksopslab.faults UPSTREAM_URL\n")
        return 2
    proxy = FaultProxy(argv[1])
    print(proxy.url, flush=True)
    try:
        proxy._server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
