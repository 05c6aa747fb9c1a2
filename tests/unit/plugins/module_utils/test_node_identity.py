"""Windows node identity (_node_identity.py): the rules per authentication mode, the aws-auth edit
that keeps every other mapping's bytes, and the fix step in check mode, for real and again."""

import pytest
import yaml

from ansible_collections.eksops.windows.plugins.module_utils import (
    _node_identity as node_identity,
    _procedure as procedure,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import InputError
from ansible_collections.eksops.windows.plugins.module_utils._reads import ClusterReads
from fakes import FakeApiServer, FakeClients, node, obj

ACCOUNT = "123456789012"
WIN_ROLE = "arn:aws:iam::%s:role/nodes/win-role" % ACCOUNT      # with a path
WIN_ROLE_AUTH = "arn:aws:iam::%s:role/win-role" % ACCOUNT       # as aws-auth must list it
WINDOWS_GROUPS = list(procedure.WINDOWS_NODE_GROUPS)

RAW_MAP_ROLES = """# the platform team's roles (keep this comment)
- rolearn: arn:aws:iam::123456789012:role/linux-nodes
  username: system:node:{{EC2PrivateDNSName}}
  groups: [system:bootstrappers, system:nodes]
-   groups:
      - system:bootstrappers
      - system:nodes
    username: system:node:{{EC2PrivateDNSName}}
    rolearn: arn:aws:iam::123456789012:role/win-role
# admins
- rolearn: arn:aws:iam::123456789012:role/admin
  username: admin
  groups:
  - system:masters
"""


def record(mapped=False, groups=(), entry=None, shared=False):
    base = node_identity._role_record(WIN_ROLE)
    base["aws_auth"].update(mapped=mapped, groups=list(groups))
    base["access_entry"] = None if entry is None else {"type": entry, "username": None}
    base["shared_with_linux"] = shared
    return base


@pytest.mark.parametrize("mode, kwargs, problems, fix", [
    ("CONFIG_MAP", dict(mapped=True, groups=WINDOWS_GROUPS), [], None),
    ("CONFIG_MAP", dict(mapped=True, groups=WINDOWS_GROUPS[:2]),
     ["windows_node_role_without_kube_proxy_windows"], "aws_auth"),
    ("CONFIG_MAP", dict(), ["windows_node_role_unmapped"], "aws_auth"),
    ("CONFIG_MAP", dict(mapped=True, groups=WINDOWS_GROUPS, shared=True), [], None),
    # an access entry means nothing to a CONFIG_MAP cluster
    ("CONFIG_MAP", dict(entry="EC2_LINUX", mapped=True, groups=WINDOWS_GROUPS), [], None),
    ("API", dict(entry="EC2_WINDOWS"), [], None),
    ("API", dict(), ["windows_node_role_unmapped"], "access_entry"),
    # aws-auth means nothing in API mode
    ("API", dict(mapped=True, groups=WINDOWS_GROUPS), ["windows_node_role_unmapped"], "access_entry"),
    ("API", dict(entry="EC2_LINUX"), ["windows_node_role_wrong_access_entry"], None),
    ("API", dict(entry="EC2_LINUX", shared=True),
     ["windows_node_role_wrong_access_entry", "windows_node_role_shared_in_api_mode"], None),
    ("API", dict(shared=True), ["windows_node_role_unmapped", "windows_node_role_shared_in_api_mode"], None),
    ("API", dict(entry="EC2_WINDOWS", shared=True), ["windows_node_role_shared_in_api_mode"], None),
    ("API_AND_CONFIG_MAP", dict(mapped=True, groups=WINDOWS_GROUPS), [], None),
    ("API_AND_CONFIG_MAP", dict(mapped=True, groups=WINDOWS_GROUPS[:2]),
     ["windows_node_role_without_kube_proxy_windows"], "aws_auth"),
    ("API_AND_CONFIG_MAP", dict(), ["windows_node_role_unmapped"], "access_entry"),
    ("API_AND_CONFIG_MAP", dict(shared=True), ["windows_node_role_unmapped"], "aws_auth"),
    # the access entry wins over the mapping
    ("API_AND_CONFIG_MAP", dict(entry="EC2_LINUX", mapped=True, groups=WINDOWS_GROUPS),
     ["windows_node_role_wrong_access_entry"], None),
    ("API_AND_CONFIG_MAP", dict(entry="EC2_WINDOWS", shared=True), [], None),
])
def test_each_mode_reads_its_mechanisms(mode, kwargs, problems, fix):
    judged = node_identity.judge_role(mode, record(**kwargs))
    assert judged["problems"] == problems
    assert judged["fix"]["kind"] == fix
    assert judged["fix"]["action"] == ("none" if not problems else "manual" if fix is None else "not_allowed")
    if problems:
        assert judged["remedy"] and judged["detail"]
    for problem in problems:
        assert procedure.rule(problem)["severities"]


def test_role_keys_ignore_the_path_and_aws_auth_drops_it():
    assert node_identity.role_key(WIN_ROLE) == node_identity.role_key(WIN_ROLE_AUTH) == (ACCOUNT, "win-role")
    assert node_identity.aws_auth_arn(WIN_ROLE) == WIN_ROLE_AUTH
    assert node_identity.role_key("arn:aws:iam::123456789012:user/x") is None


def test_the_edit_keeps_every_other_mapping_byte_for_byte():
    edited = node_identity.edit_map_roles(RAW_MAP_ROLES, WIN_ROLE, WINDOWS_GROUPS)
    head = RAW_MAP_ROLES[:RAW_MAP_ROLES.index("-   groups:")]
    tail = RAW_MAP_ROLES[RAW_MAP_ROLES.index("# admins"):]
    assert edited.startswith(head) and edited.endswith(tail)
    items = yaml.safe_load(edited)
    assert items[1] == {"groups": WINDOWS_GROUPS, "username": procedure.NODE_USERNAME, "rolearn": WIN_ROLE_AUTH}
    assert items[0] == yaml.safe_load(RAW_MAP_ROLES)[0] and items[2] == yaml.safe_load(RAW_MAP_ROLES)[2]


def test_a_missing_mapping_is_appended_and_the_text_before_kept():
    text = RAW_MAP_ROLES.replace("role/win-role", "role/other")
    edited = node_identity.edit_map_roles(text, WIN_ROLE, WINDOWS_GROUPS)
    assert edited.startswith(text)
    assert yaml.safe_load(edited)[-1] == {"rolearn": WIN_ROLE_AUTH, "username": procedure.NODE_USERNAME,
                                          "groups": WINDOWS_GROUPS}
    assert yaml.safe_load(node_identity.edit_map_roles("", WIN_ROLE, WINDOWS_GROUPS))[0]["rolearn"] == WIN_ROLE_AUTH


def test_an_indented_list_keeps_its_indent():
    text = "  - rolearn: arn:aws:iam::123456789012:role/a\n    groups: [x]\n"
    edited = node_identity.edit_map_roles(text, WIN_ROLE, WINDOWS_GROUPS)
    assert edited.startswith(text) and "\n  - rolearn: %s" % WIN_ROLE_AUTH in edited
    assert len(yaml.safe_load(edited)) == 2


@pytest.mark.parametrize("text", ["[{rolearn: 'arn:aws:iam::123456789012:role/win-role', groups: [a]}]",
                                  "not: a list", "- [unclosed"])
def test_text_it_cannot_edit_safely_is_refused(text):
    with pytest.raises(InputError) as error:
        node_identity.edit_map_roles(text, WIN_ROLE, WINDOWS_GROUPS)
    assert "aws-auth" in str(error.value)


def test_allow_lists():
    rules = node_identity.parse_allow_list(["win-*", "", "arn:aws:iam::123456789012:role/win-role"])
    assert rules == ["win-*", "arn:aws:iam::123456789012:role/win-role"]
    judged = record()
    assert node_identity.allowed_by(judged, ["win-*"]) == "win-*"
    assert node_identity.allowed_by(judged, [WIN_ROLE_AUTH]) == WIN_ROLE_AUTH  # path-less ARN covers it
    assert node_identity.allowed_by(judged, ["linux-*"]) is None
    with pytest.raises(node_identity.AllowListError):
        node_identity.parse_allow_list(["arn:aws:iam::123456789012:user/bob"])


# --- the audit and the fix, through a fake API server and Stubbers -------------------------------

def windows_node(name="win-1", instance="i-0123456789abcdef0", nodegroup=None):
    found = node(name, "windows")
    found["spec"] = {"providerID": "aws:///us-west-2a/%s" % instance}
    if nodegroup:
        found["metadata"]["labels"][procedure.NODEGROUP_LABEL] = nodegroup
    return found


def aws_auth(map_roles):
    return obj("ConfigMap", "aws-auth", "kube-system", data={"mapRoles": map_roles})


def stub_instance(clients, instance="i-0123456789abcdef0", profile="win-profile"):
    clients.stub("ec2").add_response("describe_instances", {"Reservations": [{"Instances": [{
        "InstanceId": instance, "ImageId": "ami-1", "SubnetId": "subnet-1",
        "IamInstanceProfile": {"Arn": "arn:aws:iam::%s:instance-profile/%s" % (ACCOUNT, profile),
                               "Id": "AIPA"}}]}]},
        {"Filters": [{"Name": "instance-id", "Values": [instance]}]})
    clients.stub("iam").add_response("get_instance_profile", {"InstanceProfile": {
        "Path": "/", "InstanceProfileName": profile, "InstanceProfileId": "AIPAEXAMPLE1234567890",
        "Arn": "arn:aws:iam::%s:instance-profile/%s" % (ACCOUNT, profile),
        "CreateDate": "2026-01-01T00:00:00Z",
        "Roles": [{"Path": "/nodes/", "RoleName": "win-role", "RoleId": "AROAEXAMPLE1234567890",
                   "Arn": WIN_ROLE, "CreateDate": "2026-01-01T00:00:00Z"}]}},
        {"InstanceProfileName": profile})


def stub_no_nodegroups(clients):
    clients.stub("eks").add_response("list_nodegroups", {"nodegroups": []}, {"clusterName": "c"})


def audit_config_map(server):
    clients = FakeClients(server)
    stub_no_nodegroups(clients)
    stub_instance(clients)
    return clients, ClusterReads(clients).node_identity()


def test_config_map_mode_audit_check_mode_fix_and_second_run():
    server = FakeApiServer(windows_node(), node("lin-1"), aws_auth(RAW_MAP_ROLES))
    clients, identity = audit_config_map(server)
    [role] = identity["roles"]
    assert role["role_arn"] == WIN_ROLE and role["sources"] == [
        {"kind": "node", "name": "win-1", "os": "windows", "karpenter": False}]
    assert role["problems"] == ["windows_node_role_without_kube_proxy_windows"]
    assert "eks:kube-proxy-windows" in role["detail"]
    from ansible_collections.eksops.windows.plugins.module_utils._assessment import finding
    [found] = node_identity.findings(identity, finding)
    assert found["id"] == "windows_node_role_without_kube_proxy_windows" and found["objects"] == ["Role/win-role"]

    # not allowed: nothing written
    changed, after, diffs = node_identity.fix(clients, False, identity, ["linux-*"])
    assert (changed, diffs, after["roles"][0]["fix"]["action"]) == (False, [], "not_allowed")
    assert server.writes == []
    # check mode: the diff, no write
    changed, after, diffs = node_identity.fix(clients, True, identity, ["win-*"])
    assert changed is False and after["roles"][0]["fix"]["action"] == "would_fix"
    assert server.writes == []
    assert diffs[0]["before"] == RAW_MAP_ROLES and "eks:kube-proxy-windows" in diffs[0]["after"]
    # for real: one merge patch carrying the resourceVersion
    changed, after, diffs = node_identity.fix(clients, False, identity, ["win-*"])
    assert changed is True and after["roles"][0]["fix"]["action"] == "fixed"
    assert server.writes == [("PATCH", "/api/v1/namespaces/kube-system/configmaps/aws-auth")]
    text = server.find("ConfigMap", "aws-auth", "kube-system")["data"]["mapRoles"]
    assert text == diffs[0]["after"] and text.startswith(RAW_MAP_ROLES[:RAW_MAP_ROLES.index("-   groups:")])
    assert node_identity.findings(after, finding) == []
    # second run: nothing to do, nothing written
    clients, again = audit_config_map(server)
    assert again["roles"][0]["problems"] == []
    changed, _after, diffs = node_identity.fix(clients, False, again, ["win-*"])
    assert (changed, diffs) == (False, [])
    assert len(server.writes) == 1


def test_a_conflicting_write_is_decided_again_on_the_new_text():
    server = FakeApiServer(windows_node(), aws_auth(RAW_MAP_ROLES))
    clients, identity = audit_config_map(server)
    server.fail("PATCH", "aws-auth", 409)
    changed, _after, _diffs = node_identity.fix(clients, False, identity, ["win-*"])
    assert changed is True
    assert [w[0] for w in server.writes] == ["PATCH", "PATCH"]
    assert "eks:kube-proxy-windows" in server.find("ConfigMap", "aws-auth", "kube-system")["data"]["mapRoles"]


def test_api_mode_creates_the_access_entry_once():
    server = FakeApiServer(windows_node(), node("lin-1"))

    def audit(entries, entry_type=None):
        clients = FakeClients(server, authentication_mode="API")
        stub_no_nodegroups(clients)
        stub_instance(clients)
        # the Linux node has no instance: sharing cannot be told for it, and it is not Windows
        clients.stub("ec2").add_response("describe_instances", {"Reservations": []}, None)
        clients.stub("eks").add_response("list_access_entries", {"accessEntries": entries}, {"clusterName": "c"})
        if entry_type:
            clients.stub("eks").add_response("describe_access_entry", {"accessEntry": {
                "clusterName": "c", "principalArn": WIN_ROLE, "type": entry_type}},
                {"clusterName": "c", "principalArn": WIN_ROLE})
        return clients, ClusterReads(clients).node_identity()

    server.put(node("lin-1"))
    server.objects[("Node", None, "lin-1")]["spec"] = {"providerID": "aws:///us-west-2a/i-0000000000000000a"}
    clients, identity = audit([])
    [role] = identity["roles"]
    assert role["problems"] == ["windows_node_role_unmapped"] and role["fix"]["kind"] == "access_entry"
    changed, after, diffs = node_identity.fix(clients, True, identity, [WIN_ROLE])
    assert changed is False and clients.aws_writes() == [] and "EC2_WINDOWS" in diffs[0]["after"]
    clients.stub("eks").add_response("create_access_entry", {"accessEntry": {"principalArn": WIN_ROLE}},
                                     {"clusterName": "c", "principalArn": WIN_ROLE, "type": "EC2_WINDOWS"})
    changed, after, diffs = node_identity.fix(clients, False, identity, [WIN_ROLE])
    assert changed is True and clients.aws_writes() == ["CreateAccessEntry"]
    clients.stub("eks").assert_no_pending_responses()
    clients, again = audit([WIN_ROLE], "EC2_WINDOWS")
    assert again["roles"][0]["problems"] == []
    assert node_identity.fix(clients, False, again, [WIN_ROLE])[0] is False
    assert clients.aws_writes() == []
    assert server.writes == []


def test_a_shared_managed_role_in_api_mode_is_reported_not_fixed():
    server = FakeApiServer(windows_node(nodegroup="win-ng"))
    clients = FakeClients(server, authentication_mode="API")
    eks = clients.stub("eks")
    eks.add_response("list_nodegroups", {"nodegroups": ["lin-ng", "win-ng"]}, {"clusterName": "c"})
    for name, ami in (("lin-ng", "AL2023_x86_64_STANDARD"), ("win-ng", "WINDOWS_CORE_2022_x86_64")):
        eks.add_response("describe_nodegroup", {"nodegroup": {
            "nodegroupName": name, "nodeRole": WIN_ROLE, "amiType": ami}},
            {"clusterName": "c", "nodegroupName": name})
    eks.add_response("list_access_entries", {"accessEntries": [WIN_ROLE]}, {"clusterName": "c"})
    eks.add_response("describe_access_entry", {"accessEntry": {"principalArn": WIN_ROLE, "type": "EC2_LINUX"}},
                     {"clusterName": "c", "principalArn": WIN_ROLE})
    identity = ClusterReads(clients).node_identity()
    [role] = identity["roles"]
    assert role["shared_with_linux"] and role["windows_nodes"] == 1
    assert role["problems"] == ["windows_node_role_wrong_access_entry", "windows_node_role_shared_in_api_mode"]
    changed, after, diffs = node_identity.fix(clients, False, identity, ["*"])
    assert (changed, diffs, after["roles"][0]["fix"]["action"]) == (False, [], "manual")
    assert clients.aws_writes() == []


def test_a_node_without_an_instance_is_unresolved():
    server = FakeApiServer(node("win-x", "windows"))
    clients = FakeClients(server)
    stub_no_nodegroups(clients)
    identity = ClusterReads(clients).node_identity()
    assert identity["roles"] == []
    assert identity["unresolved"] == [{"node": "win-x", "refused": False, "reason": "no EC2 instance in spec.providerID"}]
    from ansible_collections.eksops.windows.plugins.module_utils._assessment import finding
    assert [f["id"] for f in node_identity.findings(identity, finding)] == ["windows_node_identity_unresolved"]


def test_a_refused_read_is_left_to_assessment_incomplete():
    server = FakeApiServer(windows_node())
    clients = FakeClients(server)
    stub_no_nodegroups(clients)
    clients.stub("ec2").add_client_error("describe_instances", "UnauthorizedOperation", http_status_code=403)
    reads = ClusterReads(clients)
    identity = reads.node_identity()
    assert identity["unresolved"][0]["refused"] is True
    assert "ec2:DescribeInstances failed (UnauthorizedOperation)" in reads.incomplete
    from ansible_collections.eksops.windows.plugins.module_utils._assessment import finding
    assert node_identity.findings(identity, finding) == []
