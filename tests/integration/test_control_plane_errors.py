"""Errors of eks_windows_support say what is wrong and what to do, and nothing is written."""

import pytest

from eksopslab.testing import running_lab, task_results

TASK = "Enable control-plane Windows support"


@pytest.fixture(scope="module", name="lab")
def errors_lab(tmp_path_factory):
    with running_lab(str(tmp_path_factory.mktemp("errors")), "errors.yml") as handle:
        yield handle


def ipam(lab, name):
    return lab.get(name, "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni")["data"]


BLOCKED = {"no-role": "cluster_role_missing", "ipv6": "ipv6_cluster", "no-linux": "no_linux_node"}


@pytest.mark.parametrize("options", [
    (),
    # what used to skip the gate (enable_preflight=false is gone: it is ignored now), and
    # every other option: none of them goes past a blocker
    ("-e", "enable_preflight=false", "-e", "enable_manage_iam=false", "-e", "enable_assess=true"),
])
def test_a_blocked_cluster_is_never_enabled_whatever_the_options(lab, options):
    hosts = sorted(BLOCKED)
    writes_before, aws_writes_before = lab.writes(hosts), lab.aws_writes()
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", ",".join(hosts), *options)
    assert rc != 0, raw
    results = task_results(parsed, TASK)
    for name, blocker in BLOCKED.items():
        assert results[name].get("failed") is True, results[name]
        assert blocker in results[name]["preflight"]["blocker_ids"], results[name]
        assert "force=true" in results[name]["msg"]
        assert ipam(lab, name) == {"enable-windows-ipam": "false"}, name
    assert lab.writes(hosts) == writes_before
    assert lab.aws_writes() == aws_writes_before


def test_missing_cluster_role_is_named(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "no-role")
    assert rc != 0, raw  # the module's gate refuses it before any write
    msg = task_results(parsed, TASK)["no-role"]["msg"]
    assert "the cluster IAM role arn:aws:iam::123456789012:role/no-role-cluster-role does not " \
           "exist" in msg, msg
    assert ipam(lab, "no-role") == {"enable-windows-ipam": "false"}
    # forced past the gate, the policy step still names the role it cannot attach to
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "no-role",
                                       "-e", "enable_force=true")
    assert rc != 0, raw
    msg = task_results(parsed, TASK)["no-role"]["msg"]
    assert "The cluster role arn:aws:iam::123456789012:role/no-role-cluster-role" in msg, msg
    assert "does not exist in IAM" in msg, msg
    assert ipam(lab, "no-role") == {"enable-windows-ipam": "false"}


def test_force_is_the_only_way_past_a_blocker(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "ipv6",
                                       "-e", "enable_force=true", check=True)
    assert rc == 0, raw
    result = task_results(parsed, TASK)["ipv6"]
    assert result["preflight"]["forced"] is True
    assert result["preflight"]["blocker_ids"] == ["ipv6_cluster"]
    assert "FORCED past" in task_results(parsed, "Print the cluster's summary")["ipv6"]["msg"]
    assert parsed["global_custom_stats"]["eksops_windows_enable"]["ipv6"]["forced"] is True


def test_access_denied_names_the_action_and_writes_nothing(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "locked",
                                       env=lab.aws_env("no-attach"))
    assert rc != 0, raw
    result = task_results(parsed, TASK)["locked"]
    assert "(iam:AttachRolePolicy)" in result["msg"], result["msg"]
    assert "AccessDenied" in result["msg"] or result.get("error", {}).get("code") == \
        "AccessDenied", result
    # the policy step comes before the ConfigMap: a refused attach leaves the cluster as it was
    assert ipam(lab, "locked") == {"enable-windows-ipam": "false"}


def test_the_admin_passes_where_the_limited_user_did_not(lab):
    rc, _parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "locked")
    assert rc == 0, raw
    assert ipam(lab, "locked") == {"enable-windows-ipam": "true"}
