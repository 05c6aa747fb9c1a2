"""Removing legacy (data-plane) Windows support (issue 4) against the lab, in the order an
operator works: enable is refused, check mode, removal, re-run, then enable. State is read back
through the Kubernetes API; writes are counted in the API servers' audit logs.

Expected names are the EKS procedure's table, written out here (not taken from the collection).
"""

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from eksopslab import kube
from eksopslab.testing import running_lab, task_results

CLUSTERS = ("lr-script", "lr-eksctl", "lr-both", "lr-none")
TASK = "Remove legacy Windows support"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases"
KS = "kube-system"
SCRIPT_CSR = "vpc-admission-webhook-svc.kube-system"
EKSCTL_CSR = "vpc-admission-webhook.kube-system"
UNRELATED_CSR = "my-app.default"

# What each flavour leaves, in the order it must be deleted: (kind, namespace, name).
CFG = [("MutatingWebhookConfiguration", None, "vpc-admission-webhook-cfg")]
CONTROLLER_DEPLOYMENT = [("Deployment", KS, "vpc-resource-controller")]
AFTER_CSR = [("ClusterRoleBinding", None, "vpc-resource-controller"),
             ("ClusterRole", None, "vpc-resource-controller"),
             ("ServiceAccount", KS, "vpc-resource-controller")]
SECRET = [("Secret", KS, "vpc-admission-webhook-certs")]
EXPECTED = {
    "lr-script": CFG + [("Deployment", KS, "vpc-admission-webhook-deployment")]
    + CONTROLLER_DEPLOYMENT + [("Service", KS, "vpc-admission-webhook-svc")] + SECRET
    + [("CertificateSigningRequest", None, SCRIPT_CSR)] + AFTER_CSR,
    "lr-eksctl": CFG + [("Deployment", KS, "vpc-admission-webhook")] + CONTROLLER_DEPLOYMENT
    + [("Service", KS, "vpc-admission-webhook")] + SECRET
    + [("CertificateSigningRequest", None, EKSCTL_CSR)] + AFTER_CSR,
    "lr-both": CFG + [("Deployment", KS, "vpc-admission-webhook"),
                      ("Deployment", KS, "vpc-admission-webhook-deployment")]
    + CONTROLLER_DEPLOYMENT + [("Service", KS, "vpc-admission-webhook"),
                               ("Service", KS, "vpc-admission-webhook-svc")] + SECRET
    + [("CertificateSigningRequest", None, EKSCTL_CSR),
       ("CertificateSigningRequest", None, SCRIPT_CSR)] + AFTER_CSR,
    "lr-none": [],
}
FLAVOURS = {"lr-script": ["script"], "lr-eksctl": ["eksctl"], "lr-both": ["eksctl", "script"],
            "lr-none": []}
# Objects that must survive everywhere: EKS's own webhook, the CNI ConfigMap, and the
# scenario's unrelated objects with names close to the legacy ones.
SURVIVORS = [
    ("MutatingWebhookConfiguration", None, "vpc-resource-mutating-webhook"),
    ("ConfigMap", KS, "amazon-vpc-cni"),
    ("ConfigMap", KS, "vpc-resource-controller-notes"),
    ("Deployment", KS, "vpc-admission-webhook-tools"),
    ("Deployment", KS, "coredns"),
    ("Service", KS, "vpc-admission-webhook-metrics"),
    ("Secret", KS, "vpc-admission-webhook-certs-backup"),
    ("ClusterRole", None, "vpc-resource-controller-readonly"),
    ("CertificateSigningRequest", None, UNRELATED_CSR),
]
COLLECTIONS = {
    # kind: collection path; the snapshot lists each (service-account tokens left out: the
    # token controller removes a deleted ServiceAccount's own token Secret, as it should)
    "MutatingWebhookConfiguration":
        "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
    "Deployment": "/apis/apps/v1/namespaces/kube-system/deployments",
    "Service": "/api/v1/namespaces/kube-system/services",
    "Secret": "/api/v1/namespaces/kube-system/secrets",
    "ConfigMap": "/api/v1/namespaces/kube-system/configmaps",
    "ServiceAccount": "/api/v1/namespaces/kube-system/serviceaccounts",
    "CertificateSigningRequest": "/apis/certificates.k8s.io/v1/certificatesigningrequests",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
}


def webhook_csr_pem(service):
    """A CSR like the install script's: RSA 2048, CN <service>.kube-system.svc and the SANs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = [service, f"{service}.kube-system", f"{service}.kube-system.svc"]
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]))
               .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]),
                              critical=False)
               .sign(key, hashes.SHA256()))
    return base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()


def create_legacy_csr(api, name, approve):
    """The way the install script and eksctl made it: certificates.k8s.io/v1beta1, no
    signerName (legacy-unknown), usages of a serving certificate; approved when the install
    finished (the lab's controller-manager then issues it)."""
    body = {"apiVersion": "certificates.k8s.io/v1beta1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"groups": ["system:authenticated"],
                     "request": webhook_csr_pem(name.split(".")[0]),
                     "usages": ["digital signature", "key encipherment", "server auth"]}}
    path = "/apis/certificates.k8s.io/v1beta1/certificatesigningrequests"
    created = kube.request(api, "POST", path, body=body)
    if approve:
        created["status"] = {"conditions": [{"type": "Approved", "status": "True",
                                             "reason": "AutoApproved", "message": "install"}]}
        kube.request(api, "PUT", f"{path}/{name}/approval", body=created)


@pytest.fixture(scope="module", name="lab")
def legacy_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("legacy")), "legacy_remove.yml") as handle:
        csrs = {"lr-script": [(SCRIPT_CSR, True)], "lr-eksctl": [(EKSCTL_CSR, False)],
                "lr-both": [(SCRIPT_CSR, True), (EKSCTL_CSR, True)], "lr-none": []}
        for cluster, wanted in csrs.items():
            api = handle.admin_api(cluster)
            try:
                for name, approve in wanted + [(UNRELATED_CSR, False)]:
                    create_legacy_csr(api, name, approve)
            finally:
                api.close()
        yield handle


def snapshot(lab, cluster):
    """Every object of the kinds the removal deals with, as (kind, namespace, name)."""
    present = set()
    for kind, path in COLLECTIONS.items():
        for item in lab.get(cluster, path)["items"]:
            if item.get("type") == "kubernetes.io/service-account-token":
                continue
            meta = item["metadata"]
            present.add((kind, meta.get("namespace"), meta["name"]))
    return present


def as_tuples(objects):
    return [(o["kind"], o["namespace"], o["name"]) for o in objects]


def remove(lab, *args, hosts=CLUSTERS, **kwargs):
    return lab.run_playbook("eksops.windows.legacy_remove", "-l", ",".join(hosts), *args,
                            **kwargs)


def test_the_starting_point_is_what_the_installers_leave(lab):
    for cluster in CLUSTERS:
        present = snapshot(lab, cluster)
        assert set(EXPECTED[cluster]) <= present, cluster
        assert set(SURVIVORS) <= present, cluster
    csr = lab.get("lr-script", "/apis/certificates.k8s.io/v1/certificatesigningrequests/"
                  + SCRIPT_CSR)
    assert csr["spec"]["signerName"] == "kubernetes.io/legacy-unknown"


def test_enable_is_refused_and_points_to_the_role(lab):
    writes_before = lab.writes(["lr-eksctl"])
    rc, parsed, _raw = lab.run_playbook("eksops.windows.enable", "-l", "lr-eksctl")
    assert rc != 0
    msg = task_results(parsed, "Enable control-plane Windows support")["lr-eksctl"]["msg"]
    assert "eksops.windows.legacy_remove role" in msg, msg
    assert "CertificateSigningRequest " + EKSCTL_CSR in msg, msg
    assert lab.writes(["lr-eksctl"]) == writes_before


def test_check_mode_deletes_nothing_and_lists_exactly_the_objects(lab):
    before = {c: snapshot(lab, c) for c in CLUSTERS}
    writes_before = lab.writes(CLUSTERS)
    rc, parsed, raw = remove(lab, "--diff", check=True)
    assert rc == 0, raw
    assert {c: snapshot(lab, c) for c in CLUSTERS} == before
    assert lab.writes(CLUSTERS) == writes_before
    results = task_results(parsed, TASK)
    for cluster in CLUSTERS:
        result = results[cluster]
        assert as_tuples(result["deleted"]) == EXPECTED[cluster], cluster
        assert as_tuples(result["found"]) == EXPECTED[cluster], cluster
        assert result["flavours"] == FLAVOURS[cluster], cluster
        assert result["changed"] is bool(EXPECTED[cluster]), cluster
        assert result["diff"]["after"] == {"legacy_objects": []}
    assert results["lr-script"]["diff"]["before"]["legacy_objects"][:2] == [
        "MutatingWebhookConfiguration vpc-admission-webhook-cfg",
        "Deployment kube-system/vpc-admission-webhook-deployment"]
    stats = parsed["global_custom_stats"]["eksops_windows_legacy_remove"]
    assert stats["lr-both"]["flavour"] == "both"
    assert stats["lr-none"]["flavour"] == "none"
    assert stats["lr-script"]["check_mode"] is True
    assert len(stats["lr-eksctl"]["deleted"]) == len(EXPECTED["lr-eksctl"])


def test_removal_deletes_exactly_the_legacy_objects_in_order(lab):
    before = {c: snapshot(lab, c) for c in CLUSTERS}
    made_before = {c: len(lab.requests(c)) for c in CLUSTERS}
    rc, parsed, raw = remove(lab)
    assert rc == 0, raw
    results = task_results(parsed, TASK)
    for cluster in CLUSTERS:
        after = snapshot(lab, cluster)
        assert before[cluster] - after == set(EXPECTED[cluster]), cluster
        assert after <= before[cluster], cluster
        assert set(SURVIVORS) <= after, cluster
        assert as_tuples(results[cluster]["deleted"]) == EXPECTED[cluster], cluster
        assert results[cluster]["flavours"] == FLAVOURS[cluster], cluster
        made = [(verb, uri.split("?")[0]) for verb, uri, _code in
                lab.requests(cluster)[made_before[cluster]:]]
        # the Lease (docs/concurrency.md): read first; taken before the first delete, released last
        leased = [i for i, (_verb, path) in enumerate(made) if path.startswith(LEASES)]
        assert [made[i][0] for i in leased] == (["get", "create", "update"] if EXPECTED[cluster] else ["get"])
        assert leased[0] == 0 and (not EXPECTED[cluster] or leased[-1] == len(made) - 1), (cluster, made)
        made = [m for i, m in enumerate(made) if i not in leased]
        gets = [m for m in made if m[0] == "get"]
        deletes = [m for m in made if m[0] == "delete"]
        # one read by name per candidate, then one delete per object found, nothing else
        assert len(gets) == 12 and len(deletes) == len(EXPECTED[cluster]), (cluster, made)
        assert made == gets + deletes, cluster
        assert [path.rsplit("/", 1)[1] for _verb, path in deletes] == \
            [name for _kind, _ns, name in EXPECTED[cluster]], cluster
    # the API versions of today, never the removed v1beta1 ones
    made = [uri for verb, uri, _code in lab.requests("lr-both")[made_before["lr-both"]:]
            if not uri.startswith(LEASES)]
    assert not any("v1beta1" in uri for uri in made)
    assert made[-1].startswith("/api/v1/namespaces/kube-system/serviceaccounts/")
    stats = parsed["global_custom_stats"]["eksops_windows_legacy_remove"]
    assert stats["lr-script"]["changed"] is True
    assert stats["lr-none"]["changed"] is False
    assert stats["lr-eksctl"]["check_mode"] is False


def test_second_run_changes_nothing_and_writes_nothing(lab):
    writes_before = lab.writes(CLUSTERS)
    rc, parsed, raw = remove(lab)
    assert rc == 0, raw
    results = task_results(parsed, TASK)
    assert all(r["changed"] is False and r["deleted"] == [] and r["flavours"] == []
               for r in results.values())
    assert lab.writes(CLUSTERS) == writes_before
    assert all(s["changed"] == 0 for s in parsed["stats"].values())


def test_enable_succeeds_on_the_cleaned_clusters(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", ",".join(CLUSTERS))
    assert rc == 0, raw
    for cluster in CLUSTERS:
        data = lab.get(cluster, "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")
        assert data["data"]["enable-windows-ipam"] == "true", cluster
    assert set(task_results(parsed, "Enable control-plane Windows support")) == set(CLUSTERS)
