# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one gate of each procedure: what must stop it on a cluster.

``control_plane(facts)``, ``legacy(facts)`` and ``prefix_delegation(facts)`` return the blockers, each a dict with a stable
``id`` and a ``message`` for people. The modules that do the work enforce them before any
write (``enforce``: only their ``force`` option goes past, with a warning); the assessment
reports the same lists as its preflight verdicts. Pure: the facts come from _reads.py.

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

from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure
from ansible_collections.eksops.windows.plugins.module_utils._errors import BlockedError

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


def prefix_delegation(facts):
    """Blockers of turning Windows prefix delegation on (reference section 10): the platform
    minimums (1.25 eks.5, 1.26 eks.4, 1.27 eks.3), every Windows node on a Nitro instance type,
    and Windows IPAM on (as its owner says).

    ``facts``: ``cluster``, ``prefix_support`` (True/False, or None with ``prefix_support_error``
    when the versions are unreadable), ``windows_nodes`` (node summaries), ``instance_types``
    (reads.eni_ipv4), ``instance_types_refused`` (DescribeInstanceTypes was refused),
    ``windows_ipam`` (the value of enable-windows-ipam in the ConfigMap) and ``owner_ipam`` (what
    the ConfigMap's owner writes for it: the add-on's configuration values, or None for another
    owner)."""
    blockers = []
    cluster = facts["cluster"]
    supported = facts["prefix_support"]
    if supported is None:
        blockers.append(_blocker("version_not_assessable", "the platform minimums of Windows "
                                 "prefix delegation cannot judge the cluster: %s"
                                 % facts.get("prefix_support_error")))
    elif not supported:
        blockers.append(_blocker(
            "windows_prefix_delegation_platform", "Kubernetes %s on %s is below the platform "
            "minimums of Windows prefix delegation (1.25 eks.5, 1.26 eks.4, 1.27 eks.3; 1.28 and "
            "later always qualify): upgrade the cluster or wait for its platform version"
            % (cluster.get("version"), cluster.get("platform_version"))))
    described = facts.get("instance_types") or {}
    not_nitro, unknown = [], []
    for node in facts["windows_nodes"]:
        nitro = procedure.described_nitro(described.get(node["instance_type"]))
        if nitro is None:
            unknown.append(node)
        elif not nitro:
            not_nitro.append(node)
    if not_nitro:
        blockers.append(_blocker(
            "windows_prefix_delegation_not_nitro", "Windows prefix delegation works on Nitro "
            "instances only, and these Windows nodes are not Nitro: %s; move them to Nitro "
            "instance types (for example m5, c5, r5 or newer) first" % ", ".join(
                "%s (%s, hypervisor %s)" % (n["name"], n["instance_type"],
                                            described[n["instance_type"]].get("hypervisor"))
                for n in not_nitro)))
    if unknown:
        why = ("ec2:DescribeInstanceTypes could not be read" if facts.get("instance_types_refused")
               else "ec2:DescribeInstanceTypes does not describe their instance types")
        nodes = ", ".join("%s (%s)" % (n["name"], n["instance_type"] or "no instance-type label")
                          for n in unknown)
        blockers.append(_blocker(
            "windows_prefix_delegation_nitro_unknown", "%s, so these Windows nodes cannot be "
            "judged Nitro: %s; grant ec2:DescribeInstanceTypes (or check the instance types) and "
            "run again" % (why, nodes)))
    ipam = facts.get("windows_ipam")
    owner_ipam = facts.get("owner_ipam")
    if not procedure.truthy(ipam):
        blockers.append(_blocker(
            "windows_ipam_off", "Windows IPAM is off (ConfigMap kube-system/amazon-vpc-cni has "
            "%s %s): prefix delegation hands out Windows pod addresses only with it on; run role "
            "eksops.windows.enable first" % (
                procedure.WINDOWS_IPAM_KEY, "\"%s\"" % ipam if ipam is not None else "unset")))
    elif owner_ipam is not None and not procedure.truthy(owner_ipam):
        blockers.append(_blocker(
            "windows_ipam_off", "the EKS add-on %s owns ConfigMap kube-system/amazon-vpc-cni and "
            "its configuration values say %s \"%s\" (the ConfigMap's \"true\" was set by hand): "
            "the add-on's update that sets prefix delegation would turn Windows IPAM off; run role "
            "eksops.windows.enable first (it writes the add-on's values)"
            % (procedure.VPC_CNI_ADDON, procedure.VPC_CNI_ADDON_WINDOWS_KEY, owner_ipam)))
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
