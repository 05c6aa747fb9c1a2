"""The legacy object table and the removal helpers: which names, which order, which requests.

Expected names are written here from the EKS procedure's table (reference section 5), not
taken from procedure.py, so a typo there fails a test."""

import re

import kubernetes
import pytest
from kubernetes.client.exceptions import ApiException

from ansible_collections.eksops.windows.plugins.module_utils import legacy, procedure

NS = "kube-system"
SCRIPT = {("Deployment", NS, "vpc-admission-webhook-deployment"),
          ("Service", NS, "vpc-admission-webhook-svc"),
          ("CertificateSigningRequest", None, "vpc-admission-webhook-svc.kube-system")}
EKSCTL = {("Deployment", NS, "vpc-admission-webhook"),
          ("Service", NS, "vpc-admission-webhook"),
          ("CertificateSigningRequest", None, "vpc-admission-webhook.kube-system")}
SHARED = {("MutatingWebhookConfiguration", None, "vpc-admission-webhook-cfg"),
          ("Secret", NS, "vpc-admission-webhook-certs"),
          ("ClusterRole", None, "vpc-resource-controller"),
          ("ClusterRoleBinding", None, "vpc-resource-controller"),
          ("ServiceAccount", NS, "vpc-resource-controller"),
          ("Deployment", NS, "vpc-resource-controller")}


def key(obj):
    return obj["kind"], obj["namespace"], obj["name"]


def test_table_is_the_procedures_table():
    objects = procedure.legacy_objects()
    assert {key(o) for o in objects if o["flavour"] == "script"} == SCRIPT
    assert {key(o) for o in objects if o["flavour"] == "eksctl"} == EKSCTL
    assert {key(o) for o in objects if o["flavour"] is None} == SHARED
    assert len(objects) == len(SCRIPT | EKSCTL | SHARED)


def test_the_eks_webhook_is_never_a_candidate():
    assert procedure.EKS_OWN_WEBHOOK == "vpc-resource-mutating-webhook"
    assert all(o["name"] != procedure.EKS_OWN_WEBHOOK for o in procedure.legacy_objects())


def test_removal_order_webhook_configuration_first_identity_last():
    kinds = [o["kind"] for o in procedure.legacy_objects()]
    order = ["MutatingWebhookConfiguration", "Deployment", "Service", "Secret",
             "CertificateSigningRequest", "ClusterRoleBinding", "ClusterRole", "ServiceAccount"]
    assert [k for i, k in enumerate(kinds) if k not in kinds[:i]] == order
    assert kinds == sorted(kinds, key=order.index)


@pytest.mark.parametrize("flavours, expected", [
    ([], []), ([None, None], []), (["script", None], ["script"]),
    (["eksctl", "script", "eksctl"], ["eksctl", "script"]),
])
def test_flavours_found(flavours, expected):
    assert procedure.legacy_flavours([{"flavour": f} for f in flavours]) == expected


@pytest.mark.parametrize("version, served", [
    ("1.17", False), ("1.18", False), ("1.19", True), ("1.30", True),
    ("v1.18.20-eks-1", False), (None, True),
])
def test_certificates_v1_from_119(version, served):
    assert procedure.serves_certificates_v1(version) is served


class FakeApi(kubernetes.client.ApiClient):
    """Answers the typed clients' requests from a set of existing paths; records them."""

    def __init__(self, existing=(), fail=None):
        super().__init__(kubernetes.client.Configuration())
        self.existing = set(existing)
        self.fail = fail or {}
        self.made = []

    def call_api(self, resource_path, method, path_params=None, *args, **kwargs):
        path = resource_path
        for name, value in (path_params or {}).items():
            path = path.replace("{%s}" % name, value)
        self.made.append((method, path))
        if path in self.fail:
            raise ApiException(status=self.fail[path], reason="boom")
        if path not in self.existing:
            raise ApiException(status=404, reason="Not Found")
        if method == "DELETE":
            self.existing.discard(path)
        return object()


class FakeModule:
    def kube_call(self, what, func, *args, **kwargs):
        try:
            return func(*args, **kwargs)
        except ApiException as e:
            raise AssertionError("%s: %s" % (what, e.status))


DEPLOYMENT = "/apis/apps/v1/namespaces/kube-system/deployments/vpc-resource-controller"
CFG = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/vpc-admission-webhook-cfg"
CSR = "/apis/certificates.k8s.io/v1/certificatesigningrequests/vpc-admission-webhook-svc.kube-system"


def test_find_reads_every_candidate_by_name_through_current_apis():
    api = FakeApi({DEPLOYMENT, CFG, CSR})
    found = legacy.find_legacy_objects(FakeModule(), api)
    assert [legacy.label(o) for o in found] == [
        "MutatingWebhookConfiguration vpc-admission-webhook-cfg",
        "Deployment kube-system/vpc-resource-controller",
        "CertificateSigningRequest vpc-admission-webhook-svc.kube-system",
    ]
    assert all(method == "GET" for method, _path in api.made)
    assert len(api.made) == 12
    groups = {re.match(r"^(/api/v1|/apis/[^/]+/[^/]+)/", path).group(1)
              for _method, path in api.made}
    assert groups == {"/apis/admissionregistration.k8s.io/v1", "/apis/apps/v1", "/api/v1",
                      "/apis/certificates.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1"}


def test_find_without_csrs_does_not_ask_for_them():
    api = FakeApi({CSR})
    assert legacy.find_legacy_objects(FakeModule(), api, include_csrs=False) == []
    assert len(api.made) == 10
    assert not any("certificates" in path for _method, path in api.made)


def test_delete_by_name_and_404_means_already_gone():
    api = FakeApi({DEPLOYMENT})
    obj = {"kind": "Deployment", "name": "vpc-resource-controller", "namespace": "kube-system"}
    assert legacy.delete_legacy_object(FakeModule(), api, obj) is True
    assert legacy.delete_legacy_object(FakeModule(), api, obj) is False
    assert api.made == [("DELETE", DEPLOYMENT)] * 2


def test_other_delete_errors_go_through_kube_call():
    api = FakeApi({CFG}, fail={CFG: 403})
    obj = {"kind": "MutatingWebhookConfiguration", "name": "vpc-admission-webhook-cfg",
           "namespace": None}
    with pytest.raises(AssertionError, match="Deleting MutatingWebhookConfiguration "
                                             "vpc-admission-webhook-cfg: 403"):
        legacy.delete_legacy_object(FakeModule(), api, obj)


def test_refuses_to_delete_the_eks_webhook():
    api = FakeApi()
    obj = {"kind": "MutatingWebhookConfiguration", "name": "vpc-resource-mutating-webhook",
           "namespace": None}
    with pytest.raises(ValueError):
        legacy.delete_legacy_object(FakeModule(), api, obj)
    assert api.made == []
