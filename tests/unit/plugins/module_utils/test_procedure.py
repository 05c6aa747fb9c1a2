import re

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import _procedure as procedure


@pytest.mark.parametrize("version, platform, supported, minimum", [
    ("1.16", "eks.20", False, None),
    ("1.17", "eks.9", False, "eks.10"),
    ("1.17", "eks.10", True, "eks.10"),     # numerically, eks.10 > eks.9
    ("1.18", "eks.8", False, "eks.9"),
    ("1.18", "eks.9", True, "eks.9"),
    ("1.19", "eks.6", False, "eks.7"),
    ("1.19", "eks.7", True, "eks.7"),
    ("1.19", "eks.11", True, "eks.7"),
    ("1.20", "eks.2", False, "eks.3"),
    ("1.20", "eks.3", True, "eks.3"),
    ("1.21", "eks.1", False, "eks.3"),
    ("1.21", "eks.3", True, "eks.3"),
    ("1.22", "eks.1", True, None),
    ("1.30", "eks.1", True, None),
    ("v1.21.14-eks-fb459a0", "eks.3", True, "eks.3"),
])
def test_version_table(version, platform, supported, minimum):
    verdict = procedure.control_plane_support(version, platform)
    assert verdict["supported"] is supported
    assert verdict["minimum_platform"] == minimum
    assert verdict["reason"]


def test_below_table_reason_names_version_platform_and_minimum():
    reason = procedure.control_plane_support("1.17", "eks.9")["reason"]
    assert "1.17" in reason and "eks.9" in reason and "eks.10" in reason


@pytest.mark.parametrize("bad", ["", None, "eks", "eks.x", "10", "EKS.3 "])
def test_platform_parse_rejects_garbage(bad):
    with pytest.raises(procedure.VersionError):
        procedure.parse_platform(bad)


def test_newer_minor_skips_platform_parse():
    assert procedure.control_plane_support("1.25", None)["supported"] is True


@pytest.mark.parametrize("partition", ["aws", "aws-cn", "aws-us-gov"])
def test_policy_arn_per_partition(partition):
    assert procedure.policy_arn(partition) == \
        "arn:%s:iam::aws:policy/AmazonEKSVPCResourceController" % partition


@pytest.mark.parametrize("arn, name", [
    ("arn:aws:iam::1:role/eks-role", "eks-role"),
    ("arn:aws:iam::1:role/service-role/path/eks-role", "eks-role"),
])
def test_role_name_from_arn(arn, name):
    assert procedure.role_name_from_arn(arn) == name


def test_role_name_rejects_non_roles():
    with pytest.raises(ValueError):
        procedure.role_name_from_arn("arn:aws:iam::1:user/bob")


@pytest.mark.parametrize("state, linux, sgp, acts", [
    ("enabled", True, False, True),
    ("enabled", True, True, True),
    ("enabled", False, False, True),
    ("enabled", False, True, False),   # no Linux nodes and SG for pods: leave it
    ("disabled", True, True, False),   # Linux nodes use SG for pods: keep it
    ("disabled", True, False, True),
    ("disabled", False, True, True),
    ("disabled", False, False, True),
])
def test_policy_rule(state, linux, sgp, acts):
    act, reason = procedure.policy_needed(state, linux, sgp)
    assert act is acts and reason


def test_flavour_tables_name_distinct_objects():
    script, eksctl = procedure.LEGACY_FLAVOURS["script"], procedure.LEGACY_FLAVOURS["eksctl"]
    assert set(script.values()).isdisjoint(eksctl.values())
    assert procedure.EKS_OWN_WEBHOOK not in procedure.LEGACY_SHARED.values()


def test_the_controller_instance_types_agree_with_describe_instance_types_on_nitro():
    """The table of pkg/aws/vpc/limits.go (procedure.CONTROLLER_*) against moto's copy of EC2
    DescribeInstanceTypes: every type both know is Nitro (or bare metal) in both or in neither."""
    import gzip
    import json
    import os

    import moto

    path = os.path.join(os.path.dirname(moto.__file__), "ec2", "resources", "instance_types.json.gz")
    with gzip.open(path) as handle:
        described = json.load(handle)
    both = [t for t in described if procedure.controller_knows(t)]
    assert len(both) > 1000
    differ = [t for t in both if procedure.is_nitro(t) is not (
        described[t].get("Hypervisor") == "nitro" or bool(described[t].get("BareMetal")))]
    assert differ == []
    assert sum(len(v.split()) for v in procedure.CONTROLLER_INSTANCE_TYPES.values()) == 1164


def test_every_rule_has_a_title_a_source_and_known_severities_and_gates():
    for rule_id, rule in procedure.RULES.items():
        assert rule["title"] and rule["source"], rule_id
        assert set(rule["severities"]) <= {"error", "warning", "info"}, rule_id
        assert set(rule["gates"]) <= {"control_plane", "legacy", "prefix_delegation"}, rule_id
        assert rule["edition"] in ("2021", "today", "upstream", "collection"), rule_id
        assert rule["changed"] is None or re.match(r"^\d{4}-\d{2}$", rule["changed"]), rule_id


def test_describe_instance_types_says_nitro_or_not_or_nothing():
    assert procedure.described_nitro({"hypervisor": "nitro", "bare_metal": False}) is True
    assert procedure.described_nitro({"hypervisor": None, "bare_metal": True}) is True
    assert procedure.described_nitro({"hypervisor": "xen", "bare_metal": False}) is False
    assert procedure.described_nitro({"ipv4_per_interface": 10}) is None
    assert procedure.described_nitro(None) is None


# --- the controller's booleans: Go's strconv.ParseBool ------------------------------------------

@pytest.mark.parametrize("value", ["1", "t", "T", "TRUE", "true", "True", True])
def test_every_spelling_parse_bool_takes_as_true_is_on(value):
    assert procedure.parse_bool(value) is True
    assert procedure.truthy(value) is True
    assert procedure.unparseable_bool(value) is False


@pytest.mark.parametrize("value", ["0", "f", "F", "FALSE", "false", "False", False])
def test_every_spelling_parse_bool_takes_as_false_is_off(value):
    assert procedure.parse_bool(value) is False
    assert procedure.truthy(value) is False
    assert procedure.unparseable_bool(value) is False


@pytest.mark.parametrize("value", ["yes", "on", "tRUE", " true", "true ", "", "2", "enabled", "Y"])
def test_what_parse_bool_refuses_is_off_and_unparseable(value):
    # the controller swallows ParseBool's error: the setting is off
    assert procedure.parse_bool(value) is None
    assert procedure.truthy(value) is False
    assert procedure.unparseable_bool(value) is True


def test_an_unset_key_is_off_but_not_unparseable():
    assert procedure.truthy(None) is False and procedure.unparseable_bool(None) is False


def test_the_spellings_are_go_s_and_name_their_source():
    assert sorted(procedure.GO_PARSE_BOOL[True]) == sorted(["1", "t", "T", "TRUE", "true", "True"])
    assert sorted(procedure.GO_PARSE_BOOL[False]) == sorted(["0", "f", "F", "FALSE", "false", "False"])
    assert "strconv.ParseBool" in procedure.GO_PARSE_BOOL_SOURCE
    assert "conditions.go" in procedure.rule("cni_setting_unparseable")["source"]


@pytest.mark.parametrize("key,current,wanted,same", [
    ("enable-windows-ipam", "TRUE", "true", True),
    ("enable-windows-ipam", "1", "true", True),
    ("enable-windows-ipam", "F", "false", True),
    ("enable-windows-ipam", "yes", "true", False),   # unparseable: rewritten
    ("enable-windows-ipam", "yes", "false", False),
    ("enable-windows-ipam", None, "false", False),
    ("enableWindowsIpam", "True", "true", True),
    ("enable-windows-prefix-delegation", "t", "true", True),
    ("windows-warm-ip-target", "3", "3", True),     # not a boolean key: the text counts
    ("windows-warm-ip-target", "03", "3", False),
])
def test_same_setting_reads_the_boolean_keys_as_the_controller_does(key, current, wanted, same):
    assert procedure.same_setting(key, current, wanted) is same
