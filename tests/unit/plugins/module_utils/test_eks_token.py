import base64
import datetime
import urllib.parse

import boto3
import pytest

from ansible_collections.eksops.windows.plugins.module_utils import _eks_token as eks_token


@pytest.fixture(name="sts")
def sts_client():
    return boto3.client("sts", region_name="eu-west-1", aws_access_key_id="AKIAUNITTEST0000",
                        aws_secret_access_key="secret", endpoint_url="https://sts.eu-west-1.amazonaws.com")


def decode(token):
    body = token[len(eks_token.TOKEN_PREFIX):]
    return base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()


def test_token_is_an_unpadded_presigned_get_caller_identity(sts):
    token, expiry = eks_token.get_token(sts, "prod")
    assert token.startswith("k8s-aws-v1.")
    assert "=" not in token
    url = urllib.parse.urlsplit(decode(token))
    params = dict(urllib.parse.parse_qsl(url.query))
    assert url.netloc == "sts.eu-west-1.amazonaws.com"
    assert params["Action"] == "GetCallerIdentity"
    assert params["X-Amz-Expires"] == "60"
    assert params["X-Amz-SignedHeaders"].split(";") == ["host", "x-k8s-aws-id"]
    assert params["X-Amz-Credential"].startswith("AKIAUNITTEST0000/")
    remaining = expiry - datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(minutes=13) < remaining <= datetime.timedelta(minutes=14)


def test_signature_depends_on_the_cluster_name(sts):
    one = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(decode(
        eks_token.get_token(sts, "one")[0])).query))
    two = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(decode(
        eks_token.get_token(sts, "two")[0])).query))
    assert one["X-Amz-Signature"] != two["X-Amz-Signature"]


def test_registering_twice_on_one_client_does_not_stack_handlers(sts):
    eks_token.get_token(sts, "one")
    token = eks_token.get_token(sts, "two")[0]  # a second handler would fail on the popped key
    assert token.startswith("k8s-aws-v1.")


def test_exec_credential_shape():
    expiry = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    credential = eks_token.exec_credential("k8s-aws-v1.abc", expiry)
    assert credential == {
        "kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1",
        "spec": {}, "status": {"token": "k8s-aws-v1.abc",
                               "expirationTimestamp": "2030-01-02T03:04:05Z"},
    }
