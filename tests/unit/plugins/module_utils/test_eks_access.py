import pytest
import urllib3

from ansible_collections.eksops.windows.plugins.module_utils import _eks_access as eks_access
from ansible_collections.eksops.windows.plugins.module_utils._errors import InputError, KubeError
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube
from fakes import FakeApiServer

CLUSTER = {"name": "prod", "endpoint": "https://prod.example:443", "ca_data": "Q0E="}


class FakeModule:
    def __init__(self, tmp_path, **params):
        self.params = {k: None for k in eks_access.CLUSTER_ARGUMENT_SPEC}
        self.params.update(params)
        self.tmpdir = str(tmp_path)
        self.no_log_values = set()
        self.region = "us-west-2"

    def fail_json(self, **kwargs):
        raise AssertionError(kwargs["msg"])

    def warn(self, message):
        self.warnings = getattr(self, "warnings", []) + [message]

    def client(self, service):
        import boto3
        assert service == "sts"
        return boto3.client("sts", region_name="us-west-2", aws_access_key_id="AKIAUNIT",
                            aws_secret_access_key="s")


@pytest.mark.parametrize("arn, partition", [
    ("arn:aws:eks:us-west-2:1:cluster/a", "aws"),
    ("arn:aws-cn:eks:cn-north-1:1:cluster/a", "aws-cn"),
    ("arn:aws-us-gov:eks:us-gov-west-1:1:cluster/a", "aws-us-gov"),
    (None, "aws"),
])
def test_partition_of_arn(arn, partition):
    assert eks_access.partition_of_arn(arn) == partition


def test_eks_token_path_by_default(tmp_path):
    module = FakeModule(tmp_path)
    kube, method = eks_access.kube_api(module, CLUSTER)
    assert method == "eks-token"
    transport = kube.transport
    assert transport.host == CLUSTER["endpoint"]
    assert transport.verify is True
    with open(transport.ca_file, "rb") as handle:
        assert handle.read() == b"CA"
    token = transport.token()
    assert token.startswith("k8s-aws-v1.")
    # the token is registered as a secret, so Ansible masks it anywhere it might show up
    assert token in module.no_log_values
    assert "prod" in kube.where and CLUSTER["endpoint"] in kube.where


def test_token_is_refreshed_only_near_expiry(tmp_path):
    module = FakeModule(tmp_path)
    transport = eks_access.kube_api(module, CLUSTER)[0].transport
    assert transport.token() == transport.token()


def test_explicit_host_wins_over_eks(tmp_path):
    module = FakeModule(tmp_path, host="https://other:6443", api_key="tok",
                        kube_validate_certs=False)
    kube, method = eks_access.kube_api(module, CLUSTER)
    assert method == "host"
    assert kube.transport.host == "https://other:6443"
    assert kube.transport.token() == "tok"
    assert kube.transport.verify is False


def test_kubeconfig_dict_and_context(tmp_path):
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "a", "cluster": {"server": "https://a:443", "insecure-skip-tls-verify": True}},
                     {"name": "b", "cluster": {"server": "https://b:443", "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "static"}}],
        "contexts": [{"name": "a", "context": {"cluster": "a", "user": "u"}},
                     {"name": "b", "context": {"cluster": "b", "user": "u"}}],
    }
    module = FakeModule(tmp_path, kubeconfig=kubeconfig, context="b")
    kube, method = eks_access.kube_api(module, CLUSTER)
    assert method == "kubeconfig"
    assert kube.transport.host == "https://b:443"
    assert kube.transport.token() == "static"


def test_broken_kubeconfig_fails_clearly(tmp_path):
    module = FakeModule(tmp_path, kubeconfig={"apiVersion": "v1", "kind": "Config"})
    with pytest.raises(InputError, match="Could not load the kubeconfig"):
        eks_access.kube_api(module, CLUSTER)


def test_a_missing_kubeconfig_file_is_named(tmp_path):
    missing = str(tmp_path / "nope.yml")
    module = FakeModule(tmp_path, kubeconfig=missing)
    with pytest.raises(InputError, match="The kubeconfig file %s does not exist" % missing):
        eks_access.kube_api(module, CLUSTER)


def test_explain_401_points_at_identity_mapping():
    server = FakeApiServer()
    server.fail("GET", "/api/v1/nodes", 401)
    with pytest.raises(KubeError) as failed:
        Kube(server, "EKS cluster 'prod' (https://prod.example:443)").list("Node", what="Listing nodes")
    assert failed.value.msg.startswith("Listing nodes: the API server of EKS cluster 'prod' "
                                       "(https://prod.example:443) refused")
    assert "aws-auth" in failed.value.msg and failed.value.status == 401


def test_explain_403_quotes_the_server():
    server = FakeApiServer()
    server.fail("GET", "/api/v1/nodes", 403, body={"message": 'nodes is forbidden: User "bob" cannot list'})
    with pytest.raises(KubeError, match='User "bob" cannot list'):
        Kube(server, "prod").list("Node")


class Refusing:
    def __init__(self, error):
        self.error = error
        self.calls = 0

    def request(self, method, url, headers, body):
        self.calls += 1
        raise self.error


def test_explain_tls_and_unreachable_and_retry_only_what_may_be_retried():
    tls = Refusing(urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.SSLError("bad cert")))
    with pytest.raises(KubeError, match="TLS verification"):
        Kube(tls, "prod", sleep=lambda s: None).version()
    assert tls.calls == 1  # a TLS failure is not retried
    down = Refusing(urllib3.exceptions.NewConnectionError(None, "refused"))
    with pytest.raises(KubeError, match="cannot reach the API server of prod"):
        Kube(down, "prod", sleep=lambda s: None).merge_patch("ConfigMap", "c", "n", {})
    assert down.calls == 5  # never connected: safe to send again, even a write
    lost = Refusing(urllib3.exceptions.ProtocolError("connection reset"))
    with pytest.raises(KubeError):
        Kube(lost, "prod", sleep=lambda s: None).merge_patch("ConfigMap", "c", "n", {})
    assert lost.calls == 1  # a write whose answer was lost is not sent twice


def test_timeouts_reach_the_transport_on_both_paths(tmp_path):
    for extra in ({}, {"host": "https://other:6443", "api_key": "tok"}):
        module = FakeModule(tmp_path, kube_connect_timeout=3.0, kube_read_timeout=7.0, **extra)
        transport = eks_access.kube_api(module, CLUSTER)[0].transport
        timeout = transport.pool.connection_pool_kw["timeout"]
        assert (timeout.connect_timeout, timeout.read_timeout) == (3.0, 7.0)
        assert transport.connect_timeout == 3.0
