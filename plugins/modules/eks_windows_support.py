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
  - "Disabled: the policy is detached unless Linux nodes use security groups for pods (they
    need it); the key is set to C(\"false\")."
  - "Before any write, enabling runs the procedure's one gate (the same blockers the
    assessment's C(preflight.control_plane) verdict reports) and refuses the cluster with every
    reason: below the minimum platform version of its Kubernetes version (1.17 eks.10, 1.18
    eks.9, 1.19 eks.7, 1.20 eks.3, 1.21 eks.3; 1.22 and later always qualify), a cluster role
    IAM does not know, no Linux node and no Fargate profile that can run CoreDNS, an IPv6
    cluster, or the legacy C(vpc-resource-controller) Deployment still present (the control
    plane ignores Windows IPAM while it exists). Only O(force=true) goes past it."
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
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
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
      description: C(created), C(patched) or C(none).
      type: str
      sample: patched
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
        C(cluster_role_missing), C(no_linux_node), C(ipv6_cluster), C(legacy_controller_present)).
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

from ansible_collections.eksops.windows.plugins.module_utils import assessment, reads, windows_support
from ansible_collections.eksops.windows.plugins.module_utils.eks_access import (
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils.procedure import WINDOWS_IPAM_KEY


def run(module):
    params = module.params
    cluster = module.cluster
    cluster_reads = reads.ClusterReads(module.clients)
    changed, result = windows_support.converge(
        cluster_reads, module.check_mode, params["state"], params["manage_iam"], params["force"])
    result.update(changed=changed, cluster=public_cluster_facts(cluster))
    if params["assess"]:
        result["assessment"] = assessment.judge(reads.assessment_facts(cluster_reads))
    if module._diff:
        header = "%s (%s)" % (cluster["name"], cluster["region"])
        result["diff"] = {
            "before": {"policy_attached": result["iam"]["attached_before"],
                       WINDOWS_IPAM_KEY: result["configmap"]["before"]},
            "after": {"policy_attached": result["iam"]["attached"],
                      WINDOWS_IPAM_KEY: result["configmap"]["after"]},
            "before_header": header, "after_header": header,
        }
    module.exit_json(**result)


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            manage_iam=dict(type="bool", default=True),
            force=dict(type="bool", default=False),
            assess=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    module.run(run, module)


if __name__ == "__main__":
    main()
