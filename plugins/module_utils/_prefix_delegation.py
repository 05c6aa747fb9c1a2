# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Windows prefix delegation (reference section 10), as one step over cni_config.

``enable-windows-prefix-delegation`` ("true"/"false") and the Windows IP targets of ConfigMap
kube-system/amazon-vpc-cni go to whoever owns it (cni_config: the VPC CNI add-on's
configuration values, checked against its version's schema; a Helm release, refused unless
``patch_helm_owned``; or the ConfigMap itself). Turning it on is gated first (gates.
prefix_delegation: the platform minimums, Nitro Windows nodes, Windows IPAM on); every refusal,
the gate's and the owner's, comes before any write. The result says how many pods each Windows
node can address before and after, by IP mode (procedure.windows_max_pods).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import (
    _cni_config as cni_config,
    _gates as gates,
    _procedure as procedure,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import InputError

# The module's options for the Windows IP targets, and the ConfigMap key each sets.
TARGET_KEYS = (
    ("warm_ip_target", "windows-warm-ip-target"),
    ("minimum_ip_target", "windows-minimum-ip-target"),
    ("warm_prefix_target", "windows-warm-prefix-target"),
)
PROCEDURE_NAME = "prefix-delegation"


def settings_of(state, targets=None):
    """{ConfigMap key: value string}: enable-windows-prefix-delegation for `state`, and each
    target of `targets` ({option: int or None}) that is given."""
    settings = {procedure.WINDOWS_PREFIX_DELEGATION_KEY: "true" if state == "enabled" else "false"}
    for option, key in TARGET_KEYS:
        value = (targets or {}).get(option)
        if value is None:
            continue
        if isinstance(value, bool) or int(value) < 0:
            raise InputError("%s must be a whole number of 0 or more, not %r." % (option, value))
        settings[key] = str(int(value))
    return settings


def prefix_support(cluster):
    """(supported True/False, None) or (None, why) when the versions cannot be read."""
    try:
        return procedure.windows_prefix_delegation_supported(
            cluster.get("version"), cluster.get("platform_version")), None
    except procedure.VersionError as e:
        return None, str(e)


def gate_facts(reads, instance_types):
    """What gates.prefix_delegation needs, from the reads (`instance_types`: reads.eni_ipv4 of
    the Windows nodes' types, read once by the caller)."""
    supported, error = prefix_support(reads.cluster)
    configmap = reads.configmap()
    addon = reads.cni_addon()
    owner = cni_config.owner_of(configmap, addon)
    owned = cni_config.owner_settings(owner, addon)
    return {
        "cluster": reads.cluster,
        "prefix_support": supported,
        "prefix_support_error": error,
        "windows_nodes": reads.windows_nodes(),
        "instance_types": instance_types,
        "instance_types_refused": reads.refused("ec2:DescribeInstanceTypes"),
        "windows_ipam": ((configmap or {}).get("data") or {}).get(procedure.WINDOWS_IPAM_KEY),
        "owner_ipam": owned.get(procedure.WINDOWS_IPAM_KEY) if owned is not None else None,
    }


def node_mode(enabled, supported, instance):
    """The IP mode of a Windows node: prefix delegation where it is on, the platform supports
    it and the node is Nitro (or bare metal), secondary IP otherwise."""
    if enabled and supported is not False and procedure.described_nitro(instance):
        return procedure.MODE_PREFIX_DELEGATION
    return procedure.MODE_SECONDARY_IP


def max_pods(windows_nodes, instance_types, supported, before, after):
    """Per Windows node, the pods its IP mode can address before and after (`before`, `after`:
    whether enable-windows-prefix-delegation is on), capped in prefix-delegation mode by the
    node's pod capacity (its kubelet max-pods), or the kubelet's default 110 when unknown."""
    found = []
    for node in windows_nodes:
        instance = instance_types.get(node["instance_type"])
        cap = node["pod_capacity"] or procedure.KUBELET_DEFAULT_MAX_PODS
        entry = {"node": node["name"], "instance_type": node["instance_type"],
                 "ipv4_per_interface": instance["ipv4_per_interface"] if instance else None,
                 "hypervisor": instance.get("hypervisor") if instance else None,
                 "pod_capacity": node["pod_capacity"], "kubelet_max_pods": cap}
        for when, enabled in (("before", before), ("after", after)):
            mode = node_mode(enabled, supported, instance)
            entry[when] = {"mode": mode, "max_pods": procedure.windows_max_pods(
                instance["ipv4_per_interface"], mode, kubelet_max_pods=cap) if instance else None}
        found.append(entry)
    return found


def converge(reads, check_mode, state, targets=None, force=False, patch_helm_owned=False,
             addon_wait_timeout=600):
    """Gate (enabled only), plan, then write the settings to the ConfigMap's owner. Returns
    (changed, result). Nothing is written before every refusal had its chance."""
    settings = settings_of(state, targets)
    cluster = reads.cluster
    supported, _error = prefix_support(cluster)
    instance_types = reads.eni_ipv4([n["instance_type"] for n in reads.windows_nodes()])
    result = {"prefix_delegation_supported": supported}
    if state == "enabled":
        result["preflight"] = gates.enforce(gates.prefix_delegation(gate_facts(reads, instance_types)),
                                            PROCEDURE_NAME, cluster["name"], force,
                                            reads.clients.warn)
    step = cni_config.plan(reads, settings, patch_helm_owned=patch_helm_owned)
    key = procedure.WINDOWS_PREFIX_DELEGATION_KEY
    before = procedure.truthy(step["result"]["configmap"]["before"][key])
    changed, written = cni_config.apply(reads, check_mode, step, addon_wait_timeout)
    result.update((k, v) for k, v in written.items() if k != "warning")
    result["max_pods"] = max_pods(reads.windows_nodes(), instance_types, supported,
                                  before, state == "enabled")
    return changed, result
