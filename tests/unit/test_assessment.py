"""The assessment's rules (module_utils/_assessment.py and the data in _procedure.py), on facts
built by hand: the edges the lab scenario does not reach."""

import pytest

import fakes
from ansible_collections.eksops.windows.plugins.module_utils import (
    _assessment as assessment,
    _procedure as procedure,
    _reads as reads,
)


def node(name, os_name="linux", instance_type="m5.large", pods=29, kernel=None, labels=None, **extra):
    """A node as reads.node_summary makes it from a Node object."""
    if labels is not None:
        labels = dict({"kubernetes.io/os": os_name, "kubernetes.io/arch": "amd64",
                       "node.kubernetes.io/instance-type": instance_type}, **labels)
    return dict(reads.node_summary(fakes.node(name, os_name, instance_type, pods, kernel=kernel,
                                              labels=labels)), **extra)


# What DescribeInstanceTypes says (reads.eni_ipv4), for the types the tests use.
M5_LARGE = {"ipv4_per_interface": 10, "hypervisor": "nitro", "bare_metal": False}
C4_LARGE = {"ipv4_per_interface": 10, "hypervisor": "xen", "bare_metal": False}


def facts(**overrides):
    base = {
        "cluster": {"name": "c", "version": "1.27", "platform_version": "eks.5",
                    "ip_family": "ipv4", "role_arn": "arn:aws:iam::1:role/r"},
        "support": {"supported": True, "minimum_platform": None, "reason": "fine."},
        "nodes": [node("l1"), node("l2")],
        "role_exists": True, "policy_attached": False,
        "fargate_profiles": [], "nodegroups": [], "cni_addon": None, "eni_ipv4": {},
        "aws_node_env": {}, "configmap": {"data": {"enable-windows-ipam": "false"}, "annotations": {}},
        "legacy_objects": [], "webhook_certificate": None,
        "pods": [], "services": [], "workloads": [], "incomplete": [],
    }
    base.update(overrides)
    return base


def pod(name, namespace="ns", labels=None, selector=None, node_name=None, phase="Pending",
        host_network=False, owned=True):
    spec = {}
    if selector:
        spec["nodeSelector"] = selector
    if node_name:
        spec["nodeName"] = node_name
    if host_network:
        spec["hostNetwork"] = True
    meta = {"name": name, "namespace": namespace, "labels": labels or {}}
    if owned:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs"}]
    return {"kind": "Pod", "metadata": meta, "spec": spec, "status": {"phase": phase}}


def ids(result):
    return [f["id"] for f in result["findings"]]


@pytest.mark.parametrize("instance_type,unsupported", [
    ("c4.large", True), ("C3.xlarge", True), ("d2.xlarge", True), ("i2.xlarge", True),
    ("m4.large", True), ("m4.16xlarge", False), ("m6a.large", True), ("r3.large", True),
    ("m5.large", False), ("c5.xlarge", False), ("m6i.large", False), ("c4", True),
    (None, False), ("", False),
])
def test_unsupported_instance_types(instance_type, unsupported):
    assert procedure.windows_unsupported_instance_type(instance_type) is unsupported


def test_max_pods_is_addresses_per_eni_minus_one_in_secondary_ip_mode():
    assert procedure.windows_max_pods(10) == 9  # m5.large
    assert procedure.windows_max_pods(15) == 14  # c5.xlarge
    assert procedure.windows_max_pods(10, "secondary_ip") == 9


def test_max_pods_with_windows_prefix_delegation_is_slots_times_16_capped_by_max_pods():
    # (IPv4 slots - 1) x 16, capped by the kubelet's max-pods (default 110)
    assert procedure.windows_max_pods(4, "prefix_delegation") == 48  # t3.medium-like: 3 x 16
    assert procedure.windows_max_pods(10, "prefix_delegation") == 110  # 9 x 16 = 144, capped
    assert procedure.windows_max_pods(10, "prefix_delegation", kubelet_max_pods=250) == 144
    assert procedure.windows_max_pods(15, "prefix_delegation", kubelet_max_pods=20) == 20
    with pytest.raises(ValueError):
        procedure.windows_max_pods(10, "ipv6")


@pytest.mark.parametrize("profiles,runs", [
    ([], False),
    ([{"selectors": [{"namespace": "kube-system"}]}], True),
    ([{"selectors": [{"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}]}], True),
    ([{"selectors": [{"namespace": "kube-system", "labels": {"app": "other"}}]}], False),
    ([{"selectors": [{"namespace": "default"}]}], False),
    ([{"status": "DELETING", "selectors": [{"namespace": "kube-system"}]}], False),
])
def test_fargate_profiles_that_run_coredns(profiles, runs):
    assert procedure.fargate_runs_coredns(profiles) is runs


@pytest.mark.parametrize("values,sets", [
    ('{"enableWindowsIpam": "true"}', True),
    ('{"enableWindowsIpam": "false"}', False),
    ('{"env": {"WARM_IP_TARGET": "5"}}', False),
    ("enableWindowsIpam: true\nenv:\n  A: b\n", True),
    ('enableWindowsIpam: "true"', True),
    ("", False),
    (None, False),
])
def test_addon_configuration_values(values, sets):
    assert assessment.addon_sets_windows_ipam({"configurationValues": values}) is sets


@pytest.mark.parametrize("ipam,attached,needed,legacy,state", [
    ("true", True, True, False, "enabled"),
    ("true", False, False, False, "enabled"),
    ("true", False, True, False, "partial"),
    ("true", None, True, False, "unknown"),
    ("false", True, True, False, "disabled"),
    (None, False, True, False, "disabled"),
    ("true", True, True, True, "legacy"),
])
def test_windows_support_state(ipam, attached, needed, legacy, state):
    assert assessment.windows_support_state(ipam, attached, needed, legacy) == state


def test_a_clean_linux_cluster_has_no_finding():
    result = assessment.judge(facts())
    assert result["findings"] == []
    assert result["preflight"]["control_plane"] == {"allowed": True, "forced": False, "blockers": [],
                                                    "blocker_ids": []}
    assert result["preflight"]["legacy"]["allowed"] is False  # control plane is possible


def test_networking_features_are_errors_only_with_windows_nodes():
    env = {"ENABLE_POD_ENI": "true", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
           "ENABLE_PREFIX_DELEGATION": "true"}
    linux_only = {f["id"]: f["severity"] for f in assessment.judge(facts(aws_node_env=env))["findings"]}
    assert linux_only == {"security_groups_for_pods": "info", "custom_networking": "warning",
                          "linux_prefix_delegation": "info"}
    mixed = facts(aws_node_env=env, nodes=[node("l1"), node("l2"), node("w", "windows", pods=9)])
    with_windows = {f["id"]: f["severity"] for f in assessment.judge(mixed)["findings"]}
    assert with_windows == {"security_groups_for_pods": "warning", "custom_networking": "error",
                            "linux_prefix_delegation": "info"}


def test_linux_prefix_delegation_is_no_windows_problem():
    # today's guide: Linux and Windows prefix delegation coexist; no error, no "turn it off"
    mixed = facts(aws_node_env={"ENABLE_PREFIX_DELEGATION": "true"},
                  nodes=[node("l1"), node("l2"), node("w", "windows", pods=9)])
    found = assessment.judge(mixed)["findings"]
    assert [(f["id"], f["severity"]) for f in found] == [("linux_prefix_delegation", "info")]
    assert "turn" not in found[0]["remedy"].lower() and "off" not in found[0]["remedy"].lower()
    assert assessment.judge(mixed)["preflight"]["control_plane"]["allowed"] is True


def test_ipv6_stays_an_error_and_a_blocker():
    cluster = dict(facts()["cluster"], ip_family="ipv6")
    result = assessment.judge(facts(cluster=cluster))
    assert [(f["id"], f["severity"]) for f in result["findings"]] == [("ipv6_cluster", "error")]
    assert result["preflight"]["control_plane"]["blocker_ids"] == ["ipv6_cluster"]


def test_fargate_coredns_replaces_linux_nodes_for_control_plane_only():
    profiles = [{"fargateProfileName": "fp", "selectors": [{"namespace": "kube-system"}]}]
    control = assessment.judge(facts(nodes=[], fargate_profiles=profiles))
    assert ids(control) == []
    assert control["preflight"]["control_plane"]["allowed"] is True
    legacy = assessment.judge(facts(
        nodes=[], fargate_profiles=profiles,
        cluster={"name": "c", "version": "1.19", "platform_version": "eks.6", "ip_family": "ipv4",
                 "role_arn": "arn:aws:iam::1:role/r"},
        support={"supported": False, "minimum_platform": "eks.7", "reason": "below."}))
    assert "legacy_needs_linux_node" in ids(legacy)
    assert "no_linux_node" not in ids(legacy)
    assert legacy["preflight"]["legacy"]["allowed"] is False


LB = "loadbalancer_windows_pods_over_limit"


def lb_service():
    return {"kind": "Service", "metadata": {"name": "web", "namespace": "ns"},
            "spec": {"type": "LoadBalancer", "selector": {"app": "web"}}}


def test_loadbalancer_limit_is_1024_windows_pods_on_current_builds():
    windows = {"kubernetes.io/os": "windows"}
    nodes = [node("l1"), node("l2"), node("w1", "windows", pods=9, kernel="10.0.17763.2746"),
             node("w2", "windows", pods=9, kernel="10.0.20348.2227")]
    pods = [pod("p%d" % i, labels={"app": "web"}, selector=windows, node_name="w%d" % (1 + i % 2))
            for i in range(1024)]
    assert ids(assessment.judge(facts(nodes=nodes, pods=pods, services=[lb_service()]))) == []
    # a finished pod does not count; an unscheduled pod that selects Windows does
    more = pods + [pod("done", labels={"app": "web"}, selector=windows, phase="Succeeded")]
    assert LB not in ids(assessment.judge(facts(nodes=nodes, pods=more, services=[lb_service()])))
    more.append(pod("waiting", labels={"app": "web"}, selector=windows))
    found = assessment.judge(facts(nodes=nodes, pods=more, services=[lb_service()]))
    assert ids(found) == [LB]
    assert found["findings"][0]["severity"] == "error"
    assert "1025 Windows pods (limit 1024)" in found["findings"][0]["detail"]
    # a ClusterIP Service is not limited
    service = lb_service()
    service["spec"]["type"] = "ClusterIP"
    assert LB not in ids(assessment.judge(facts(nodes=nodes, pods=more, services=[service])))


@pytest.mark.parametrize("kernel,old", [
    ("10.0.17763.2745", True), ("10.0.17763.2114", True), ("10.0.17763.999", True),
    ("10.0.14393.5000", True), ("10.0.17763.2746", False), ("10.0.17763.10000", False),
    ("10.0.20348.1", False), (None, False), ("", False), ("5.10.186-179.751.amzn2.x86_64", False),
])
def test_the_64_pod_limit_applies_to_builds_before_10_0_17763_2746(kernel, old):
    # build numbers compare as numbers: 10.0.17763.999 is older than 10.0.17763.2746
    assert procedure.loadbalancer_old_windows_build(kernel) is old


def test_loadbalancer_limit_is_64_when_a_selected_pod_runs_on_an_old_build():
    nodes = [node("l1"), node("l2"), node("old", "windows", pods=9, kernel="10.0.17763.2114"),
             node("new", "windows", pods=9, kernel="10.0.17763.3887")]
    on_new = [pod("n%d" % i, labels={"app": "web"}, node_name="new") for i in range(65)]
    assert ids(assessment.judge(facts(nodes=nodes, pods=on_new, services=[lb_service()]))) == []
    one_old = on_new[:64] + [pod("o", labels={"app": "web"}, node_name="old")]
    found = assessment.judge(facts(nodes=nodes, pods=one_old, services=[lb_service()]))
    assert ids(found) == [LB]
    assert "65 Windows pods (limit 64, a pod on an older build)" in found["findings"][0]["detail"]
    # 64 pods, one of them on the old build: at the limit, not over it
    assert ids(assessment.judge(facts(nodes=nodes, pods=one_old[1:], services=[lb_service()]))) == []
    # pods of another Service on the old node do not lower this Service's limit
    other = [pod("x", labels={"app": "other"}, node_name="old")]
    assert ids(assessment.judge(facts(nodes=nodes, pods=on_new + other, services=[lb_service()]))) == []


def test_bare_windows_pod_with_host_network_is_flagged_owned_ones_through_their_workload():
    windows = {"kubernetes.io/os": "windows"}
    bare = pod("bare", selector=windows, host_network=True, owned=False)
    owned = pod("owned", selector=windows, host_network=True, owned=True)
    found = assessment.judge(facts(pods=[bare, owned]))["findings"]
    assert [f["objects"] for f in found if f["id"] == "windows_host_network"] == [["Pod/ns/bare"]]


def daemonset(name, pod_security=None, container_security=(None,), init_security=()):
    spec = {"hostNetwork": True, "nodeSelector": {"kubernetes.io/os": "windows"},
            "containers": [dict({"name": "c%d" % i}, **({"securityContext": sc} if sc else {}))
                           for i, sc in enumerate(container_security)]}
    if init_security:
        spec["initContainers"] = [dict({"name": "i%d" % i}, **({"securityContext": sc} if sc else {}))
                                  for i, sc in enumerate(init_security)]
    if pod_security:
        spec["securityContext"] = pod_security
    return {"kind": "DaemonSet", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"template": {"spec": spec}}}


def test_host_network_is_fine_for_hostprocess_pods_only():
    hp = {"windowsOptions": {"hostProcess": True}}
    listed = [
        daemonset("pod-level", pod_security=hp),
        daemonset("every-container", container_security=(hp, hp), init_security=(hp,)),
        daemonset("plain"),
        daemonset("one-container-not", container_security=(hp, None)),
        daemonset("init-not", container_security=(hp,), init_security=(None,)),
        daemonset("false", pod_security={"windowsOptions": {"hostProcess": False}}),
    ]
    found = [f for f in assessment.judge(facts(workloads=listed))["findings"]
             if f["id"] == "windows_host_network"]
    assert found[0]["severity"] == "error"
    assert found[0]["objects"] == ["DaemonSet/ns/false", "DaemonSet/ns/init-not",
                                   "DaemonSet/ns/one-container-not", "DaemonSet/ns/plain"]
    bare = pod("bare-hp", selector={"kubernetes.io/os": "windows"}, host_network=True, owned=False)
    bare["spec"]["securityContext"] = hp
    assert ids(assessment.judge(facts(pods=[bare]))) == []


def test_workload_selectors_only_matter_in_a_mixed_cluster():
    lacking = {"kind": "Deployment", "metadata": {"name": "d", "namespace": "ns"},
               "spec": {"template": {"spec": {"containers": []}}}}
    assert ids(assessment.judge(facts(workloads=[lacking]))) == []
    mixed = assessment.judge(facts(workloads=[lacking], nodes=[
        node("l1"), node("l2"), node("w", "windows", pods=9)]))
    assert ids(mixed) == ["workload_without_os_selector"]
    assert mixed["mixed"] is True


def test_max_pods_needs_the_instance_type_data():
    nodes = [node("l1"), node("l2"), node("w", "windows", pods=29)]
    assert ids(assessment.judge(facts(nodes=nodes))) == []  # unknown type: no claim
    found = assessment.judge(facts(nodes=nodes, eni_ipv4={"m5.large": M5_LARGE}))
    assert ids(found) == ["max_pods_exceeds_eni"]
    assert "secondary-ip: capacity 29, at most 9" in found["findings"][0]["detail"]


WINDOWS_PREFIXES = {"data": {"enable-windows-ipam": "true", "enable-windows-prefix-delegation": "true"},
                    "annotations": {}}


def test_max_pods_by_mode_with_windows_prefix_delegation():
    # m5.large: 10 IPv4 per ENI; with Windows prefix delegation (10 - 1) x 16 = 144, capped by max-pods
    nodes = [node("l1"), node("l2"), node("w110", "windows", pods=110), node("w144", "windows", pods=144),
             node("w150", "windows", pods=150)]
    found = assessment.judge(facts(nodes=nodes, eni_ipv4={"m5.large": M5_LARGE},
                                   configmap=WINDOWS_PREFIXES, policy_attached=True))
    assert ids(found) == ["max_pods_exceeds_eni"]
    assert found["findings"][0]["objects"] == ["Node/w150"]
    assert "prefix-delegation: capacity 150, at most 144" in found["findings"][0]["detail"]
    # without the setting the same nodes are in secondary-IP mode: 9 at most
    secondary = assessment.judge(facts(nodes=nodes, eni_ipv4={"m5.large": M5_LARGE}))
    assert secondary["findings"][0]["objects"] == ["Node/w110", "Node/w144", "Node/w150"]


def test_windows_prefix_delegation_on_a_node_that_is_not_nitro():
    nodes = [node("l1"), node("l2"), node("c4", "windows", "c4.large", pods=110),
             node("m5", "windows", pods=110)]
    found = assessment.judge(facts(nodes=nodes, eni_ipv4={"m5.large": M5_LARGE, "c4.large": C4_LARGE},
                                   configmap=WINDOWS_PREFIXES, policy_attached=True))
    by_id = {f["id"]: f for f in found["findings"]}
    assert by_id["windows_prefix_delegation_not_nitro"]["objects"] == ["Node/c4"]
    assert by_id["windows_prefix_delegation_not_nitro"]["severity"] == "warning"
    # the c4 node stays in secondary-IP mode: 9 pods at most; the m5 node may have 110
    assert by_id["max_pods_exceeds_eni"]["objects"] == ["Node/c4"]
    # no DescribeInstanceTypes data: the controller's table says c4 is not Nitro
    table_only = assessment.judge(facts(nodes=nodes, configmap=WINDOWS_PREFIXES, policy_attached=True))
    assert [f["objects"] for f in table_only["findings"]
            if f["id"] == "windows_prefix_delegation_not_nitro"] == [["Node/c4"]]
    # without Windows prefix delegation nothing is said about Nitro
    assert "windows_prefix_delegation_not_nitro" not in ids(assessment.judge(facts(
        nodes=nodes, eni_ipv4={"m5.large": M5_LARGE, "c4.large": C4_LARGE})))


@pytest.mark.parametrize("version,platform,supported", [
    ("1.24", "eks.20", False), ("1.25", "eks.4", False), ("1.25", "eks.5", True),
    ("1.26", "eks.3", False), ("1.26", "eks.4", True), ("1.27", "eks.2", False),
    ("1.27", "eks.3", True), ("1.28", "eks.1", True), ("1.31", "eks.1", True),
])
def test_windows_prefix_delegation_platform_minimums(version, platform, supported):
    assert procedure.windows_prefix_delegation_supported(version, platform) is supported
    cluster = dict(facts()["cluster"], version=version, platform_version=platform)
    found = ids(assessment.judge(facts(cluster=cluster, configmap=WINDOWS_PREFIXES, policy_attached=True)))
    assert ("windows_prefix_delegation_platform" in found) is not supported


def test_historic_instance_types_are_info_citing_the_2021_rule():
    nodes = [node("l1"), node("l2"), node("c4", "windows", "c4.large", pods=9),
             node("m416", "windows", "m4.16xlarge", pods=9)]
    found = assessment.judge(facts(nodes=nodes))["findings"]
    assert [(f["id"], f["severity"], f["objects"]) for f in found] == [
        ("historic_unsupported_instance_type", "info", ["Node/c4"])]
    assert "2021" in found[0]["source"] and found[0]["changed"] == "2022-06"
    groups = [{"nodegroupName": "win", "amiType": "WINDOWS_CORE_2022_x86_64", "instanceTypes": ["r3.large"]}]
    result = assessment.judge(facts(nodegroups=groups))
    assert {f["id"]: f["severity"] for f in result["findings"]} == {
        "historic_unsupported_instance_type": "info", "windows_managed_node_group": "info"}
    assert result["finding_counts"]["error"] == 0


@pytest.mark.parametrize("instance_type,known", [
    ("m5.large", True), ("c4.large", True), ("m4.16xlarge", True), ("m6a.metal", True),
    ("c7i.metal-24xl", True), ("m5.huge", False), ("x9z.large", False), ("M5.LARGE", True),
])
def test_instance_types_known_to_the_vpc_resource_controller(instance_type, known):
    assert procedure.controller_knows(instance_type) is known


def test_windows_nodes_on_types_the_controller_does_not_know():
    nodes = [node("l1"), node("l2"), node("odd", "windows", "m5.huge", pods=9), node("ok", "windows", pods=9)]
    found = assessment.judge(facts(nodes=nodes))["findings"]
    assert [(f["id"], f["severity"], f["objects"]) for f in found] == [
        ("instance_type_unknown_to_controller", "warning", ["Node/odd"])]
    assert "limits.go" in found[0]["source"]


@pytest.mark.parametrize("instance_type,described,nitro", [
    ("m5.large", None, True), ("c4.large", None, False), ("m4.16xlarge", None, False),
    ("m5.metal", None, True), ("i3.metal", None, True), ("i3.large", None, False),
    ("m5.huge", None, None),
    ("m5.huge", {"ipv4_per_interface": 10, "hypervisor": "nitro", "bare_metal": False}, True),
    ("c4.large", {"ipv4_per_interface": 10, "hypervisor": "xen", "bare_metal": False}, False),
    ("m5.metal", {"ipv4_per_interface": 50, "hypervisor": None, "bare_metal": True}, True),
])
def test_nitro_from_describe_instance_types_else_the_controller_table(instance_type, described, nitro):
    assert procedure.is_nitro(instance_type, described) is nitro


def test_managed_windows_node_groups_are_info_since_2022_12():
    groups = [{"nodegroupName": "w19", "amiType": "WINDOWS_CORE_2019_x86_64", "instanceTypes": ["m5.large"]},
              {"nodegroupName": "w22", "amiType": "WINDOWS_FULL_2022_x86_64", "instanceTypes": ["m5.large"]},
              {"nodegroupName": "w25", "amiType": "WINDOWS_CORE_2025_x86_64", "instanceTypes": ["m5.large"]},
              {"nodegroupName": "lin", "amiType": "AL2023_x86_64_STANDARD", "instanceTypes": ["m5.large"]}]
    found = assessment.judge(facts(nodegroups=groups))["findings"]
    assert [(f["id"], f["severity"], f["objects"]) for f in found] == [
        ("windows_managed_node_group", "info", ["Nodegroup/w19", "Nodegroup/w22", "Nodegroup/w25"])]
    assert found[0]["changed"] == "2022-12"
    assert "WINDOWS_CORE_2025_x86_64" in found[0]["detail"]


AUTO = {"eks.amazonaws.com/compute-type": "auto"}
HYBRID = {"eks.amazonaws.com/compute-type": "hybrid"}


def compute(nodes, **cluster):
    summaries = nodes
    return facts(cluster=dict(facts()["cluster"], **cluster), nodes=summaries,
                 standard_nodes=sum(1 for n in summaries if reads.is_standard_node(n)),
                 node_compute_types=sorted(set(n["compute_type"] for n in summaries if n["compute_type"])))


def test_auto_mode_only_or_hybrid_only_compute_blocks_windows():
    auto_only = assessment.judge(compute([node("a1", labels=AUTO), node("a2", labels=AUTO)], auto_mode=True))
    assert ids(auto_only) == ["auto_or_hybrid_compute_only"]
    assert auto_only["findings"][0]["severity"] == "error"
    assert "EKS Auto Mode" in auto_only["preflight"]["control_plane"]["blockers"][0]
    assert auto_only["preflight"]["control_plane"]["blocker_ids"] == ["auto_or_hybrid_compute_only"]
    assert "auto_or_hybrid_compute_only" in auto_only["preflight"]["legacy"]["blocker_ids"]
    hybrid_only = assessment.judge(compute([node("h1", labels=HYBRID), node("h2", labels=HYBRID)],
                                           hybrid_nodes=True))
    assert hybrid_only["preflight"]["control_plane"]["blocker_ids"] == ["auto_or_hybrid_compute_only"]
    assert "EKS Hybrid Nodes" in hybrid_only["preflight"]["control_plane"]["blockers"][0]
    # hybrid nodes found by their label alone (the cluster field not read)
    labelled = assessment.judge(compute([node("h1", labels=HYBRID), node("h2", labels=HYBRID)]))
    assert ids(labelled) == ["auto_or_hybrid_compute_only"]
    # Auto Mode with a node group of its own: Windows (and system pods) have somewhere to run
    with_nodes = assessment.judge(compute([node("a1", labels=AUTO), node("l1"), node("l2")], auto_mode=True))
    assert ids(with_nodes) == [] and with_nodes["preflight"]["control_plane"]["allowed"] is True
    # a cluster of today without either: no blocker
    assert assessment.judge(compute([node("l1"), node("l2")]))["preflight"]["control_plane"]["allowed"]


def test_every_finding_names_its_source_and_severity_is_one_the_rule_allows():
    env = {"ENABLE_POD_ENI": "true", "AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG": "true",
           "ENABLE_PREFIX_DELEGATION": "true"}
    nodes = [node("l1"), node("w", "windows", "c4.large", pods=29)]
    result = assessment.judge(facts(aws_node_env=env, nodes=nodes, eni_ipv4={"c4.large": C4_LARGE},
                                    incomplete=["iam:x failed (AccessDenied)"]))
    assert len(result["findings"]) >= 6
    for found in result["findings"]:
        rule = procedure.RULES[found["id"]]
        assert found["source"] == rule["source"] and found["source"]
        assert found["severity"] in rule["severities"]
        assert found["title"] == rule["title"]
    with pytest.raises(ValueError):
        assessment.finding("historic_unsupported_instance_type", "d", "r", severity="error")
    with pytest.raises(KeyError):
        assessment.finding("no_such_rule", "d", "r")


def test_no_rule_that_todays_guide_dropped_is_an_error():
    # the 2021 instance-type list and "no IP prefixes" are gone from today's guide
    for rule_id in ("historic_unsupported_instance_type", "linux_prefix_delegation",
                    "windows_managed_node_group"):
        assert "error" not in procedure.RULES[rule_id]["severities"], rule_id


def test_versions_below_the_table_say_eks_no_longer_offers_them():
    below = facts(cluster=dict(facts()["cluster"], version="1.19", platform_version="eks.6"),
                  support={"supported": False, "minimum_platform": "eks.7", "reason": "below."})
    result = assessment.judge(below)
    found = [f for f in result["findings"] if f["id"] == "version_below_table"][0]
    assert "no longer offers" in found["detail"]
    assert "no longer offers" in result["preflight"]["control_plane"]["blockers"][0]
    assert result["mode"] == "legacy"


def test_the_addon_and_the_configmap_agreeing_is_no_drift():
    addon = {"addonName": "vpc-cni", "addonVersion": "v1", "configurationValues": ""}
    agreed = assessment.judge(facts(cni_addon=addon))
    assert agreed["findings"] == []
    assert agreed["state"]["cni_owner"] == {"kind": "addon", "setting": "false", "agrees": True}
    on = dict(addon, configurationValues='{"enableWindowsIpam": "true"}')
    both = assessment.judge(facts(cni_addon=on, policy_attached=True,
                                  configmap={"data": {"enable-windows-ipam": "true"}}))
    assert both["findings"] == [] and both["state"]["cni_owner"]["agrees"] is True


def test_a_hand_edit_the_addon_will_revert_is_drift():
    addon = {"addonName": "vpc-cni", "addonVersion": "v1", "configurationValues": ""}
    edited = assessment.judge(facts(cni_addon=addon, policy_attached=True,
                                    configmap={"data": {"enable-windows-ipam": "true"}}))
    assert [(f["id"], f["severity"]) for f in edited["findings"]] == [("cni_addon_drift", "warning")]
    assert "puts it back to \"false\"" in edited["findings"][0]["detail"]
    assert edited["state"]["cni_owner"] == {"kind": "addon", "setting": "false", "agrees": False}
    # the add-on says true, the ConfigMap false: no Windows node, nothing on: informational
    on = dict(addon, configurationValues="enableWindowsIpam: 'true'")
    behind = assessment.judge(facts(cni_addon=on))
    assert [(f["id"], f["severity"]) for f in behind["findings"]] == [("cni_addon_drift", "info")]


def test_unreadable_addon_values_make_the_assessment_incomplete_not_a_crash():
    addon = {"addonName": "vpc-cni", "addonVersion": "v1", "configurationValues": "[1, 2]"}
    result = assessment.judge(facts(cni_addon=addon))
    assert result["state"]["cni_owner"] == {"kind": "addon", "setting": None, "agrees": None}
    assert [f["id"] for f in result["findings"]] == ["assessment_incomplete"]


def test_a_helm_release_owns_the_configmap():
    helm = {"data": {"enable-windows-ipam": "false"},
            "annotations": {"meta.helm.sh/release-name": "cni", "meta.helm.sh/release-namespace": "kube-system"}}
    result = assessment.judge(facts(configmap=helm))
    assert result["state"]["cni_owner"]["kind"] == "helm"
    assert [f["id"] for f in result["findings"]] == ["cni_helm_drift"]
    assert "kube-system/cni" in result["findings"][0]["detail"]


def test_not_assessable_blocks_both_procedures():
    result = assessment.judge(facts(support={"supported": False, "minimum_platform": None,
                                             "reason": "bad", "error": "not an EKS platform version: 'x'"}))
    assert result["mode"] == "not_assessable"
    assert ids(result) == ["version_not_assessable"]
    assert not result["preflight"]["control_plane"]["allowed"]
    assert not result["preflight"]["legacy"]["allowed"]


def test_certificate_thresholds():
    legacy = [{"kind": "Deployment", "name": "vpc-resource-controller", "namespace": "kube-system",
               "flavour": None}]
    cert = {"days_left": 29, "not_after": "2027-01-01T00:00:00Z", "expired": False}
    result = assessment.judge(facts(legacy_objects=legacy, webhook_certificate=cert))
    assert "webhook_certificate_expiring" in ids(result)
    assert "webhook_certificate_expiring" not in ids(
        assessment.judge(facts(legacy_objects=legacy, webhook_certificate=cert), warning_days=29))
    # the legacy controller blocks the control-plane gate (the module enforces the same list);
    # migrate_to_control_plane removes it first and lets only this blocker through
    assert result["preflight"]["control_plane"]["blocker_ids"] == ["legacy_controller_present"]


def test_aws_node_env_is_read_from_the_listed_daemonsets():
    from ansible_collections.eksops.windows.plugins.module_utils import _workloads as workloads
    aws_node = {"kind": "DaemonSet", "metadata": {"name": "aws-node", "namespace": "kube-system"},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "init", "env": [{"name": "ENABLE_POD_ENI", "value": "false"}]},
                    {"name": "aws-node", "env": [
                        {"name": "ENABLE_POD_ENI", "value": "true"},
                        {"name": "FROM_FIELD", "valueFrom": {"fieldRef": {"fieldPath": "x"}}}]}]}}}}
    other = {"kind": "DaemonSet", "metadata": {"name": "aws-node", "namespace": "other"}}
    listed = [other, aws_node]
    found = workloads.find(listed, "DaemonSet", "kube-system", "aws-node")
    assert found is aws_node
    assert workloads.container_env(found, "aws-node") == {"ENABLE_POD_ENI": "true"}
    assert workloads.find(listed, "Deployment", "kube-system", "aws-node") is None


# --- issue 11, item 8: the inputs as the controller and vpc_webhook_cert read them --------------

WINDOWS_NODES = [node("l1"), node("l2"), node("w1", "windows", pods=9)]


@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True"])
def test_every_parse_bool_true_spelling_is_enabled(value):
    result = assessment.judge(facts(nodes=WINDOWS_NODES, policy_attached=True,
                                    configmap={"data": {"enable-windows-ipam": value}, "annotations": {}}))
    assert result["state"]["windows_support"] == "enabled"
    assert result["state"]["enable_windows_ipam"] == value
    assert ids(result) == []


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False"])
def test_every_parse_bool_false_spelling_is_disabled_without_a_finding(value):
    result = assessment.judge(facts(configmap={"data": {"enable-windows-ipam": value}, "annotations": {}}))
    assert result["state"]["windows_support"] == "disabled"
    assert ids(result) == []


@pytest.mark.parametrize("windows,severity", [(True, "error"), (False, "warning")])
def test_an_unparseable_ipam_value_is_a_finding_and_reads_as_off(windows, severity):
    result = assessment.judge(facts(nodes=WINDOWS_NODES if windows else [node("l1"), node("l2")],
                                    policy_attached=True,
                                    configmap={"data": {"enable-windows-ipam": "yes"}, "annotations": {}}))
    assert result["state"]["windows_support"] == "disabled"
    assert ids(result) == ["cni_setting_unparseable"]
    found = result["findings"][0]
    assert found["severity"] == severity
    assert 'enable-windows-ipam "yes"' in found["detail"] and "strconv.ParseBool" in found["detail"]
    assert "Windows IPAM is off" in found["detail"]
    assert "Run role enable" in found["remedy"]
    assert found["objects"] == ["ConfigMap/kube-system/amazon-vpc-cni"]


def test_an_unparseable_prefix_delegation_value_is_a_warning_and_reads_as_off():
    result = assessment.judge(facts(nodes=WINDOWS_NODES, policy_attached=True, configmap={"data": {
        "enable-windows-ipam": "true", "enable-windows-prefix-delegation": "on"}, "annotations": {}}))
    assert ids(result) == ["cni_setting_unparseable"]
    assert result["findings"][0]["severity"] == "warning"
    assert "Windows prefix delegation is off" in result["findings"][0]["detail"]
    assert "prefix_delegation" in result["findings"][0]["remedy"]


def test_the_add_on_and_a_differently_spelled_configmap_agree():
    addon = {"addonName": "vpc-cni", "addonVersion": "v1.18.3-eksbuild.2",
             "configurationValues": '{"enableWindowsIpam": "True"}'}
    result = assessment.judge(facts(nodes=WINDOWS_NODES, policy_attached=True, cni_addon=addon,
                                    configmap={"data": {"enable-windows-ipam": "TRUE"}, "annotations": {}}))
    assert result["state"]["cni_owner"]["agrees"] is True
    assert ids(result) == []


# The legacy webhook's Secret, read the way vpc_webhook_cert reads it (webhook_cert.describe).
LEGACY_WEBHOOK = [
    {"kind": "Deployment", "name": "vpc-admission-webhook", "namespace": "kube-system", "flavour": "eksctl"},
    {"kind": "MutatingWebhookConfiguration", "name": "vpc-admission-webhook-cfg", "namespace": None,
     "flavour": None},
]


def _material():
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from ansible_collections.eksops.windows.plugins.module_utils import _certificates as certificates

    key = certificates.new_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vpc-admission-webhook.kube-system.svc")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(5).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=200)).sign(key, hashes.SHA256()))
    other = certificates.private_key_pem(certificates.new_private_key())
    return (certificates.private_key_pem(key),
            cert.public_bytes(certificates.serialization.Encoding.PEM), other)


KEY_PEM, CERT_PEM, OTHER_KEY_PEM = _material()


def described(data):
    """webhook_cert.describe of a Secret with `data` ({key: bytes}), None for no Secret."""
    import base64

    from ansible_collections.eksops.windows.plugins.module_utils import _webhook_cert as webhook_cert

    secret = None if data is None else fakes.obj(
        "Secret", "vpc-admission-webhook-certs", "kube-system",
        data=dict((k, base64.b64encode(v).decode()) for k, v in data.items()))
    return webhook_cert.describe(secret, None)


@pytest.mark.parametrize("data,finding_id,words", [
    (None, "webhook_certificate_secret_missing", "Secret kube-system/vpc-admission-webhook-certs does not exist"),
    ({"cert.pem": b"garbage", "key.pem": KEY_PEM}, "webhook_certificate_unreadable", "cert.pem is not a PEM certificate"),
    ({"key.pem": KEY_PEM}, "webhook_certificate_unreadable", "the Secret has no cert.pem"),
    ({"cert.pem": CERT_PEM}, "webhook_certificate_key_missing", "key.pem is missing"),
    ({"cert.pem": CERT_PEM, "key.pem": OTHER_KEY_PEM}, "webhook_certificate_key_mismatch",
     "key.pem does not match cert.pem"),
    ({"cert.pem": CERT_PEM, "key.pem": b"not a key"}, "webhook_certificate_key_mismatch",
     "key.pem does not match cert.pem"),
])
def test_a_broken_webhook_secret_is_a_finding_with_a_remedy(data, finding_id, words):
    result = assessment.judge(facts(legacy_objects=LEGACY_WEBHOOK, webhook_certificate=described(data)))
    found = [f for f in result["findings"] if f["id"] == finding_id]
    assert len(found) == 1, ids(result)
    assert [i for i in ids(result) if i.startswith("webhook_certificate")] == [finding_id]
    assert found[0]["severity"] == "error"
    assert words in found[0]["detail"]
    assert "Deployment/kube-system/vpc-admission-webhook" in found[0]["detail"]
    assert "playbook renew_cert" in found[0]["remedy"]
    assert found[0]["objects"] == ["Secret/kube-system/vpc-admission-webhook-certs"]
    assert KEY_PEM.decode() not in repr(result) and OTHER_KEY_PEM.decode() not in repr(result)


def test_the_predicate_is_the_one_vpc_webhook_cert_renews_by():
    from ansible_collections.eksops.windows.plugins.module_utils import _certificates as certificates

    names = certificates.service_dns_names("vpc-admission-webhook", "kube-system")
    for data in (None, {"cert.pem": b"garbage"}, {"cert.pem": CERT_PEM},
                 {"cert.pem": CERT_PEM, "key.pem": OTHER_KEY_PEM}):
        facts_ = described(data)
        problem = certificates.secret_problem(facts_)
        assert problem is not None
        assert certificates.renewal_reason(facts_ if facts_["present"] else None, names, 30) == problem[1]
    assert certificates.secret_problem(described({"cert.pem": CERT_PEM, "key.pem": KEY_PEM})) is None


def test_a_good_secret_and_a_secret_without_webhook_objects_are_no_finding():
    good = described({"cert.pem": CERT_PEM, "key.pem": KEY_PEM})
    result = assessment.judge(facts(legacy_objects=LEGACY_WEBHOOK, webhook_certificate=good))
    assert not [i for i in ids(result) if i.startswith("webhook_certificate")]
    assert result["state"]["webhook_certificate"]["days_left"] in (199, 200)
    # only the controller's leftovers (no webhook Deployment, no webhook configuration): the
    # missing Secret serves nobody
    leftovers = [{"kind": "ClusterRole", "name": "vpc-resource-controller", "namespace": None, "flavour": None}]
    result = assessment.judge(facts(legacy_objects=leftovers, webhook_certificate=described(None)))
    assert not [i for i in ids(result) if i.startswith("webhook_certificate")]
    assert result["state"]["webhook_certificate"] is None
