"""The fleet report's filters: records from eks_windows_info results, the report document, the
rows of the HTML page, the per-cluster summaries and the CSP hash."""

import copy
import os
import re

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.eksops.windows.plugins.filter import fleet_report as fr

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def assessed(name, version="1.21", platform="eks.3", region="us-west-2", findings=(), counts=None,
             certificate=None, **state):
    """A registered eks_windows_info result as the assessment contract describes it."""
    findings = [dict(f) for f in findings]
    result = {
        "changed": False,
        "cluster": {"name": name, "region": region, "version": version,
                    "platform_version": platform, "arn": "arn:aws:eks:%s:1:cluster/%s" % (region, name),
                    "tags": {"team": "<web>"}},
        "support": {"supported": True, "minimum_platform": "eks.3", "reason": "ok"},
        "nodes": [], "node_counts": {"linux": 2, "windows": 1}, "auth_method": "eks-token",
        "mode": "control_plane", "mode_reason": "Kubernetes %s on %s meets the minimum" % (version, platform),
        "state": {"windows_support": "enabled", "policy_attached": True, "policy_needed": True,
                  "enable_windows_ipam": "true",
                  "legacy": {"present": False, "flavours": [], "objects": []},
                  "webhook_certificate": certificate},
        "prerequisites": {"linux_nodes": 2, "fargate_coredns": False, "fargate_profiles": [],
                          "control_plane_met": True, "legacy_met": True},
        "findings": findings,
        "finding_counts": counts if counts is not None else fr.count_findings(findings),
        "preflight": {"control_plane": {"allowed": True, "blockers": []},
                      "legacy": {"allowed": False, "blockers": ["control-plane support is possible"]}},
    }
    result["state"].update(state)
    return result


def finding(fid, severity, title="a title"):
    return {"id": fid, "severity": severity, "title": title, "detail": "seen", "remedy": "fix it",
            "objects": ["Node/n1"]}


FAILED = {"failed": True, "changed": False,
          "msg": "EKS cluster 'ghost' was not found in region us-west-2. Check the cluster name."}


def record(result, host=None, **kwargs):
    name = (result.get("cluster") or {}).get("name") or host
    return fr.fleet_report_entry(result, host=host or name, **kwargs)


# --- records -----------------------------------------------------------------------------------

def test_an_assessed_result_keeps_the_assessment_as_it_is():
    result = assessed("prod", findings=[finding("windows_host_network", "error")])
    entry = record(result)
    assert entry["status"] == "assessed"
    assert (entry["host"], entry["name"], entry["region"]) == ("prod", "prod", "us-west-2")
    assert (entry["version"], entry["platform_version"]) == ("1.21", "eks.3")
    for key in fr.ASSESSMENT_KEYS:
        assert entry[key] == result[key], key
    assert "error" not in entry
    # what the report does not need stays out of it
    assert not set(entry) & {"nodes", "support", "auth_method", "changed", "cluster"}


def test_a_failed_result_gives_a_failed_record_with_the_message():
    entry = fr.fleet_report_entry(FAILED, host="ghost-host", cluster_name="ghost", region="eu-west-1")
    assert entry == {"host": "ghost-host", "name": "ghost", "region": "eu-west-1", "status": "failed",
                     "error": FAILED["msg"]}


@pytest.mark.parametrize("result, words", [
    ({"unreachable": True, "msg": "Failed to connect"}, "Failed to connect"),
    ({"unreachable": True}, "the assessment unreachable without a message"),
    ({"skipped": True}, "the assessment skipped without a message"),
    ({"failed": True}, "the assessment failed without a message"),
])
def test_unreachable_skipped_and_silent_failures_are_failed_too(result, words):
    entry = fr.fleet_report_entry(result, host="h")
    assert entry["status"] == "failed"
    assert entry["error"] == words
    assert entry["name"] == "h"


def test_a_result_without_the_assessment_still_gives_a_record():
    result = assessed("old")
    for key in fr.ASSESSMENT_KEYS:
        del result[key]
    entry = record(result)
    assert entry["status"] == "assessed"
    assert entry["mode"] is None and entry["state"] is None
    assert entry["findings"] == []
    assert entry["finding_counts"] == {"error": 0, "warning": 0, "info": 0}
    summary = fr.fleet_report_summary(entry)
    assert summary["errors"] == 0 and summary["windows_support"] is None
    assert fr.fleet_report_rows(fr.fleet_report([entry]))[0]["windows_support"] == "unknown"


def test_counts_are_made_from_the_findings_when_the_result_has_none():
    result = assessed("c", findings=[finding("a", "error"), finding("b", "warning"),
                                     finding("c", "warning")])
    del result["finding_counts"]
    assert record(result)["finding_counts"] == {"error": 1, "warning": 2, "info": 0}


def test_anything_but_a_result_is_refused():
    with pytest.raises(AnsibleFilterError, match="registered eks_windows_info result"):
        fr.fleet_report_entry(["not", "a", "result"], host="h")
    with pytest.raises(AnsibleFilterError, match="list of fleet_report_entry records"):
        fr.fleet_report({"clusters": []})
    with pytest.raises(AnsibleFilterError, match="document of the fleet_report filter"):
        fr.fleet_report_rows([])


# --- summaries ---------------------------------------------------------------------------------

def test_summary_of_an_assessed_cluster():
    cert = {"days_left": 12, "not_after": "2026-12-06T10:00:00Z", "expired": False}
    entry = record(assessed("prod", findings=[finding("x", "error"), finding("y", "warning")],
                            certificate=cert, windows_support="legacy"))
    summary = fr.fleet_report_summary(entry)
    assert summary == {
        "cluster": "prod", "region": "us-west-2", "status": "assessed", "mode": "control_plane",
        "windows_support": "legacy", "errors": 1, "warnings": 1, "info": 0,
        "certificate_days_left": 12, "identity_gaps": None, "pods_without_ip": None,
        "ami_min_days_left": None, "ami_expired": None, "text": summary["text"]}
    assert summary["text"] == (
        "prod (us-west-2, 1.21/eks.3): mode control_plane, windows_support legacy, findings: "
        "1 error(s), 1 warning(s), 0 info, webhook certificate 12 day(s) left "
        "(not after 2026-12-06T10:00:00Z)")


def test_summary_of_an_expired_certificate_and_of_a_failed_cluster():
    cert = {"days_left": -3, "not_after": "2026-11-21T10:00:00Z", "expired": True}
    summary = fr.fleet_report_summary(record(assessed("old", certificate=cert)))
    assert summary["certificate_days_left"] == -3
    assert summary["text"].endswith("webhook certificate expired 3 day(s) ago (not after 2026-11-21T10:00:00Z)")
    failed = fr.fleet_report_summary(fr.fleet_report_entry(FAILED, host="ghost", region="us-west-2"))
    assert failed == {"cluster": "ghost", "region": "us-west-2", "status": "failed",
                      "error": FAILED["msg"],
                      "text": "ghost (us-west-2): assessment FAILED: " + FAILED["msg"]}


# --- the report document ------------------------------------------------------------------------

def fleet():
    return [
        record(assessed("zeta", findings=[finding("windows_host_network", "error"),
                                          finding("single_linux_node", "warning")])),
        record(assessed("alpha", version="1.19", platform="eks.7", windows_support="disabled",
                        findings=[finding("single_linux_node", "warning"), finding("ipv6_cluster", "info")])),
        record(assessed("legacy-1", version="1.18", platform="eks.8", windows_support="legacy",
                        findings=[finding("webhook_certificate_expired", "error"),
                                  finding("legacy_support_present", "info")],
                        certificate={"days_left": -2, "not_after": "2026-01-01T00:00:00Z", "expired": True})),
        fr.fleet_report_entry(FAILED, host="ghost", cluster_name="ghost", region="us-west-2"),
    ]


def test_report_lists_every_cluster_once_failed_ones_apart_and_sorted_by_name():
    report = fr.fleet_report(fleet(), hosts=["zeta", "alpha", "legacy-1", "ghost", "no-vars"],
                             generated_at="2026-01-02T03:04:05Z")
    assert report["generated_at"] == "2026-01-02T03:04:05Z"
    assert [c["name"] for c in report["clusters"]] == ["alpha", "legacy-1", "zeta"]
    assert [c["name"] for c in report["failed"]] == ["ghost", "no-vars"]
    assert report["failed"][1] == {"host": "no-vars", "name": "no-vars", "region": None,
                                   "status": "failed", "error": fr.NO_ASSESSMENT}
    assert report["failed"][0]["error"] == FAILED["msg"]


def test_report_totals():
    totals = fr.fleet_report(fleet(), hosts=["ghost"])["totals"]
    assert totals == {
        "clusters": 4, "assessed": 3, "failed": 1,
        "modes": {"control_plane": 3},
        "windows_support": {"enabled": 1, "disabled": 1, "legacy": 1},
        "findings": {"error": 2, "warning": 2, "info": 2},
        "clusters_with_errors": 2,
        "certificates_expired": 1,
        "findings_by_id": {"windows_host_network": ["zeta"], "single_linux_node": ["alpha", "zeta"],
                           "ipv6_cluster": ["alpha"], "webhook_certificate_expired": ["legacy-1"],
                           "legacy_support_present": ["legacy-1"]},
        "doctor": 0, "identity_gaps": 0, "pods_without_ip": 0, "ami_expired": 0,
    }


def test_report_names_the_collection_and_its_version():
    report = fr.fleet_report([])
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        version = re.search(r"^version: *(\S+)", handle.read(), re.MULTILINE).group(1)
    assert report["collection"] == {"name": "eksops.windows", "version": version}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", report["generated_at"])
    assert report["totals"]["clusters"] == 0


def test_report_does_not_change_its_input():
    records = fleet()
    before = copy.deepcopy(records)
    fr.fleet_report_rows(fr.fleet_report(records, hosts=["x"]))
    assert records == before


# --- rows of the HTML page ------------------------------------------------------------------------

def rows_by_name():
    return {r["name"]: r for r in fr.fleet_report_rows(fr.fleet_report(fleet()))}


def test_one_row_per_cluster_in_name_order_failed_ones_included():
    rows = fr.fleet_report_rows(fr.fleet_report(fleet(), hosts=["no-vars"]))
    assert [r["name"] for r in rows] == ["alpha", "ghost", "legacy-1", "no-vars", "zeta"]
    assert [r["status"] for r in rows] == ["assessed", "failed", "assessed", "failed", "assessed"]


def test_row_cells_of_an_assessed_cluster():
    row = rows_by_name()["legacy-1"]
    assert row["version"] == "1.18 / eks.8"
    assert row["mode"] == "control_plane"
    assert row["windows_support"] == "legacy"
    assert (row["errors"], row["warnings"], row["info"]) == (1, 0, 1)
    assert [f["id"] for f in row["findings"]] == ["webhook_certificate_expired", "legacy_support_present"]
    assert row["certificate"] == "expired 2 day(s) ago (not after 2026-01-01T00:00:00Z)"
    assert row["certificate_expired"] is True
    assert row["sort"] == {"cluster": "legacy-1", "region": "us-west-2", "version": "0001.0018.000008",
                           "mode": "control_plane", "state": "legacy", "errors": "1", "warnings": "0",
                           "info": "1", "certificate": "-2", "identity": "", "pods": "", "ami": ""}
    assert (row["identity"], row["pods"], row["ami"]) == ("not checked", "not checked", "not checked")
    assert (row["identity_gaps"], row["pods_without_ip"], row["ami_days_left"], row["ami_expired"]) == (
        None, None, None, False)


def test_row_of_a_failed_cluster_has_the_message_and_no_values_to_sort():
    row = rows_by_name()["ghost"]
    assert row["error"] == FAILED["msg"]
    assert row["mode"] == "assessment failed"
    assert (row["errors"], row["warnings"], row["info"]) == (None, None, None)
    assert row["findings"] == [] and row["state_lines"] == [] and row["certificate"] == ""
    assert {k: v for k, v in row["sort"].items() if v} == {
        "cluster": "ghost", "region": "us-west-2", "mode": "assessment failed"}


@pytest.mark.parametrize("versions", [
    [("1.9", "eks.1"), ("1.17", "eks.9"), ("1.17", "eks.10"), ("1.21", "eks.3"), ("1.100", "eks.1")],
])
def test_version_keys_sort_as_numbers(versions):
    keys = [fr.version_key(v, p) for v, p in versions]
    assert keys == sorted(keys)
    assert fr.version_key(None, "eks.3") == ""
    assert fr.version_key("1.20", "eks.custom") == "0001.0020.000000"


@pytest.mark.parametrize("state, lines", [
    ({"policy_attached": True, "policy_needed": True, "enable_windows_ipam": "true"},
     ["policy: attached", 'IPAM: "true"']),
    ({"policy_attached": False, "policy_needed": False, "enable_windows_ipam": None},
     ["policy: not attached (not needed)", "IPAM: not set"]),
    ({"policy_attached": None, "enable_windows_ipam": "false",
      "legacy": {"present": True, "flavours": ["script", "eksctl"]}},
     ["policy: unknown", 'IPAM: "false"', "legacy: script, eksctl"]),
    ({"policy_attached": True, "legacy": {"present": True, "flavours": []}},
     ["policy: attached", "IPAM: not set", "legacy: present"]),
])
def test_state_in_words(state, lines):
    assert fr.state_lines(state) == lines


def test_data_passes_through_unescaped():
    """Escaping is the template's job: the filters hand names, messages and finding text on as
    they are, so the HTML shows them exactly and the JSON keeps them."""
    hostile = '<script>alert("x")</script> & \'quotes\''
    result = assessed("c<b>", findings=[finding("x", "error", title=hostile)])
    result["mode_reason"] = hostile
    entry = record(result)
    failed = fr.fleet_report_entry({"failed": True, "msg": hostile}, host="h", cluster_name=hostile)
    report = fr.fleet_report([entry, failed])
    rows = {r["host"]: r for r in fr.fleet_report_rows(report)}
    assert report["clusters"][0]["findings"][0]["title"] == hostile
    assert rows["c<b>"]["name"] == "c<b>" and rows["c<b>"]["sort"]["cluster"] == "c<b>"
    assert rows["c<b>"]["findings"][0]["title"] == hostile
    assert rows["c<b>"]["mode_reason"] == hostile
    assert rows["h"]["name"] == hostile and rows["h"]["error"] == hostile
    assert fr.fleet_report_summary(failed)["text"] == "%s (None): assessment FAILED: %s" % (hostile, hostile)


def test_csp_hash():
    # the SHA-256 of nothing, as CSP writes it
    assert fr.csp_hash("") == "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"
    assert fr.csp_hash("a") != fr.csp_hash("a ")
    assert fr.csp_hash("\u00e9") != fr.csp_hash("e")


def test_the_filters_are_registered():
    assert set(fr.FilterModule().filters()) == {
        "fleet_report_entry", "fleet_report_summary", "fleet_report", "fleet_report_rows", "csp_hash"}
    for name in fr.FilterModule().filters():
        assert os.path.exists(os.path.join(ROOT, "plugins", "filter", name + ".yml")), name


def test_findings_keep_the_source_of_their_rule_into_the_rows():
    from ansible_collections.eksops.windows.plugins.module_utils import _assessment as assessment

    found = assessment.finding("historic_unsupported_instance_type", "seen", "nothing", ["Node/w"])
    document = fr.fleet_report([record(assessed("prod", findings=[found]))], generated_at="t")
    row = fr.fleet_report_rows(document)[0]
    assert row["findings"][0]["source"].startswith('EKS user guide "Windows support", 2021 edition')
    assert row["findings"][0]["changed"] == "2022-06" and row["findings"][0]["edition"] == "2021"
    assert row["info"] == 1 and row["errors"] == 0


# --- the doctor's columns (eks_windows_info doctor=true) ------------------------------------------

def doctor(identity_gaps=0, pods_without_ip=0, pod_causes=None, ami_min_days_left=None, ami_expired=0,
           checks=("identity", "pods", "ami"), incomplete=()):
    """The `doctor` key of an eks_windows_info result (module_utils/_doctor.py examine())."""
    return {"identity": {"authentication_mode": "API_AND_CONFIG_MAP", "roles": [], "unresolved": []},
            "pods": [], "ami": [], "findings": [],
            "summary": {"checks": list(checks), "identity_gaps": identity_gaps,
                        "identity_fixable": identity_gaps, "pods_without_ip": pods_without_ip,
                        "pod_causes": pod_causes or {}, "ami_min_days_left": ami_min_days_left,
                        "ami_expired": ami_expired, "ami_expiring": 0, "ami_outdated": 0},
            "incomplete": list(incomplete)}


def with_doctor(result, **kwargs):
    result["doctor"] = doctor(**kwargs)
    return result


def doctor_fleet():
    return [
        record(with_doctor(assessed("ok"), ami_min_days_left=90)),
        record(with_doctor(assessed("sick"), identity_gaps=2, pods_without_ip=3,
                           pod_causes={"node_ipv4_slots_full": 1, "windows_ipam_off": 2},
                           ami_min_days_left=-4, ami_expired=1)),
        record(with_doctor(assessed("one-gap"), identity_gaps=1, ami_min_days_left=12,
                           checks=("identity", "ami"))),
        record(assessed("plain")),
        fr.fleet_report_entry(FAILED, host="ghost", cluster_name="ghost", region="us-west-2"),
    ]


def test_a_record_carries_the_doctor_summary_or_none():
    entry = record(with_doctor(assessed("sick"), identity_gaps=2, incomplete=["ec2:DescribeImages failed"]))
    assert entry["doctor"]["identity_gaps"] == 2
    assert entry["doctor"]["checks"] == ["identity", "pods", "ami"]
    assert entry["doctor"]["incomplete"] == ["ec2:DescribeImages failed"]
    assert record(assessed("plain"))["doctor"] is None
    assert "doctor" not in fr.fleet_report_entry(FAILED, host="ghost")


def test_doctor_columns_of_the_rows():
    rows = {r["name"]: r for r in fr.fleet_report_rows(fr.fleet_report(doctor_fleet()))}
    ok, sick, one, plain, ghost = (rows[n] for n in ("ok", "sick", "one-gap", "plain", "ghost"))
    assert (ok["identity"], ok["pods"], ok["ami"]) == ("ok", "0", "90 day(s) left")
    assert (ok["sort"]["identity"], ok["sort"]["pods"], ok["sort"]["ami"]) == ("0", "0", "90")
    assert ok["ami_expired"] is False and ok["pod_causes"] == ""
    assert (sick["identity"], sick["pods"], sick["ami"]) == ("2 gaps", "3", "expired 4 day(s) ago (1 expired)")
    assert sick["pod_causes"] == "windows_ipam_off: 2, node_ipv4_slots_full: 1"
    assert (sick["sort"]["identity"], sick["sort"]["pods"], sick["sort"]["ami"]) == ("2", "3", "-4")
    assert sick["ami_expired"] is True and sick["ami_days_left"] == -4
    # the pods check was not run: not checked, and nothing to sort by
    assert (one["identity"], one["pods"], one["ami"]) == ("1 gap", "not checked", "12 day(s) left")
    assert (one["sort"]["pods"], one["pods_without_ip"]) == ("", None)
    assert (plain["identity"], plain["pods"], plain["ami"]) == ("not checked",) * 3
    assert (plain["sort"]["identity"], plain["sort"]["pods"], plain["sort"]["ami"]) == ("", "", "")
    assert (ghost["identity"], ghost["pods"], ghost["ami"]) == ("", "", "")
    assert (ghost["sort"]["identity"], ghost["sort"]["pods"], ghost["sort"]["ami"]) == ("", "", "")


def test_an_ami_that_is_no_longer_visible_is_expired_and_sorts_first():
    entry = record(with_doctor(assessed("gone"), ami_min_days_left=None, ami_expired=1))
    row, = fr.fleet_report_rows(fr.fleet_report([entry]))
    assert row["ami"] == "not visible (1 expired)" and row["ami_expired"] is True
    assert int(row["sort"]["ami"]) < -10000
    unknown = record(with_doctor(assessed("new"), ami_min_days_left=None))
    row, = fr.fleet_report_rows(fr.fleet_report([unknown]))
    assert (row["ami"], row["ami_expired"], row["sort"]["ami"]) == ("unknown", False, "")


def test_doctor_totals_across_the_fleet():
    totals = fr.fleet_report(doctor_fleet())["totals"]
    assert (totals["doctor"], totals["identity_gaps"], totals["pods_without_ip"], totals["ami_expired"]) == (
        3, 3, 3, 1)


def test_summary_text_adds_the_doctor():
    summary = fr.fleet_report_summary(doctor_fleet()[1])
    assert (summary["identity_gaps"], summary["pods_without_ip"], summary["ami_min_days_left"],
            summary["ami_expired"]) == (2, 3, -4, 1)
    assert summary["text"].endswith(
        ", doctor: node identity 2 gaps, 3 Windows pod(s) without an IP (windows_ipam_off: 2, "
        "node_ipv4_slots_full: 1), AMI expired 4 day(s) ago (1 expired)")
    summary = fr.fleet_report_summary(doctor_fleet()[2])
    assert summary["pods_without_ip"] is None
    assert summary["text"].endswith(", doctor: node identity 1 gap, AMI 12 day(s) left")
    summary = fr.fleet_report_summary(doctor_fleet()[0])
    assert summary["text"].endswith(", doctor: node identity ok, 0 Windows pod(s) without an IP, AMI 90 day(s) left")
    assert "doctor" not in fr.fleet_report_summary(doctor_fleet()[3])["text"]
