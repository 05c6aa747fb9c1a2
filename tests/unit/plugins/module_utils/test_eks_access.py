import json

import kubernetes
import pytest
import urllib3

from ansible_collections.eksops.windows.plugins.module_utils import eks_access

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
    api, method = eks_access.kube_client(module, CLUSTER)
    assert method == "eks-token"
    configuration = api.configuration
    assert configuration.host == CLUSTER["endpoint"]
    assert configuration.verify_ssl is True
    with open(configuration.ssl_ca_cert, "rb") as handle:
        assert handle.read() == b"CA"
    header = configuration.api_key["authorization"]
    assert header.startswith("Bearer k8s-aws-v1.")
    # the token is registered as a secret, so Ansible masks it anywhere it might show up
    assert header[len("Bearer "):] in module.no_log_values


def test_token_is_refreshed_only_near_expiry(tmp_path):
    module = FakeModule(tmp_path)
    api = eks_access.kube_client(module, CLUSTER)[0]
    first = api.configuration.api_key["authorization"]
    api.configuration.refresh_api_key_hook(api.configuration)
    assert api.configuration.api_key["authorization"] == first


def test_explicit_host_wins_over_eks(tmp_path):
    module = FakeModule(tmp_path, host="https://other:6443", api_key="tok",
                        kube_validate_certs=False)
    api, method = eks_access.kube_client(module, CLUSTER)
    assert method == "host"
    assert api.configuration.host == "https://other:6443"
    assert api.configuration.api_key["authorization"] == "Bearer tok"
    assert api.configuration.verify_ssl is False


def test_kubeconfig_dict_and_context(tmp_path):
    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "a",
        "clusters": [{"name": "a", "cluster": {"server": "https://a:1"}},
                     {"name": "b", "cluster": {"server": "https://b:2",
                                               "insecure-skip-tls-verify": True}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "a", "context": {"cluster": "a", "user": "u"}},
                     {"name": "b", "context": {"cluster": "b", "user": "u"}}],
    }
    module = FakeModule(tmp_path, kubeconfig=kubeconfig, context="b")
    api, method = eks_access.kube_client(module, CLUSTER)
    assert method == "kubeconfig"
    assert api.configuration.host == "https://b:2"
    assert api.configuration.verify_ssl is False  # the kubeconfig's own setting is kept


def test_broken_kubeconfig_fails_clearly(tmp_path):
    module = FakeModule(tmp_path, kubeconfig=str(tmp_path / "missing"))
    with pytest.raises(AssertionError, match="Could not load the kubeconfig"):
        eks_access.kube_client(module, CLUSTER)


def api_exception(status, message):
    error = kubernetes.client.exceptions.ApiException(status=status, reason="Reason")
    error.body = json.dumps({"message": message})
    return error


def test_explain_401_points_at_identity_mapping():
    msg = eks_access.explain_kube_error(api_exception(401, "Unauthorized"), CLUSTER, "Listing nodes")
    assert msg.startswith("Listing nodes: the API server at https://prod.example:443 refused")
    assert "aws-auth" in msg


def test_explain_403_quotes_the_server():
    msg = eks_access.explain_kube_error(
        api_exception(403, 'nodes is forbidden: User "bob" cannot list'), CLUSTER, "Listing nodes")
    assert 'User "bob" cannot list' in msg


def test_explain_tls_and_unreachable():
    tls = urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.SSLError("bad cert"))
    assert "TLS verification" in eks_access.explain_kube_error(tls, CLUSTER, "x")
    down = urllib3.exceptions.MaxRetryError(None, "/", urllib3.exceptions.NewConnectionError(
        None, "refused"))
    assert "cannot reach the API server at https://prod.example:443" in \
        eks_access.explain_kube_error(down, CLUSTER, "x")
