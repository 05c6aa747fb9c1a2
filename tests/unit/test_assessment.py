"""The assessment's rules (module_utils/assessment.py and the data in procedure.py), on facts
built by hand: the edges the lab scenario does not reach."""

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import assessment, procedure, reads

import fakes


def node(name, os_name="linux", instance_type="m5.large", pods=29, **extra):
    """A node as reads.node_summary makes it from a Node object."""
    return dict(reads.node_summary(fakes.node(name, os_name, instance_type, pods)), **extra)


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


def test_max_pods_is_addresses_per_eni_minus_one():
    assert procedure.windows_max_pods(10) == 9  # m5.large
    assert procedure.windows_max_pods(15) == 14  # c5.xlarge


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
                          "prefix_delegation": "warning"}
    mixed = facts(aws_node_env=env, nodes=[node("l1"), node("l2"), node("w", "windows", pods=9)])
    with_windows = {f["id"]: f["severity"] for f in assessment.judge(mixed)["findings"]}
    assert with_windows == {"security_groups_for_pods": "warning", "custom_networking": "error",
                            "prefix_delegation": "error"}


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


def test_loadbalancer_limit_is_more_than_64_windows_pods():
    service = {"kind": "Service", "metadata": {"name": "web", "namespace": "ns"},
               "spec": {"type": "LoadBalancer", "selector": {"app": "web"}}}
    windows = {"kubernetes.io/os": "windows"}
    pods = [pod("p%d" % i, labels={"app": "web"}, selector=windows) for i in range(64)]
    assert ids(assessment.judge(facts(pods=pods, services=[service]))) == []
    # a finished pod does not count; a pod running on a Windows node counts without a selector
    nodes = [node("l1"), node("l2"), node("w1", "windows", pods=9)]
    more = pods + [pod("done", labels={"app": "web"}, selector=windows, phase="Succeeded")]
    assert "loadbalancer_windows_pods_over_64" not in ids(
        assessment.judge(facts(nodes=nodes, pods=more, services=[service])))
    more.append(pod("on-node", labels={"app": "web"}, node_name="w1"))
    found = assessment.judge(facts(nodes=nodes, pods=more, services=[service]))
    assert "loadbalancer_windows_pods_over_64" in ids(found)
    # a ClusterIP Service is not limited
    service["spec"]["type"] = "ClusterIP"
    assert "loadbalancer_windows_pods_over_64" not in ids(
        assessment.judge(facts(nodes=nodes, pods=more, services=[service])))


def test_bare_windows_pod_with_host_network_is_flagged_owned_ones_through_their_workload():
    windows = {"kubernetes.io/os": "windows"}
    bare = pod("bare", selector=windows, host_network=True, owned=False)
    owned = pod("owned", selector=windows, host_network=True, owned=True)
    found = assessment.judge(facts(pods=[bare, owned]))["findings"]
    assert [f["objects"] for f in found if f["id"] == "windows_host_network"] == [["Pod/ns/bare"]]


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
    found = assessment.judge(facts(nodes=nodes, eni_ipv4={"m5.large": 10}))
    assert ids(found) == ["max_pods_exceeds_eni"]
    assert "at most 9" in found["findings"][0]["detail"]


def test_drift_is_informational_without_windows():
    addon = {"addonName": "vpc-cni", "addonVersion": "v1", "configurationValues": ""}
    quiet = assessment.judge(facts(cni_addon=addon))["findings"]
    assert [(f["id"], f["severity"]) for f in quiet] == [("cni_addon_drift", "info")]
    enabled = assessment.judge(facts(cni_addon=addon, policy_attached=True,
                                     configmap={"data": {"enable-windows-ipam": "true"}}))
    assert [(f["id"], f["severity"]) for f in enabled["findings"]] == [("cni_addon_drift", "warning")]


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
    from ansible_collections.eksops.windows.plugins.module_utils import workloads
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
