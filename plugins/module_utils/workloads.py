# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which operating system a pod template asks for (section 8 of the procedure).

Works on plain dicts (the API's JSON form, as `ApiClient.sanitize_for_serialization` or a raw
request returns it), so the assessment, the workload audit/fix module and the unit tests share
one rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

OS_LABEL = "kubernetes.io/os"
BETA_OS_LABEL = "beta.kubernetes.io/os"
ARCH_LABEL = "kubernetes.io/arch"
# What section 8 of the procedure tells users to put in their manifests.
LINUX_SELECTOR = {OS_LABEL: "linux", ARCH_LABEL: "amd64"}
WINDOWS_SELECTOR = {OS_LABEL: "windows", ARCH_LABEL: "amd64"}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


def pod_spec_of(obj):
    """The pod spec of a Pod or of a workload's pod template (dict), {} when absent."""
    if obj.get("kind") == "Pod":
        return obj.get("spec") or {}
    return ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}


def _affinity_os(pod_spec):
    """The OS values a required node affinity pins the pod to, or None when it does not.

    The pod can run only where one of the nodeSelectorTerms matches, so the pod is pinned
    only when every term restricts the OS label with `In`."""
    affinity = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return None
    values = set()
    for term in terms:
        found = None
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") in (OS_LABEL, BETA_OS_LABEL) and expression.get("operator") == "In":
                found = set(expression.get("values") or [])
        if found is None:
            return None
        values |= found
    return sorted(values)


def os_constraint(pod_spec):
    """How a pod spec selects its operating system.

    Returns a dict: `os` (the OS named, a list when affinity allows several, None when
    nothing pins it) and `via` (`nodeSelector`, `affinity` or None). The control-plane
    webhook only reads the nodeSelector (section 8): a Windows pod pinned by affinity alone
    gets no IPv4 address resource."""
    selector = pod_spec.get("nodeSelector") or {}
    for key in (OS_LABEL, BETA_OS_LABEL):
        if selector.get(key):
            return {"os": selector[key], "via": "nodeSelector"}
    values = _affinity_os(pod_spec)
    if values:
        return {"os": values[0] if len(values) == 1 else values, "via": "affinity"}
    return {"os": None, "via": None}


def lacks_os_selector(obj):
    """True when nothing in the pod (template) pins an operating system."""
    return os_constraint(pod_spec_of(obj))["via"] is None


def targets_windows(pod_spec):
    """True when a pod spec asks for Windows nodes by nodeSelector or required affinity."""
    wanted = os_constraint(pod_spec)["os"]
    return wanted == "windows" or (isinstance(wanted, list) and wanted == ["windows"])


def is_mixed(node_counts):
    """A mixed cluster has Linux and Windows nodes (section 8: pods must select their OS)."""
    return bool(node_counts.get("linux")) and bool(node_counts.get("windows"))


def workload_ref(obj):
    """`Kind/namespace/name` of an object, for findings and reports."""
    meta = obj.get("metadata") or {}
    return "%s/%s/%s" % (obj.get("kind"), meta.get("namespace"), meta.get("name"))


WORKLOAD_PATHS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}


def list_objects(module, api, path, kind):
    """One raw LIST (JSON, no model deserialisation: it is much faster on large clusters) whose
    items get their `kind` back (the API leaves it out of list items)."""
    from ansible_collections.eksops.windows.plugins.module_utils.kube_objects import raw  # pylint: disable=import-outside-toplevel

    listed = raw(module, "Listing %ss" % kind, api, "GET", path) or {}
    items = listed.get("items") or []
    for item in items:
        item["kind"] = kind
    return items


def list_workloads(module, api, namespace=None, kinds=WORKLOAD_KINDS):
    """Deployments, StatefulSets and DaemonSets (dicts) of one namespace or of all."""
    found = []
    for kind in kinds:
        plural = WORKLOAD_PATHS[kind]
        if namespace:
            path = "/apis/apps/v1/namespaces/%s/%s" % (namespace, plural)
        else:
            path = "/apis/apps/v1/%s" % plural
        found.extend(list_objects(module, api, path, kind))
    return found
