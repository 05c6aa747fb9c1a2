# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one gate of each procedure: what must stop it on a cluster.

``control_plane(facts)`` and ``legacy(facts)`` return the blockers, each a dict with a stable
``id`` and a ``message`` for people. The modules that do the work enforce them before any
write (``enforce``: only their ``force`` option goes past, with a warning); the assessment
reports the same lists as its preflight verdicts. Pure: the facts come from reads.py.

``facts`` keys (a subset of the assessment's facts): ``cluster`` (cluster facts), ``support``
(procedure.control_plane_support, or a dict with ``error``), ``role_exists`` (True, False or None
when IAM could not be read), ``linux_nodes`` (count of Linux nodes that are not Fargate),
``fargate_coredns`` (True, False, or None when the Fargate profiles could not be read; only
needed when there is no Linux node), ``legacy_controller`` (bool), ``standard_nodes`` (count
of nodes that are neither EKS Auto Mode, Hybrid Nodes nor Fargate nodes; absent or None when not
read, and then the Auto Mode/Hybrid Nodes blocker is not judged).

Each blocker id has its entry in procedure.RULES, with the source of its rule.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import procedure
from ansible_collections.eksops.windows.plugins.module_utils.errors import BlockedError

# Blocker ids and what the gate says. Each blocker says what to do.
LEGACY_CONTROLLER_PRESENT = "legacy_controller_present"
AUTO_OR_HYBRID_COMPUTE_ONLY = "auto_or_hybrid_compute_only"


def _blocker(blocker_id, message):
    procedure.rule(blocker_id)  # every blocker has its rule, with its source
    return {"id": blocker_id, "message": message}


def _version_words(reason):
    """The version table's verdict, and that EKS no longer offers such versions (every version
    of the table, 1.21 and older, is past its support today)."""
    return ("%s (EKS no longer offers Kubernetes 1.21 or older; the legacy procedures still work "
            "on such clusters)" % reason)


def compute_kinds(cluster, node_compute_types=()):
    """The compute of a cluster that cannot run Windows: `auto` (DescribeCluster computeConfig
    enabled, or nodes labelled compute-type auto) and `hybrid` (remoteNetworkConfig, or nodes
    labelled compute-type hybrid), sorted."""
    kinds = set()
    if cluster.get("auto_mode") or procedure.AUTO_MODE_COMPUTE_TYPE in node_compute_types:
        kinds.add(procedure.AUTO_MODE_COMPUTE_TYPE)
    if cluster.get("hybrid_nodes") or procedure.HYBRID_COMPUTE_TYPE in node_compute_types:
        kinds.add(procedure.HYBRID_COMPUTE_TYPE)
    return sorted(kinds)


def compute_blocker(facts):
    """The blocker of a cluster whose only compute is EKS Auto Mode or Hybrid Nodes (or Fargate,
    which runs no Windows either): no node could run Windows pods."""
    standard = facts.get("standard_nodes")
    if standard is None or standard:
        return []
    kinds = compute_kinds(facts["cluster"], facts.get("node_compute_types") or ())
    if not kinds:
        return []
    words = {"auto": "EKS Auto Mode", "hybrid": "EKS Hybrid Nodes"}
    return [_blocker(AUTO_OR_HYBRID_COMPUTE_ONLY, (
        "the cluster's only compute is %s, and Windows nodes can run on neither: add a managed "
        "or self-managed node group (Linux for the system pods, Windows for the Windows pods) "
        "before enabling Windows support" % " and ".join(words[k] for k in kinds)))]


def _version(facts):
    support = facts["support"]
    if support.get("error"):
        return None, support["error"]
    return support["supported"], support["reason"].rstrip(".")


def control_plane(facts):
    """Blockers of enabling control-plane Windows support (sections 1-3 of the procedure)."""
    blockers = []
    supported, reason = _version(facts)
    if supported is None:
        blockers.append(_blocker("version_not_assessable", "the version table cannot judge the "
                                 "cluster: %s" % reason))
    elif not supported:
        blockers.append(_blocker("version_below_table", "%s; use role "
                                 "eksops.windows.legacy_install for legacy support"
                                 % _version_words(reason)))
    if facts.get("role_exists") is False:
        blockers.append(_blocker(
            "cluster_role_missing", "the cluster IAM role %s does not exist: recreate it or fix "
            "the cluster's role" % facts["cluster"].get("role_arn")))
    if not facts["linux_nodes"]:
        fargate = facts.get("fargate_coredns")
        if fargate is None:
            blockers.append(_blocker(
                "no_linux_node", "no Linux node, and the Fargate profiles could not be read to "
                "tell whether one runs CoreDNS: grant eks:ListFargateProfiles and "
                "eks:DescribeFargateProfile, or add a Linux node group"))
        elif not fargate:
            blockers.append(_blocker(
                "no_linux_node", "no Linux node and no Fargate profile that can run CoreDNS: add "
                "a Linux node group (two nodes recommended) or a Fargate profile for kube-system "
                "that selects CoreDNS"))
    if facts["cluster"].get("ip_family") == "ipv6":
        blockers.append(_blocker(
            "ipv6_cluster", "IPv6 cluster: Windows nodes cannot join it (run Windows workloads "
            "in an IPv4 cluster)"))
    blockers += compute_blocker(facts)
    if facts.get("legacy_controller"):
        blockers.append(_blocker(
            LEGACY_CONTROLLER_PRESENT, "legacy Windows support is still installed (Deployment "
            "kube-system/vpc-resource-controller): the control plane ignores Windows IPAM while "
            "it exists; remove it first with the eksops.windows.legacy_remove role (or the "
            "migrate_to_control_plane playbook)"))
    return blockers


def legacy(facts):
    """Blockers of installing legacy (data-plane) Windows support (sections 2, 5, 6)."""
    blockers = []
    supported, reason = _version(facts)
    if supported is None:
        blockers.append(_blocker("version_not_assessable", "the version table cannot judge the "
                                 "cluster: %s" % reason))
    elif supported:
        blockers.append(_blocker(
            "control_plane_possible", "control-plane support is possible (%s); the procedure "
            "recommends it over legacy support: use role enable" % reason))
    if not facts["linux_nodes"]:
        blockers.append(_blocker(
            "legacy_needs_linux_node", "legacy support needs a Linux node for its controller, "
            "its webhook and CoreDNS (Fargate is not enough): add a Linux node group"))
    if facts["cluster"].get("ip_family") == "ipv6":
        blockers.append(_blocker(
            "ipv6_cluster", "IPv6 cluster: Windows nodes cannot join it (run Windows workloads "
            "in an IPv4 cluster)"))
    blockers += compute_blocker(facts)
    return blockers


def verdict(blockers, forced=False):
    """The preflight verdict the modules and the assessment return."""
    return {"allowed": not blockers, "forced": bool(blockers) and forced,
            "blockers": [b["message"] for b in blockers],
            "blocker_ids": [b["id"] for b in blockers]}


def enforce(blockers, procedure_name, cluster_name, force, warn):
    """Raise BlockedError unless there is no blocker or `force` is set (then warn)."""
    if not blockers:
        return verdict(blockers)
    messages = "; ".join(b["message"] for b in blockers)
    if force:
        warn("force=true: %s Windows support goes ahead on EKS cluster '%s' despite: %s."
             % (procedure_name, cluster_name, messages))
        return verdict(blockers, forced=True)
    raise BlockedError(
        "EKS cluster '%s' is not ready for %s Windows support: %s. Fix the causes, or set "
        "force=true (the role's *_force variable) to go on anyway." % (
            cluster_name, procedure_name, messages),
        blockers=[b["message"] for b in blockers],
        preflight=verdict(blockers))
