# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding the objects that legacy (data-plane) Windows support left on a cluster."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import procedure
from ansible_collections.eksops.windows.plugins.module_utils.kube_objects import read_or_none

try:
    from kubernetes.client import (AdmissionregistrationV1Api, AppsV1Api, CoreV1Api,
                                   RbacAuthorizationV1Api)
except ImportError:
    pass  # reported by EksClusterModule.kube


def legacy_controller_present(module, api):
    found = read_or_none(
        module, "Reading Deployment kube-system/%s" % procedure.LEGACY_CONTROLLER,
        AppsV1Api(api).read_namespaced_deployment,
        procedure.LEGACY_CONTROLLER, procedure.LEGACY_NAMESPACE)
    return found is not None


def find_legacy_objects(module, api):
    """Every legacy object present, as dicts (kind, name, namespace, flavour or None when
    both flavours share it)."""
    apps, core = AppsV1Api(api), CoreV1Api(api)
    rbac, admission = RbacAuthorizationV1Api(api), AdmissionregistrationV1Api(api)
    ns = procedure.LEGACY_NAMESPACE
    candidates = []  # (kind, name, namespace, flavour or None, reader)
    for flavour, names in sorted(procedure.LEGACY_FLAVOURS.items()):
        candidates.append(("Deployment", names["webhook_deployment"], ns, flavour,
                           apps.read_namespaced_deployment))
        candidates.append(("Service", names["webhook_service"], ns, flavour,
                           core.read_namespaced_service))
    shared = procedure.LEGACY_SHARED
    candidates += [
        ("Deployment", shared["controller_deployment"], ns, None, apps.read_namespaced_deployment),
        ("ServiceAccount", shared["service_account"], ns, None,
         core.read_namespaced_service_account),
        ("Secret", shared["secret"], ns, None, core.read_namespaced_secret),
        ("ClusterRole", shared["cluster_role"], None, None, rbac.read_cluster_role),
        ("ClusterRoleBinding", shared["cluster_role_binding"], None, None,
         rbac.read_cluster_role_binding),
        ("MutatingWebhookConfiguration", shared["mutating_webhook_configuration"], None, None,
         admission.read_mutating_webhook_configuration),
    ]
    found = []
    for kind, name, namespace, flavour, reader in candidates:
        args = (name, namespace) if namespace else (name,)
        what = "Reading %s %s" % (kind, "%s/%s" % (namespace, name) if namespace else name)
        if read_or_none(module, what, reader, *args) is not None:
            found.append({"kind": kind, "name": name, "namespace": namespace,
                          "flavour": flavour})
    return found


def describe(objects):
    return ", ".join("%s %s" % (o["kind"], ("%s/%s" % (o["namespace"], o["name"]))
                                if o["namespace"] else o["name"]) for o in objects)
