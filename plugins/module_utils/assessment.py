# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging a cluster against the considerations and prerequisites of the procedure
(sections 1, 2 and 8). Pure: it takes the facts a module has read and returns the mode, the
state, the prerequisites, the findings and the preflight verdicts. No I/O here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.eksops.windows.plugins.module_utils import gates, legacy, procedure, workloads

SEVERITIES = ("error", "warning", "info")
TERMINATED_PHASES = ("Succeeded", "Failed")


def finding(finding_id, severity, title, detail, remedy, objects=None):
    return {"id": finding_id, "severity": severity, "title": title, "detail": detail,
            "remedy": remedy, "objects": sorted(objects or [])}


def _plural(count, word):
    return "%d %s%s" % (count, word, "" if count == 1 else "s")


def _listing(items, limit=5):
    items = list(items)
    shown = ", ".join(items[:limit])
    return shown + (" and %d more" % (len(items) - limit) if len(items) > limit else "")


def mode_of(cluster, support):
    """(mode, reason) from the version table (section 2)."""
    if support.get("error"):
        return "not_assessable", support["error"]
    if support["supported"]:
        return "control_plane", support["reason"]
    return "legacy", support["reason"]


def windows_support_state(ipam, policy_attached, policy_needed, legacy_present):
    if legacy_present:
        return "legacy"
    if ipam != "true":
        return "disabled"
    if not policy_needed or policy_attached:
        return "enabled"
    if policy_attached is None:
        return "unknown"
    return "partial"


def addon_sets_windows_ipam(addon):
    """Whether the VPC CNI add-on's configuration values set enableWindowsIpam to true.
    EKS takes JSON or YAML; JSON is parsed, YAML is read line by line (no YAML parser needed
    for one top-level scalar)."""
    values = (addon or {}).get("configurationValues") or ""
    key = procedure.VPC_CNI_ADDON_WINDOWS_KEY
    try:
        parsed = json.loads(values) if values.strip() else {}
        return isinstance(parsed, dict) and procedure.truthy(parsed.get(key))
    except ValueError:
        for line in values.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip().strip("\"'") == key:
                return procedure.truthy(value.strip().strip("\"'"))
    return False


def _live_pods(pods):
    return [p for p in pods if (p.get("status") or {}).get("phase") not in TERMINATED_PHASES]


def _selects(selector, labels):
    return bool(selector) and all((labels or {}).get(k) == v for k, v in selector.items())


def judge(facts, warning_days=procedure.WEBHOOK_CERT_WARNING_DAYS):
    """Everything the assessment says about one cluster, from `facts` (see eks_windows_info)."""
    cluster = facts["cluster"]
    nodes = facts["nodes"]
    findings = []
    incomplete = list(facts.get("incomplete") or [])

    mode, mode_reason = mode_of(cluster, facts["support"])
    linux = [n for n in nodes if n["linux"]]
    windows = [n for n in nodes if n["os"] == "windows"]
    windows_names = set(n["name"] for n in windows)
    profiles = facts.get("fargate_profiles")
    fargate_coredns = None if profiles is None else procedure.fargate_runs_coredns(profiles)
    env = facts.get("aws_node_env") or {}
    sgp = workloads.uses_security_groups_for_pods(env)
    custom_networking = procedure.truthy(env.get(procedure.CUSTOM_NETWORKING_ENV, "false"))
    prefixes = procedure.truthy(env.get(procedure.PREFIX_DELEGATION_ENV, "false"))
    ipv6 = cluster.get("ip_family") == "ipv6"
    configmap = facts.get("configmap")
    ipam = ((configmap or {}).get("data") or {}).get(procedure.WINDOWS_IPAM_KEY)
    legacy_objects = facts.get("legacy_objects") or []
    legacy_present = bool(legacy_objects)
    policy_needed = procedure.policy_needed("enabled", bool(linux), sgp)[0]
    policy_attached = facts.get("policy_attached")
    support_state = windows_support_state(ipam, policy_attached, policy_needed, legacy_present)
    windows_wanted = bool(windows) or support_state in ("enabled", "partial", "legacy", "unknown")

    # --- section 2 and the cluster role ---
    if mode == "legacy":
        findings.append(finding(
            "version_below_table", "warning", "Only legacy Windows support is possible",
            "%s Control-plane Windows support needs a newer Kubernetes or platform version."
            % mode_reason,
            "Upgrade the cluster (or wait for EKS to update its platform version), then use "
            "control-plane support; until then legacy support (role legacy_install) is the "
            "only way to run Windows pods."))
    elif mode == "not_assessable":
        findings.append(finding(
            "version_not_assessable", "warning", "The version table cannot judge this cluster",
            mode_reason, "Check the versions DescribeCluster reports for this cluster."))
    if facts.get("role_exists") is False:
        findings.append(finding(
            "cluster_role_missing", "error", "The cluster IAM role does not exist",
            "DescribeCluster names role %s, which IAM does not know." % cluster.get("role_arn"),
            "Recreate the cluster role (AmazonEKSClusterPolicy) or fix the cluster's role.",
            ["IAMRole/%s" % cluster.get("role_arn")]))

    # --- consideration 3: Linux nodes or Fargate for CoreDNS ---
    if not linux and not fargate_coredns:
        findings.append(finding(
            "no_linux_node", "error", "No Linux node and no Fargate profile for CoreDNS",
            "The cluster has no Linux node and no Fargate profile that can run CoreDNS and the "
            "other Linux-only system pods.",
            "Add a Linux node group (two nodes recommended) or a Fargate profile for "
            "kube-system that selects CoreDNS."))
    elif len(linux) == 1:
        findings.append(finding(
            "single_linux_node", "warning", "Only one Linux node",
            "Node %s is the cluster's only Linux node; two are recommended." % linux[0]["name"],
            "Add a second Linux node so that CoreDNS and the system pods survive a node loss.",
            ["Node/%s" % linux[0]["name"]]))
    if not linux and (mode == "legacy" or legacy_present):
        findings.append(finding(
            "legacy_needs_linux_node", "error", "Legacy support needs a Linux node",
            "With legacy support CoreDNS and the VPC controllers must run on a Linux node; a "
            "Fargate profile is not enough.",
            "Add a Linux node group before installing or keeping legacy support."))

    # --- consideration 1: instance types; 8: pods per ENI; 10: managed node groups ---
    bad_types = [n for n in windows if procedure.windows_unsupported_instance_type(n["instance_type"])]
    for group in facts.get("nodegroups") or []:
        if (group.get("amiType") or "").startswith(procedure.WINDOWS_AMI_TYPE_PREFIX):
            for instance_type in group.get("instanceTypes") or []:
                if procedure.windows_unsupported_instance_type(instance_type):
                    bad_types.append({"name": "nodegroup %s" % group["nodegroupName"],
                                      "instance_type": instance_type,
                                      "ref": "Nodegroup/%s" % group["nodegroupName"]})
    if bad_types:
        findings.append(finding(
            "unsupported_instance_type", "error",
            "Windows nodes on instance types not supported for Windows",
            "%s: %s. C3, C4, D2, I2, M4 (except m4.16xlarge), M6a and R3 are not supported for "
            "Windows workloads." % (_plural(len(bad_types), "Windows node"), _listing(
                "%s (%s)" % (n["name"], n["instance_type"]) for n in bad_types)),
            "Replace them with nodes of a supported instance type (for example m5, c5 or r5).",
            [n.get("ref") or "Node/%s" % n["name"] for n in bad_types]))
    eni = facts.get("eni_ipv4") or {}
    over = []
    for node in windows:
        per_eni = eni.get(node["instance_type"])
        if per_eni is None or node["pod_capacity"] is None:
            continue
        limit = procedure.windows_max_pods(per_eni)
        if node["pod_capacity"] > limit:
            over.append((node, limit))
    if over:
        findings.append(finding(
            "max_pods_exceeds_eni", "warning",
            "Windows nodes advertise more pods than one ENI can address",
            "%s: %s. A Windows node uses one network interface: its pods are limited to that "
            "interface's IPv4 addresses minus one; pods beyond that stay in ContainerCreating."
            % (_plural(len(over), "node"), _listing(
                "%s (%s: capacity %d, at most %d)" % (n["name"], n["instance_type"],
                                                      n["pod_capacity"], limit)
                for n, limit in over)),
            "Set the kubelet's --max-pods on these nodes to the limit shown (bootstrap "
            "argument of the Windows node group).",
            ["Node/%s" % n["name"] for n, _limit in over]))
    managed = set()
    for group in facts.get("nodegroups") or []:
        if (group.get("amiType") or "").startswith(procedure.WINDOWS_AMI_TYPE_PREFIX):
            managed.add("Nodegroup/%s" % group["nodegroupName"])
    for node in windows:
        if node.get("nodegroup"):
            managed.add("Nodegroup/%s" % node["nodegroup"])
    if managed:
        findings.append(finding(
            "windows_managed_node_group", "info", "Windows managed node groups",
            "%s: %s. The seed's era allowed only self-managed Windows nodes; EKS has since added "
            "managed Windows node groups." % (_plural(len(managed), "managed node group"),
                                              _listing(sorted(managed))),
            "Nothing to do, unless your EKS version predates managed Windows node groups.",
            sorted(managed)))

    # --- considerations 5, 6, 7: networking features Windows nodes cannot use ---
    where = "the cluster has %s" % _plural(len(windows), "Windows node") if windows else \
        "no Windows node yet"
    if sgp:
        findings.append(finding(
            "security_groups_for_pods", "warning" if windows else "info",
            "Security groups for pods cannot be used with Windows pods",
            "aws-node has %s=true (%s). SecurityGroupPolicies do not apply to pods on "
            "Windows nodes." % (procedure.SECURITY_GROUPS_FOR_PODS_ENV, where),
            "Do not rely on security groups for pods for Windows workloads; use the node "
            "security groups for them.", ["DaemonSet/kube-system/aws-node"]))
    for on, finding_id, title, env_name, remedy in (
            (custom_networking, "custom_networking", "Custom networking cannot be used with Windows nodes",
             procedure.CUSTOM_NETWORKING_ENV, "Run Windows nodes in a cluster without custom networking, or turn it off."),
            (prefixes, "prefix_delegation", "IP prefix delegation cannot be used with Windows nodes",
             procedure.PREFIX_DELEGATION_ENV, "Turn prefix delegation off before adding Windows nodes.")):
        if on:
            findings.append(finding(
                finding_id, "error" if windows else "warning", title,
                "aws-node has %s=true (%s)." % (env_name, where), remedy,
                ["DaemonSet/kube-system/aws-node"]))
    if ipv6:
        findings.append(finding(
            "ipv6_cluster", "error", "IPv6 clusters cannot have Windows nodes",
            "DescribeCluster says ipFamily ipv6; IPv6 needs IP prefixes, which Windows nodes "
            "cannot use.", "Run Windows workloads in an IPv4 cluster."))

    # --- consideration 2 and 9: pods on Windows ---
    pods = _live_pods(facts.get("pods") or [])
    all_workloads = facts.get("workloads") or []
    host_network = []
    for obj in all_workloads:
        spec = workloads.pod_spec_of(obj)
        if spec.get("hostNetwork") and workloads.targets_windows(spec):
            host_network.append(workloads.workload_ref(obj))
    for pod in pods:
        owned = (pod.get("metadata") or {}).get("ownerReferences")
        if not owned and (pod.get("spec") or {}).get("hostNetwork") and workloads.is_windows_pod(pod, windows_names):
            host_network.append(workloads.workload_ref(pod))
    if host_network:
        findings.append(finding(
            "windows_host_network", "error", "Windows pods with host networking",
            "%s: %s. hostNetwork is not supported for Windows pods."
            % (_plural(len(host_network), "workload"), _listing(host_network)),
            "Remove hostNetwork: true from these Windows pod templates.", host_network))
    windows_pods = [p for p in pods if workloads.is_windows_pod(p, windows_names)]
    crowded = []
    for service in facts.get("services") or []:
        spec = service.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            continue
        namespace = service["metadata"].get("namespace")
        count = sum(1 for p in windows_pods
                    if p["metadata"].get("namespace") == namespace
                    and _selects(spec.get("selector"), p["metadata"].get("labels")))
        if count > procedure.LOADBALANCER_WINDOWS_POD_LIMIT:
            crowded.append(("Service/%s/%s" % (namespace, service["metadata"]["name"]), count))
    if crowded:
        findings.append(finding(
            "loadbalancer_windows_pods_over_64", "error",
            "LoadBalancer Services with more than %d Windows pods"
            % procedure.LOADBALANCER_WINDOWS_POD_LIMIT,
            "%s. A Service of type LoadBalancer supports at most %d Windows back-end pods." % (
                _listing("%s selects %d Windows pods" % c for c in crowded),
                procedure.LOADBALANCER_WINDOWS_POD_LIMIT),
            "Split the back end across several Services (or scale down to %d pods each)."
            % procedure.LOADBALANCER_WINDOWS_POD_LIMIT, [c[0] for c in crowded]))

    # --- section 8: OS selectors in a mixed cluster ---
    counts = {"linux": len(linux), "windows": len(windows)}
    mixed = workloads.is_mixed(counts)
    if mixed:
        lacking = [workloads.workload_ref(o) for o in all_workloads if workloads.lacks_os_selector(o)]
        if lacking:
            findings.append(finding(
                "workload_without_os_selector", "warning",
                "Workloads without an OS node selector in a mixed cluster",
                "%s: %s. In a cluster with Linux and Windows nodes, pods must select their "
                "operating system." % (_plural(len(lacking), "workload"), _listing(lacking)),
                "Add nodeSelector kubernetes.io/os: linux (or windows) to their pod templates; "
                "role workload_selectors audits and, where you allow it, fixes them.", lacking))
    affinity_only = [workloads.workload_ref(o) for o in all_workloads
                     if workloads.os_constraint(workloads.pod_spec_of(o)) == {"os": "windows", "via": "affinity"}]
    if affinity_only:
        findings.append(finding(
            "windows_affinity_without_selector", "warning",
            "Windows workloads pinned by node affinity only",
            "%s: %s. The control-plane webhook only reads the nodeSelector, so these pods get no "
            "IPv4 address resource." % (_plural(len(affinity_only), "workload"),
                                        _listing(affinity_only)),
            "Add nodeSelector kubernetes.io/os: windows and kubernetes.io/arch: amd64.",
            affinity_only))

    # --- drift of enable-windows-ipam (section 3) ---
    drift_severity = "warning" if windows_wanted else "info"
    addon = facts.get("cni_addon")
    if addon and not addon_sets_windows_ipam(addon):
        findings.append(finding(
            "cni_addon_drift", drift_severity,
            "The VPC CNI managed add-on can reset enable-windows-ipam",
            "The EKS add-on %s (%s) ships ConfigMap amazon-vpc-cni with enable-windows-ipam "
            "\"false\"; an add-on update can reset it or fail with ConfigurationConflict."
            % (procedure.VPC_CNI_ADDON, addon.get("addonVersion")),
            "Set the add-on's configuration values to {\"%s\": \"true\"} "
            "(eks:UpdateAddon --configuration-values)." % procedure.VPC_CNI_ADDON_WINDOWS_KEY,
            ["Addon/%s" % procedure.VPC_CNI_ADDON]))
    annotations = (configmap or {}).get("annotations") or {}
    release = annotations.get(procedure.HELM_RELEASE_ANNOTATION)
    if release:
        findings.append(finding(
            "cni_helm_drift", drift_severity,
            "A Helm release owns ConfigMap amazon-vpc-cni",
            "Helm release %s/%s manages the ConfigMap; the aws-vpc-cni chart ships "
            "enable-windows-ipam \"false\" unless its values say otherwise, and a helm upgrade "
            "rewrites it." % (annotations.get(procedure.HELM_NAMESPACE_ANNOTATION, "?"), release),
            "Set enableWindowsIpam: true in the release's values so upgrades keep it.",
            ["ConfigMap/kube-system/amazon-vpc-cni"]))

    # --- legacy support and its certificate (sections 5, 7) ---
    flavours = procedure.legacy_flavours(legacy_objects)
    if legacy_present:
        findings.append(finding(
            "legacy_support_present", "warning" if mode == "control_plane" else "info",
            "Legacy (data-plane) Windows support is installed",
            "%s of legacy support (%s) are on the cluster." % (
                _plural(len(legacy_objects), "object"), ", ".join(flavours) or "shared objects"),
            "Migrate: playbook migrate_to_control_plane removes them and enables control-plane "
            "support." if mode == "control_plane" else
            "Keep the webhook certificate renewed (role cert_renew) until the cluster qualifies "
            "for control-plane support.",
            [legacy.legacy_ref(o) for o in legacy_objects]))
    certificate = facts.get("webhook_certificate")
    if certificate and certificate.get("days_left") is not None:
        if certificate["expired"]:
            findings.append(finding(
                "webhook_certificate_expired", "error", "The VPC admission webhook certificate has expired",
                "It expired on %s: new Windows pods get no IP address." % certificate["not_after"],
                "Renew it now (role cert_renew), then delete Windows pods stuck in "
                "ContainerCreating.", ["Secret/kube-system/%s" % procedure.LEGACY_SHARED["secret"]]))
        elif certificate["days_left"] < warning_days:
            findings.append(finding(
                "webhook_certificate_expiring", "warning", "The VPC admission webhook certificate expires soon",
                "It expires on %s, in %s." % (certificate["not_after"],
                                              _plural(certificate["days_left"], "day")),
                "Renew it (role cert_renew).",
                ["Secret/kube-system/%s" % procedure.LEGACY_SHARED["secret"]]))

    if incomplete:
        findings.append(finding(
            "assessment_incomplete", "warning", "Parts of the assessment could not be read",
            "; ".join(incomplete), "Grant the read permissions named above and assess again."))

    findings.sort(key=lambda f: (SEVERITIES.index(f["severity"]), f["id"]))
    finding_counts = dict((s, sum(1 for f in findings if f["severity"] == s)) for s in SEVERITIES)

    gate_facts = {"cluster": cluster, "support": facts["support"],
                  "role_exists": facts.get("role_exists"), "linux_nodes": len(linux),
                  "fargate_coredns": fargate_coredns,
                  "legacy_controller": facts.get("legacy_controller", any(
                      o["kind"] == "Deployment" and o["name"] == procedure.LEGACY_CONTROLLER
                      for o in legacy_objects))}
    control_plane_verdict = gates.verdict(gates.control_plane(gate_facts))
    legacy_verdict = gates.verdict(gates.legacy(gate_facts))

    return {
        "mode": mode,
        "mode_reason": mode_reason,
        "state": {
            "windows_support": support_state,
            "policy_attached": policy_attached,
            "policy_needed": policy_needed,
            "enable_windows_ipam": ipam,
            "legacy": {"present": legacy_present, "flavours": flavours,
                       "objects": [legacy.legacy_ref(o) for o in legacy_objects]},
            "webhook_certificate": None if not certificate or certificate.get("days_left") is None else {
                "days_left": certificate["days_left"], "not_after": certificate["not_after"],
                "expired": certificate["expired"]},
        },
        "prerequisites": {
            "linux_nodes": len(linux),
            "recommended_linux_nodes": procedure.RECOMMENDED_LINUX_NODES,
            "fargate_coredns": fargate_coredns,
            "fargate_profiles": sorted(p.get("fargateProfileName") for p in facts.get("fargate_profiles") or []),
            "control_plane_met": control_plane_verdict["allowed"],
            "legacy_met": legacy_verdict["allowed"],
        },
        "findings": findings,
        "finding_counts": finding_counts,
        "preflight": {"control_plane": control_plane_verdict, "legacy": legacy_verdict},
        "mixed": mixed,
    }
