"""The lab's AWS fault proxy (eksopslab.faults) in front of a moto server of its own: what it
forwards, what it injects, how botocore reads it, and what it records."""

import json
import socket
import urllib.request

import boto3
import botocore.config
import botocore.exceptions
import pytest
from moto.server import ThreadedMotoServer

from eksopslab.faults import FaultProxy

NO_RETRY = botocore.config.Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module", name="moto")
def moto_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield "http://127.0.0.1:%d" % port
    server.stop()


@pytest.fixture(name="proxy")
def fault_proxy(moto):
    with FaultProxy(moto) as proxy:
        yield proxy


def client(proxy, service, region="us-west-2"):
    return boto3.client(service, region_name=region, endpoint_url=proxy.url, config=NO_RETRY,
                        aws_access_key_id="AKIAFAULTPROXYTEST00", aws_secret_access_key="secret")


def code_of(excinfo):
    return (excinfo.value.response["Error"]["Code"],
            excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"])


def test_forwards_and_names_rest_actions(proxy):
    eks = client(proxy, "eks")
    eks.create_cluster(name="fp-one", roleArn="arn:aws:iam::123456789012:role/eks",
                       resourcesVpcConfig={"subnetIds": []})
    assert eks.list_clusters()["clusters"] == ["fp-one"]
    assert eks.describe_cluster(name="fp-one")["cluster"]["name"] == "fp-one"
    assert [(c["service"], c["region"], c["action"], c["status"], c["fault"]) for c in proxy.calls()] == [
        ("eks", "us-west-2", "CreateCluster", 200, None),
        ("eks", "us-west-2", "ListClusters", 200, None),
        ("eks", "us-west-2", "DescribeCluster", 200, None)]


def test_injects_the_next_n_calls_of_an_action_in_a_region(proxy):
    eks = client(proxy, "eks")
    proxy.fail("ListClusters", "throttle", times=2, region="us-west-2")
    proxy.fail("ListClusters", "server", times=1)
    for _attempt in range(2):
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            eks.list_clusters()
        assert code_of(excinfo) == ("ThrottlingException", 400)
    # the throttle rule is spent; the next rule applies, in any region
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(proxy, "eks", "eu-west-1").list_clusters()
    assert code_of(excinfo) == ("ServerException", 500)
    eks.list_clusters()  # every rule spent: forwarded
    assert [(c["region"], c["status"], c["fault"]) for c in proxy.calls("ListClusters")] == [
        ("us-west-2", 400, "throttle"), ("us-west-2", 400, "throttle"),
        ("eu-west-1", 500, "server"), ("us-west-2", 200, None)]


def test_unavailable_reset_and_other_protocols(proxy):
    eks = client(proxy, "eks")
    proxy.fail("DescribeCluster", "unavailable", times=1)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        eks.describe_cluster(name="missing")
    assert code_of(excinfo) == ("ServiceUnavailableException", 503)
    proxy.fail("ListClusters", "reset", times=1)
    with pytest.raises((botocore.exceptions.ConnectionClosedError, botocore.exceptions.EndpointConnectionError)):
        eks.list_clusters()
    assert proxy.calls("ListClusters")[-1]["fault"] == "reset"
    # IAM (query protocol, Action= in the form body) and STS
    proxy.fail("ListUsers", "throttle", times=1)
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(proxy, "iam", "us-east-1").list_users()
    assert code_of(excinfo) == ("Throttling", 400)
    proxy.fail("GetCallerIdentity", "server", times=1, code="InternalError")
    with pytest.raises(botocore.exceptions.ClientError) as excinfo:
        client(proxy, "sts", "us-east-1").get_caller_identity()
    assert code_of(excinfo) == ("InternalError", 500)
    assert client(proxy, "sts", "us-east-1").get_caller_identity()["Account"]


def test_refused_is_a_client_error_in_every_protocol(proxy):
    for service, region, action, method, code in [
            ("eks", "us-west-2", "ListClusters", "list_clusters", "ClientException"),
            ("iam", "us-east-1", "ListUsers", "list_users", "ValidationError"),
            ("ec2", "us-west-2", "DescribeInstances", "describe_instances", "InvalidParameterValue")]:
        call = getattr(client(proxy, service, region), method)
        proxy.fail(action, "refused", times=1)
        with pytest.raises(botocore.exceptions.ClientError) as excinfo:
            call()
        assert code_of(excinfo) == (code, 400), service
        call()  # spent: forwarded
        assert [(c["status"], c["fault"]) for c in proxy.calls(action)] == [(400, "refused"), (200, None)]


def test_the_http_control_api(proxy):
    def control(method, path, data=None):
        request = urllib.request.Request(proxy.url + "/__faults__" + path, method=method,
                                         data=json.dumps(data).encode() if data is not None else None)
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    control("POST", "/rules", {"action": "ListClusters", "kind": "server"})
    eks = client(proxy, "eks")
    for _attempt in range(3):  # no count: every call
        with pytest.raises(botocore.exceptions.ClientError):
            eks.list_clusters()
    control("DELETE", "/rules")
    eks.list_clusters()
    assert [c["status"] for c in control("GET", "/calls")] == [500, 500, 500, 200]
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        control("POST", "/rules", {"action": "ListClusters", "kind": "explode"})
    assert excinfo.value.code == 400
    with pytest.raises(ValueError, match="not one of throttle, server, unavailable, refused, reset, slow"):
        proxy.fail("ListClusters", "explode")


def test_a_slow_call_is_forwarded_late_and_the_others_at_once(proxy):
    import time  # pylint: disable=import-outside-toplevel
    iam = client(proxy, "iam", "us-east-1")
    iam.create_role(RoleName="slow", AssumeRolePolicyDocument="{}")
    proxy.fail("ListAttachedRolePolicies", "slow", seconds=1.5, times=1)
    began = time.monotonic()
    assert iam.list_attached_role_policies(RoleName="slow")["AttachedPolicies"] == []
    assert time.monotonic() - began >= 1.5
    began = time.monotonic()
    iam.list_attached_role_policies(RoleName="slow")
    assert time.monotonic() - began < 1.0  # the rule was spent
    seen = proxy.calls("ListAttachedRolePolicies")
    assert [(c["status"], c["fault"]) for c in seen] == [(200, "slow"), (200, None)]


@pytest.mark.parametrize("kind, seconds", [("slow", None), ("throttle", 2), ("slow", 0), ("slow", 61)])
def test_seconds_go_with_slow_only(proxy, kind, seconds):
    with pytest.raises(ValueError, match="seconds"):
        proxy.fail("ListClusters", kind, seconds=seconds)
