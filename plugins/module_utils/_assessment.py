# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging a cluster against the considerations and prerequisites of the procedure
(sections 1, 2 and 8, as EKS has them today: section 10). Pure: it takes the facts a module has
read and returns the mode, the state, the prerequisites, the findings and the preflight
verdicts. No I/O here. Each finding's title, severities and source are its entry in
procedure.RULES.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

from ansible_collections.eksops.windows.plugins.module_utils import (
    _certificates as certificates,
    _cni_config as cni_config,
    _gates as gates,
    _legacy as legacy,
    _procedure as procedure,
    _workloads as workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError

SEVERITIES = ("error", "warning", "info")
TERMINATED_PHASES = ("Succeeded", "Failed")


def finding(finding_id, detail, remedy, objects=None, severity=None):
    """One finding: its title, source, edition and date of change come from procedure.RULES;
    `severity` (when the rule allows several) is one of the rule's severities, else its first."""
    rule = procedure.rule(finding_id)
    if severity is None:
        severity = rule["severities"][0] if rule["severities"] else None
    if severity not in rule["severities"]:
        raise ValueError("finding %s cannot be %r (procedure.RULES allows %s)"
                         % (finding_id, severity, ", ".join(rule["severities"]) or "no finding"))
    return {"id": finding_id, "severity": severity, "title": rule["title"], "detail": detail,
            "remedy": remedy, "objects": sorted(objects or []), "source": rule["source"],
            "edition": rule["edition"], "changed": rule["changed"]}


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
    if not procedure.truthy(ipam):
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


def _unparseable_finding(data, keys, windows):
    """cni_setting_unparseable: `keys` of ConfigMap amazon-vpc-cni that strconv.ParseBool refuses."""
    spelled = "; ".join("%s" % "/".join(procedure.GO_PARSE_BOOL[b]) for b in (True, False))
    ipam = procedure.WINDOWS_IPAM_KEY in keys
    return finding(
        "cni_setting_unparseable",
        "ConfigMap amazon-vpc-cni has %s. The VPC resource controller reads these keys with Go's "
        "strconv.ParseBool, which takes only %s; it takes any other value as false, so %s is off%s."
        % (", ".join("%s \"%s\"" % (k, data[k]) for k in keys), spelled,
           "Windows IPAM" if ipam else "Windows prefix delegation",
           " and Windows pods get no IP address" if ipam and windows else ""),
        "Run role %s: it writes \"true\" (or, with role %s, \"false\") to whoever owns the "
        "ConfigMap; or set %s to \"true\" or \"false\" yourself."
        % ("enable" if ipam else "prefix_delegation", "disable" if ipam else "prefix_delegation "
           "and prefix_delegation_state=disabled", " and ".join(keys)),
        ["ConfigMap/kube-system/amazon-vpc-cni"],
        severity="error" if ipam and windows else "warning")


WEBHOOK_OBJECTS = set([("MutatingWebhookConfiguration", procedure.LEGACY_SHARED["mutating_webhook_configuration"])]
                      + [("Deployment", f["webhook_deployment"]) for f in procedure.LEGACY_FLAVOURS.values()])
CERTIFICATE_PROBLEMS = {
    "secret_missing": ("webhook_certificate_secret_missing",
                       "Secret %s/%s does not exist: the webhook cannot start without cert.pem and key.pem, "
                       "so new Windows pods get no IP address resource."),
    "unreadable": ("webhook_certificate_unreadable",
                   "Secret %s/%s holds no readable certificate (%s): the webhook cannot serve TLS, so "
                   "new Windows pods get no IP address resource."),
    "key_missing": ("webhook_certificate_key_missing",
                    "Secret %s/%s has cert.pem but %s: the webhook cannot serve TLS, so new Windows "
                    "pods get no IP address resource."),
    "key_mismatch": ("webhook_certificate_key_mismatch",
                     "In Secret %s/%s, %s (or key.pem is not a PEM private key): the webhook cannot "
                     "serve TLS, so new Windows pods get no IP address resource."),
}


def _serves_pods(obj):
    """The legacy webhook's Deployment or MutatingWebhookConfiguration: what needs the Secret."""
    return (obj["kind"], obj["name"]) in WEBHOOK_OBJECTS


def _certificate_finding(problem, webhook):
    """The finding of certificates.secret_problem's (id, sentence) while `webhook` objects exist."""
    finding_id, text = CERTIFICATE_PROBLEMS[problem[0]]
    where = (procedure.LEGACY_NAMESPACE, procedure.LEGACY_SHARED["secret"])
    detail = text % (where if problem[0] == "secret_missing" else where + (problem[1],))
    return finding(
        finding_id, "Legacy support's %s %s on the cluster. %s" % (
            _listing(webhook), "is" if len(webhook) == 1 else "are", detail),
        "Issue a new certificate: playbook renew_cert (role cert_renew) makes a key and a CSR, "
        "writes the Secret, restarts the webhook and re-creates Windows pods stuck in "
        "ContainerCreating. Or, where the cluster qualifies for control-plane support, remove "
        "legacy support (playbook migrate_to_control_plane).",
        ["Secret/%s/%s" % where])


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
            "version_below_table",
            "%s Control-plane Windows support needs a newer Kubernetes or platform version. EKS "
            "no longer offers Kubernetes 1.21 or older (the 2021 table's versions); the legacy "
            "procedures still work on such a cluster." % mode_reason,
            "Upgrade the cluster (or wait for EKS to update its platform version), then use "
            "control-plane support; until then legacy support (role legacy_install) is the "
            "only way to run Windows pods."))
    elif mode == "not_assessable":
        findings.append(finding(
            "version_not_assessable", mode_reason, "Check the versions DescribeCluster reports for this cluster."))
    if facts.get("role_exists") is False:
        findings.append(finding(
            "cluster_role_missing",
            "DescribeCluster names role %s, which IAM does not know." % cluster.get("role_arn"),
            "Recreate the cluster role (AmazonEKSClusterPolicy) or fix the cluster's role.",
            ["IAMRole/%s" % cluster.get("role_arn")]))

    # --- consideration 3: Linux nodes or Fargate for CoreDNS ---
    if not linux and not fargate_coredns:
        findings.append(finding(
            "no_linux_node",
            "The cluster has no Linux node and no Fargate profile that can run CoreDNS and the "
            "other Linux-only system pods.",
            "Add a Linux node group (two nodes recommended) or a Fargate profile for "
            "kube-system that selects CoreDNS."))
    elif len(linux) == 1:
        findings.append(finding(
            "single_linux_node",
            "Node %s is the cluster's only Linux node; two are recommended." % linux[0]["name"],
            "Add a second Linux node so that CoreDNS and the system pods survive a node loss.",
            ["Node/%s" % linux[0]["name"]]))
    if not linux and (mode == "legacy" or legacy_present):
        findings.append(finding(
            "legacy_needs_linux_node",
            "With legacy support CoreDNS and the VPC controllers must run on a Linux node; a "
            "Fargate profile is not enough.",
            "Add a Linux node group before installing or keeping legacy support."))

    # --- section 10: compute Windows cannot run on (the gates' blocker, reported) ---
    compute_only = gates.compute_blocker(facts)
    if compute_only:
        findings.append(finding(
            "auto_or_hybrid_compute_only",
            "The cluster has no node outside EKS Auto Mode, Hybrid Nodes or Fargate (%s); "
            "Windows nodes can run on none of them." % ", ".join(
                gates.compute_kinds(cluster, facts.get("node_compute_types") or ())),
            "Add a managed or self-managed node group: Linux for the system pods, Windows "
            "(a WINDOWS_* AMI type) for the Windows pods."))

    # --- consideration 1: instance types (historic); section 10: the controller's table ---
    historic = [n for n in windows if procedure.windows_unsupported_instance_type(n["instance_type"])]
    for group in facts.get("nodegroups") or []:
        if (group.get("amiType") or "").startswith(procedure.WINDOWS_AMI_TYPE_PREFIX):
            for instance_type in group.get("instanceTypes") or []:
                if procedure.windows_unsupported_instance_type(instance_type):
                    historic.append({"name": "nodegroup %s" % group["nodegroupName"],
                                     "instance_type": instance_type,
                                     "ref": "Nodegroup/%s" % group["nodegroupName"]})
    if historic:
        findings.append(finding(
            "historic_unsupported_instance_type",
            "%s: %s. The 2021 edition of the guide listed C3, C4, D2, I2, M4 (except "
            "m4.16xlarge), M6a and R3 as not supported for Windows workloads; the guide dropped "
            "that list in 2022-06." % (_plural(len(historic), "Windows node"), _listing(
                "%s (%s)" % (n["name"], n["instance_type"]) for n in historic)),
            "Nothing to do for this rule; the findings instance_type_unknown_to_controller and "
            "windows_prefix_delegation_not_nitro say whether these types work today.",
            [n.get("ref") or "Node/%s" % n["name"] for n in historic]))
    unknown = [n for n in windows if procedure.controller_knows(n["instance_type"]) is False]
    if unknown:
        findings.append(finding(
            "instance_type_unknown_to_controller",
            "%s: %s. The VPC resource controller hands out Windows pod addresses by its table "
            "of instance types (limits.go at %s), which does not list these types."
            % (_plural(len(unknown), "Windows node"), _listing(
                "%s (%s)" % (n["name"], n["instance_type"]) for n in unknown),
               procedure.CONTROLLER_COMMIT[:12]),
            "Check that the instance type exists and is current; if it is newer than that table, "
            "check the node's vpc.amazonaws.com/PrivateIPv4Address capacity after enabling.",
            ["Node/%s" % n["name"] for n in unknown]))

    data = (configmap or {}).get("data") or {}
    windows_prefixes = procedure.truthy(data.get(procedure.WINDOWS_PREFIX_DELEGATION_KEY, "false"))
    try:
        prefixes_supported = procedure.windows_prefix_delegation_supported(
            cluster.get("version"), cluster.get("platform_version"))
    except procedure.VersionError:
        prefixes_supported = None
    if windows_prefixes and prefixes_supported is False:
        findings.append(finding(
            "windows_prefix_delegation_platform",
            "ConfigMap amazon-vpc-cni has %s \"true\", but Kubernetes %s on %s is below the "
            "minimums for Windows prefix delegation (1.25 eks.5, 1.26 eks.4, 1.27 eks.3): "
            "Windows pods get secondary IP addresses." % (
                procedure.WINDOWS_PREFIX_DELEGATION_KEY, cluster.get("version"),
                cluster.get("platform_version")),
            "Upgrade the cluster (or wait for its platform version), or plan Windows pod "
            "density for secondary-IP mode.", ["ConfigMap/kube-system/amazon-vpc-cni"]))
    described = facts.get("eni_ipv4") or {}
    if windows_prefixes and prefixes_supported is not False:
        not_nitro = [n for n in windows
                     if procedure.is_nitro(n["instance_type"], described.get(n["instance_type"])) is False]
        if not_nitro:
            findings.append(finding(
                "windows_prefix_delegation_not_nitro",
                "%s: %s. Windows prefix delegation works on Nitro instances only; these nodes "
                "stay in secondary-IP mode (IPv4 addresses per ENI - 1 pods)." % (
                    _plural(len(not_nitro), "Windows node"), _listing(
                        "%s (%s)" % (n["name"], n["instance_type"]) for n in not_nitro)),
                "Move Windows workloads that need the pod density to Nitro instance types "
                "(for example m5, c5, r5 or newer).", ["Node/%s" % n["name"] for n in not_nitro]))

    over = []
    for node in windows:
        instance = described.get(node["instance_type"])
        if instance is None or node["pod_capacity"] is None:
            continue
        prefix_mode = (windows_prefixes and prefixes_supported is not False
                       and procedure.controller_knows(node["instance_type"]) is not False
                       and procedure.is_nitro(node["instance_type"], instance))
        mode_name = procedure.MODE_PREFIX_DELEGATION if prefix_mode else procedure.MODE_SECONDARY_IP
        # the node's pod capacity is its kubelet max-pods: the cap of prefix-delegation mode
        limit = procedure.windows_max_pods(instance["ipv4_per_interface"], mode_name,
                                           kubelet_max_pods=node["pod_capacity"])
        if node["pod_capacity"] > limit:
            over.append((node, limit, mode_name))
    if over:
        findings.append(finding(
            "max_pods_exceeds_eni",
            "%s: %s. A Windows node uses one network interface: in secondary-IP mode its pods "
            "are limited to that interface's IPv4 addresses minus one, with Windows prefix "
            "delegation to (IPv4 slots - 1) x 16; pods beyond that stay in ContainerCreating."
            % (_plural(len(over), "node"), _listing(
                "%s (%s, %s: capacity %d, at most %d)" % (
                    n["name"], n["instance_type"], mode_name.replace("_", "-"),
                    n["pod_capacity"], limit)
                for n, limit, mode_name in over)),
            "Set the kubelet's --max-pods on these nodes to the limit shown (bootstrap "
            "argument of the Windows node group).",
            ["Node/%s" % n["name"] for n, _limit, _mode in over]))
    managed = set()
    ami_types = set()
    for group in facts.get("nodegroups") or []:
        if (group.get("amiType") or "").startswith(procedure.WINDOWS_AMI_TYPE_PREFIX):
            managed.add("Nodegroup/%s" % group["nodegroupName"])
            ami_types.add(group["amiType"])
    for node in windows:
        if node.get("nodegroup"):
            managed.add("Nodegroup/%s" % node["nodegroup"])
    if managed:
        findings.append(finding(
            "windows_managed_node_group",
            "%s: %s%s. EKS supports managed Windows node groups since 2022-12 (AMI types "
            "WINDOWS_CORE/WINDOWS_FULL for Windows Server 2019, 2022 and 2025); the 2021 "
            "edition allowed only self-managed Windows nodes." % (
                _plural(len(managed), "managed node group"), _listing(sorted(managed)),
                " (%s)" % ", ".join(sorted(ami_types)) if ami_types else ""),
            "Nothing to do.", sorted(managed)))

    # --- considerations 5, 6, 7: networking features Windows nodes cannot use ---
    where = "the cluster has %s" % _plural(len(windows), "Windows node") if windows else \
        "no Windows node yet"
    if sgp:
        findings.append(finding(
            "security_groups_for_pods",
            "aws-node has %s=true (%s). SecurityGroupPolicies do not apply to pods on "
            "Windows nodes." % (procedure.SECURITY_GROUPS_FOR_PODS_ENV, where),
            "Do not rely on security groups for pods for Windows workloads; use the node "
            "security groups for them.", ["DaemonSet/kube-system/aws-node"],
            severity="warning" if windows else "info"))
    if custom_networking:
        findings.append(finding(
            "custom_networking",
            "aws-node has %s=true (%s)." % (procedure.CUSTOM_NETWORKING_ENV, where),
            "Run Windows nodes in a cluster without custom networking, or turn it off.",
            ["DaemonSet/kube-system/aws-node"], severity="error" if windows else "warning"))
    if prefixes:
        findings.append(finding(
            "linux_prefix_delegation",
            "aws-node has %s=true: Linux nodes get IP prefixes. Linux and Windows prefix "
            "delegation coexist; Windows nodes have their own setting (ConfigMap "
            "amazon-vpc-cni key %s, now %s)." % (
                procedure.PREFIX_DELEGATION_ENV, procedure.WINDOWS_PREFIX_DELEGATION_KEY,
                "\"true\"" if windows_prefixes else "off"),
            "Nothing to do for Windows.", ["DaemonSet/kube-system/aws-node"]))
    if ipv6:
        findings.append(finding(
            "ipv6_cluster",
            "DescribeCluster says ipFamily ipv6; IPv6 is still for Linux nodes only: Windows "
            "nodes cannot join an IPv6 cluster.", "Run Windows workloads in an IPv4 cluster."))

    # --- consideration 2 and 9: pods on Windows ---
    pods = _live_pods(facts.get("pods") or [])
    all_workloads = facts.get("workloads") or []
    host_network = []
    for obj in all_workloads:
        spec = workloads.pod_spec_of(obj)
        if spec.get("hostNetwork") and workloads.targets_windows(spec) and not workloads.is_host_process(spec):
            host_network.append(workloads.workload_ref(obj))
    for pod in pods:
        owned = (pod.get("metadata") or {}).get("ownerReferences")
        spec = pod.get("spec") or {}
        if not owned and spec.get("hostNetwork") and not workloads.is_host_process(spec) \
                and workloads.is_windows_pod(pod, windows_names):
            host_network.append(workloads.workload_ref(pod))
    if host_network:
        findings.append(finding(
            "windows_host_network",
            "%s: %s. On Windows, host networking works only for HostProcess pods "
            "(securityContext.windowsOptions.hostProcess: true)."
            % (_plural(len(host_network), "workload"), _listing(host_network)),
            "Make these pods HostProcess pods, or remove hostNetwork: true from their "
            "templates.", host_network))
    windows_pods = [p for p in pods if workloads.is_windows_pod(p, windows_names)]
    old_nodes = set(n["name"] for n in windows
                    if procedure.loadbalancer_old_windows_build(n.get("kernel_version")))
    crowded = []
    for service in facts.get("services") or []:
        spec = service.get("spec") or {}
        if spec.get("type") != "LoadBalancer":
            continue
        namespace = service["metadata"].get("namespace")
        selected = [p for p in windows_pods
                    if p["metadata"].get("namespace") == namespace
                    and _selects(spec.get("selector"), p["metadata"].get("labels"))]
        old = any((p.get("spec") or {}).get("nodeName") in old_nodes for p in selected)
        limit = procedure.LOADBALANCER_OLD_WINDOWS_POD_LIMIT if old else procedure.LOADBALANCER_WINDOWS_POD_LIMIT
        if len(selected) > limit:
            crowded.append(("Service/%s/%s" % (namespace, service["metadata"]["name"]),
                            len(selected), limit, old))
    if crowded:
        findings.append(finding(
            "loadbalancer_windows_pods_over_limit",
            "%s. A Service of type LoadBalancer supports at most %d Windows back-end pods, and "
            "%d when one of them runs on a Windows build older than %s." % (
                _listing("%s selects %d Windows pods (limit %d%s)" % (
                    ref, count, limit, ", a pod on an older build" if old else "")
                    for ref, count, limit, old in crowded),
                procedure.LOADBALANCER_WINDOWS_POD_LIMIT,
                procedure.LOADBALANCER_OLD_WINDOWS_POD_LIMIT,
                ".".join(str(n) for n in procedure.LOADBALANCER_LIMIT_BUILD)),
            "Split the back end across several Services, or update the Windows nodes of older "
            "builds (the 64-pod limit is gone from %s)."
            % ".".join(str(n) for n in procedure.LOADBALANCER_LIMIT_BUILD),
            [c[0] for c in crowded]))

    # --- section 8: OS selectors in a mixed cluster ---
    counts = {"linux": len(linux), "windows": len(windows)}
    mixed = workloads.is_mixed(counts)
    if mixed:
        lacking = [workloads.workload_ref(o) for o in all_workloads if workloads.lacks_os_selector(o)]
        if lacking:
            findings.append(finding(
                "workload_without_os_selector",
                "%s: %s. In a cluster with Linux and Windows nodes, pods must select their "
                "operating system." % (_plural(len(lacking), "workload"), _listing(lacking)),
                "Add nodeSelector kubernetes.io/os: linux (or windows) to their pod templates; "
                "role workload_selectors audits and, where you allow it, fixes them.", lacking))
    affinity_only = [workloads.workload_ref(o) for o in all_workloads
                     if workloads.os_constraint(workloads.pod_spec_of(o)) == {"os": "windows", "via": "affinity"}]
    if affinity_only:
        findings.append(finding(
            "windows_affinity_without_selector",
            "%s: %s. The control-plane webhook only reads the nodeSelector, so these pods get no "
            "IPv4 address resource." % (_plural(len(affinity_only), "workload"),
                                        _listing(affinity_only)),
            "Add nodeSelector kubernetes.io/os: windows and kubernetes.io/arch: amd64.",
            affinity_only))

    # --- enable-windows-ipam and the owner of the ConfigMap (section 3, and 10) ---
    drift_severity = "warning" if windows_wanted else "info"
    addon = facts.get("cni_addon")
    cm_meta = {"metadata": {"annotations": (configmap or {}).get("annotations") or {},
                            "labels": (configmap or {}).get("labels") or {}}}
    owner = cni_config.owner_of(cm_meta if configmap else None, addon)
    cm_value = ipam if ipam is not None else "false"
    owner_state = {"kind": owner["kind"], "setting": None, "agrees": None}
    if owner["kind"] == "addon":
        try:
            owner_state["setting"] = cni_config.owner_settings(owner, addon)[procedure.WINDOWS_IPAM_KEY]
            owner_state["agrees"] = procedure.truthy(owner_state["setting"]) == procedure.truthy(cm_value)
        except EksOpsError as e:
            incomplete.append(e.msg)
    unparseable = [k for k in (procedure.WINDOWS_IPAM_KEY, procedure.WINDOWS_PREFIX_DELEGATION_KEY)
                   if procedure.unparseable_bool(data.get(k))]
    if unparseable:
        findings.append(_unparseable_finding(data, unparseable, windows))
    if owner_state["agrees"] is False:
        if procedure.truthy(cm_value):
            detail = ("The EKS add-on %s (%s) says %s=\"%s\" and ConfigMap amazon-vpc-cni says "
                      "enable-windows-ipam \"true\" (edited by hand): the add-on's next update puts it "
                      "back to \"%s\" (resolve OVERWRITE) or fails with ConfigurationConflict."
                      % (procedure.VPC_CNI_ADDON, addon.get("addonVersion"),
                         procedure.VPC_CNI_ADDON_WINDOWS_KEY, owner_state["setting"], owner_state["setting"]))
            remedy = ("Run role enable: it writes %s into the add-on's configuration values "
                      "(eks:UpdateAddon), so that updates keep it." % procedure.VPC_CNI_ADDON_WINDOWS_KEY)
        else:
            detail = ("The EKS add-on %s (%s) says %s=\"%s\" but ConfigMap amazon-vpc-cni says "
                      "enable-windows-ipam \"%s\"." % (
                          procedure.VPC_CNI_ADDON, addon.get("addonVersion"),
                          procedure.VPC_CNI_ADDON_WINDOWS_KEY, owner_state["setting"], cm_value))
            remedy = "Run role enable (or disable): it puts the ConfigMap back to the add-on's value."
        findings.append(finding("cni_addon_drift", detail, remedy, ["Addon/%s" % procedure.VPC_CNI_ADDON],
                                severity=drift_severity))
    if owner["kind"] == "helm":
        findings.append(finding(
            "cni_helm_drift",
            "Helm release %s/%s manages the ConfigMap; the aws-vpc-cni chart ships "
            "enable-windows-ipam \"false\" unless its values say otherwise, and a helm upgrade "
            "rewrites it." % (owner.get("namespace") or "?", owner.get("release") or "?"),
            "Set enableWindowsIpam: true in the release's values so upgrades keep it (role enable "
            "refuses to patch a Helm-owned ConfigMap unless enable_patch_helm_owned=true).",
            ["ConfigMap/kube-system/amazon-vpc-cni"], severity=drift_severity))

    # --- legacy support and its certificate (sections 5, 7) ---
    flavours = procedure.legacy_flavours(legacy_objects)
    if legacy_present:
        findings.append(finding(
            "legacy_support_present",
            "%s of legacy support (%s) are on the cluster." % (
                _plural(len(legacy_objects), "object"), ", ".join(flavours) or "shared objects"),
            "Migrate: playbook migrate_to_control_plane removes them and enables control-plane "
            "support." if mode == "control_plane" else
            "Keep the webhook certificate renewed (role cert_renew) until the cluster qualifies "
            "for control-plane support.",
            [legacy.legacy_ref(o) for o in legacy_objects],
            severity="warning" if mode == "control_plane" else "info"))
    certificate = facts.get("webhook_certificate")
    webhook = [legacy.legacy_ref(o) for o in legacy_objects if _serves_pods(o)]
    problem = certificates.secret_problem(certificate) if webhook else None
    if problem:
        findings.append(_certificate_finding(problem, webhook))
    if certificate and certificate.get("days_left") is not None:
        if certificate["expired"]:
            findings.append(finding(
                "webhook_certificate_expired",
                "It expired on %s: new Windows pods get no IP address." % certificate["not_after"],
                "Renew it now (role cert_renew), then delete Windows pods stuck in "
                "ContainerCreating.", ["Secret/kube-system/%s" % procedure.LEGACY_SHARED["secret"]]))
        elif certificate["days_left"] < warning_days:
            findings.append(finding(
                "webhook_certificate_expiring",
                "It expires on %s, in %s." % (certificate["not_after"],
                                              _plural(certificate["days_left"], "day")),
                "Renew it (role cert_renew).",
                ["Secret/kube-system/%s" % procedure.LEGACY_SHARED["secret"]]))

    # --- section 10: the identity of the Windows nodes (_node_identity.py) ---
    if facts.get("node_identity"):
        from ansible_collections.eksops.windows.plugins.module_utils import _node_identity as node_identity  # pylint: disable=import-outside-toplevel

        findings.extend(node_identity.findings(facts["node_identity"], finding))

    if incomplete:
        findings.append(finding(
            "assessment_incomplete",
            "; ".join(incomplete), "Grant the read permissions named above and assess again."))

    findings.sort(key=lambda f: (SEVERITIES.index(f["severity"]), f["id"]))
    finding_counts = dict((s, sum(1 for f in findings if f["severity"] == s)) for s in SEVERITIES)

    gate_facts = {"cluster": cluster, "support": facts["support"],
                  "role_exists": facts.get("role_exists"), "linux_nodes": len(linux),
                  "fargate_coredns": fargate_coredns,
                  "standard_nodes": facts.get("standard_nodes"),
                  "node_compute_types": facts.get("node_compute_types") or [],
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
            "authentication_mode": cluster.get("authentication_mode"),
            "policy_attached": policy_attached,
            "policy_needed": policy_needed,
            "enable_windows_ipam": ipam,
            "cni_owner": owner_state,
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
