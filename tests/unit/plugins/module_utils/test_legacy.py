"""The legacy object table and the removal helpers: which names, which order, which requests.

Expected names are written here from the EKS procedure's table (reference section 5), not
taken from _procedure.py, so a typo there fails a test."""

import re

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import (
    _legacy as legacy,
    _procedure as procedure,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import KubeError
from ansible_collections.eksops.windows.plugins.module_utils._kube import Kube
from fakes import FakeApiServer, FakeClients, obj

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


DEPLOYMENT = "/apis/apps/v1/namespaces/kube-system/deployments/vpc-resource-controller"
CFG = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/vpc-admission-webhook-cfg"
CSR = "/apis/certificates.k8s.io/v1/certificatesigningrequests/vpc-admission-webhook-svc.kube-system"


def fake_kube(*objects):
    server = FakeApiServer(*objects)
    return server, Kube(server, "EKS cluster 'c' (fake)", sleep=lambda s: None)


def present():
    return (obj("Deployment", "vpc-resource-controller", NS),
            obj("MutatingWebhookConfiguration", "vpc-admission-webhook-cfg"),
            obj("CertificateSigningRequest", "vpc-admission-webhook-svc.kube-system"))


def test_find_reads_every_candidate_by_name_through_current_apis():
    server, kube = fake_kube(*present())
    found = legacy.find_legacy_objects(kube)
    assert [legacy.label(o) for o in found] == [
        "MutatingWebhookConfiguration vpc-admission-webhook-cfg",
        "Deployment kube-system/vpc-resource-controller",
        "CertificateSigningRequest vpc-admission-webhook-svc.kube-system",
    ]
    assert all(method == "GET" for method, _path in server.requests)
    assert len(server.requests) == 12
    assert {DEPLOYMENT, CFG, CSR} <= {path for _method, path in server.requests}
    groups = {re.match(r"^(/api/v1|/apis/[^/]+/[^/]+)/", path).group(1)
              for _method, path in server.requests}
    assert groups == {"/apis/admissionregistration.k8s.io/v1", "/apis/apps/v1", "/api/v1",
                      "/apis/certificates.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1"}


def test_find_without_csrs_does_not_ask_for_them():
    server, kube = fake_kube(present()[2])
    assert legacy.find_legacy_objects(kube, include_csrs=False) == []
    assert len(server.requests) == 10
    assert not any("certificates" in path for _method, path in server.requests)


def test_delete_by_name_and_404_means_already_gone():
    server, kube = fake_kube(present()[0])
    entry = {"kind": "Deployment", "name": "vpc-resource-controller", "namespace": "kube-system"}
    assert legacy.delete_legacy_object(kube, entry) is True
    assert legacy.delete_legacy_object(kube, entry) is False
    assert server.requests == [("DELETE", DEPLOYMENT)] * 2


def test_other_delete_errors_say_what_was_being_done():
    server, kube = fake_kube(present()[1])
    server.fail("DELETE", CFG, 403)
    entry = {"kind": "MutatingWebhookConfiguration", "name": "vpc-admission-webhook-cfg",
             "namespace": None}
    with pytest.raises(KubeError, match="Deleting MutatingWebhookConfiguration "
                                        "vpc-admission-webhook-cfg: forbidden \\(403\\)"):
        legacy.delete_legacy_object(kube, entry)


def test_refuses_to_delete_the_eks_webhook():
    server, kube = fake_kube()
    entry = {"kind": "MutatingWebhookConfiguration", "name": "vpc-resource-mutating-webhook",
             "namespace": None}
    with pytest.raises(ValueError):
        legacy.delete_legacy_object(kube, entry)
    assert server.requests == []


def test_remove_step_deletes_by_name_check_mode_and_second_run_write_nothing():
    objects = present() + (obj("MutatingWebhookConfiguration", "vpc-resource-mutating-webhook"),)
    server = FakeApiServer(*objects)
    clients = FakeClients(server)
    changed, result = legacy.remove_step(clients, True)
    assert changed is True and len(result["deleted"]) == 3
    assert server.writes == []
    changed, result = legacy.remove_step(clients, False)
    assert changed is True
    assert [m for m, _p in server.writes] == ["DELETE"] * 3
    assert server.find("MutatingWebhookConfiguration", "vpc-resource-mutating-webhook") is not None
    writes = len(server.writes)
    changed, result = legacy.remove_step(clients, False)
    assert changed is False and result["found"] == [] and len(server.writes) == writes


def test_remove_step_below_119_does_not_look_for_csrs_and_says_so():
    server = FakeApiServer(*present())
    clients = FakeClients(server, version="1.18", platform_version="eks.9")
    _changed, result = legacy.remove_step(clients, False)
    assert all(o["kind"] != "CertificateSigningRequest" for o in result["found"])
    assert "certificates.k8s.io/v1" in clients.warnings[0]
