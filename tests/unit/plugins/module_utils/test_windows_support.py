"""The control-plane steps and their gate (module_utils/_windows_support.py, _gates.py) on a fake
API server and botocore Stubbers: what each writes, that check mode writes nothing, that a
second run writes nothing, and that no option but force goes past a blocker."""

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import (
    _reads as reads,
    _windows_support as windows_support,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import (
    AwsError,
    BlockedError,
    StepError,
)
from fakes import FakeApiServer, FakeClients, node, obj

ROLE = "c-role"
POLICY = "arn:aws:iam::aws:policy/AmazonEKSVPCResourceController"


def configmap(value="false", **extra):
    data = {"enable-windows-ipam": value}
    data.update(extra)
    return obj("ConfigMap", "amazon-vpc-cni", "kube-system", data=data)


def aws_node(sgp=False):
    env = [{"name": "ENABLE_POD_ENI", "value": "true" if sgp else "false"}]
    return obj("DaemonSet", "aws-node", "kube-system", spec={"template": {"spec": {
        "containers": [{"name": "aws-node", "env": env}]}}})


def cluster_objects(*extra, linux=2, windows=1, cm="false", sgp=False):
    objects = [node("lin-%d" % i) for i in range(linux)]
    objects += [node("win-%d" % i, "windows") for i in range(windows)]
    objects.append(aws_node(sgp))
    if cm is not None:
        objects.append(configmap(cm))
    return objects + list(extra)


def policies(clients, attached, times=1):
    found = [{"PolicyName": "AmazonEKSVPCResourceController", "PolicyArn": POLICY}] if attached else []
    for dummy in range(times):
        clients.stub("iam").add_response("list_attached_role_policies",
                                         {"AttachedPolicies": found, "IsTruncated": False},
                                         {"RoleName": ROLE})


def no_addon(clients):
    """DescribeAddon vpc-cni: not installed (the ConfigMap then has no owner but itself)."""
    clients.stub("eks").add_client_error("describe_addon", service_error_code="ResourceNotFoundException",
                                         http_status_code=404)


def converge(clients, check_mode=False, state="enabled", addon=no_addon, **kwargs):
    if addon:
        addon(clients)
    return windows_support.converge(reads.ClusterReads(clients), check_mode, state, **kwargs)


def kube_writes(server):
    return list(server.writes)


def test_enable_attaches_the_policy_and_patches_the_key_keeping_the_others():
    server = FakeApiServer(*cluster_objects(cm=None), configmap("false", other="kept"))
    clients = FakeClients(server)
    policies(clients, attached=False)
    clients.stub("iam").add_response("attach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": POLICY})
    changed, result = converge(clients)
    assert changed is True
    assert result["iam"]["action"] == "attached" and result["configmap"]["action"] == "patched"
    assert result["preflight"] == {"allowed": True, "forced": False, "blockers": [], "blocker_ids": []}
    assert kube_writes(server) == [("PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")]
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"] == {
        "enable-windows-ipam": "true", "other": "kept"}
    assert clients.aws_writes() == ["AttachRolePolicy"]


def test_enable_in_check_mode_writes_nothing_and_says_what_would_change():
    server = FakeApiServer(*cluster_objects())
    clients = FakeClients(server)
    policies(clients, attached=False)
    changed, result = converge(clients, check_mode=True)
    assert changed is True
    assert result["iam"]["action"] == "attached" and result["iam"]["attached"] is True
    assert result["configmap"] == {"existed": True, "before": "false", "after": "true", "action": "patched"}
    assert kube_writes(server) == []
    assert clients.aws_writes() == []


def test_enable_on_a_converged_cluster_writes_nothing():
    server = FakeApiServer(*cluster_objects(cm="true"))
    clients = FakeClients(server)
    policies(clients, attached=True)
    changed, result = converge(clients)
    assert changed is False
    assert result["iam"]["action"] == "none" and result["configmap"]["action"] == "none"
    assert kube_writes(server) == [] and clients.aws_writes() == []
    # the minimum: nodes, aws-node, the legacy controller, the ConfigMap; one IAM read
    assert [m for m, _p in server.requests] == ["GET"] * 4
    # and DescribeAddon: who owns the ConfigMap (here: no add-on)
    assert clients.answered == ["ListAttachedRolePolicies", "DescribeAddon"]


def test_enable_creates_a_missing_configmap_and_check_mode_does_not():
    for check_mode, writes in ((True, []), (False, [("POST", "/api/v1/namespaces/kube-system/configmaps")])):
        server = FakeApiServer(*cluster_objects(cm=None))
        clients = FakeClients(server)
        policies(clients, attached=True)
        changed, result = converge(clients, check_mode=check_mode)
        assert changed is True and result["configmap"]["action"] == "created"
        assert kube_writes(server) == writes


def test_disable_detaches_and_turns_the_key_off_check_mode_and_rerun_write_nothing():
    server = FakeApiServer(*cluster_objects(cm="true"))
    clients = FakeClients(server)
    policies(clients, attached=True, times=2)
    changed, result = converge(clients, check_mode=True, state="disabled")
    assert changed is True and result["iam"]["action"] == "detached"
    assert kube_writes(server) == [] and clients.aws_writes() == []
    clients.stub("iam").add_response("detach_role_policy", {}, {"RoleName": ROLE, "PolicyArn": POLICY})
    changed, result = converge(clients, state="disabled")
    assert changed is True and result["configmap"]["after"] == "false"
    assert clients.aws_writes() == ["DetachRolePolicy"]
    assert "preflight" not in result  # disabling has no gate
    policies(clients, attached=False)
    changed, _result = converge(clients, state="disabled")
    assert changed is False
    assert len(kube_writes(server)) == 1


def test_disable_keeps_the_policy_for_linux_nodes_with_security_groups_for_pods():
    server = FakeApiServer(*cluster_objects(cm="true", sgp=True))
    clients = FakeClients(server)
    policies(clients, attached=True)
    _changed, result = converge(clients, state="disabled")
    assert result["iam"]["action"] == "skipped"
    assert clients.aws_writes() == []


def test_manage_iam_false_reports_and_leaves_iam_alone():
    server = FakeApiServer(*cluster_objects())
    clients = FakeClients(server)
    policies(clients, attached=False)
    changed, result = converge(clients, manage_iam=False)
    assert result["iam"]["action"] == "not_managed" and result["iam"]["attached"] is False
    assert changed is True  # the ConfigMap changed
    assert clients.aws_writes() == []


@pytest.mark.parametrize("case,blocker", [
    ("ipv6", "ipv6_cluster"),
    ("no_linux", "no_linux_node"),
    ("role_missing", "cluster_role_missing"),
    ("below_table", "version_below_table"),
    ("legacy", "legacy_controller_present"),
    ("auto_only", "auto_or_hybrid_compute_only"),
    ("hybrid_only", "auto_or_hybrid_compute_only"),
])
def test_every_blocker_refuses_before_any_write_and_only_force_goes_past(case, blocker):
    def setup():
        overrides, objects = {}, cluster_objects()
        if case in ("auto_only", "hybrid_only"):
            compute = "auto" if case == "auto_only" else "hybrid"
            overrides["auto_mode" if compute == "auto" else "hybrid_nodes"] = True
            objects = [node("%s-%d" % (compute, i), labels={
                "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                "eks.amazonaws.com/compute-type": compute}) for i in range(2)]
            objects = cluster_objects(*objects, linux=0, windows=0)
        if case == "ipv6":
            overrides["ip_family"] = "ipv6"
        if case == "no_linux":
            objects = cluster_objects(linux=0)
        if case == "below_table":
            overrides.update(version="1.19", platform_version="eks.6")
        if case == "legacy":
            objects.append(obj("Deployment", "vpc-resource-controller", "kube-system"))
        server = FakeApiServer(*objects)
        clients = FakeClients(server, **overrides)
        if case == "role_missing":
            clients.stub("iam").add_client_error("list_attached_role_policies", "NoSuchEntity", "no role")
        else:
            policies(clients, attached=False)
        if case == "no_linux":
            clients.stub("eks").add_response("list_fargate_profiles", {"fargateProfileNames": []})
        return server, clients

    server, clients = setup()
    with pytest.raises(BlockedError) as refused:
        converge(clients)
    assert blocker in refused.value.details["preflight"]["blocker_ids"]
    assert "force=true" in refused.value.msg
    assert kube_writes(server) == [] and clients.aws_writes() == []
    # manage_iam=false or check mode do not skip it either
    server, clients = setup()
    with pytest.raises(BlockedError):
        converge(clients, manage_iam=False, check_mode=True)

    if case == "role_missing":
        return  # forcing a cluster whose role is gone still cannot attach to it
    server, clients = setup()
    clients.stub("iam").add_response("attach_role_policy", {}, None)
    _changed, result = converge(clients, force=True)
    assert result["preflight"]["forced"] is True and blocker in result["preflight"]["blocker_ids"]
    assert clients.warnings and "force=true" in clients.warnings[0]
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]["enable-windows-ipam"] == "true"


def test_a_fargate_profile_for_coredns_stands_in_for_linux_nodes():
    server = FakeApiServer(*cluster_objects(linux=0))
    clients = FakeClients(server)
    clients.stub("eks").add_response("list_fargate_profiles", {"fargateProfileNames": ["fp"]})
    clients.stub("eks").add_response("describe_fargate_profile", {"fargateProfile": {
        "fargateProfileName": "fp", "status": "ACTIVE",
        "selectors": [{"namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}}]}})
    policies(clients, attached=False)
    clients.stub("iam").add_response("attach_role_policy", {}, None)
    changed, result = converge(clients)
    assert changed and result["preflight"]["allowed"] is True


def test_unreadable_fargate_profiles_block_rather_than_guess():
    server = FakeApiServer(*cluster_objects(linux=0))
    clients = FakeClients(server)
    clients.stub("eks").add_client_error("list_fargate_profiles", "AccessDeniedException", "no")
    policies(clients, attached=False)
    with pytest.raises(BlockedError, match="could not be read"):
        converge(clients)


def test_a_configmap_failure_after_the_policy_was_attached_reports_the_change():
    server = FakeApiServer(*cluster_objects())
    server.fail("PATCH", "configmaps/amazon-vpc-cni", 403, times=1)
    clients = FakeClients(server)
    policies(clients, attached=False)
    clients.stub("iam").add_response("attach_role_policy", {}, None)
    with pytest.raises(StepError) as failed:
        converge(clients)
    assert failed.value.details["changed"] is True
    assert failed.value.details["iam"]["action"] == "attached"
    assert "forbidden (403)" in failed.value.msg and "already attached" in failed.value.msg


def test_iam_that_cannot_be_read_fails_with_the_action_when_iam_is_managed():
    server = FakeApiServer(*cluster_objects())
    clients = FakeClients(server)
    clients.stub("iam").add_client_error("list_attached_role_policies", "AccessDenied", "no")
    with pytest.raises(AwsError, match="iam:ListAttachedRolePolicies"):
        converge(clients)
    assert kube_writes(server) == []


def test_kubernetes_throttling_and_server_errors_are_retried_with_retry_after():
    server = FakeApiServer(*cluster_objects())
    server.fail("GET", "/api/v1/nodes", 429, times=2, headers={"Retry-After": "3"})
    server.fail("PATCH", "configmaps/amazon-vpc-cni", 503, times=1)
    clients = FakeClients(server)
    slept = []
    clients.kube.sleep = slept.append
    policies(clients, attached=True)
    changed, _result = converge(clients)
    assert changed is True
    assert slept[:2] == [3.0, 3.0] and len(slept) == 3


# --- issue 11, item 8: "already on?" is what the controller reads (strconv.ParseBool) ----------

@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "True"])
def test_enable_takes_every_parse_bool_true_spelling_as_on_and_writes_nothing(value):
    server = FakeApiServer(*cluster_objects(cm=value))
    clients = FakeClients(server)
    policies(clients, attached=True)
    changed, result = converge(clients)
    assert changed is False and result["configmap"]["action"] == "none"
    assert result["configmap"]["before"] == value == result["configmap"]["after"]
    assert kube_writes(server) == []


@pytest.mark.parametrize("value", ["yes", "on", " true", ""])
def test_enable_takes_an_unparseable_value_as_off_and_writes_true(value):
    for check_mode in (True, False):
        server = FakeApiServer(*cluster_objects(cm=value))
        clients = FakeClients(server)
        policies(clients, attached=True)
        changed, result = converge(clients, check_mode=check_mode)
        assert changed is True
        assert result["configmap"] == {"existed": True, "before": value, "after": "true", "action": "patched"}
        assert kube_writes(server) == ([] if check_mode else [
            ("PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")])
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]["enable-windows-ipam"] == "true"
    policies(clients, attached=True)  # the second run: nothing left to write
    changed, _result = converge(clients)
    assert changed is False and len(kube_writes(server)) == 1


def test_disable_takes_false_spellings_as_off_and_rewrites_an_unparseable_value():
    server = FakeApiServer(*cluster_objects(cm="F"))
    clients = FakeClients(server)
    policies(clients, attached=False)
    changed, _result = converge(clients, state="disabled")
    assert changed is False and kube_writes(server) == []
    server = FakeApiServer(*cluster_objects(cm="off"))
    clients = FakeClients(server)
    policies(clients, attached=False)
    changed, result = converge(clients, state="disabled")
    assert changed is True and result["configmap"]["after"] == "false"


def test_an_assessment_failure_after_the_writes_reports_changed_and_the_iam_part():
    server = FakeApiServer(*cluster_objects())
    clients = FakeClients(server)
    policies(clients, attached=False)
    clients.stub("iam").add_response("attach_role_policy", {}, None)
    server.fail("GET", "/api/v1/pods", 403, times=5)  # the assessment reads the workloads
    with pytest.raises(StepError) as failed:
        converge(clients, assess=True)
    assert failed.value.details["changed"] is True
    assert failed.value.details["iam"]["action"] == "attached"
    assert failed.value.details["configmap"]["action"] == "patched"
    assert "had already written (policy attached, ConfigMap patched)" in failed.value.msg
    assert "EKS cluster 'c'" in failed.value.msg
    assert ("PATCH", "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni") in server.writes


def test_an_assessment_failure_with_nothing_written_is_the_failure_itself():
    server = FakeApiServer(*cluster_objects(cm="true"))
    clients = FakeClients(server)
    policies(clients, attached=True)
    server.fail("GET", "/api/v1/pods", 403, times=5)
    with pytest.raises(Exception) as failed:
        converge(clients, assess=True)
    assert not isinstance(failed.value, StepError) and "forbidden (403)" in failed.value.msg
    assert server.writes == []
