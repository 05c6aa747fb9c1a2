# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding and removing the objects that legacy (data-plane) Windows support left on a cluster.

The names come from _procedure.py; this file only knows how to read and delete each kind through
module_utils/_kube.py, at the API versions current Kubernetes serves.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure
from ansible_collections.eksops.windows.plugins.module_utils._kube import ref


def label(obj):
    """'Deployment kube-system/vpc-resource-controller', 'ClusterRole vpc-resource-controller'."""
    return ref(obj["kind"], obj["name"], obj["namespace"])


def legacy_ref(obj):
    """`Kind/namespace/name` or `Kind/name` of a legacy object entry, for findings."""
    if obj.get("namespace"):
        return "%s/%s/%s" % (obj["kind"], obj["namespace"], obj["name"])
    return "%s/%s" % (obj["kind"], obj["name"])


def legacy_controller_present(kube):
    """Whether Deployment kube-system/vpc-resource-controller exists: while it does, the
    control plane treats Windows IPAM as disabled (vpc-resource-controller's conditions)."""
    return kube.get("Deployment", procedure.LEGACY_CONTROLLER, procedure.LEGACY_NAMESPACE) is not None


def find_legacy_objects(kube, include_csrs=True):
    """Every legacy object present, in removal order, as dicts (kind, name, namespace or None,
    flavour or None when both flavours share it). One read by name per candidate.

    include_csrs=False skips the CertificateSigningRequests (clusters older than 1.19 do not
    serve certificates.k8s.io/v1)."""
    found = []
    for obj in procedure.legacy_objects():
        if obj["kind"] == "CertificateSigningRequest" and not include_csrs:
            continue
        if obj["name"] == procedure.EKS_OWN_WEBHOOK:  # never, whatever the tables say
            continue
        if kube.get(obj["kind"], obj["name"], obj["namespace"]) is not None:
            found.append(obj)
    return found


def delete_legacy_object(kube, obj):
    """Delete one object found by find_legacy_objects; False when it was already gone (404).
    Deployments take their ReplicaSets and Pods with them (background propagation)."""
    if obj["name"] == procedure.EKS_OWN_WEBHOOK:
        raise ValueError("refusing to delete %s: it belongs to EKS" % label(obj))
    return kube.delete(obj["kind"], obj["name"], obj["namespace"])


def describe(objects):
    return ", ".join(label(o) for o in objects)


def remove_step(clients, check_mode):
    """Delete every legacy object of either flavour, by name, in removal order (section 5).
    Returns (changed, {found, deleted}); in check mode `deleted` lists what would go."""
    cluster = clients.cluster
    include_csrs = procedure.serves_certificates_v1(cluster["version"])
    if not include_csrs:
        clients.warn("EKS cluster '%s' runs Kubernetes %s, which does not serve "
                     "certificates.k8s.io/v1: legacy CertificateSigningRequests were not looked "
                     "for (approved ones are garbage-collected after one hour)."
                     % (cluster["name"], cluster["version"]))
    found = find_legacy_objects(clients.kube, include_csrs=include_csrs)
    deleted = []
    for obj in found:
        if check_mode or delete_legacy_object(clients.kube, obj):
            deleted.append({"kind": obj["kind"], "name": obj["name"], "namespace": obj["namespace"]})
    return bool(deleted), {"found": found, "deleted": deleted}
