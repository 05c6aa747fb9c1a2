"""Module eks_windows_doctor: its options are checked before anything is read (a bad allow list,
state=fixed without one or without the identity check, ami_warning_days out of range), it hands
the options to the doctor, a fix only with state=fixed (an audit asks the fix in check mode what
it would do), the diff only in diff mode, and says the outcome in one sentence."""

import json

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.eksops.windows.plugins.module_utils import (
    _doctor as doctor,
    _eks_access as eks_access,
    _errors as errors,
)
from ansible_collections.eksops.windows.plugins.modules import eks_windows_doctor
from fakes import CLUSTER, FakeApiServer, FakeClients

ROLE = "arn:aws:iam::123456789012:role/eks-windows-nodes"


@pytest.fixture(name="no_cluster")
def no_cluster_fixture(monkeypatch):
    """A module that must not reach AWS nor the cluster."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("the module reached for AWS or the cluster")
    monkeypatch.setattr(eks_access.EksClusterModule, "client", refuse)
    monkeypatch.setattr(eks_windows_doctor, "run", refuse)


def run_module(capsys, **args):
    with patch_module_args(dict({"cluster_name": "c", "region": "us-west-2"}, **args)):
        with pytest.raises(SystemExit):
            eks_windows_doctor.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("patterns", [["arn:aws:iam::123456789012:user/alice"], "eks-windows-nodes,arn:aws:s3:::bucket"])
def test_a_bad_allow_list_fails_before_anything_is_read(no_cluster, capsys, patterns):
    with pytest.raises(errors.EksOpsError):
        doctor.parse_role_allow_list(patterns if isinstance(patterns, list) else patterns.split(","))
    result = run_module(capsys, identity_fix_allowed=patterns)
    assert result["failed"] is True
    assert "identity_fix_allowed" in result["msg"] and "Nothing was changed" in result["msg"]


def test_state_fixed_without_an_allow_list_fails_and_says_what_to_list(no_cluster, capsys):
    result = run_module(capsys, state="fixed")
    assert result["failed"] is True
    assert "identity_fix_allowed is empty" in result["msg"]
    assert "role names or role ARNs" in result["msg"] and "Nothing was changed." in result["msg"]
    result = run_module(capsys, state="fixed", identity_fix_allowed=" , ")  # a blank survey answer
    assert "identity_fix_allowed is empty" in result["msg"]


def test_state_fixed_needs_the_identity_check(no_cluster, capsys):
    result = run_module(capsys, state="fixed", identity_fix_allowed=["*"], checks=["pods", "ami"])
    assert result["failed"] is True
    assert "checks leaves out identity" in result["msg"] and "Nothing was changed." in result["msg"]


@pytest.mark.parametrize("days", [0, -5, 366, 1000])
def test_ami_warning_days_out_of_range_fails(no_cluster, capsys, days):
    result = run_module(capsys, ami_warning_days=days)
    assert result["failed"] is True
    assert result["msg"].startswith("ami_warning_days must be from 1 to 365") and str(days) in result["msg"]


def test_unknown_checks_and_pod_scopes_are_refused(no_cluster, capsys):
    assert "checks" in run_module(capsys, checks=["identity", "dns"])["msg"]
    assert "pods" in run_module(capsys, pods="running")["msg"]


# --- the run, with the doctor faked -------------------------------------------------------------

def identity(action):
    return {"authentication_mode": "CONFIG_MAP", "unresolved": [], "roles": [
        {"role_arn": ROLE, "role_name": "eks-windows-nodes", "problems": ["windows_node_role_unmapped"],
         "fix": {"kind": "aws_auth", "action": action}, "allowed_by": None}]}


def summary(**counts):
    base = {"checks": list(doctor.CHECKS), "identity_gaps": 1, "identity_fixable": 1,
            "pods_without_ip": 2, "pod_causes": {"windows_ipam_off": 2}, "ami_min_days_left": 12,
            "ami_expired": 0, "ami_expiring": 1, "ami_outdated": 0}
    base.update(counts)
    return base


@pytest.fixture(name="fake_doctor")
def fake_doctor_fixture(monkeypatch):
    """The module over a fake cluster, with examine, fix_identity and summarize recorded."""
    calls = {}
    clients = FakeClients(FakeApiServer())
    monkeypatch.setattr(eks_access.EksClusterModule, "cluster", property(lambda self: dict(CLUSTER)))
    monkeypatch.setattr(eks_access.EksClusterModule, "clients", property(lambda self: clients))

    def examine(reads, checks=doctor.CHECKS, pods_scope="not_running", ami_warning_days=30, now=None):
        calls["examine"] = {"checks": list(checks), "pods_scope": pods_scope,
                            "ami_warning_days": ami_warning_days}
        return {"identity": identity("not_allowed") if "identity" in checks else None,
                "pods": [{"namespace": "shop", "name": "web", "cause": "windows_ipam_off"}] * 2,
                "ami": [{"name": "win-ng", "days_left": 12, "status": "expiring"}],
                "findings": [], "summary": summary(), "incomplete": [], "checks": list(checks)}

    def fix_identity(fix_clients, check_mode, found, rules):
        calls["fix"] = {"check_mode": check_mode, "rules": list(rules)}
        action = "would_fix" if check_mode else "fixed"
        fixed = dict(found, roles=[dict(r, fix=dict(r["fix"], action=action)) for r in found["roles"]])
        diff = {"before": "", "after": "- rolearn: %s\n" % ROLE, "before_header": "a", "after_header": "b"}
        return not check_mode, fixed, [diff]

    def summarize(result, incomplete=()):
        calls["summarize"] = result["identity"]["roles"][0]["fix"]["action"]
        return dict(result, summary=summary(identity_gaps=0), incomplete=list(incomplete))

    monkeypatch.setattr(doctor, "examine", examine)
    monkeypatch.setattr(doctor, "fix_identity", fix_identity)
    monkeypatch.setattr(doctor, "summarize", summarize)
    return calls


def test_an_audit_hands_the_options_on_and_asks_the_fix_only_what_it_would_do(fake_doctor, capsys):
    result = run_module(capsys, checks="ami,identity", pods="all", ami_warning_days=60,
                        identity_fix_allowed="eks-windows-*", _ansible_diff=True)
    assert fake_doctor["examine"] == {"checks": ["identity", "ami"], "pods_scope": "all", "ami_warning_days": 60}
    assert fake_doctor["fix"] == {"check_mode": True, "rules": ["eks-windows-*"]}
    assert result["changed"] is False and "diff" not in result
    assert result["identity"]["roles"][0]["fix"]["action"] == "would_fix"
    assert result["msg"].startswith("c: 1 Windows node role with an identity gap (1 would fix)")


def test_a_fix_changes_reports_and_gives_the_diff_in_diff_mode(fake_doctor, capsys):
    result = run_module(capsys, state="fixed", identity_fix_allowed=["eks-windows-nodes"], _ansible_diff=True)
    assert fake_doctor["fix"] == {"check_mode": False, "rules": ["eks-windows-nodes"]}
    assert fake_doctor["summarize"] == "fixed"
    assert result["changed"] is True
    assert result["diff"][0]["after"] == "- rolearn: %s\n" % ROLE
    assert result["summary"]["identity_gaps"] == 0
    assert result["msg"] == ("c: 1 Windows node role with an identity gap (1 fixed), 2 Windows pods "
                             "without an IP (windows_ipam_off: 2), AMI: 12 day(s) left at the least.")
    assert set(result) >= {"cluster", "identity", "pods", "ami", "findings", "summary", "incomplete"}
    assert "ca_data" not in result["cluster"]


def test_a_fix_in_check_mode_changes_nothing_and_without_diff_mode_gives_no_diff(fake_doctor, capsys):
    result = run_module(capsys, state="fixed", identity_fix_allowed=["*"], _ansible_check_mode=True)
    assert fake_doctor["fix"]["check_mode"] is True
    assert result["changed"] is False and "diff" not in result


# --- the message ----------------------------------------------------------------------------------

def test_the_message_of_checks_left_out_and_of_nothing_wrong():
    result = {"identity": {"roles": [], "unresolved": []}, "pods": None, "ami": [],
              "summary": summary(identity_gaps=0, pods_without_ip=None, ami_min_days_left=None)}
    assert eks_windows_doctor.outcome("prod", result) == (
        "prod: node identity ok, AMI: no Windows node group or instance.")
    result = {"identity": None, "pods": [], "ami": [{"status": "expired"}],
              "summary": summary(pods_without_ip=0, pod_causes={}, ami_min_days_left=-3, ami_expired=1)}
    assert eks_windows_doctor.outcome("prod", result) == (
        "prod: no Windows pod without an IP, AMI: made private 3 days ago "
        "(1 expired or no longer visible image).")
