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


def test_missing_cluster_role_is_named(lab):
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "no-role")
    assert rc != 0, raw  # the preflight gate refuses it first
    assert "the cluster IAM role does not exist" in task_results(
        parsed, "Refuse the cluster")["no-role"]["msg"]
    assert ipam(lab, "no-role") == {"enable-windows-ipam": "false"}
    # behind the gate, the module names the role itself
    rc, parsed, raw = lab.run_playbook("eksops.windows.enable", "-l", "no-role",
                                       "-e", "enable_preflight=false")
    assert rc != 0, raw
    msg = task_results(parsed, TASK)["no-role"]["msg"]
    assert "The cluster role arn:aws:iam::123456789012:role/no-role-cluster-role" in msg, msg
    assert "does not exist in IAM" in msg, msg
    assert ipam(lab, "no-role") == {"enable-windows-ipam": "false"}


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
