"""Control-plane Windows support (issue 3) against the lab, in the order an operator works:
check mode first, refusals, enable the fleet, re-run, disable. State is read back through the
Kubernetes API and moto, and writes are counted in the API servers' audit logs."""

import json

import pytest

from eksopslab import kube
from eksopslab.testing import running_lab, task_results

ELIGIBLE = ("ok-117-eks10", "ok-119-eks7", "ok-121-foreign", "current-no-cm", "china",
            "fargate-sgp", "linux-sgp", "already")
REFUSED = ("old-117-eks9", "legacy")
ALL = ELIGIBLE + REFUSED
TASK = "Enable control-plane Windows support"


@pytest.fixture(scope="module", name="lab")
def control_plane_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("cp")), "control_plane.yml") as handle:
        yield handle


def not_the_lease(writes):
    """Writes other than the procedure lock's (the Lease kube-system/eksops-windows)."""
    return [w for w in writes if "/apis/coordination.k8s.io/" not in w[1]]


def configmap(lab, name):
    cluster_cms = lab.get(name, "/api/v1/namespaces/kube-system/configmaps")["items"]
    for cm in cluster_cms:
        if cm["metadata"]["name"] == "amazon-vpc-cni":
            return cm.get("data") or {}
    return None


def policies(lab, name):
    cluster = lab.cluster(name)
    iam = lab.boto3_client("iam", cluster["region"])
    role = cluster["role_arn"].rsplit("/", 1)[1]
    return sorted(p["PolicyArn"] for p in
                  iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"])


def snapshot(lab, names=ALL):
    return {n: (configmap(lab, n), policies(lab, n)) for n in names}


def vpc_policy(lab, name):
    partition = "aws-cn" if lab.cluster(name)["region"].startswith("cn-") else "aws"
    return f"arn:{partition}:iam::aws:policy/AmazonEKSVPCResourceController"


def enable(lab, *args, hosts=ELIGIBLE, **kwargs):
    return lab.run_playbook("eksops.windows.enable", "-l", ",".join(hosts), *args, **kwargs)


def test_check_mode_writes_nothing_and_says_what_would_change(lab):
    before, writes_before = snapshot(lab), lab.writes(ALL)
    aws_calls_before, aws_writes_before = len(lab.aws_calls()), lab.aws_writes()
    rc, parsed, raw = enable(lab, "--diff", check=True)
    assert rc == 0, raw
    assert snapshot(lab) == before
    assert lab.writes(ALL) == writes_before
    assert ("eks", "DescribeCluster", 200) in lab.aws_calls()[aws_calls_before:]  # the log sees the run
    assert lab.aws_writes() == aws_writes_before
    results = task_results(parsed, TASK)
    assert results["ok-121-foreign"]["changed"] is True
    assert results["ok-121-foreign"]["configmap"] == {
        "existed": True, "before": "false", "after": "true", "action": "patched"}
    assert results["ok-121-foreign"]["iam"]["action"] == "attached"
    assert results["current-no-cm"]["configmap"]["action"] == "created"
    assert results["already"]["changed"] is False
    diff = results["ok-119-eks7"]["diff"]
    assert diff["before"] == {"policy_attached": False, "enable-windows-ipam": "false"}
    assert diff["after"] == {"policy_attached": True, "enable-windows-ipam": "true"}


def test_below_the_version_table_is_refused_with_the_minimum(lab):
    before = snapshot(lab, ["old-117-eks9"])
    rc, parsed, _raw = enable(lab, hosts=["old-117-eks9"])
    assert rc != 0
    msg = task_results(parsed, TASK)["old-117-eks9"]["msg"]
    for words in ("Kubernetes 1.17", "platform eks.9", "minimum platform version eks.10",
                  "legacy (data-plane) support"):
        assert words in msg, msg
    assert snapshot(lab, ["old-117-eks9"]) == before


def test_legacy_controller_is_refused_with_the_objects_found(lab):
    before = snapshot(lab, ["legacy"])
    rc, parsed, _raw = enable(lab, hosts=["legacy"])
    assert rc != 0
    result = task_results(parsed, TASK)["legacy"]
    assert "Deployment kube-system/vpc-resource-controller" in result["msg"]
    assert "Deployment kube-system/vpc-admission-webhook-deployment" in result["msg"]
    assert "Secret kube-system/vpc-admission-webhook-certs" in result["msg"]
    flavours = {o["name"]: o["flavour"] for o in result["legacy_objects"]}
    assert flavours["vpc-admission-webhook-svc"] == "script"
    assert "vpc-admission-webhook" not in flavours  # no eksctl objects on this cluster
    assert snapshot(lab, ["legacy"]) == before


def test_enable_converges_the_fleet(lab):
    rc, parsed, raw = enable(lab)
    assert rc == 0, raw
    for name in ELIGIBLE:
        data = configmap(lab, name)
        assert data["enable-windows-ipam"] == "true", name
        attached = vpc_policy(lab, name) in policies(lab, name)
        assert attached is (name != "fargate-sgp"), name
    assert configmap(lab, "ok-121-foreign") == {
        "enable-windows-ipam": "true", "warm-ip-target": "5", "minimum-ip-target": "3"}
    assert configmap(lab, "current-no-cm") == {"enable-windows-ipam": "true"}
    assert "arn:aws-cn:iam::aws:policy/AmazonEKSVPCResourceController" in policies(lab, "china")
    results = task_results(parsed, TASK)
    assert results["fargate-sgp"]["iam"]["action"] == "skipped"
    assert results["already"]["changed"] is False
    stats = parsed["global_custom_stats"]["eksops_windows_enable"]
    assert set(stats) == set(ELIGIBLE)
    assert stats["china"]["policy"] == "attached"


def test_second_run_changes_nothing_and_writes_nothing(lab):
    writes_before = lab.writes(ALL)
    rc, parsed, raw = enable(lab)
    assert rc == 0, raw
    assert all(r["changed"] is False for r in task_results(parsed, TASK).values())
    assert lab.writes(ALL) == writes_before
    assert all(s["changed"] == 0 for s in parsed["stats"].values())


def test_enable_request_count_per_cluster(lab):
    """What one no-op enable costs on one cluster, gate included, in its one module process:
    read the Lease kube-system/eksops-windows (docs/concurrency.md; taken only by a run that
    writes), list nodes, read the legacy Deployment (404), read the ConfigMap and aws-node, and
    DescribeCluster, ListAttachedRolePolicies and DescribeAddon (who owns the ConfigMap: here
    nobody, a 404); no write anywhere. The minimum: each is a
    fact the gate or a step needs. tests/perf/bench_requests.py reports the full counts."""
    rc, _parsed, raw = enable(lab, hosts=["ok-119-eks7"])  # converged, whatever ran before
    assert rc == 0, raw
    before, aws_before = len(lab.requests("ok-119-eks7")), len(lab.aws_calls())
    aws_writes_before = lab.aws_writes()
    rc, _parsed, raw = enable(lab, hosts=["ok-119-eks7"])
    assert rc == 0, raw
    aws_made = [(service, action) for service, action, _status in lab.aws_calls()[aws_before:]]
    assert lab.aws_writes() == aws_writes_before
    assert aws_made == [("eks", "DescribeCluster"), ("iam", "ListAttachedRolePolicies"),
                        ("eks", "DescribeAddon")]
    made = [(verb, uri.split("?")[0]) for verb, uri, _status in lab.requests("ok-119-eks7")[before:]]
    assert made == [
        ("get", "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/eksops-windows"),
        ("list", "/api/v1/nodes"),
        ("get", "/apis/apps/v1/namespaces/kube-system/deployments/vpc-resource-controller"),
        ("get", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni"),
        ("get", "/apis/apps/v1/namespaces/kube-system/daemonsets/aws-node"),
    ]


def test_the_controller_and_a_module_process_give_the_same_result(lab, tmp_path):
    """Local hosts run the module in Ansible's worker process (plugin_utils/in_controller.py);
    eksops_windows_in_controller=false runs it as a module process. Both give the same result,
    for a converged cluster and for a refused one, and write nothing. Which way ran shows in
    the AnsiballZ payloads ANSIBLE_KEEP_REMOTE_FILES keeps: none in the controller."""
    hosts = ["ok-119-eks7", "legacy"]
    writes_before = lab.writes(ALL)
    results, payloads = {}, {}
    for switch in ("true", "false"):
        remote_tmp = tmp_path / switch
        _rc, parsed, raw = enable(lab, "-e", "eksops_windows_in_controller=" + switch, hosts=hosts,
                                  env={"ANSIBLE_KEEP_REMOTE_FILES": "1",
                                       "ANSIBLE_REMOTE_TMP": str(remote_tmp)})
        results[switch] = task_results(parsed, TASK)
        payloads[switch] = sorted(p.name for p in remote_tmp.rglob("AnsiballZ_*"))
    assert payloads["true"] == []
    assert payloads["false"] == ["AnsiballZ_eks_windows_support.py"] * 2
    assert set(results["true"]) == set(hosts), raw
    assert results["true"] == results["false"]
    assert results["true"]["ok-119-eks7"]["changed"] is False
    assert results["true"]["legacy"]["failed"] is True
    assert "legacy_controller_present" in str(results["true"]["legacy"])
    assert lab.writes(ALL) == writes_before


def test_manage_iam_false_leaves_iam_alone_and_reports(lab):
    before, aws_before, aws_writes_before = policies(lab, "china"), len(lab.aws_calls()), lab.aws_writes()
    rc, parsed, raw = lab.run_playbook("eksops.windows.disable", "-l", "china",
                                       "-e", "disable_manage_iam=false")
    assert rc == 0, raw
    assert ("iam", "ListAttachedRolePolicies", 200) in lab.aws_calls()[aws_before:]  # reported
    assert lab.aws_writes() == aws_writes_before  # and never changed
    result = task_results(parsed, "Disable control-plane Windows support")["china"]
    assert result["iam"]["action"] == "not_managed"
    assert result["iam"]["attached"] is True
    assert policies(lab, "china") == before
    assert configmap(lab, "china")["enable-windows-ipam"] == "false"


def test_disable_keeps_the_policy_where_security_groups_for_pods_need_it(lab):
    hosts = ["ok-119-eks7", "linux-sgp", "fargate-sgp", "ok-121-foreign"]
    rc, parsed, raw = lab.run_playbook("eksops.windows.disable", "-l", ",".join(hosts))
    assert rc == 0, raw
    for name in hosts:
        assert configmap(lab, name)["enable-windows-ipam"] == "false", name
    assert vpc_policy(lab, "linux-sgp") in policies(lab, "linux-sgp")
    assert vpc_policy(lab, "ok-119-eks7") not in policies(lab, "ok-119-eks7")
    assert configmap(lab, "ok-121-foreign")["warm-ip-target"] == "5"
    results = task_results(parsed, "Disable control-plane Windows support")
    assert results["linux-sgp"]["iam"]["action"] == "skipped"
    assert results["ok-119-eks7"]["iam"]["action"] == "detached"
    writes_before, aws_writes_before = lab.writes(hosts), lab.aws_writes()
    rc, parsed, raw = lab.run_playbook("eksops.windows.disable", "-l", ",".join(hosts))
    assert rc == 0, raw
    assert lab.writes(hosts) == writes_before
    assert lab.aws_writes() == aws_writes_before
    assert all(s["changed"] == 0 for s in parsed["stats"].values())


# --- Windows IPAM written to the ConfigMap's owner (issue 10) -------------------------------

def addon_of(lab, name):
    eks = lab.boto3_client("eks", lab.cluster(name)["region"])
    return eks.describe_addon(clusterName=name, addonName="vpc-cni")["addon"]


def lab_addon_update(lab, name, resolve="OVERWRITE"):
    """What the next add-on update does (a version bump, a console click): UpdateAddon with the
    add-on's own configuration values, as the lab's admin, outside the collection."""
    eks = lab.boto3_client("eks", lab.cluster(name)["region"])
    update = eks.update_addon(clusterName=name, addonName="vpc-cni", resolveConflicts=resolve)["update"]
    return eks.describe_update(name=name, updateId=update["id"], addonName="vpc-cni")["update"]


def hand_patch(lab, name, value):
    """A hand edit of enable-windows-ipam, the way the seed's procedure (kubectl) makes it."""
    api = lab.admin_api(name)
    try:
        kube.request(api, "PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni",
                     {"data": {"enable-windows-ipam": value}}, content_type="application/merge-patch+json")
    finally:
        api.close()


def test_a_hand_edit_under_the_addon_is_reverted_by_its_next_update(lab):
    """The problem users report: the ConfigMap patched by hand, the add-on's next update puts
    enable-windows-ipam back to "false" (OVERWRITE) or fails (NONE)."""
    hand_patch(lab, "addon-today", "true")
    failed = lab_addon_update(lab, "addon-today", resolve="NONE")
    assert failed["status"] == "Failed"
    assert failed["errors"][0]["errorCode"] == "ConfigurationConflict"
    assert ".data.enable-windows-ipam" in failed["errors"][0]["errorMessage"]
    assert lab_addon_update(lab, "addon-today")["status"] == "Successful"
    assert configmap(lab, "addon-today")["enable-windows-ipam"] == "false"


def test_enable_on_an_addon_cluster_writes_the_addons_configuration_values(lab):
    name = "addon-today"
    writes_before, aws_writes_before = lab.writes(name), len(lab.aws_writes())
    rc, parsed, raw = enable(lab, hosts=[name], check=True)
    assert rc == 0, raw
    preview = task_results(parsed, TASK)[name]
    assert preview["written_to"] == "addon" and preview["addon"]["update_id"] is None
    assert len(lab.aws_writes()) == aws_writes_before and lab.writes(name) == writes_before

    rc, parsed, raw = enable(lab, hosts=[name])
    assert rc == 0, raw
    result = task_results(parsed, TASK)[name]
    assert result["owner"]["kind"] == "addon" and result["written_to"] == "addon"
    assert result["addon"]["status"] == "Successful"
    assert result["configmap"]["after"] == "true"
    assert json.loads(addon_of(lab, name)["configurationValues"]) == {
        "enableWindowsIpam": "true", "env": {"WARM_IP_TARGET": "5"}}  # every other key kept
    assert configmap(lab, name)["enable-windows-ipam"] == "true"
    # the collection wrote nothing to the ConfigMap itself (its Lease only): the add-on did
    assert not_the_lease(lab.writes(name)) == not_the_lease(writes_before)
    assert [c[1] for c in lab.aws_writes()[aws_writes_before:]] == ["AttachRolePolicy", "UpdateAddon"]

    # the add-on's next update keeps it now, and a second run writes nothing
    assert lab_addon_update(lab, name)["status"] == "Successful"
    assert configmap(lab, name)["enable-windows-ipam"] == "true"
    aws_writes_before, writes_before = len(lab.aws_writes()), lab.writes(name)
    rc, parsed, raw = enable(lab, hosts=[name])
    assert rc == 0, raw
    assert task_results(parsed, TASK)[name]["changed"] is False
    # a no-op run writes nothing at all, not even its Lease
    assert len(lab.aws_writes()) == aws_writes_before and lab.writes(name) == writes_before


def test_an_addon_version_without_the_key_is_refused_and_nothing_changes(lab):
    name = "addon-old"
    before = snapshot(lab, [name])
    aws_writes_before = len(lab.aws_writes())
    rc, parsed, raw = enable(lab, hosts=[name])
    assert rc != 0
    assert "does not accept enableWindowsIpam" in raw and "v1.10.1-eksbuild.1" in raw
    assert snapshot(lab, [name]) == before and len(lab.aws_writes()) == aws_writes_before


def test_a_helm_owned_configmap_is_refused_then_patched_when_allowed(lab):
    name = "helm-owned"
    before = snapshot(lab, [name])
    rc, _parsed, raw = enable(lab, hosts=[name])
    assert rc != 0
    assert "belongs to Helm release kube-system/aws-vpc-cni" in raw and "enableWindowsIpam=true" in raw
    assert snapshot(lab, [name]) == before  # refused before the policy step too
    rc, parsed, raw = enable(lab, "-e", "enable_patch_helm_owned=true", hosts=[name])
    assert rc == 0, raw
    result = task_results(parsed, TASK)[name]
    assert result["owner"] == {"kind": "helm", "release": "aws-vpc-cni", "namespace": "kube-system"}
    assert result["written_to"] == "configmap"
    assert any("next helm upgrade reverts this" in w for w in result.get("warnings", [])), result
    assert configmap(lab, name)["enable-windows-ipam"] == "true"


# --- Windows prefix delegation (issue 10) -----------------------------------------------------

PD_TASK = "Set Windows prefix delegation"
PD_KEY = "enable-windows-prefix-delegation"


def prefix_delegation(lab, *args, hosts, **kwargs):
    return lab.run_playbook("eksops.windows.prefix_delegation", "-l", ",".join(hosts), *args, **kwargs)


def test_prefix_delegation_on_a_xen_windows_node_is_refused_naming_it_and_nothing_changes(lab):
    name = "pd-xen"
    before, values_before = configmap(lab, name), addon_of(lab, name).get("configurationValues")
    writes_before, aws_writes_before = lab.writes(name), lab.aws_writes()
    rc, parsed, raw = prefix_delegation(lab, hosts=[name])
    assert rc != 0, raw
    result = task_results(parsed, PD_TASK)[name]
    assert result["failed"] is True
    assert result["preflight"]["blocker_ids"] == ["windows_prefix_delegation_not_nitro"]
    assert "n-pdx-w (m4.large, hypervisor xen)" in result["msg"]
    assert "n-pdx-1" not in result["msg"]  # Linux nodes are no concern
    assert configmap(lab, name) == before and PD_KEY not in before
    assert addon_of(lab, name).get("configurationValues") == values_before
    assert lab.writes(name) == writes_before and lab.aws_writes() == aws_writes_before


def test_prefix_delegation_converges_a_nitro_cluster_through_the_addon(lab):
    name = "pd-nitro"
    writes_before, aws_writes_before = lab.writes(name), len(lab.aws_writes())

    # check mode first: says what would change, writes nothing
    rc, parsed, raw = prefix_delegation(lab, "--diff", hosts=[name], check=True)
    assert rc == 0, raw
    preview = task_results(parsed, PD_TASK)[name]
    assert preview["changed"] is True and preview["written_to"] == "addon"
    assert preview["addon"]["update_id"] is None
    assert preview["diff"]["before"] == {PD_KEY: None,
                                         "addon_configuration_values": '{"enableWindowsIpam": "true"}'}
    assert preview["diff"]["after"] == {
        PD_KEY: "true",
        "addon_configuration_values": '{"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true"}'}
    # m5.large, 10 IPv4 per interface, kubelet max-pods 110: 9 pods, then min((10 - 1) x 16, 110)
    assert [(m["node"], m["before"], m["after"]) for m in preview["max_pods"]] == [
        ("n-pdn-w", {"mode": "secondary_ip", "max_pods": 9}, {"mode": "prefix_delegation", "max_pods": 110})]
    assert lab.writes(name) == writes_before and len(lab.aws_writes()) == aws_writes_before
    assert PD_KEY not in configmap(lab, name)

    rc, parsed, raw = prefix_delegation(lab, hosts=[name])
    assert rc == 0, raw
    result = task_results(parsed, PD_TASK)[name]
    assert result["owner"]["kind"] == "addon" and result["written_to"] == "addon"
    assert result["addon"]["status"] == "Successful"
    assert result["preflight"] == {"allowed": True, "forced": False, "blockers": [], "blocker_ids": []}
    assert json.loads(addon_of(lab, name)["configurationValues"]) == {
        "enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true"}
    assert configmap(lab, name)[PD_KEY] == "true"
    assert configmap(lab, name)["enable-windows-ipam"] == "true"
    # the add-on wrote the ConfigMap, not the collection (which wrote its Lease only)
    assert not_the_lease(lab.writes(name)) == not_the_lease(writes_before)
    assert [c[1] for c in lab.aws_writes()[aws_writes_before:]] == ["UpdateAddon"]
    stats = parsed["global_custom_stats"]["eksops_windows_prefix_delegation"][name]
    assert stats["cni_owner"] == "addon" and stats["settings"] == {PD_KEY: "true"}

    # a second run writes nothing, not even its Lease
    aws_writes_before, writes_before = len(lab.aws_writes()), lab.writes(name)
    rc, parsed, raw = prefix_delegation(lab, hosts=[name])
    assert rc == 0, raw
    assert task_results(parsed, PD_TASK)[name]["changed"] is False
    assert all(s["changed"] == 0 for s in parsed["stats"].values())
    assert len(lab.aws_writes()) == aws_writes_before and lab.writes(name) == writes_before


def test_prefix_delegation_sets_a_target_typed_as_the_addons_schema_says(lab):
    name = "pd-nitro"
    rc, _parsed, raw = prefix_delegation(lab, hosts=[name])  # converged, whatever ran before
    assert rc == 0, raw
    rc, parsed, raw = prefix_delegation(lab, "-e", "prefix_delegation_warm_prefix_target=1", hosts=[name])
    assert rc == 0, raw
    result = task_results(parsed, PD_TASK)[name]
    assert result["configmap"]["after"] == {PD_KEY: "true", "windows-warm-prefix-target": "1"}
    # the lab's schema says integer for the targets
    assert json.loads(addon_of(lab, name)["configurationValues"])["warmWindowsPrefixTarget"] == 1
    assert configmap(lab, name)["windows-warm-prefix-target"] == "1"
    aws_writes_before = len(lab.aws_writes())
    rc, parsed, raw = prefix_delegation(lab, "-e", "prefix_delegation_warm_prefix_target=1", hosts=[name])
    assert rc == 0, raw
    assert task_results(parsed, PD_TASK)[name]["changed"] is False
    assert len(lab.aws_writes()) == aws_writes_before
