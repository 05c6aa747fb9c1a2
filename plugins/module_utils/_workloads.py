# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which operating system a node runs and a pod asks for (section 8 of the procedure): the one
home of "Linux node", "Windows node", "Windows pod" and the aws-node environment.

Works on plain dicts (the API's JSON form, as module_utils/_kube.py returns it), so the gates,
the assessment, the workload audit/fix, the certificate renewal and the unit tests share one
rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import fnmatch

from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError, KubeError
from ansible_collections.eksops.windows.plugins.module_utils._kube import object_ref

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


def container_env(obj, container_name):
    """{name: value} of the literal env of the named container of a pod (template)."""
    for container in pod_spec_of(obj).get("containers") or []:
        if container.get("name") == container_name:
            return dict((e["name"], e["value"]) for e in container.get("env") or [] if "value" in e)
    return {}


def find(objects, kind, namespace, name):
    """The object of that kind, namespace and name in a list of dicts, or None."""
    for obj in objects:
        meta = obj.get("metadata") or {}
        if obj.get("kind") == kind and meta.get("namespace") == namespace and meta.get("name") == name:
            return obj
    return None


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
    """True when a pod spec asks for Windows nodes by nodeSelector, required affinity or the
    pod's own `spec.os.name` (Kubernetes 1.25+)."""
    if ((pod_spec.get("os") or {}).get("name")) == "windows":
        return True
    wanted = os_constraint(pod_spec)["os"]
    return wanted == "windows" or (isinstance(wanted, list) and wanted == ["windows"])


def _host_process(security_context):
    return ((security_context or {}).get("windowsOptions") or {}).get("hostProcess") is True


def is_host_process(pod_spec):
    """A Windows HostProcess pod (spec): securityContext.windowsOptions.hostProcess true at pod
    level, or on every container (init containers included). Such pods run in the host's
    network namespace: hostNetwork is what they need, not an error."""
    if _host_process(pod_spec.get("securityContext")):
        return True
    containers = list(pod_spec.get("containers") or []) + list(pod_spec.get("initContainers") or [])
    return bool(containers) and all(_host_process(c.get("securityContext")) for c in containers)


def is_windows_pod(pod, windows_node_names):
    """A Windows pod: one scheduled on a Windows node, or (not scheduled yet) one whose spec
    asks for Windows. The node wins: a pod on a Windows node is a Windows pod whatever its
    spec says."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"] in windows_node_names
    return targets_windows(spec)


def is_mixed(node_counts):
    """A mixed cluster has Linux and Windows nodes (section 8: pods must select their OS)."""
    return bool(node_counts.get("linux")) and bool(node_counts.get("windows"))


workload_ref = object_ref  # findings name workloads like every other object

WORKLOAD_PATHS = {
    "Deployment": "deployments",
    "StatefulSet": "statefulsets",
    "DaemonSet": "daemonsets",
}
WORKLOAD_GROUP = "apps"


def resource_name(kind):
    """`deployments.apps`: how RBAC rules and error messages name a workload kind."""
    return "%s.%s" % (WORKLOAD_PATHS[kind], WORKLOAD_GROUP)


def list_workloads(kube, namespace=None, kinds=WORKLOAD_KINDS):
    """Deployments, StatefulSets and DaemonSets (dicts) of one namespace or of all."""
    found = []
    for kind in kinds:
        if namespace:
            what = "Listing %ss in namespace %s (needs RBAC 'list' on %s in %s)" % (
                kind, namespace, resource_name(kind), namespace)
        else:
            what = "Listing %ss in all namespaces (needs RBAC 'list' on %s cluster-wide)" % (
                kind, resource_name(kind))
        found.extend(kube.list(kind, namespace, what=what))
    return found


def aws_node_env(daemonset):
    """The literal env of aws-node's aws-node container, {} without the DaemonSet."""
    return container_env(daemonset, procedure.AWS_NODE_DAEMONSET) if daemonset else {}


def uses_security_groups_for_pods(env):
    """Whether aws-node's env turns security groups for pods on (ENABLE_POD_ENI=true)."""
    return procedure.truthy((env or {}).get(procedure.SECURITY_GROUPS_FOR_PODS_ENV, "false"))


# --- nodes ---------------------------------------------------------------------------------

def node_labels(node):
    return (node.get("metadata") or {}).get("labels") or {}


def node_os(node):
    """The OS label of a Node (dict): kubernetes.io/os, or the beta label that nodes of old
    kubelets carry alone; `unknown` when it has neither."""
    labels = node_labels(node)
    return labels.get(OS_LABEL) or labels.get(BETA_OS_LABEL) or "unknown"


def is_fargate_node(node):
    return node_labels(node).get(procedure.FARGATE_COMPUTE_LABEL) == "fargate"


def is_linux_node(node):
    """A Linux node that is not Fargate: what the procedure means by "Linux nodes" (Amazon
    Linux nodes that run CoreDNS and the system pods; a Fargate node runs one pod only)."""
    return node_os(node) == "linux" and not is_fargate_node(node)


def is_windows_node(node):
    return node_os(node) == "windows"


def count_nodes(nodes):
    """{os: count} of Node dicts, Fargate nodes apart: `linux` and `windows` are always present,
    `fargate` when there are Fargate nodes."""
    counts = {"linux": 0, "windows": 0}
    for node in nodes:
        name = "fargate" if is_fargate_node(node) else node_os(node)
        counts[name] = counts.get(name, 0) + 1
    return counts


# --- scope: namespaces and the allow list -------------------------------------------------

GLOB_CHARS = frozenset("*?[")


def has_glob(text):
    return any(c in GLOB_CHARS for c in text)


def clean_list(values):
    """A list option as users give it, from a list or a survey's comma-separated string:
    items stripped, empty ones dropped, order kept."""
    if values is None:
        return []
    if isinstance(values, str):
        values = values.split(",")
    return [str(v).strip() for v in values if v is not None and str(v).strip()]


def namespace_in_scope(namespace, namespaces, exclude_namespaces):
    """Whether `namespace` matches `namespaces` (globs; empty means all) and no exclusion."""
    if namespaces and not any(fnmatch.fnmatchcase(namespace, p) for p in namespaces):
        return False
    return not any(fnmatch.fnmatchcase(namespace, p) for p in exclude_namespaces)


class AllowListError(ValueError):
    """A fix_allowed pattern that cannot be understood."""


def parse_allow_list(patterns):
    """Validate `namespace/name` and `Kind/namespace/name` patterns (fnmatch globs in every
    part). Returns rules: dicts with `pattern`, `kind` (None: any kind), `namespace`, `name`.
    Raises AllowListError that says what is wrong with which pattern."""
    rules = []
    kinds = dict((k.lower(), k) for k in WORKLOAD_KINDS)
    for pattern in patterns:
        parts = pattern.split("/")
        if len(parts) == 2:
            kind, (namespace, name) = None, parts
        elif len(parts) == 3:
            kind, namespace, name = parts
        else:
            raise AllowListError(
                "fix_allowed entry %r is not 'namespace/name' or 'Kind/namespace/name' (globs "
                "allowed, e.g. 'shop/*', 'Deployment/shop/web', '*/*' for everything)" % pattern)
        if not all(parts):
            raise AllowListError("fix_allowed entry %r has an empty part; use '*' to match "
                                 "anything" % pattern)
        if kind is not None and not has_glob(kind):
            if kind.lower() not in kinds:
                raise AllowListError(
                    "fix_allowed entry %r names kind %r; the kinds are %s"
                    % (pattern, kind, ", ".join(WORKLOAD_KINDS)))
            kind = kinds[kind.lower()]
        rules.append({"pattern": pattern, "kind": kind, "namespace": namespace, "name": name})
    return rules


def allowed_by(obj, rules):
    """The first allow-list pattern that covers a workload (dict), or None. Kinds match
    without regard to case; namespaces and names exactly (they are case-sensitive)."""
    meta = obj.get("metadata") or {}
    kind = obj.get("kind") or ""
    for rule in rules:
        if rule["kind"] is not None and not fnmatch.fnmatch(kind.lower(), rule["kind"].lower()):
            continue
        if (fnmatch.fnmatchcase(meta.get("namespace") or "", rule["namespace"])
                and fnmatch.fnmatchcase(meta.get("name") or "", rule["name"])):
            return rule["pattern"]
    return None


# --- the fix ------------------------------------------------------------------------------

# What a fix adds: the OS key only. Section 8 also names kubernetes.io/arch: amd64, but a
# workload with no selector may run on arm64 (Graviton) Linux nodes today with a multi-arch
# image; pinning it to amd64 would strand it. The OS key is what keeps it off Windows nodes.
FIX_SELECTOR = {OS_LABEL: "linux"}


def node_selector_of(obj):
    return dict(pod_spec_of(obj).get("nodeSelector") or {})


def fixed_node_selector(obj):
    """The nodeSelector after the fix: every existing key kept, the OS key added."""
    selector = node_selector_of(obj)
    selector.update(FIX_SELECTOR)
    return selector


def fix_patch(obj):
    """A JSON merge patch that adds the OS key to the pod template's nodeSelector and nothing
    else (a merge patch leaves the other nodeSelector keys alone). It carries the
    resourceVersion the decision was made on, so the API server refuses it (409) if the
    workload changed since: the caller then re-reads and decides again."""
    patch = {"spec": {"template": {"spec": {"nodeSelector": dict(FIX_SELECTOR)}}}}
    version = (obj.get("metadata") or {}).get("resourceVersion")
    if version:
        patch["metadata"] = {"resourceVersion": version}
    return patch


def selector_diff(ref, before_obj, after_obj=None):
    """One diff entry (Ansible's before/after form) for a workload's nodeSelector."""
    after = node_selector_of(after_obj) if after_obj is not None else fixed_node_selector(before_obj)
    return {"before_header": ref, "after_header": ref,
            "before": {"nodeSelector": node_selector_of(before_obj)},
            "after": {"nodeSelector": after}}


def affinity_only_windows(obj):
    """True when a workload reaches Windows nodes through node affinity alone: the
    control-plane webhook reads only the nodeSelector, so its pods get no IPv4 resource."""
    spec = pod_spec_of(obj)
    return os_constraint(spec)["via"] == "affinity" and targets_windows(spec)


def assess(obj, rules, will_write):
    """The report entry of one workload, with the action a run takes on it: `none` (it selects
    its OS already), `not_allowed` (it lacks a selector and no fix_allowed pattern covers it),
    `fixed` when `will_write` (state=fixed, not check mode), else `would_fix`."""
    meta = obj.get("metadata") or {}
    constraint = os_constraint(pod_spec_of(obj))
    entry = {"kind": obj.get("kind"), "namespace": meta.get("namespace"),
             "name": meta.get("name"), "ref": workload_ref(obj),
             "os": constraint["os"], "via": constraint["via"], "action": "none",
             "allowed_by": None}
    if constraint["via"] is None:
        entry["allowed_by"] = allowed_by(obj, rules)
        if entry["allowed_by"] is None:
            entry["action"] = "not_allowed"
        else:
            entry["action"] = "fixed" if will_write else "would_fix"
    return entry


def add_linux_selector(kube, obj, attempts=5):
    """Merge-patch the OS key into a workload's pod template.

    Returns (before, after): the object the patch was decided on and the object the API
    server returned; after is None when nothing was written because the workload is gone
    (404) or gained an OS selector of its own meanwhile (then before is the fresh copy)."""
    kind = obj["kind"]
    meta = obj["metadata"]
    name = "%s %s/%s" % (kind, meta["namespace"], meta["name"])
    current = obj
    for dummy in range(attempts):
        if not lacks_os_selector(current):
            return current, None
        try:
            after = kube.merge_patch(
                kind, meta["name"], meta["namespace"], fix_patch(current),
                what="Patching %s (needs RBAC 'patch' on %s in namespace %s)"
                     % (name, resource_name(kind), meta["namespace"]),
                missing_ok=True, allow=(409,))
        except KubeError as e:
            if e.status != 409:
                raise
            fresh = kube.get(kind, meta["name"], meta["namespace"],
                             what="Reading %s again after a conflict (needs RBAC 'get' on %s in "
                                  "namespace %s)" % (name, resource_name(kind), meta["namespace"]))
            if fresh is None:
                return current, None
            current = fresh
            continue
        return current, after
    raise EksOpsError("%s changed under us %d times in a row (409 Conflict each time we "
                      "patched it); run again when whatever keeps updating it is quiet."
                      % (name, attempts))
