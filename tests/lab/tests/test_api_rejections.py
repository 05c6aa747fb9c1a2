"""What the lab's real kube-apiserver (v1.20.2) refuses among the legacy objects as the
installers and the seed write them, and what it takes instead. Each refusal is a reason the
collection writes an object the way it does (docs/legacy.md, "What the API server
refuses"); these tests keep that list true. Refusals that only come with 1.22 (the removal of
the v1beta1 APIs) cannot be shown here: the lab's server is 1.20."""

import base64

import kubernetes
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from eksopslab import kube

CLUSTER = "alpha"
MWC = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations"
CSR_V1 = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"


def status_of(lab, method, path, body, content_type="application/json"):
    """(HTTP status, message) of one request as the cluster admin; deletes what it created."""
    api = lab.admin_api(CLUSTER)
    try:
        created = kube.request(api, method, path, body=body, content_type=content_type)
        if method == "POST" and created.get("metadata", {}).get("name"):
            kube.request(api, "DELETE", "%s/%s" % (path, created["metadata"]["name"]))
        return 201 if method == "POST" else 200, ""
    except kubernetes.client.exceptions.ApiException as error:
        return error.status, error.body.decode() if isinstance(error.body, bytes) else str(error.body)
    finally:
        api.close()


def webhook(name, **extra):
    hook = {"name": "vpc-admission-webhook.amazonaws.com",
            "clientConfig": {"service": {"name": "vpc-admission-webhook-svc",
                                         "namespace": "kube-system", "path": "/mutate"},
                             "caBundle": base64.b64encode(b"not dialled in the lab").decode()},
            "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                       "resources": ["pods"]}],
            "failurePolicy": "Ignore"}
    hook.update(extra)
    return {"apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration", "metadata": {"name": name},
            "webhooks": [hook]}


def csr(name, **spec):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    request = (x509.CertificateSigningRequestBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .sign(key, hashes.SHA256()))
    pem = request.public_bytes(serialization.Encoding.PEM)
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": dict({"request": base64.b64encode(pem).decode(),
                          "usages": ["digital signature", "key encipherment", "server auth"]},
                         **spec)}


def test_admissionregistration_v1_needs_side_effects_and_review_versions(lab):
    status, message = status_of(lab, "POST", MWC, webhook("rejection-bare"))
    assert status == 422
    assert "sideEffects" in message and "admissionReviewVersions" in message
    status, _message = status_of(lab, "POST", MWC, webhook(
        "rejection-complete", sideEffects="None", admissionReviewVersions=["v1beta1"]))
    assert status == 201


@pytest.mark.parametrize("spec, words", [
    ({"signerName": "kubernetes.io/legacy-unknown"}, "legacy-unknown"),
    ({}, "signerName"),
])
def test_certificates_v1_refuses_the_legacy_signer_and_wants_a_signer(lab, spec, words):
    status, message = status_of(lab, "POST", CSR_V1, csr("rejection-csr.kube-system", **spec))
    assert status == 422 and words in message, message


def test_certificates_v1_takes_the_app_serving_signer(lab):
    status, _message = status_of(lab, "POST", CSR_V1, csr(
        "rejection-csr-ok.kube-system", signerName="beta.eks.amazonaws.com/app-serving"))
    assert status == 201


def test_deployments_are_not_served_by_extensions_v1beta1(lab):
    path = "/apis/extensions/v1beta1/namespaces/default/deployments"
    status, _message = status_of(lab, "POST", path, {
        "apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "rejection-ext"}})
    assert status == 404


def test_recreate_over_a_defaulted_rolling_update_needs_rolling_update_dropped(lab):
    """A Deployment created without a strategy gets RollingUpdate with its parameters; a merge
    patch to Recreate that keeps them is refused, one that nulls rollingUpdate is taken."""
    labels = {"app": "rejection-strategy"}
    body = {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "rejection-strategy"},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "none"}]}}}}
    api = lab.admin_api(CLUSTER)
    try:
        kube.request(api, "POST", DEPLOYMENTS, body=body)
    finally:
        api.close()
    path = DEPLOYMENTS + "/rejection-strategy"
    merge = "application/merge-patch+json"
    try:
        status, message = status_of(lab, "PATCH", path, {"spec": {"strategy": {"type": "Recreate"}}},
                                    content_type=merge)
        assert status == 422 and "rollingUpdate" in message, message
        status, _message = status_of(lab, "PATCH", path, {"spec": {"strategy": {
            "type": "Recreate", "rollingUpdate": None}}}, content_type=merge)
        assert status == 200
    finally:
        status_of(lab, "DELETE", path, None)
