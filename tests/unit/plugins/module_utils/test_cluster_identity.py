"""The API server a kubeconfig or host leads to must be proven to be the cluster named
(issue 11): eks_access.prove_cluster, Kube's proof before the first request, and the option
checks (cluster name, timeouts)."""

import base64
import datetime
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ansible_collections.eksops.windows.plugins.module_utils import _eks_access as eks_access
from ansible_collections.eksops.windows.plugins.module_utils._errors import ClusterIdentityError, KubeError
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject, issuer, key, issuer_key, ca=False):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30)))
    if ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


def _authority(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert(cn, cn, key, key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    serving = _cert("kube-apiserver", cn, server_key, key)
    return ca.public_bytes(serialization.Encoding.PEM), serving.public_bytes(serialization.Encoding.DER)


CA_A, SERVING_A = _authority("cluster-a-ca")
CA_B, SERVING_B = _authority("cluster-b-ca")
CLUSTER_A = {"name": "a", "arn": "arn:aws:eks:us-west-2:1:cluster/a",
             "endpoint": "https://a.example", "ca_data": base64.b64encode(CA_A).decode()}


class Transport:
    """The API server behind a kubeconfig: the certificate it presents (None: behind a proxy
    the handshake cannot see) and its kube-root-ca.crt ConfigMap (None: absent; an int: that
    HTTP status)."""

    def __init__(self, presented, root_ca):
        self.presented, self.root_ca = presented, root_ca
        self.sent = []

    def peer_certificate(self):
        return self.presented

    def request(self, method, url, headers, body):
        self.sent.append((method, url))
        if url.startswith("/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt"):
            if isinstance(self.root_ca, int):
                return self.root_ca, {}, b'{"message": "no"}'
            if self.root_ca is None:
                return 404, {}, b'{"message": "not found"}'
            return 200, {}, json.dumps({"data": {"ca.crt": self.root_ca.decode()}}).encode()
        return 200, {}, b'{"items": []}'


def kube_for(transport, mode="verify", warnings=None):
    return Kube(transport, "EKS cluster 'a' (https://x)", sleep=lambda s: None,
                proof=lambda kube: eks_access.prove_cluster(
                    kube, CLUSTER_A, "https://x", "the kubeconfig /k", mode,
                    (warnings if warnings is not None else []).append))


def test_a_server_whose_certificate_the_cluster_ca_issued_is_proven_without_a_request():
    transport = Transport(SERVING_A, None)
    kube = kube_for(transport)
    kube.list("Node")
    assert kube.identity == "serving-certificate"
    assert transport.sent == [("GET", "/api/v1/nodes?limit=500")]


def test_behind_a_proxy_the_kube_root_ca_configmap_proves_it():
    transport = Transport(None, CA_A)  # a proxy: no handshake to look at
    kube = kube_for(transport)
    kube.list("Node")
    assert kube.identity == "kube-root-ca"
    assert transport.sent[0][1].startswith("/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt")
    # a proxy with a certificate of its own, and the cluster's CA bundle behind it
    transport = Transport(SERVING_B, CA_B + CA_A)
    kube = kube_for(transport)
    kube.list("Node")
    assert kube.identity == "kube-root-ca"


def test_another_cluster_is_refused_before_any_other_request_and_says_what_to_do():
    transport = Transport(SERVING_B, CA_B)
    kube = kube_for(transport)
    with pytest.raises(ClusterIdentityError) as caught:
        kube.list("Node")
    msg = caught.value.msg
    assert "is not EKS cluster 'a' (arn:aws:eks:us-west-2:1:cluster/a, endpoint https://a.example)" in msg
    assert "chosen by the kubeconfig /k" in msg
    assert "issued by CN=cluster-b-ca" in msg
    assert "kube-root-ca.crt holds another CA (subject CN=cluster-b-ca" in msg
    assert "K8S_AUTH_KUBECONFIG" in msg and "cluster_identity=skip" in msg
    # only the proof's own read went out, and every later request is refused again
    assert [url for _m, url in transport.sent] == [
        "/api/v1/namespaces/kube-system/configmaps/kube-root-ca.crt"]
    with pytest.raises(ClusterIdentityError):
        kube.merge_patch("ConfigMap", "amazon-vpc-cni", "kube-system", {"data": {}})
    assert all(method == "GET" for method, _url in transport.sent)


@pytest.mark.parametrize("root_ca, says", [
    (None, "no kube-root-ca.crt ConfigMap"),
    (403, "was refused (403)"),
])
def test_a_server_that_cannot_be_compared_is_refused_with_the_reason(root_ca, says):
    with pytest.raises(ClusterIdentityError, match=r"\(403\)|no kube-root-ca" if root_ca else "no kube-root-ca") as caught:
        kube_for(Transport(SERVING_B, root_ca)).list("Node")
    assert says in caught.value.msg


def test_an_unreachable_server_names_the_step():
    class Down(Transport):
        def peer_certificate(self):
            raise ConnectionRefusedError(111, "Connection refused")
    with pytest.raises(KubeError, match="Proving that https://x is EKS cluster 'a' .TLS handshake.: "
                                        "cannot reach the API server of EKS cluster 'a'"):
        kube_for(Down(None, None)).list("Node")


def test_skip_proves_nothing_and_warns():
    warnings = []
    transport = Transport(SERVING_B, CA_B)
    kube = kube_for(transport, mode="skip", warnings=warnings)
    kube.list("Node")
    assert kube.identity == "skipped"
    assert "was not proven to be EKS cluster 'a'" in warnings[0]
    assert transport.sent == [("GET", "/api/v1/nodes?limit=500")]


@pytest.mark.parametrize("params, says", [
    ({"cluster_name": ""}, "cluster_name is empty. Set eks_cluster_name on the host"),
    ({"cluster_name": "  "}, "cluster_name is empty"),
    ({"cluster_name": "-bad"}, "'-bad' is not an EKS cluster name"),
    ({"cluster_name": "a" * 101}, "is not an EKS cluster name"),
    ({"cluster_name": "ok", "kube_read_timeout": 0.0}, "kube_read_timeout=0.0 is out of range: give seconds from 0.5 to 600.0"),
    ({"cluster_name": "ok", "kube_connect_timeout": -3.0}, "kube_connect_timeout=-3.0 is out of range"),
    ({"cluster_name": "ok", "kube_read_timeout": 86400.0}, "out of range"),
])
def test_options_that_cannot_work_are_refused_with_what_to_give(params, says):
    assert says in eks_access.option_problems(params)


@pytest.mark.parametrize("params", [
    {"cluster_name": "prod-1_a"}, {"cluster_name": "a" * 100, "kube_read_timeout": 600.0},
    {"cluster_name": "x", "kube_connect_timeout": 0.5},
])
def test_good_options_pass(params):
    assert eks_access.option_problems(params) is None


@pytest.mark.parametrize("message, says", [
    ('configmaps "amazon-vpc-cni" is forbidden: User "u" cannot patch resource "configmaps"',
     "cannot patch resource \"configmaps\". Grant the identity that permission"),
    ('clusterroles.rbac.authorization.k8s.io "vpc-resource-controller" is forbidden: user "u" is '
     'attempting to grant RBAC permissions not currently held', "needs RBAC 'escalate' on clusterroles"),
])
def test_a_403_names_the_permission_and_where_the_rules_are(message, says):
    class Forbidden(Transport):
        def request(self, method, url, headers, body):
            return 403, {}, json.dumps({"message": message}).encode()
    kube = Kube(Forbidden(None, None), "EKS cluster 'a' (https://x)", sleep=lambda s: None)
    with pytest.raises(KubeError) as caught:
        kube.list("Node", what="Listing nodes")
    assert caught.value.status == 403
    assert says in caught.value.msg and "docs/permissions/" in caught.value.msg, caught.value.msg
