# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Getting a serving certificate signed through the Kubernetes CSR API, as EKS allows it.

Kubernetes <= 1.21 (EKS): certificates.k8s.io/v1beta1 without signerName, i.e. the legacy
signer. Kubernetes >= 1.22: certificates.k8s.io/v1 with beta.eks.amazonaws.com/app-serving, the
only signer EKS offers for arbitrary serving certificates (v1 forbids legacy-unknown).

Every request goes through a module_utils._kube.Kube (dicts); failures of the API raise
errors.KubeError, failures to get a certificate raise CsrError.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import time

from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError, KubeError
from ansible_collections.eksops.windows.plugins.module_utils._kube import FIELD_MANAGER, path_of

APP_SERVING_SIGNER = "beta.eks.amazonaws.com/app-serving"
LEGACY_SIGNER = "kubernetes.io/legacy-unknown"
USAGES = ["digital signature", "key encipherment", "server auth"]
APP_SERVING_FROM = (1, 22)
KIND = "CertificateSigningRequest"


class CsrError(EksOpsError):
    """The CSR was not turned into a certificate; the message says why."""


class Clock(object):
    """What the waits of this file and of _webhook_cert.py use to tell time and to wait; unit
    tests pass one whose sleep moves its time on."""

    @staticmethod
    def time():
        return time.monotonic()

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


def choose(cluster_version, csr_api="auto", signer_name=None):
    """(API version, signerName or None) for a cluster; None means the legacy signer."""
    if csr_api == "auto":
        csr_api = "v1" if procedure.parse_minor(cluster_version) >= APP_SERVING_FROM else "v1beta1"
    if csr_api == "v1":
        signer = signer_name or APP_SERVING_SIGNER
        if signer == LEGACY_SIGNER:
            raise CsrError("certificates.k8s.io/v1 does not accept the signer %s; use "
                           "csr_api=v1beta1 on clusters that still serve it" % LEGACY_SIGNER)
        return csr_api, signer
    return csr_api, signer_name if signer_name and signer_name != LEGACY_SIGNER else None


def _group_version(api_version):
    return "certificates.k8s.io/%s" % api_version


def _get(kube, name, api_version):
    return kube.get(KIND, name, api_version=_group_version(api_version),
                    what="Reading CSR %s (certificates.k8s.io/%s)" % (name, api_version))


def delete(kube, name, api_version, wait=30, clock=Clock):
    """Delete the CSR `name` if it exists and wait until it is gone; True if there was one."""
    existed = kube.delete(KIND, name, api_version=_group_version(api_version),
                          what="Deleting CSR %s (certificates.k8s.io/%s)" % (name, api_version))
    if not existed:
        return False
    deadline = clock.time() + wait
    while clock.time() < deadline:
        if _get(kube, name, api_version) is None:
            return True
        clock.sleep(0.5)
    raise CsrError("the old CSR %s was not removed within %d s" % (name, wait))


def _conditions(csr):
    return dict((c.get("type"), c) for c in (csr.get("status") or {}).get("conditions") or [])


def _denied_by(csr):
    """Who wrote the Denied condition: the field manager (and time) of the managedFields entry
    that owns it, or None."""
    for entry in (csr.get("metadata") or {}).get("managedFields") or []:
        conditions = (((entry.get("fieldsV1") or {}).get("f:status") or {}).get("f:conditions")) or {}
        if any('"type":"Denied"' in key.replace(" ", "") for key in conditions):
            return "%s (at %s)" % (entry.get("manager") or "an unnamed client", entry.get("time") or "?")
    return None


def denied_message(name, csr):
    """CSR `name` was denied: by whom, why, and what to do."""
    condition = _conditions(csr).get("Denied") or {}
    who = _denied_by(csr)
    return ("CSR %s was denied%s (reason %s: %s). Not a permission of ours: something on the "
            "cluster (a person, a policy controller or a CSR approver) denies CSRs of this name; "
            "let it pass CSR %s, then run again."
            % (name, " by " + who if who else " (the CSR does not say by whom)",
               condition.get("reason") or "none given", condition.get("message") or "no message", name))


def sign(kube, name, csr_pem, api_version, signer, timeout, poll=1.0, clock=Clock):
    """Replace any CSR `name`, create ours, approve it, and wait for the certificate (PEM)."""
    group_version = _group_version(api_version)
    delete(kube, name, api_version, clock=clock)
    spec = {"request": base64.b64encode(csr_pem).decode("ascii"), "usages": USAGES}
    if signer:
        spec["signerName"] = signer
    created = kube.create({
        "apiVersion": group_version,
        "kind": KIND,
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "eksops.windows"}},
        "spec": spec,
    }, api_version=group_version, what="Creating CSR %s (%s)" % (name, group_version))
    status = created.setdefault("status", {})
    status["conditions"] = list(status.get("conditions") or []) + [{
        "type": "Approved", "status": "True", "reason": "EksopsWindowsApprove",
        "message": "approved by eksops.windows for the VPC admission webhook"}]
    created.setdefault("apiVersion", group_version)
    try:
        kube.request("PUT", path_of(KIND, name, api_version=group_version, subresource="approval"),
                     "Approving CSR %s (needs update on certificatesigningrequests/approval and "
                     "approve on the signer)" % name, body=created, query={"fieldManager": FIELD_MANAGER})
    except KubeError as e:
        # 409: the CSR changed between its creation and our approval; 422: it carries a
        # condition that excludes ours. Either way its conditions tell, not our permissions.
        if e.status not in (409, 422):
            raise
        current = _get(kube, name, api_version)
        if current is not None and "Denied" in _conditions(current):
            raise CsrError(denied_message(name, current))
        if current is None or "Approved" not in _conditions(current):
            raise
    deadline = clock.time() + timeout
    while True:
        current = _get(kube, name, api_version)
        if current is None:
            raise CsrError("CSR %s disappeared before it was signed" % name)
        conditions = _conditions(current)
        if "Denied" in conditions:
            raise CsrError(denied_message(name, current))
        if "Failed" in conditions:
            raise CsrError("the signer refused CSR %s: %s" % (
                name, conditions["Failed"].get("message")))
        certificate = (current.get("status") or {}).get("certificate")
        if certificate:
            return base64.b64decode(certificate)
        if clock.time() >= deadline:
            raise CsrError(
                "CSR %s (certificates.k8s.io/%s, signer %s) was approved but not signed within "
                "%d s. On EKS the %s signer exists from Kubernetes 1.22 on; older clusters sign "
                "through certificates.k8s.io/v1beta1 (csr_api=v1beta1)."
                % (name, api_version, signer or LEGACY_SIGNER, timeout, APP_SERVING_SIGNER))
        clock.sleep(poll)
