"""Windows prefix delegation (module_utils/_prefix_delegation.py, gates.prefix_delegation, reference
section 10) on a fake API server and botocore Stubbers: each precondition refuses with no write,
check mode writes nothing, a second run writes nothing, and the pods per Windows node by mode."""

import json

import pytest

from ansible_collections.eksops.windows.plugins.module_utils import (
    _cni_config as cni_config,
    _prefix_delegation as prefix_delegation,
    _reads as reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import BlockedError, EksOpsError, InputError
from fakes import FakeApiServer, FakeClients, node, obj

CM_PATH = "/api/v1/namespaces/kube-system/configmaps/amazon-vpc-cni"
KEY = "enable-windows-prefix-delegation"
VERSION = "v1.18.3-eksbuild.2"
# Nitro m5.large and Xen m4.large as DescribeInstanceTypes says (10 IPv4 per interface each)
TYPES = {
    "m5.large": {"InstanceType": "m5.large", "Hypervisor": "nitro", "BareMetal": False,
                 "NetworkInfo": {"Ipv4AddressesPerInterface": 10}},
    "m4.large": {"InstanceType": "m4.large", "Hypervisor": "xen", "BareMetal": False,
                 "NetworkInfo": {"Ipv4AddressesPerInterface": 10}},
    "c5.metal": {"InstanceType": "c5.metal", "BareMetal": True,
                 "NetworkInfo": {"Ipv4AddressesPerInterface": 50}},
}


def schema(*windows_keys):
    properties = {"env": {"type": "object"}}
    for key in windows_keys:
        properties[key] = ({"format": "boolean", "type": "string"} if key.startswith("enable")
                           else {"type": "integer"})
    return json.dumps({"$ref": "#/definitions/VpcCni", "definitions": {"VpcCni": {
        "additionalProperties": False, "type": "object", "properties": properties}}})


SCHEMA_ALL = schema("enableWindowsIpam", "enableWindowsPrefixDelegation", "warmWindowsIPTarget",
                    "minimumWindowsIPTarget", "warmWindowsPrefixTarget")
SCHEMA_IPAM_ONLY = schema("enableWindowsIpam")


def configmap(ipam="true", metadata=None, **data):
    values = {"enable-windows-ipam": ipam} if ipam is not None else {}
    values.update(data)
    return obj("ConfigMap", "amazon-vpc-cni", "kube-system", data=values, metadata=metadata or {})


def cluster(windows=(("win-0", "m5.large", 110),), cm=None, **overrides):
    """A cluster with two Linux nodes, the Windows nodes given (name, type, pod capacity) and
    ConfigMap amazon-vpc-cni (`cm`; Windows IPAM on by default)."""
    objects = [node("lin-0"), node("lin-1")]
    objects += [node(name, "windows", instance_type, pods=pods) for name, instance_type, pods in windows]
    objects.append(configmap() if cm is None else cm)
    server = FakeApiServer(*[o for o in objects if o])
    return server, FakeClients(server, **overrides)


def instance_types(clients, *names, refused=False):
    if refused:
        clients.stub("ec2").add_client_error("describe_instance_types",
                                             service_error_code="UnauthorizedOperation", http_status_code=403)
        return
    clients.stub("ec2").add_response("describe_instance_types",
                                     {"InstanceTypes": [TYPES[n] for n in sorted(set(names)) if n in TYPES]},
                                     {"InstanceTypes": sorted(set(names))})


def no_addon(clients):
    clients.stub("eks").add_client_error("describe_addon", service_error_code="ResourceNotFoundException",
                                         http_status_code=404)


def with_addon(clients, values, version=VERSION, schema_text=SCHEMA_ALL):
    found = {"addonName": "vpc-cni", "clusterName": "c", "addonVersion": version, "status": "ACTIVE",
             "configurationValues": values}
    clients.stub("eks").add_response("describe_addon", {"addon": found},
                                     {"clusterName": "c", "addonName": "vpc-cni"})
    if schema_text:
        clients.stub("eks").add_response(
            "describe_addon_configuration",
            {"addonName": "vpc-cni", "addonVersion": version, "configurationSchema": schema_text},
            {"addonName": "vpc-cni", "addonVersion": version})


def update_addon(clients, server, values):
    """UpdateAddon expecting `values`; on success the hook writes the ConfigMap's Windows keys
    from them, as the add-on does."""
    eks = clients.stub("eks")
    eks.add_response("update_addon", {"update": {"id": "u-1", "status": "InProgress", "type": "AddonUpdate"}},
                     {"clusterName": "c", "addonName": "vpc-cni", "configurationValues": values,
                      "resolveConflicts": "PRESERVE"})
    eks.add_response("describe_update", {"update": {"id": "u-1", "status": "Successful", "errors": []}},
                     {"name": "c", "updateId": "u-1", "addonName": "vpc-cni"})

    def rewrite(**_kwargs):
        data = server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]
        for key, value_key in sorted(cni_config.procedure.VPC_CNI_ADDON_VALUES.items()):
            if value_key in json.loads(values):
                data[key] = str(json.loads(values)[value_key])
    clients._raw("eks").meta.events.register("after-call.eks.UpdateAddon", rewrite)


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch):
    monkeypatch.setattr(cni_config.time, "sleep", lambda seconds: None)


def run(clients, check_mode=False, state="enabled", **kwargs):
    return prefix_delegation.converge(reads.ClusterReads(clients), check_mode, state, **kwargs)


def all_answered(clients):
    for stubber in clients.stubbers.values():
        stubber.assert_no_pending_responses()


# --- the settings ---------------------------------------------------------------------------

def test_the_settings_are_the_key_and_only_the_targets_given():
    assert prefix_delegation.settings_of("enabled") == {KEY: "true"}
    assert prefix_delegation.settings_of("disabled", {"warm_ip_target": None}) == {KEY: "false"}
    assert prefix_delegation.settings_of("enabled", {"warm_ip_target": 5, "minimum_ip_target": 0,
                                                     "warm_prefix_target": 1}) == {
        KEY: "true", "windows-warm-ip-target": "5", "windows-minimum-ip-target": "0",
        "windows-warm-prefix-target": "1"}


def test_a_negative_target_is_refused_before_any_read():
    server, clients = cluster()
    with pytest.raises(InputError, match="warm_prefix_target must be a whole number of 0 or more"):
        run(clients, targets={"warm_prefix_target": -1})
    assert server.requests == [] and clients.answered == []


# --- nobody owns the ConfigMap ---------------------------------------------------------------

def test_enable_patches_the_key_and_reports_max_pods_before_and_after():
    server, clients = cluster(windows=(("win-0", "m5.large", 110), ("win-1", "m5.large", 29),
                                       ("win-2", "c5.metal", 110)))
    instance_types(clients, "m5.large", "c5.metal")
    no_addon(clients)
    changed, result = run(clients)
    assert changed is True
    assert result["owner"] == {"kind": "none"} and result["written_to"] == "configmap"
    assert result["configmap"] == {"existed": True, "before": {KEY: None}, "after": {KEY: "true"},
                                   "action": "patched"}
    assert result["preflight"] == {"allowed": True, "forced": False, "blockers": [], "blocker_ids": []}
    assert server.writes == [("PATCH", CM_PATH)]
    data = server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]
    assert data == {"enable-windows-ipam": "true", KEY: "true"}  # the other key kept
    by_node = dict((n["node"], n) for n in result["max_pods"])
    # m5.large: 10 IPv4 per interface: 9 in secondary-IP mode, min((10 - 1) x 16, 110) = 110
    assert by_node["win-0"]["before"] == {"mode": "secondary_ip", "max_pods": 9}
    assert by_node["win-0"]["after"] == {"mode": "prefix_delegation", "max_pods": 110}
    assert by_node["win-0"]["ipv4_per_interface"] == 10 and by_node["win-0"]["hypervisor"] == "nitro"
    # the same type whose kubelet max-pods is 29: capped there
    assert by_node["win-1"]["after"] == {"mode": "prefix_delegation", "max_pods": 29}
    assert by_node["win-1"]["kubelet_max_pods"] == 29
    # bare metal counts as Nitro: 50 IPv4 per interface, min(49 x 16, 110) = 110
    assert by_node["win-2"]["before"] == {"mode": "secondary_ip", "max_pods": 49}
    assert by_node["win-2"]["after"] == {"mode": "prefix_delegation", "max_pods": 110}
    all_answered(clients)


def test_check_mode_writes_nothing_and_says_what_would_change():
    server, clients = cluster()
    instance_types(clients, "m5.large")
    no_addon(clients)
    changed, result = run(clients, check_mode=True, targets={"warm_prefix_target": 1})
    assert changed is True and result["written_to"] == "configmap"
    assert result["configmap"]["after"] == {KEY: "true", "windows-warm-prefix-target": "1"}
    assert result["max_pods"][0]["after"] == {"mode": "prefix_delegation", "max_pods": 110}
    assert server.writes == [] and clients.aws_writes() == []
    assert KEY not in server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"]


def test_a_second_run_writes_nothing():
    server, clients = cluster(cm=configmap(**{KEY: "true", "windows-warm-prefix-target": "1"}))
    instance_types(clients, "m5.large")
    no_addon(clients)
    changed, result = run(clients, targets={"warm_prefix_target": 1})
    assert changed is False and result["written_to"] is None
    assert result["configmap"]["action"] == "none"
    assert result["max_pods"][0]["before"] == result["max_pods"][0]["after"] == {
        "mode": "prefix_delegation", "max_pods": 110}
    assert server.writes == [] and clients.aws_writes() == []


def test_disable_has_no_preconditions_and_sets_false():
    # a Xen node and Windows IPAM off: no gate when turning it off
    server, clients = cluster(windows=(("win-0", "m4.large", 110),),
                              cm=configmap(ipam="false", **{KEY: "true"}))
    instance_types(clients, "m4.large")
    no_addon(clients)
    changed, result = run(clients, state="disabled")
    assert changed is True and "preflight" not in result
    assert result["configmap"]["before"] == {KEY: "true"} and result["configmap"]["after"] == {KEY: "false"}
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"][KEY] == "false"
    # a Xen node stays in secondary-IP mode whatever the key says
    assert result["max_pods"][0]["before"] == {"mode": "secondary_ip", "max_pods": 9}


# --- the preconditions ------------------------------------------------------------------------

def refused(clients, **kwargs):
    with pytest.raises(BlockedError) as error:
        run(clients, **kwargs)
    return error.value


@pytest.mark.parametrize("version, platform", [("1.25", "eks.4"), ("1.26", "eks.3"), ("1.27", "eks.2"),
                                               ("1.24", "eks.20")])
def test_a_platform_below_the_minimums_is_refused_with_no_write(version, platform):
    server, clients = cluster(version=version, platform_version=platform)
    instance_types(clients, "m5.large")
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["windows_prefix_delegation_platform"]
    assert "Kubernetes %s on %s is below the platform minimums" % (version, platform) in error.msg
    assert server.writes == [] and clients.aws_writes() == []


@pytest.mark.parametrize("version, platform", [("1.25", "eks.5"), ("1.26", "eks.4"), ("1.27", "eks.3"),
                                               ("1.28", "eks.1")])
def test_the_platform_minimums_pass(version, platform):
    server, clients = cluster(version=version, platform_version=platform)
    instance_types(clients, "m5.large")
    no_addon(clients)
    changed, result = run(clients, check_mode=True)
    assert changed is True and result["preflight"]["allowed"] is True


def test_unreadable_versions_are_refused():
    server, clients = cluster(version="banana")
    instance_types(clients, "m5.large")
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["version_not_assessable"]
    assert server.writes == []


def test_a_windows_node_that_is_not_nitro_is_named_and_refused_with_no_write():
    server, clients = cluster(windows=(("win-nitro", "m5.large", 110), ("win-xen", "m4.large", 110)))
    instance_types(clients, "m5.large", "m4.large")
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["windows_prefix_delegation_not_nitro"]
    assert "win-xen (m4.large, hypervisor xen)" in error.msg and "win-nitro" not in error.msg
    assert "force=true" in error.msg
    assert server.writes == [] and clients.aws_writes() == []


def test_instance_types_that_cannot_be_read_are_refused_and_say_so():
    server, clients = cluster()
    instance_types(clients, refused=True)
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["windows_prefix_delegation_nitro_unknown"]
    assert "ec2:DescribeInstanceTypes could not be read" in error.msg and "win-0 (m5.large)" in error.msg
    assert server.writes == []


def test_an_instance_type_ec2_does_not_describe_is_refused():
    server, clients = cluster(windows=(("win-0", "x9.huge", 110),))
    instance_types(clients, "x9.huge")
    no_addon(clients)
    error = refused(clients)
    assert "does not describe their instance types" in error.msg and "win-0 (x9.huge)" in error.msg


def test_windows_ipam_off_is_refused_and_says_to_run_enable_first():
    server, clients = cluster(cm=configmap(ipam="false"))
    instance_types(clients, "m5.large")
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["windows_ipam_off"]
    assert 'enable-windows-ipam "false"' in error.msg and "run role eksops.windows.enable first" in error.msg
    assert server.writes == []


def test_no_configmap_means_windows_ipam_off():
    server, clients = cluster(cm=False)
    instance_types(clients, "m5.large")
    no_addon(clients)
    error = refused(clients)
    assert "enable-windows-ipam unset" in error.msg and server.writes == []


def test_every_failed_precondition_is_reported_at_once():
    server, clients = cluster(windows=(("win-xen", "m4.large", 110),), cm=configmap(ipam="false"),
                              version="1.27", platform_version="eks.2")
    instance_types(clients, "m4.large")
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == [
        "windows_prefix_delegation_platform", "windows_prefix_delegation_not_nitro", "windows_ipam_off"]


def test_force_goes_past_the_preconditions_warns_and_is_reported():
    server, clients = cluster(windows=(("win-xen", "m4.large", 110),))
    instance_types(clients, "m4.large")
    no_addon(clients)
    changed, result = run(clients, force=True)
    assert changed is True and result["preflight"]["forced"] is True
    assert result["preflight"]["blocker_ids"] == ["windows_prefix_delegation_not_nitro"]
    assert any("force=true" in w and "win-xen" in w for w in clients.warnings)
    assert server.writes == [("PATCH", CM_PATH)]
    # the Xen node stays in secondary-IP mode
    assert result["max_pods"][0]["after"] == {"mode": "secondary_ip", "max_pods": 9}


# --- the add-on owns the ConfigMap -------------------------------------------------------------

def test_through_the_addon_the_values_are_merged_typed_by_the_schema_and_read_back():
    server, clients = cluster()
    instance_types(clients, "m5.large")
    with_addon(clients, '{"enableWindowsIpam": "true"}')
    update_addon(clients, server, '{"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true", '
                                  '"warmWindowsPrefixTarget": 1}')
    changed, result = run(clients, targets={"warm_prefix_target": 1})
    assert changed is True and result["written_to"] == "addon"
    assert result["configmap"]["action"] == "via_addon"
    assert result["configmap"]["after"] == {KEY: "true", "windows-warm-prefix-target": "1"}
    assert result["addon"]["configuration_before"] == '{"enableWindowsIpam": "true"}'
    assert result["addon"]["status"] == "Successful"
    assert server.writes == [] and clients.aws_writes() == ["UpdateAddon"]
    all_answered(clients)


def test_through_the_addon_check_mode_makes_no_update():
    server, clients = cluster()
    instance_types(clients, "m5.large")
    with_addon(clients, '{"enableWindowsIpam": "true"}')
    changed, result = run(clients, check_mode=True)
    assert changed is True and result["addon"]["update_id"] is None
    assert result["addon"]["configuration_after"] == (
        '{"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true"}')
    assert server.writes == [] and clients.aws_writes() == []


def test_a_converged_addon_cluster_writes_nothing():
    server, clients = cluster(cm=configmap(**{KEY: "true"}))
    instance_types(clients, "m5.large")
    with_addon(clients, '{"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true"}',
               schema_text=None)
    changed, result = run(clients)
    assert changed is False and result["written_to"] is None
    assert server.writes == [] and clients.aws_writes() == []


def test_an_addon_whose_values_turn_windows_ipam_off_is_refused():
    # the ConfigMap says "true" by hand; the add-on's values do not: its update would reset it
    server, clients = cluster()
    instance_types(clients, "m5.large")
    with_addon(clients, "", schema_text=None)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["windows_ipam_off"]
    assert 'enableWindowsIpam "false"' in error.msg and "would turn Windows IPAM off" in error.msg
    assert server.writes == [] and clients.aws_writes() == []


def test_an_addon_version_without_the_prefix_keys_is_refused_with_no_write():
    server, clients = cluster()
    instance_types(clients, "m5.large")
    with_addon(clients, '{"enableWindowsIpam": "true"}', version="v1.12.6-eksbuild.2",
               schema_text=SCHEMA_IPAM_ONLY)
    with pytest.raises(InputError) as error:
        run(clients)
    assert "does not accept enableWindowsPrefixDelegation" in error.value.msg
    assert server.writes == [] and clients.aws_writes() == []


# --- a Helm release owns it --------------------------------------------------------------------

HELM = {"annotations": {"meta.helm.sh/release-name": "aws-vpc-cni",
                        "meta.helm.sh/release-namespace": "kube-system"}}


def test_a_helm_owned_configmap_is_refused_naming_the_chart_values():
    server, clients = cluster(cm=configmap(metadata=HELM))
    instance_types(clients, "m5.large")
    no_addon(clients)
    with pytest.raises(EksOpsError) as error:
        run(clients, targets={"warm_ip_target": 3})
    assert "enableWindowsPrefixDelegation=true" in error.value.msg
    assert "warmWindowsIPTarget=3" in error.value.msg
    assert server.writes == []


def test_a_helm_owned_configmap_is_patched_when_told_and_warned():
    server, clients = cluster(cm=configmap(metadata=HELM))
    instance_types(clients, "m5.large")
    no_addon(clients)
    changed, result = run(clients, patch_helm_owned=True)
    assert changed is True and server.writes == [("PATCH", CM_PATH)]
    assert "warning" not in result
    assert any("helm upgrade reverts" in w for w in clients.warnings)


# --- the module: its diff ----------------------------------------------------------------------

class Module:
    """What eks_windows_prefix_delegation.run uses of EksClusterModule."""

    def __init__(self, clients, check_mode=False, diff=True, **params):
        self.clients, self.cluster = clients, clients.cluster
        self.check_mode, self._diff = check_mode, diff
        self.params = {"state": "enabled", "warm_ip_target": None, "minimum_ip_target": None,
                       "warm_prefix_target": None, "force": False, "patch_helm_owned": False,
                       "addon_wait_timeout": 600}
        self.params.update(params)
        self.result = None

    def exit_json(self, **result):
        self.result = result


def test_the_diff_shows_the_keys_and_the_addons_configuration_values():
    from ansible_collections.eksops.windows.plugins.modules import eks_windows_prefix_delegation

    server, clients = cluster()
    instance_types(clients, "m5.large")
    with_addon(clients, '{"enableWindowsIpam": "true"}')
    module = Module(clients, check_mode=True, warm_ip_target=3)
    eks_windows_prefix_delegation.run(module)
    diff = module.result["diff"]
    assert diff["before"] == {KEY: None, "windows-warm-ip-target": None,
                              "addon_configuration_values": '{"enableWindowsIpam": "true"}'}
    assert diff["after"] == {KEY: "true", "windows-warm-ip-target": "3", "addon_configuration_values":
                             '{"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true", '
                             '"warmWindowsIPTarget": 3}'}
    assert module.result["changed"] is True and module.result["cluster"]["name"] == "c"
    assert server.writes == [] and clients.aws_writes() == []


def test_without_diff_mode_there_is_no_diff():
    from ansible_collections.eksops.windows.plugins.modules import eks_windows_prefix_delegation

    server, clients = cluster(cm=configmap(**{KEY: "true"}))
    instance_types(clients, "m5.large")
    no_addon(clients)
    module = Module(clients, diff=False)
    eks_windows_prefix_delegation.run(module)
    assert "diff" not in module.result and module.result["changed"] is False


# --- issue 11, item 8: Windows IPAM and the key itself read as the controller reads them --------

@pytest.mark.parametrize("ipam", ["1", "TRUE", "t"])
def test_windows_ipam_spelled_otherwise_passes_the_gate(ipam):
    server, clients = cluster(cm=configmap(ipam=ipam))
    instance_types(clients, "m5.large")
    no_addon(clients)
    changed, result = run(clients)
    assert changed is True and result["preflight"]["allowed"] is True
    assert server.find("ConfigMap", "amazon-vpc-cni", "kube-system")["data"][KEY] == "true"


@pytest.mark.parametrize("ipam", ["yes", "enabled"])
def test_unparseable_windows_ipam_is_off_for_the_gate(ipam):
    server, clients = cluster(cm=configmap(ipam=ipam))
    instance_types(clients, "m5.large")
    no_addon(clients)
    error = refused(clients)
    assert error.details["preflight"]["blocker_ids"] == ["windows_ipam_off"]
    assert 'enable-windows-ipam "%s"' % ipam in error.msg and server.writes == []


def test_a_key_already_on_in_another_spelling_is_not_rewritten_and_its_max_pods_say_so():
    server, clients = cluster(cm=configmap(**{KEY: "T"}))
    instance_types(clients, "m5.large")
    no_addon(clients)
    changed, result = run(clients)
    assert changed is False and server.writes == []
    assert result["max_pods"][0]["before"]["mode"] == "prefix_delegation"
