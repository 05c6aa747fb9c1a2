# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Installing legacy (data-plane) Windows support: the objects, and ensuring them one by one.

The manifests are the seed's, written for today's APIs (apps/v1, rbac v1, admissionregistration
v1 with sideEffects and admissionReviewVersions), with the images of the cluster's region and
partition. Objects that exist and already hold what we want are left alone; objects that differ
get a merge patch of the fields we manage; nothing is replaced. The steps work on a
module_utils._kube.Kube (dicts) and raise the typed errors of _errors.py.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import (
    _gates as gates,
    _procedure as procedure,
    _webhook_cert as webhook_cert,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError, StepError
from ansible_collections.eksops.windows.plugins.module_utils._kube import ref
from ansible_collections.eksops.windows.plugins.module_utils._windows_support import support_of

DEFAULT_FLAVOUR = "script"  # the names of the documented S3/kubectl install
LINUX_AMD64 = {"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}


def _deployment(name, labels, pod_spec, strategy=None):
    spec = {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec}}
    if strategy:
        spec["strategy"] = {"type": strategy}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": procedure.LEGACY_NAMESPACE,
                         "labels": labels}, "spec": spec}


def manifests(region, ca_bundle, flavour=DEFAULT_FLAVOUR):
    """Every object of a legacy install except the certificate Secret, in creation order.

    `ca_bundle` is the cluster CA as DescribeCluster returns it (base64 PEM).
    """
    names, shared = procedure.LEGACY_FLAVOURS[flavour], procedure.LEGACY_SHARED
    namespace = procedure.LEGACY_NAMESPACE
    registry = procedure.ecr_registry(region)
    controller = procedure.LEGACY_CONTROLLER
    webhook_labels = {"app": "vpc-admission-webhook"}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": shared["service_account"], "namespace": namespace}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": shared["cluster_role"]},
         "rules": [{"apiGroups": [""],
                    "resources": ["nodes", "nodes/status", "pods", "configmaps"],
                    "verbs": ["update", "get", "list", "watch", "patch", "create"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": shared["cluster_role_binding"]},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                     "name": shared["cluster_role"]},
         "subjects": [{"kind": "ServiceAccount", "name": shared["service_account"],
                       "namespace": namespace}]},
        _deployment(shared["controller_deployment"], {"app": controller}, {
            "serviceAccountName": shared["service_account"],
            "hostNetwork": True,
            "nodeSelector": dict(LINUX_AMD64),
            "containers": [{
                "name": controller,
                "image": "%s/%s:%s" % (registry, procedure.LEGACY_CONTROLLER_IMAGE,
                                       procedure.LEGACY_IMAGE_TAG),
                "command": ["/vpc-resource-controller"],
                "args": ["-stderrthreshold=info"],
                "imagePullPolicy": "Always",
                "livenessProbe": {"httpGet": {"host": "127.0.0.1", "path": "/healthz",
                                              "port": 61779, "scheme": "HTTP"},
                                  "initialDelaySeconds": 30, "periodSeconds": 30,
                                  "timeoutSeconds": 5, "failureThreshold": 5},
                "securityContext": {"privileged": True},
            }],
        }),
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": names["webhook_service"], "namespace": namespace,
                      "labels": dict(webhook_labels)},
         "spec": {"ports": [{"port": 443, "targetPort": 443}], "selector": dict(webhook_labels)}},
        _deployment(names["webhook_deployment"], webhook_labels, {
            "hostNetwork": True,
            "nodeSelector": dict(LINUX_AMD64),
            "containers": [{
                "name": "vpc-admission-webhook",
                "image": "%s/%s:%s" % (registry, procedure.LEGACY_WEBHOOK_IMAGE,
                                       procedure.LEGACY_IMAGE_TAG),
                "args": ["-tlsCertFile=/etc/webhook/certs/cert.pem",
                         "-tlsKeyFile=/etc/webhook/certs/key.pem",
                         "-OSLabelSelectorOverride=windows", "-alsologtostderr", "-v=4"],
                "imagePullPolicy": "Always",
                "volumeMounts": [{"name": "webhook-certs", "mountPath": "/etc/webhook/certs",
                                  "readOnly": True}],
            }],
            "volumes": [{"name": "webhook-certs",
                         "secret": {"secretName": shared["secret"]}}],
        }, strategy="Recreate"),
        {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
         "metadata": {"name": shared["mutating_webhook_configuration"],
                      "labels": dict(webhook_labels)},
         "webhooks": [{
             "name": "vpc-admission-webhook.amazonaws.com",
             "clientConfig": {"service": {"name": names["webhook_service"],
                                          "namespace": namespace, "path": "/mutate"},
                              "caBundle": ca_bundle},
             "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"],
                        "resources": ["pods"]}],
             "failurePolicy": "Ignore",
             "sideEffects": "None",
             "admissionReviewVersions": ["v1beta1"],
         }]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": procedure.KUBE_PROXY_WINDOWS_BINDING,
                      "labels": {"k8s-app": "kube-proxy",
                                 "eks.amazonaws.com/component": "kube-proxy"}},
         "subjects": [{"kind": "Group", "name": procedure.KUBE_PROXY_WINDOWS_BINDING,
                       "apiGroup": "rbac.authorization.k8s.io"}],
         "roleRef": {"kind": "ClusterRole", "name": "system:node-proxier",
                     "apiGroup": "rbac.authorization.k8s.io"}},
    ]


def contains(actual, desired):
    """Whether `actual` (what the server returns, with its defaults) holds all of `desired`."""
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            k in actual and contains(actual[k], v) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(actual, list) and len(actual) == len(desired)
                and all(contains(a, d) for a, d in zip(actual, desired)))
    return actual == desired


def describe(obj):
    """'Deployment kube-system/vpc-resource-controller': how results name an object."""
    return ref(obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace"))


def managed_fields(obj):
    """The merge patch that makes an existing object hold what we want (not its name)."""
    patch = dict((k, v) for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata"))
    labels = obj["metadata"].get("labels")
    if labels:
        patch["metadata"] = {"labels": labels}
    return patch


def ensure(kube, check_mode, obj):
    """Create `obj` when missing, merge-patch it when it differs. Returns (changed, action):
    action is created, patched or none."""
    meta = obj["metadata"]
    current = kube.get(obj["kind"], meta["name"], meta.get("namespace"))
    if current is None:
        if not check_mode:
            kube.create(obj)
        return True, "created"
    wanted = managed_fields(obj)
    if contains(current, wanted):
        return False, "none"
    if not check_mode:
        kube.merge_patch(obj["kind"], meta["name"], meta.get("namespace"), merge_patch(obj, wanted))
    return True, "patched"


def install_step(kube, check_mode, region, ca_bundle, flavour=DEFAULT_FLAVOUR):
    """Ensure every object of the install (manifests()). Returns (changed, objects), objects a
    list of {object, action}. A failure after an object was written raises StepError that says
    which were."""
    objects = []
    for obj in manifests(region, ca_bundle, flavour):
        try:
            _changed, action = ensure(kube, check_mode, obj)
        except EksOpsError as e:
            written = [o["object"] for o in objects if o["action"] != "none"]
            if not written or check_mode:
                raise
            raise StepError("%s Already %s: %s." % (
                e.msg, "created or patched", ", ".join(written)), changed=True, objects=objects)
        objects.append({"object": describe(obj), "action": action})
    return any(o["action"] != "none" for o in objects), objects


def merge_patch(obj, wanted):
    """`wanted` as a merge patch. A Deployment going back to Recreate must also drop the
    rollingUpdate the server defaulted, or the API server rejects it (422)."""
    strategy = wanted.get("spec", {}).get("strategy") if obj["kind"] == "Deployment" else None
    if strategy and strategy.get("type") == "Recreate":
        spec = dict(wanted["spec"], strategy=dict(strategy, rollingUpdate=None))
        return dict(wanted, spec=spec)
    return wanted


def gate_facts(reads):
    """What gates.legacy needs, read once (the nodes are listed once per process)."""
    facts = {"cluster": reads.cluster, "support": support_of(reads.cluster),
             "linux_nodes": len(reads.linux_nodes())}
    facts.update(reads.compute_facts())
    return facts


CERTIFICATE_KEYS = ("issued", "renewal_reason", "certificate", "previous", "service_name", "csr",
                    "not_after")


def converge(reads, check_mode, flavour=DEFAULT_FLAVOUR, force=False, certificate=True,
             renew_before=30, csr_api="auto", clock=None):
    """eks_windows_legacy state=present: the legacy gate (only `force` goes past it), every
    object of the install, then the webhook certificate (webhook_cert.converge for the
    flavour's Service). Returns (changed, result). A certificate failure after objects were
    written raises StepError that reports them. renew_before out of its range is refused before
    anything is read or written (InputError)."""
    cluster = reads.cluster
    webhook_cert.check_options(cluster["name"], procedure_name="eks_windows_legacy",
                               renew_before=renew_before)
    result = {"preflight": gates.enforce(gates.legacy(gate_facts(reads)), "legacy",
                                         cluster["name"], force, reads.clients.warn),
              "flavour": flavour,
              "webhook_service": procedure.LEGACY_FLAVOURS[flavour]["webhook_service"]}
    kube = reads.clients.kube
    objects_changed, result["objects"] = install_step(kube, check_mode, cluster["region"],
                                                      cluster["ca_data"], flavour)
    if not certificate:
        return objects_changed, result
    options = {"clock": clock} if clock else {}
    try:
        cert_changed, cert = webhook_cert.converge(
            reads, check_mode, state="present", renew_before=renew_before,
            service_name=result["webhook_service"], csr_api=csr_api, **options)
    except EksOpsError as e:
        written = [o["object"] for o in result["objects"] if o["action"] != "none"]
        if not written or check_mode:
            details = dict(e.details)
            details.update(result)
            details.setdefault("changed", False)
            e.details = details
            raise
        details = dict(e.details)
        details.update(result, changed=True)
        raise StepError("%s The install had already created or patched: %s." % (
            e.msg, ", ".join(written)), **details)
    result["webhook_certificate"] = dict((k, cert.get(k)) for k in CERTIFICATE_KEYS)
    result["webhook_certificate"]["changed"] = cert_changed
    return objects_changed or cert_changed, result
