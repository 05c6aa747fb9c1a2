"""The lab's EKS authenticator: a token-review webhook for the API servers.

It accepts a `k8s-aws-v1.` token only when it is a presigned STS GetCallerIdentity request
for this cluster that STS would honour: the right host and action, at most 15 minutes old,
the header `x-k8s-aws-id: <cluster>` among the signed headers, and a SigV4 signature that
matches the secret of the access key (looked up in moto, the lab's IAM). The identity comes
from moto's STS. The cluster creator is system:masters; other ARNs
are mapped through the cluster's `aws-auth` ConfigMap, as EKS does.
"""

import base64
import datetime
import hashlib
import hmac
import re
import urllib.parse

import yaml

PREFIX = "k8s-aws-v1."
MAX_AGE = datetime.timedelta(minutes=15)
MAX_SKEW = datetime.timedelta(minutes=5)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class Refused(Exception):
    """The token is not valid; the message says why (it goes to the API server's log only)."""


def _quote(value):
    return urllib.parse.quote(value, safe="-_.~")


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def expected_signature(secret, method, host, path, params, signed_headers, headers, date, scope):
    canonical_query = "&".join(
        f"{_quote(k)}={_quote(v)}" for k, v in sorted(params.items()) if k != "X-Amz-Signature")
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    canonical_request = "\n".join([
        method, path or "/", canonical_query, canonical_headers,
        ";".join(signed_headers), EMPTY_SHA256,
    ])
    string_to_sign = "\n".join([
        "AWS4-HMAC-SHA256", date, scope,
        hashlib.sha256(canonical_request.encode()).hexdigest(),
    ])
    day, region, service, terminator = scope.split("/")
    key = _sign(("AWS4" + secret).encode(), day)
    key = _sign(key, region)
    key = _sign(key, service)
    key = _sign(key, terminator)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def decode(token):
    if not token.startswith(PREFIX):
        raise Refused("not an EKS token")
    body = token[len(PREFIX):]
    try:
        return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise Refused(f"token is not base64 url: {exc}") from exc


def verify(token, cluster_name, sts_netloc, secret_lookup, now=None):
    """Check the presigned URL in `token`; return (access_key_id, region) when STS would
    honour it."""
    url = decode(token)
    parts = urllib.parse.urlsplit(url)
    if parts.netloc != sts_netloc:
        raise Refused(f"unexpected STS host {parts.netloc!r}")
    if parts.path not in ("", "/"):
        raise Refused("unexpected path")
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    params = dict(pairs)
    if len(params) != len(pairs):
        raise Refused("repeated query parameter")
    if params.get("Action") != "GetCallerIdentity" or params.get("Version") != "2011-06-15":
        raise Refused("not a GetCallerIdentity request")
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256":
        raise Refused("unsupported signing algorithm")
    signed_headers = params.get("X-Amz-SignedHeaders", "").split(";")
    if "x-k8s-aws-id" not in signed_headers:
        raise Refused("x-k8s-aws-id is not a signed header")
    try:
        date = datetime.datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc)
        expires = int(params["X-Amz-Expires"])
        access_key, scope = params["X-Amz-Credential"].split("/", 1)
        signature = params["X-Amz-Signature"]
    except (KeyError, ValueError) as exc:
        raise Refused(f"malformed presigned request: {exc}") from exc
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if expires > 60 * 15 or expires <= 0:
        raise Refused("X-Amz-Expires out of range")
    if now - date > MAX_AGE:
        raise Refused("token expired")
    if date - now > MAX_SKEW:
        raise Refused("token from the future")
    secret = secret_lookup(access_key)
    if secret is None:
        raise Refused("unknown access key")
    headers = {"host": parts.netloc, "x-k8s-aws-id": cluster_name}
    unknown = [h for h in signed_headers if h not in headers]
    if unknown:
        raise Refused(f"signed headers this authenticator does not send: {unknown}")
    wanted = expected_signature(secret, "GET", parts.netloc, parts.path, params,
                                signed_headers, headers, params["X-Amz-Date"], scope)
    if not hmac.compare_digest(wanted, signature):
        raise Refused("signature does not match (wrong cluster, or tampered)")
    return access_key, scope.split("/")[1]


def caller_arn(access_key_id):
    """The ARN STS (moto) gives the caller of a verified request.

    moto's server routes a bare presigned GET to S3, so the identity is asked of moto's IAM
    directly, in this process, once the signature has been verified here. The lab has one
    identity for every partition (real China regions need credentials of their own).
    """
    from moto.iam.models import iam_backends  # pylint: disable=import-outside-toplevel

    for per_partition in iam_backends.values():
        for backend in per_partition.values():
            user = backend.get_user_from_access_key_id(access_key_id)
            if user:
                return user.arn
    raise Refused("STS does not know this access key")


def role_arn_of(arn):
    """arn:aws:sts::1:assumed-role/R/session -> arn:aws:iam::1:role/R (as EKS maps roles)."""
    match = re.match(r"arn:([^:]+):sts::(\d+):assumed-role/([^/]+)/.+", arn)
    if match:
        return f"arn:{match.group(1)}:iam::{match.group(2)}:role/{match.group(3)}"
    return None


def map_identity(arn, creator_arn, aws_auth_data):
    """Return (username, groups) for an ARN, or raise Refused when EKS would not know it."""
    if arn == creator_arn:
        return "kubernetes-admin", ["system:masters"]
    aws_auth_data = aws_auth_data or {}
    for entry in yaml.safe_load(aws_auth_data.get("mapUsers") or "[]") or []:
        if entry.get("userarn") == arn:
            return entry.get("username", arn), list(entry.get("groups") or [])
    role = role_arn_of(arn)
    for entry in yaml.safe_load(aws_auth_data.get("mapRoles") or "[]") or []:
        if role and entry.get("rolearn") == role:
            session = arn.rsplit("/", 1)[-1]
            username = entry.get("username", arn).replace("{{SessionName}}", session)
            return username, list(entry.get("groups") or [])
    raise Refused(f"ARN {arn} is not mapped in aws-auth")
