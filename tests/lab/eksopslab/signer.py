"""The lab's stand-in for EKS's `beta.eks.amazonaws.com/app-serving` signer.

As on EKS: it acts only on approved CSRs of that signer that have no certificate yet; it signs
with the cluster CA for one year, server auth only, no CA bit, the CSR's subject and SANs; a CSR
that asks for usages beyond digital signature, key encipherment and server auth gets a Failed
condition instead.
"""

import base64
import datetime

from cryptography import x509

from . import kube, pki

SIGNER = "beta.eks.amazonaws.com/app-serving"
ALLOWED_USAGES = {"digital signature", "key encipherment", "server auth"}


def decide(csr):
    """What to do with one CSR object (a dict as the API returns it): None, 'sign' or a reason."""
    spec = csr.get("spec", {})
    status = csr.get("status", {}) or {}
    if spec.get("signerName") != SIGNER or status.get("certificate"):
        return None
    conditions = {c.get("type") for c in status.get("conditions") or []}
    if "Approved" not in conditions or conditions & {"Denied", "Failed"}:
        return None
    extra = set(spec.get("usages") or []) - ALLOWED_USAGES
    if extra:
        return "usages not allowed for this signer: " + ", ".join(sorted(extra))
    return "sign"


def sign(ca_key, ca_cert, request_pem, now=None):
    """One year from now, server auth only, no CA bit, the CSR's subject and SANs."""
    request = x509.load_pem_x509_csr(request_pem)
    if not request.is_signature_valid:
        raise ValueError("CSR signature is not valid")
    now = now or pki.now()
    try:
        san = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    return pki.cert_pem(pki.issue(
        ca_key, ca_cert, request.public_key(), request.subject, server=True, san=san,
        not_before=now - datetime.timedelta(minutes=5), not_after=now + datetime.timedelta(days=365)))


def process(api, ca_key, ca_cert):
    """One pass over a cluster's CSRs through a kubernetes ApiClient; returns names acted on."""
    acted = []
    response = kube.request(api, "GET", "/apis/certificates.k8s.io/v1/certificatesigningrequests")
    for csr in response.get("items", []):
        verdict = decide(csr)
        if verdict is None:
            continue
        name = csr["metadata"]["name"]
        status = dict(csr.get("status") or {})
        now = pki.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        if verdict == "sign":
            request_pem = base64.b64decode(csr["spec"]["request"])
            try:
                status["certificate"] = base64.b64encode(
                    sign(ca_key, ca_cert, request_pem)).decode()
            except ValueError as exc:
                verdict = str(exc)
        if verdict != "sign":
            status["conditions"] = list(status.get("conditions") or []) + [{
                "type": "Failed", "status": "True", "reason": "SignerValidationFailure",
                "message": verdict, "lastUpdateTime": now, "lastTransitionTime": now,
            }]
        body = dict(csr)
        body["status"] = status
        kube.request(api, "PUT",
                     f"/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}/status",
                     body=body)
        acted.append(name)
    return acted
