"""Windows IPAM written to whoever owns ConfigMap amazon-vpc-cni (module_utils/_cni_config.py,
reference section 10): the VPC CNI add-on's configuration values, a Helm release, or nobody.
A fake API server and botocore Stubbers; an UpdateAddon hook plays the add-on rewriting the
ConfigMap."""

import json

import pytest
from test_windows_support import cluster_objects, no_addon, policies

from ansible_collections.eksops.windows.plugins.module_utils import (
    _cni_config as cni_config,
    _reads as reads,
    _windows_support as windows_support,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError, InputError, StepError
from fakes import FakeApiServer, FakeClients, obj

CM_PATH = "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni"
SCHEMA_IPAM = json.dumps({"$ref": "#/definitions/VpcCni", "definitions": {"VpcCni": {
    "additionalProperties": False, "type": "object", "properties": {
        "env": {"type": "object"}, "enableWindowsIpam": {"format": "boolean", "type": "string"}}}}})
SCHEMA_OLD = json.dumps({"$ref": "#/definitions/VpcCni", "definitions": {"VpcCni": {
    "additionalProperties": False, "type": "object", "properties": {"env": {"type": "object"}}}}})


def addon(values=None, version="v1.18.3-eksbuild.2", status="ACTIVE"):
    found = {"addonName": "vpc-cni", "clusterName": "c", "addonVersion": version, "status": status}
    if values is not None:
        found["configurationValues"] = values
    return found


def with_addon(clients, found):
    clients.stub("eks").add_response("describe_addon", {"addon": found},
                                     {"clusterName": "c", "addonName": "vpc-cni"})


def schema(clients, text=SCHEMA_IPAM, version="v1.18.3-eksbuild.2"):
    clients.stub("eks").add_response(
        "describe_addon_configuration",
        {"addonName": "vpc-cni", "addonVersion": version, "configurationSchema": text},
        {"addonName": "vpc-cni", "addonVersion": version})


def update(clients, server, values, statuses=("InProgress", "Successful"), errors=None, writes=True):
    """UpdateAddon expecting `values`, then DescribeUpdate answering `statuses` in turn; when
    the update succeeds the hook writes the ConfigMap as the add-on does."""
    eks = clients.stub("eks")
    eks.add_response("update_addon", {"update": {"id": "u-1", "status": statuses[0], "type": "AddonUpdate"}},
                     {"clusterName": "c", "addonName": "vpc-cni", "configurationValues": values,
                      "resolveConflicts": "PRESERVE"})
    for status in statuses[1:]:
        eks.add_response("describe_update", {"update": {"id": "u-1", "status": status,
                                                        "errors": errors or []}},
                         {"name": "c", "updateId": "u-1", "addonName": "vpc-cni"})
    if writes and statuses[-1] == "Successful":
        ipam = json.loads(values).get("enableWindowsIpam", "false")

        def rewrite(**_kwargs):
            server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]["enable-windows-ipam"] = ipam
        clients._raw("eks").meta.events.register("after-call.eks.UpdateAddon", rewrite)


def addon_cluster(values, cm="false", attached=True, schema_text=SCHEMA_IPAM, **addon_fields):
    """A cluster with the vpc-cni add-on (configuration `values`), the policy attached or not,
    and DescribeAddonConfiguration answering `schema_text` (None: not expected)."""
    server = FakeApiServer(*cluster_objects(cm=cm))
    clients = FakeClients(server)
    policies(clients, attached=attached)
    found = addon(values, **addon_fields)
    with_addon(clients, found)
    if schema_text:
        schema(clients, schema_text, version=found["addonVersion"])
    return server, clients


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cni_config.time, "sleep", lambda seconds: None)


def run(clients, check_mode=False, state="enabled", **kwargs):
    return windows_support.converge(reads.ClusterReads(clients), check_mode, state, **kwargs)


# --- who owns it -------------------------------------------------------------------------

def test_the_owner_is_the_addon_then_a_helm_release_then_nobody():
    helm = {"metadata": {"annotations": {"meta.helm.sh/release-name": "cni",
                                         "meta.helm.sh/release-namespace": "kube-system"}}}
    label_only = {"metadata": {"labels": {"app.kubernetes.io/managed-by": "Helm"}}}
    assert cni_config.owner_of(helm, addon())["kind"] == "addon"
    assert cni_config.owner_of(helm, None) == {"kind": "helm", "release": "cni", "namespace": "kube-system"}
    assert cni_config.owner_of(label_only, None) == {"kind": "helm", "release": None, "namespace": None}
    assert cni_config.owner_of({"metadata": {}}, None) == {"kind": "none"}
    assert cni_config.owner_of(None, None) == {"kind": "none"}


@pytest.mark.parametrize("text, expected", [
    ("", ({}, "json")), (None, ({}, "json")), ("{}", ({}, "json")),
    ('{"enableWindowsIpam": "true"}', ({"enableWindowsIpam": "true"}, "json")),
    ("enableWindowsIpam: 'true'\nenv:\n  WARM_IP_TARGET: '5'\n",
     ({"enableWindowsIpam": "true", "env": {"WARM_IP_TARGET": "5"}}, "yaml")),
])
def test_configuration_values_are_json_or_yaml(text, expected):
    assert cni_config.parse_values(text) == expected


@pytest.mark.parametrize("text, says", [("[1, 2]", "not a mapping"), ("a: [unclosed", "neither JSON nor YAML")])
def test_configuration_values_that_are_not_a_mapping_are_refused(text, says):
    with pytest.raises(InputError, match=says):
        cni_config.parse_values(text)


def test_the_schema_says_which_keys_a_version_accepts():
    assert cni_config.schema_keys(SCHEMA_IPAM) == {"env", "enableWindowsIpam"}
    assert cni_config.schema_keys(SCHEMA_OLD) == {"env"}
    assert cni_config.schema_keys(json.dumps({"properties": {"a": {}}})) == {"a"}
    assert cni_config.schema_keys("not json") == set()


def test_a_setting_goes_to_the_addon_typed_as_its_schema_says():
    text = json.dumps({"properties": {"warmWindowsPrefixTarget": {"type": "integer"},
                                      "enableWindowsIpam": {"format": "boolean", "type": "string"}}})
    properties = cni_config.schema_properties(text)
    assert cni_config.typed_value("1", properties["warmWindowsPrefixTarget"]) == 1
    assert cni_config.typed_value("true", properties["enableWindowsIpam"]) == "true"
    assert cni_config.typed_value("1", None) == "1"
    assert cni_config.schema_properties("not json") == {}


def test_what_the_addon_writes_is_its_value_or_its_default():
    assert cni_config.effective_value({}, "enableWindowsIpam") == "false"
    assert cni_config.effective_value({"enableWindowsIpam": True}, "enableWindowsIpam") == "true"
    assert cni_config.effective_value({}, "warmWindowsIPTarget") is None


# --- the add-on owns it ------------------------------------------------------------------

def test_enable_writes_the_addons_configuration_keeping_its_other_keys_and_reads_back():
    server, clients = addon_cluster('{"env": {"WARM_IP_TARGET": "5"}}')
    update(clients, server, '{"enableWindowsIpam": "true", "env": {"WARM_IP_TARGET": "5"}}')
    changed, result = run(clients)
    assert changed is True
    assert result["owner"] == {"kind": "addon", "name": "vpc-cni", "version": "v1.18.3-eksbuild.2",
                               "status": "ACTIVE"}
    assert result["written_to"] == "addon"
    assert result["configmap"] == {"existed": True, "before": "false", "after": "true", "action": "via_addon"}
    assert result["addon"]["update_id"] == "u-1" and result["addon"]["status"] == "Successful"
    assert result["addon"]["configuration_before"] == '{"env": {"WARM_IP_TARGET": "5"}}'
    assert server.writes == []  # the ConfigMap is the add-on's to write, not ours
    assert clients.aws_writes() == ["UpdateAddon"]
    for stubber in clients.stubbers.values():
        stubber.assert_no_pending_responses()


def test_enable_through_the_addon_in_check_mode_makes_no_update():
    server, clients = addon_cluster("")
    changed, result = run(clients, check_mode=True)
    assert changed is True and result["written_to"] == "addon"
    assert result["addon"]["configuration_after"] == '{"enableWindowsIpam": "true"}'
    assert result["addon"]["update_id"] is None
    assert server.writes == [] and clients.aws_writes() == []


def test_yaml_configuration_values_stay_yaml():
    server, clients = addon_cluster("env:\n  WARM_IP_TARGET: '5'\n")
    changed, result = run(clients, check_mode=True)
    assert result["addon"]["configuration_after"] == "env:\n  WARM_IP_TARGET: '5'\nenableWindowsIpam: 'true'\n"


def test_a_converged_addon_cluster_reads_no_schema_and_writes_nothing():
    server, clients = addon_cluster('{"enableWindowsIpam": "true"}', cm="true", schema_text=None)
    changed, result = run(clients)
    assert changed is False and result["written_to"] is None
    assert server.writes == [] and clients.aws_writes() == []
    assert "DescribeAddonConfiguration" not in clients.answered


def test_an_addon_version_whose_schema_lacks_the_key_is_refused_before_any_write():
    # the policy would be attached: the refusal comes first
    server, clients = addon_cluster("", version="v1.10.1-eksbuild.1", attached=False, schema_text=SCHEMA_OLD)
    with pytest.raises(InputError) as refused:
        run(clients)
    assert "vpc-cni v1.10.1-eksbuild.1 of cluster 'c' does not accept enableWindowsIpam" in refused.value.msg
    assert "Nothing was changed" in refused.value.msg
    assert server.writes == [] and clients.aws_writes() == []


def test_a_hand_edit_under_an_addon_that_already_says_so_is_put_back_on_the_configmap():
    server, clients = addon_cluster('{"enableWindowsIpam": "true"}', cm="false", schema_text=None)
    changed, result = run(clients)
    assert changed is True and result["written_to"] == "configmap"
    assert server.writes == [("PATCH", CM_PATH)] and clients.aws_writes() == []


def test_disable_through_the_addon_sets_the_value_false():
    server, clients = addon_cluster('{"enableWindowsIpam": "true"}', cm="true", attached=False)
    update(clients, server, '{"enableWindowsIpam": "false"}', statuses=("Successful",))
    changed, result = run(clients, state="disabled")
    assert changed is True and result["configmap"]["after"] == "false"


def test_a_failed_update_says_why_and_that_something_may_have_changed():
    server, clients = addon_cluster("")
    update(clients, server, '{"enableWindowsIpam": "true"}', statuses=("InProgress", "Failed"), errors=[
        {"errorCode": "ConfigurationConflict", "errorMessage": "Conflicts found: .data.enable-windows-ipam"}])
    with pytest.raises(StepError) as failed:
        run(clients)
    assert "ended Failed: ConfigurationConflict Conflicts found: .data.enable-windows-ipam" in failed.value.msg
    assert failed.value.details["changed"] is True
    assert failed.value.details["addon"]["update_id"] == "u-1"


def test_an_update_still_running_after_the_timeout_is_reported_not_waited_for_forever(monkeypatch):
    server, clients = addon_cluster("")
    update(clients, server, '{"enableWindowsIpam": "true"}', statuses=("InProgress", "InProgress", "InProgress"),
           writes=False)
    ticks = iter([0, 0, 4, 8, 12])
    monkeypatch.setattr(cni_config.time, "monotonic", lambda: next(ticks))
    with pytest.raises(StepError) as waiting:
        run(clients, addon_wait_timeout=8)
    assert "is still InProgress after 12 s" in waiting.value.msg


def test_the_configmap_not_following_the_update_is_an_error():
    server, clients = addon_cluster("")
    update(clients, server, '{"enableWindowsIpam": "true"}', statuses=("Successful",), writes=False)
    with pytest.raises(StepError, match='says {"enable-windows-ipam": "false"} after the update'):
        run(clients)


def test_a_busy_addon_is_refused():
    clients = FakeClients(FakeApiServer(*cluster_objects()))
    policies(clients, attached=True)
    with_addon(clients, addon("", status="UPDATING"))
    with pytest.raises(EksOpsError, match="is UPDATING: run again when it is ACTIVE"):
        run(clients)


def test_describe_addon_refused_is_an_error_not_a_guess():
    server = FakeApiServer(*cluster_objects())
    clients = FakeClients(server)
    policies(clients, attached=False)
    clients.stub("eks").add_client_error("describe_addon", service_error_code="AccessDeniedException",
                                         http_status_code=403)
    with pytest.raises(EksOpsError, match="eks:DescribeAddon was refused"):
        run(clients)
    assert server.writes == [] and clients.aws_writes() == []


# --- a Helm release owns it ----------------------------------------------------------------

def helm_configmap(value="false"):
    return obj("ConfigMap", "amazon-vpc-cni", "kube-system", data={"enable-windows-ipam": value},
               metadata={"annotations": {"meta.helm.sh/release-name": "aws-vpc-cni",
                                         "meta.helm.sh/release-namespace": "kube-system"},
                         "labels": {"app.kubernetes.io/managed-by": "Helm"}})


def helm_cluster(value="false", attached=True):
    """A cluster without the add-on whose ConfigMap a Helm release owns."""
    server = FakeApiServer(*cluster_objects(cm=None), helm_configmap(value))
    clients = FakeClients(server)
    policies(clients, attached=attached)
    no_addon(clients)
    return server, clients


def test_a_helm_owned_configmap_is_refused_with_the_release_and_the_chart_value():
    server, clients = helm_cluster(attached=False)
    with pytest.raises(EksOpsError) as refused:
        run(clients)
    assert "belongs to Helm release kube-system/aws-vpc-cni" in refused.value.msg
    assert "--set enableWindowsIpam=true" in refused.value.msg and "patch_helm_owned=true" in refused.value.msg
    assert server.writes == [] and clients.aws_writes() == []


def test_patch_helm_owned_patches_and_warns_that_helm_reverts_it():
    server, clients = helm_cluster()
    changed, result = run(clients, patch_helm_owned=True)
    assert changed is True and result["written_to"] == "configmap"
    assert result["owner"]["kind"] == "helm"
    assert server.writes == [("PATCH", CM_PATH)]
    assert any("next helm upgrade reverts this" in w for w in clients.warnings)


def test_a_helm_owned_configmap_that_already_says_so_is_left_alone():
    server, clients = helm_cluster("true")
    assert run(clients)[0] is False and server.writes == []


def test_the_diff_shows_the_addons_values_only_when_they_were_written():
    plain = cni_config.diff_of({}, {"k": "false"}, {"k": "true"}, "c (r)")
    assert plain == {"before": {"k": "false"}, "after": {"k": "true"},
                     "before_header": "c (r)", "after_header": "c (r)"}
    via = cni_config.diff_of({"addon": {"configuration_before": "", "configuration_after": "{}"}},
                             {"k": "false"}, {"k": "true"}, "c (r)")
    assert via["before"] == {"k": "false", "addon_configuration_values": ""}
    assert via["after"] == {"k": "true", "addon_configuration_values": "{}"}


# --- issue 11, item 8: the owner's value read as the controller reads it ------------------------

@pytest.mark.parametrize("values", ['{"enableWindowsIpam": "True"}', '{"enableWindowsIpam": true}',
                                    "enableWindowsIpam: '1'\n"])
def test_an_addon_value_spelled_otherwise_is_already_on(values):
    server, clients = addon_cluster(values, cm="TRUE", schema_text=None)
    changed, result = run(clients)
    assert changed is False and result["written_to"] is None
    assert server.writes == [] and clients.aws_writes() == []


def test_an_unparseable_addon_value_is_rewritten_through_the_addon():
    server, clients = addon_cluster('{"enableWindowsIpam": "yes"}', cm="yes")
    update(clients, server, '{"enableWindowsIpam": "true"}')
    changed, result = run(clients)
    assert changed is True and result["written_to"] == "addon"
    assert json.loads(result["addon"]["configuration_after"]) == {"enableWindowsIpam": "true"}
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]["enable-windows-ipam"] == "true"
