#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_support
short_description: Enable or disable Windows support on an EKS cluster's control plane
version_added: 0.1.0
description:
  - Enables or disables control-plane Windows support the way the EKS procedure says, in one
    call per cluster.
  - "Enabled: the AWS managed policy C(AmazonEKSVPCResourceController) of the cluster's
    partition is attached to the cluster role found through DescribeCluster, unless the
    cluster has no Linux nodes and uses security groups for pods; the ConfigMap
    C(kube-system/amazon-vpc-cni) gets C(enable-windows-ipam: \"true\") (created when missing,
    merge-patched when present, every other key kept)."
  - "The C(enable-windows-ipam) setting goes to whoever owns ConfigMap C(kube-system/amazon-vpc-cni)
    (the seed's procedure patched the ConfigMap; today an owner rewrites it). The EKS managed
    add-on C(vpc-cni) (found with eks:DescribeAddon): C(enableWindowsIpam) is merged into the
    add-on's configuration values (JSON or YAML, every other key kept), after checking that the
    schema of the add-on's exact version (eks:DescribeAddonConfiguration) has the key, then
    eks:UpdateAddon with C(resolveConflicts=PRESERVE), a bounded wait for the update and a read
    of the ConfigMap to check it carries the value. When the add-on's configuration values
    already say so and only the ConfigMap was edited by hand, the ConfigMap is put back to the
    add-on's value. A Helm release: refused unless O(patch_helm_owned=true). Nobody: the
    ConfigMap is created or merge-patched."
  - "The owner's refusals (eks:DescribeAddon refused, the add-on C(CREATING), C(UPDATING) or
    C(DELETING), its version's schema without the key, a Helm release) come before the policy
    step: a refused cluster is left as it was."
  - "The value is compared as the VPC resource controller reads it (Go's C(strconv.ParseBool)):
    a cluster with C(enable-windows-ipam: \"TRUE\") is enabled and nothing is written; a value
    the controller cannot parse is rewritten."
  - "Disabled: the policy is detached unless Linux nodes use security groups for pods (they
    need it); the key is set to C(\"false\"). A missing ConfigMap is not created (Windows IPAM
    is off without it)."
  - "Before any write, enabling runs the procedure's one gate (the same blockers the
    assessment's C(preflight.control_plane) verdict reports) and refuses the cluster with every
    reason: below the minimum platform version of its Kubernetes version (1.17 eks.10, 1.18
    eks.9, 1.19 eks.7, 1.20 eks.3, 1.21 eks.3; 1.22 and later always qualify), versions the
    table cannot read, a cluster role IAM does not know, no Linux node and no Fargate profile
    that can run CoreDNS (also when the Fargate profiles cannot be read), an IPv6 cluster,
    compute of EKS Auto Mode or Hybrid Nodes only (no node could run Windows), or the legacy
    C(vpc-resource-controller) Deployment still present (the control plane ignores Windows IPAM
    while it exists; the message lists every legacy object found). Check mode and
    O(manage_iam=false) do not skip the gate; only O(force=true) goes past it."
  - With O(assess=true) the same process also returns the full assessment of the cluster
    (what M(eksops.windows.eks_windows_info) returns), from the reads it already made.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads everything, writes nothing, and reports what would change.
  diff_mode:
    support: full
    description: Shows the policy attachment and the C(enable-windows-ipam) value before and after.
options:
  state:
    description:
      - C(enabled) turns control-plane Windows support on; C(disabled) turns it off.
    type: str
    choices: [enabled, disabled]
    default: enabled
  manage_iam:
    description:
      - Whether to attach or detach the policy. With C(false), IAM is left alone (for teams
        whose IAM is managed elsewhere) and the result still says whether the policy is
        attached.
    type: bool
    default: true
  force:
    description:
      - Enable even when the gate finds blockers (they are still reported, in RV(preflight),
        and as a warning). Disabling has no gate.
    type: bool
    default: false
  assess:
    description:
      - Also return the cluster's full assessment in RV(assessment), judged after the change
        (in check mode, the cluster as it is). It costs the assessment's reads (Windows pods,
        services and workloads, node groups, add-on, instance types).
    type: bool
    default: false
  patch_helm_owned:
    description:
      - When a Helm release owns ConfigMap C(kube-system/amazon-vpc-cni) (its
        C(meta.helm.sh/release-name) annotation or the label C(app.kubernetes.io/managed-by=Helm)),
        the module refuses to patch it by default and names the release and the chart value to
        set (C(enableWindowsIpam), with the C(helm upgrade --reuse-values --set) to run). With
        C(true) it patches the ConfigMap anyway, and warns that the release's next
        C(helm upgrade) reverts it unless its values say the same.
    type: bool
    default: false
  addon_wait_timeout:
    description:
      - When the EKS managed add-on C(vpc-cni) owns the ConfigMap, how many seconds to wait for
        its C(UpdateAddon) to finish (eks:DescribeUpdate, polled every 1 to 5 seconds). An update
        still running then fails the task with C(changed=true) and the update's id; it goes on
        in EKS. An update that ends C(Failed) or C(Cancelled) (for example on
        C(ConfigurationConflict)) fails the task the same way, with the errors EKS gave.
    type: int
    default: 600
notes:
  - "A failure after a write fails the task with C(changed=true) and says what was written: a
    failure of the ConfigMap step after the policy was attached (RV(iam.action=attached)), or of
    the assessment (O(assess=true)) after either write."
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - eksops.windows.lease
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Enable Windows support on a cluster
  eksops.windows.eks_windows_support:
    cluster_name: prod
    region: eu-west-1

- name: See what enabling would change, without changing anything
  eksops.windows.eks_windows_support:
    cluster_name: prod
    region: eu-west-1
  check_mode: true
  diff: true

- name: Enable it where IAM is managed by another team (the policy is only reported)
  eksops.windows.eks_windows_support:
    cluster_name: prod
    region: eu-west-1
    manage_iam: false

- name: Enable it and return the assessment from the same module call
  eksops.windows.eks_windows_support:
    cluster_name: prod
    region: eu-west-1
    assess: true
  register: prod

- name: Disable Windows support
  eksops.windows.eks_windows_support:
    cluster_name: prod
    region: eu-west-1
    state: disabled
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeCluster returns it (see M(eksops.windows.eks_windows_info)).
  returned: always
  type: dict
  sample: {name: prod, version: "1.21", platform_version: eks.3, partition: aws}
support:
  description: What the version table says about the cluster.
  returned: always
  type: dict
  contains:
    supported:
      description: Whether control-plane Windows support is possible.
      type: bool
      sample: true
    minimum_platform:
      description: The platform version the cluster's Kubernetes version needs, if any.
      type: str
      sample: eks.3
    reason:
      description: The verdict in words.
      type: str
      sample: Kubernetes 1.21 on eks.3 meets the minimum platform version eks.3.
iam:
  description: The policy step.
  returned: always
  type: dict
  contains:
    role_name:
      description: The cluster role.
      type: str
      sample: prod-cluster-role
    policy_arn:
      description: The policy of the cluster's partition.
      type: str
      sample: arn:aws:iam::aws:policy/AmazonEKSVPCResourceController
    attached_before:
      description: Whether it was attached before the module ran.
      type: bool
      sample: false
    attached:
      description: Whether it is attached now (or would be, in check mode).
      type: bool
      sample: true
    action:
      description: C(attached), C(detached), C(none), C(skipped) (the procedure's rule leaves it
        alone) or C(not_managed) (O(manage_iam=false)).
      type: str
      sample: attached
    reason:
      description: Why the step did what it did.
      type: str
      sample: the VPC resource controller needs the policy for Windows IPAM
configmap:
  description: The C(kube-system/amazon-vpc-cni) step.
  returned: always
  type: dict
  contains:
    existed:
      description: Whether the ConfigMap existed before.
      type: bool
      sample: true
    before:
      description: The C(enable-windows-ipam) value before, or null when absent.
      type: str
      sample: "false"
    after:
      description: The value now (or that it would be, in check mode).
      type: str
      sample: "true"
    action:
      description: C(created), C(patched), C(via_addon) (the add-on wrote it) or C(none).
      type: str
      sample: patched
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
  description: Where the setting was written (or would be, in check mode), C(addon),
    C(configmap), or null when nothing had to change.
  returned: always
  type: str
  sample: addon
addon:
  description: The add-on update, when the setting went to the add-on's configuration values.
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
      sample: '{"env": {"WARM_IP_TARGET": "5"}}'
    configuration_after:
      description: Its configuration values after (or that it would have, in check mode).
      type: str
      sample: '{"enableWindowsIpam": "true", "env": {"WARM_IP_TARGET": "5"}}'
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
preflight:
  description: The control-plane gate's verdict (with O(state=enabled)).
  returned: when state is enabled
  type: dict
  contains:
    allowed:
      description: Whether no blocker was found.
      type: bool
      sample: true
    forced:
      description: Whether O(force=true) went past blockers.
      type: bool
      sample: false
    blockers:
      description: What stops the procedure, each with what to do.
      type: list
      elements: str
      sample: []
    blocker_ids:
      description: Stable ids of the blockers (C(version_below_table), C(version_not_assessable),
        C(cluster_role_missing), C(no_linux_node), C(ipv6_cluster), C(auto_or_hybrid_compute_only),
        C(legacy_controller_present)).
      type: list
      elements: str
      sample: []
assessment:
  description:
    - The cluster's assessment (C(mode), C(mode_reason), C(state), C(prerequisites), C(findings),
      C(finding_counts), C(preflight), C(mixed)), as M(eksops.windows.eks_windows_info) returns it.
  returned: when O(assess=true)
  type: dict
cluster_facts:
  description: What the decisions were based on.
  returned: always
  type: dict
  contains:
    linux_nodes:
      description: Linux nodes that are not Fargate.
      type: int
      sample: 2
    security_groups_for_pods:
      description: Whether C(aws-node) has C(ENABLE_POD_ENI=true).
      type: bool
      sample: false
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _cni_config as cni_config,
    _lease as lease,
    _reads as reads,
    _windows_support as windows_support,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils._procedure import WINDOWS_IPAM_KEY


def run(module):
    params = module.params
    cluster = module.cluster
    procedure = "%s (eks_windows_support)" % ("enable" if params["state"] == "enabled" else "disable")
    with lease.held(module.clients, procedure, module.check_mode) as clients:
        cluster_reads = reads.ClusterReads(clients)
        changed, result = windows_support.converge(
            cluster_reads, module.check_mode, params["state"], params["manage_iam"], params["force"],
            params["patch_helm_owned"], params["addon_wait_timeout"], assess=params["assess"])
    result.update(changed=changed, cluster=public_cluster_facts(cluster))
    if module._diff:
        header = "%s (%s)" % (cluster["name"], cluster["region"])
        result["diff"] = cni_config.diff_of(
            result, {"policy_attached": result["iam"]["attached_before"],
                     WINDOWS_IPAM_KEY: result["configmap"]["before"]},
            {"policy_attached": result["iam"]["attached"], WINDOWS_IPAM_KEY: result["configmap"]["after"]},
            header)
    module.exit_json(**result)


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            manage_iam=dict(type="bool", default=True),
            force=dict(type="bool", default=False),
            assess=dict(type="bool", default=False),
            patch_helm_owned=dict(type="bool", default=False),
            addon_wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    module.run(run, module)


if __name__ == "__main__":
    main()
