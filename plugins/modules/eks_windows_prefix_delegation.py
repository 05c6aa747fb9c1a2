#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_prefix_delegation
short_description: Turn Windows prefix delegation on or off on an EKS cluster
version_added: 0.1.0
description:
  - Turns Windows prefix delegation of the VPC CNI on or off, in one call per cluster. With it
    on, the VPC resource controller gives each Windows node's network interface C(/28) IPv4
    prefixes instead of secondary IP addresses, so a node can run (IPv4 slots - 1) x 16 pods,
    capped by its kubelet C(max-pods) (110 by default), instead of IPv4 slots - 1.
  - "Sets C(enable-windows-prefix-delegation) (C(\"true\") or C(\"false\")) and, when given, the
    Windows IP targets C(windows-warm-ip-target), C(windows-minimum-ip-target) and
    C(windows-warm-prefix-target) of ConfigMap C(kube-system/amazon-vpc-cni), written to whoever
    owns it, as M(eksops.windows.eks_windows_support) writes C(enable-windows-ipam). The EKS
    managed add-on C(vpc-cni): the keys C(enableWindowsPrefixDelegation), C(warmWindowsIPTarget),
    C(minimumWindowsIPTarget) and C(warmWindowsPrefixTarget) are merged into its configuration
    values (every other key kept), each typed as the version's schema says (an integer where it
    says C(type: integer)), after checking that the schema of the add-on's exact version
    (eks:DescribeAddonConfiguration) has them (a version without them, such as one that only has
    C(enableWindowsIpam), is refused with nothing written), then eks:UpdateAddon with
    C(resolveConflicts=PRESERVE), a bounded wait and a read of the ConfigMap. A Helm release:
    refused unless O(patch_helm_owned=true). Nobody: the ConfigMap is created or merge-patched.
    Every refusal, the preconditions' and the owner's, comes before any write."
  - "Before any write, enabling checks the preconditions of Windows prefix delegation and refuses
    the cluster with every reason: Kubernetes and platform version below 1.25 eks.5, 1.26 eks.4,
    1.27 eks.3 (1.28 and later always qualify); a Windows node whose instance type is not Nitro
    (ec2:DescribeInstanceTypes says its C(Hypervisor) is C(nitro), or that it is bare metal),
    each such node named, or whose type could not be judged (C(ec2:DescribeInstanceTypes)
    refused, or silent about the type); versions the platform minimums cannot read; Windows IPAM
    off (C(enable-windows-ipam) not a true value, as Go's C(strconv.ParseBool) reads it, in the
    ConfigMap, or, when the add-on owns the ConfigMap, not true in its configuration values, so
    that the add-on's update that sets prefix delegation would write C(\"false\") back: run role
    C(eksops.windows.enable) first). Check mode does not skip them; only O(force=true) goes past
    them."
  - Disabling has no preconditions; it sets the key to C(false). Without Windows IP targets to
    set, a missing ConfigMap is not created (prefix delegation is off without it).
  - Linux prefix delegation (C(ENABLE_PREFIX_DELEGATION) of C(aws-node)) is left alone; the two
    coexist.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads everything, writes nothing, and reports what would change.
  diff_mode:
    support: full
    description: Shows the ConfigMap keys before and after, and the add-on's configuration
      values when the add-on owns the ConfigMap.
options:
  state:
    description:
      - C(enabled) turns Windows prefix delegation on; C(disabled) turns it off.
    type: str
    choices: [enabled, disabled]
    default: enabled
  warm_ip_target:
    description:
      - C(windows-warm-ip-target) (add-on value C(warmWindowsIPTarget)), the free IPv4 addresses
        the controller keeps on each Windows node. Left alone when not given. A target must be 0
        or more (refused before any write).
    type: int
  minimum_ip_target:
    description:
      - C(windows-minimum-ip-target) (add-on value C(minimumWindowsIPTarget)), the IPv4 addresses
        each Windows node holds at least. Left alone when not given. 0 or more.
    type: int
  warm_prefix_target:
    description:
      - C(windows-warm-prefix-target) (add-on value C(warmWindowsPrefixTarget)), the free
        prefixes the controller keeps on each Windows node. Left alone when not given. 0 or more.
    type: int
  force:
    description:
      - Enable even when the preconditions are not met (they are still reported, in
        RV(preflight), and as a warning). Disabling has none.
    type: bool
    default: false
  patch_helm_owned:
    description:
      - When a Helm release owns ConfigMap C(kube-system/amazon-vpc-cni) (its
        C(meta.helm.sh/release-name) annotation or the label C(app.kubernetes.io/managed-by=Helm)),
        the module refuses to patch it by default and names the release and the chart values to
        set (C(enableWindowsPrefixDelegation) and the targets). With C(true) it patches the ConfigMap anyway, and warns that the
        release's next C(helm upgrade) reverts it unless its values say the same.
    type: bool
    default: false
  addon_wait_timeout:
    description:
      - When the EKS managed add-on C(vpc-cni) owns the ConfigMap, how many seconds to wait for
        its C(UpdateAddon) to finish (eks:DescribeUpdate, polled every 1 to 5 seconds). An update
        still running then fails the task with C(changed=true) and the update's id; it goes on
        in EKS. An update that ends C(Failed) or C(Cancelled) fails the task the same way, with
        the errors EKS gave.
    type: int
    default: 600
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - eksops.windows.lease
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Turn Windows prefix delegation on
  eksops.windows.eks_windows_prefix_delegation:
    cluster_name: prod
    region: eu-west-1

- name: See what it would change and how many pods each Windows node would get
  eksops.windows.eks_windows_prefix_delegation:
    cluster_name: prod
    region: eu-west-1
  check_mode: true
  diff: true
  register: prod

- name: Turn it on and keep one free prefix on each Windows node
  eksops.windows.eks_windows_prefix_delegation:
    cluster_name: prod
    region: eu-west-1
    warm_prefix_target: 1

- name: Turn it off
  eksops.windows.eks_windows_prefix_delegation:
    cluster_name: prod
    region: eu-west-1
    state: disabled
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeCluster returns it (see M(eksops.windows.eks_windows_info)).
  returned: always
  type: dict
  sample: {name: prod, version: "1.31", platform_version: eks.12, partition: aws}
prefix_delegation_supported:
  description: Whether the cluster's Kubernetes and platform versions support Windows prefix
    delegation (null when they cannot be read).
  returned: always
  type: bool
  sample: true
preflight:
  description: The verdict of the preconditions (with O(state=enabled)).
  returned: when state is enabled
  type: dict
  contains:
    allowed:
      description: Whether no precondition failed.
      type: bool
      sample: true
    forced:
      description: Whether O(force=true) went past failed preconditions.
      type: bool
      sample: false
    blockers:
      description: What stops the procedure, each with what to do.
      type: list
      elements: str
      sample: []
    blocker_ids:
      description: Stable ids of the blockers (C(version_not_assessable),
        C(windows_prefix_delegation_platform), C(windows_prefix_delegation_not_nitro),
        C(windows_prefix_delegation_nitro_unknown), C(windows_ipam_off)).
      type: list
      elements: str
      sample: []
configmap:
  description: The keys of C(kube-system/amazon-vpc-cni) the module sets.
  returned: always
  type: dict
  contains:
    existed:
      description: Whether the ConfigMap existed before.
      type: bool
      sample: true
    before:
      description: Each key's value before (null when absent).
      type: dict
      sample: {enable-windows-prefix-delegation: null}
    after:
      description: Each key's value now (or that it would be, in check mode).
      type: dict
      sample: {enable-windows-prefix-delegation: "true"}
    action:
      description: C(created), C(patched), C(via_addon) (the add-on wrote it) or C(none).
      type: str
      sample: via_addon
owner:
  description: Who owns ConfigMap C(kube-system/amazon-vpc-cni).
  returned: always
  type: dict
  sample: {kind: addon, name: vpc-cni, version: v1.18.3-eksbuild.2, status: ACTIVE}
  contains:
    kind:
      description: C(addon) (the EKS managed add-on), C(helm) (a Helm release) or C(none).
      type: str
      sample: addon
    release:
      description: The Helm release (kind C(helm)).
      type: str
      sample: aws-vpc-cni
written_to:
  description: Where the settings were written (or would be, in check mode), C(addon),
    C(configmap), or null when nothing had to change.
  returned: always
  type: str
  sample: addon
addon:
  description: The add-on update, when the settings went to the add-on's configuration values.
  returned: when written_to is addon
  type: dict
  contains:
    name:
      description: The add-on.
      type: str
      sample: vpc-cni
    version:
      description: Its version (unchanged by the update).
      type: str
      sample: v1.18.3-eksbuild.2
    configuration_before:
      description: Its configuration values before.
      type: str
      sample: '{"enableWindowsIpam": "true"}'
    configuration_after:
      description: Its configuration values after (or that it would have, in check mode).
      type: str
      sample: '{"enableWindowsIpam": "true", "enableWindowsPrefixDelegation": "true"}'
    resolve_conflicts:
      description: The C(resolveConflicts) of the update.
      type: str
      sample: PRESERVE
    update_id:
      description: The update's id (null in check mode).
      type: str
      sample: 0d1a2b3c-...
    status:
      description: The update's last status (C(Successful); null in check mode).
      type: str
      sample: Successful
    waited_seconds:
      description: How long the module waited for the update.
      type: int
      sample: 4
max_pods:
  description:
    - Per Windows node, the pods its IP mode can address before and after the change. In
      secondary-IP mode the IPv4 addresses per interface minus one; with prefix delegation
      (on, a supported platform and a Nitro node) (IPv4 addresses per interface - 1) x 16,
      capped by the node's pod capacity (its kubelet C(max-pods); 110 when unknown).
  returned: always
  type: list
  elements: dict
  contains:
    node:
      description: The node.
      type: str
      sample: win-1
    instance_type:
      description: Its instance type.
      type: str
      sample: m5.large
    ipv4_per_interface:
      description: IPv4 addresses per network interface (ec2:DescribeInstanceTypes; null when
        not described).
      type: int
      sample: 10
    hypervisor:
      description: The type's hypervisor (C(nitro), C(xen); null for bare metal or not described).
      type: str
      sample: nitro
    pod_capacity:
      description: The node's pod capacity (null when it advertises none).
      type: int
      sample: 110
    kubelet_max_pods:
      description: The cap of prefix-delegation mode used (the pod capacity, or 110).
      type: int
      sample: 110
    before:
      description: C(mode) (C(secondary_ip) or C(prefix_delegation)) and C(max_pods) before.
      type: dict
      sample: {mode: secondary_ip, max_pods: 9}
    after:
      description: C(mode) and C(max_pods) after (or that it would be, in check mode).
      type: dict
      sample: {mode: prefix_delegation, max_pods: 110}
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _cni_config as cni_config,
    _lease as lease,
    _prefix_delegation as prefix_delegation,
    _reads as reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    EksClusterModule,
    public_cluster_facts,
)


def run(module):
    params = module.params
    cluster = module.cluster
    with lease.held(module.clients, "prefix delegation %s (eks_windows_prefix_delegation)" % params["state"],
                    module.check_mode) as clients:
        changed, result = prefix_delegation.converge(
            reads.ClusterReads(clients), module.check_mode, params["state"],
            dict((option, params[option]) for option, _key in prefix_delegation.TARGET_KEYS),
            params["force"], params["patch_helm_owned"], params["addon_wait_timeout"])
    result.update(changed=changed, cluster=public_cluster_facts(cluster))
    if module._diff:
        header = "%s (%s)" % (cluster["name"], cluster["region"])
        result["diff"] = cni_config.diff_of(result, result["configmap"]["before"],
                                            result["configmap"]["after"], header)
    module.exit_json(**result)


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            warm_ip_target=dict(type="int"),
            minimum_ip_target=dict(type="int"),
            warm_prefix_target=dict(type="int"),
            force=dict(type="bool", default=False),
            patch_helm_owned=dict(type="bool", default=False),
            addon_wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    module.run(run, module)


if __name__ == "__main__":
    main()
