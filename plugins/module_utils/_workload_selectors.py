# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OS-selector audit and fix of a mixed cluster's workloads (section 8), as a step:
``converge(kube, check_mode, params) -> (changed, result)``; the rules are in _workloads.py."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import _workloads as workloads
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError

NODES_WHAT = "Listing nodes (needs RBAC 'list' on nodes)"


def list_in_scope(kube, namespaces, exclude, kinds):
    """The workloads (dicts) of the namespaces in scope: one LIST per kind, or per kind and
    namespace when plain namespace names are given."""
    if namespaces and not any(workloads.has_glob(n) for n in namespaces):
        found = []
        for namespace in namespaces:
            found.extend(workloads.list_workloads(kube, namespace, kinds))
    else:
        found = workloads.list_workloads(kube, None, kinds)
    return [w for w in found
            if workloads.namespace_in_scope(w["metadata"].get("namespace") or "", namespaces, exclude)]


def fix(kube, obj, entry, diffs):
    """Patch one workload; update its entry. Returns False when it no longer exists."""
    before, after = workloads.add_linux_selector(kube, obj)
    if after is None:
        if not workloads.lacks_os_selector(before):
            fresh = workloads.assess(before, [], False)  # someone else set a selector meanwhile
            entry.update(os=fresh["os"], via=fresh["via"], action="none")
            return True
        return False  # deleted meanwhile
    if workloads.lacks_os_selector(after):
        raise EksOpsError("The API server accepted the patch of %s but the returned object "
                          "still selects no OS (nodeSelector %s)."
                          % (entry["ref"], workloads.node_selector_of(after)))
    done = workloads.os_constraint(workloads.pod_spec_of(after))
    entry.update(os=done["os"], via=done["via"])
    diffs.append(workloads.selector_diff(entry["ref"], before, after))
    return True


def summary(name, entries, counts):
    if not entries:
        return "%s: no workloads in scope." % name
    parts = []
    for key, words in (("fixed", "fixed"), ("would_fix", "would be fixed"),
                       ("not_allowed", "not allowed by fix_allowed")):
        if counts[key]:
            parts.append("%d %s" % (counts[key], words))
    text = "%s: %d workloads, %d without an OS selector" % (
        name, counts["total"], counts["without_selector"])
    text += (": " + ", ".join(parts) + ".") if parts else "."
    if counts["affinity_only_windows"]:
        many = counts["affinity_only_windows"] > 1
        text += (" %d workload%s Windows nodes by node affinity alone (no IPv4 resource from "
                 "the webhook): give %s nodeSelector kubernetes.io/os: windows."
                 % (counts["affinity_only_windows"], "s reach" if many else " reaches",
                    "them" if many else "it"))
    return text


def converge(kube, check_mode, cluster_name, state, namespaces, exclude, kinds, rules, only_mixed):
    """Audit (state=audited) or fix (state=fixed, only what `rules` allow) the workloads in
    scope. Returns (changed, result); result["diffs"] has one diff entry per fixed workload."""
    node_counts = workloads.count_nodes(kube.list("Node", what=NODES_WHAT))
    mixed = workloads.is_mixed(node_counts)
    result = dict(mixed=mixed, node_counts=node_counts, audited=False, workloads=[],
                  affinity_only_windows=[], diffs=[], counts=dict.fromkeys(
                      ("total", "with_selector", "without_selector", "would_fix", "fixed",
                       "not_allowed", "affinity_only_windows"), 0))
    if only_mixed and not mixed:
        result["msg"] = ("%s is not a mixed cluster (%d Linux, %d Windows nodes): pods cannot land "
                         "on the wrong operating system, so there is nothing to do. Set "
                         "only_mixed=false to audit it anyway."
                         % (cluster_name, node_counts["linux"], node_counts["windows"]))
        return False, result

    will_write = state == "fixed" and not check_mode
    entries, diffs = [], result["diffs"]
    listed = list_in_scope(kube, namespaces, exclude, kinds)
    listed.sort(key=lambda w: (w["metadata"].get("namespace") or "", w["kind"], w["metadata"]["name"]))
    for obj in listed:
        entry = workloads.assess(obj, rules, will_write)
        if entry["action"] == "fixed":
            if not fix(kube, obj, entry, diffs):
                continue
        elif entry["action"] == "would_fix" and state == "fixed":
            diffs.append(workloads.selector_diff(entry["ref"], obj))
        if workloads.affinity_only_windows(obj):
            result["affinity_only_windows"].append(entry)
        entries.append(entry)

    counts = result["counts"]
    counts["total"] = len(entries)
    for action in ("would_fix", "fixed", "not_allowed"):
        counts[action] = sum(1 for e in entries if e["action"] == action)
    counts["without_selector"] = counts["would_fix"] + counts["fixed"] + counts["not_allowed"]
    counts["with_selector"] = counts["total"] - counts["without_selector"]
    counts["affinity_only_windows"] = len(result["affinity_only_windows"])
    changed = state == "fixed" and bool(counts["fixed"] or counts["would_fix"])
    result.update(audited=True, workloads=entries, msg=summary(cluster_name, entries, counts))
    return changed, result
