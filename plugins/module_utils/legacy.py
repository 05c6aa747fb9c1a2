# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding and removing the objects that legacy (data-plane) Windows support left on a cluster.

The names come from procedure.py; this file only knows how to read and delete each kind through
the typed clients, at the API versions current Kubernetes serves.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import procedure
from ansible_collections.eksops.windows.plugins.module_utils.kube_objects import (
    delete_or_gone,
    read_or_none,
)

try:
    from kubernetes import client as typed_clients
except ImportError:
    typed_clients = None  # reported by EksClusterModule.kube

# kind: (typed client, its read method, its delete method). Namespaced methods take
# (name, namespace), cluster-scoped ones (name).
_CLIENTS = {
    "MutatingWebhookConfiguration": (
        "AdmissionregistrationV1Api", "read_mutating_webhook_configuration",
        "delete_mutating_webhook_configuration"),
    "Deployment": ("AppsV1Api", "read_namespaced_deployment", "delete_namespaced_deployment"),
    "Service": ("CoreV1Api", "read_namespaced_service", "delete_namespaced_service"),
    "Secret": ("CoreV1Api", "read_namespaced_secret", "delete_namespaced_secret"),
    "CertificateSigningRequest": (
        "CertificatesV1Api", "read_certificate_signing_request",
        "delete_certificate_signing_request"),
    "ClusterRoleBinding": (
        "RbacAuthorizationV1Api", "read_cluster_role_binding", "delete_cluster_role_binding"),
    "ClusterRole": ("RbacAuthorizationV1Api", "read_cluster_role", "delete_cluster_role"),
    "ServiceAccount": (
        "CoreV1Api", "read_namespaced_service_account", "delete_namespaced_service_account"),
}


def _method(api, kind, which):
    client, read, delete = _CLIENTS[kind]
    return getattr(getattr(typed_clients, client)(api), read if which == "read" else delete)


def _args(obj):
    return (obj["name"], obj["namespace"]) if obj["namespace"] else (obj["name"],)


def label(obj):
    """'Deployment kube-system/vpc-resource-controller', 'ClusterRole vpc-resource-controller'."""
    return "%s %s" % (obj["kind"], "%s/%s" % (obj["namespace"], obj["name"])
                      if obj["namespace"] else obj["name"])


def legacy_controller_present(module, api):
    found = read_or_none(
        module, "Reading Deployment kube-system/%s" % procedure.LEGACY_CONTROLLER,
        typed_clients.AppsV1Api(api).read_namespaced_deployment,
        procedure.LEGACY_CONTROLLER, procedure.LEGACY_NAMESPACE)
    return found is not None


def find_legacy_objects(module, api, include_csrs=True):
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
        if read_or_none(module, "Reading " + label(obj), _method(api, obj["kind"], "read"),
                        *_args(obj)) is not None:
            found.append(obj)
    return found


def delete_legacy_object(module, api, obj):
    """Delete one object found by find_legacy_objects; False when it was already gone (404).
    Deployments take their ReplicaSets and Pods with them (background propagation)."""
    if obj["name"] == procedure.EKS_OWN_WEBHOOK:
        raise ValueError("refusing to delete %s: it belongs to EKS" % label(obj))
    return delete_or_gone(module, "Deleting " + label(obj), _method(api, obj["kind"], "delete"),
                          *_args(obj), propagation_policy="Background")


def describe(objects):
    return ", ".join(label(o) for o in objects)
