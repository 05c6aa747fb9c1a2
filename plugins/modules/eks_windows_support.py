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
  - Refuses to enable a cluster below the minimum platform version of its Kubernetes version
    (1.17 eks.10, 1.18 eks.9, 1.19 eks.7, 1.20 eks.3, 1.21 eks.3; 1.22 and later always
    qualify), and a cluster that still runs the legacy C(vpc-resource-controller) Deployment
    (the control plane ignores Windows IPAM while it exists).
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

from ansible_collections.eksops.windows.plugins.module_utils import iam_policy, legacy, procedure
from ansible_collections.eksops.windows.plugins.module_utils.eks_access import (
    RETRY,
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils.kube_objects import (
    MERGE_PATCH,
    container_env,
    linux_nodes,
    read_or_none,
)

try:
    from kubernetes.client import AppsV1Api, CoreV1Api
except ImportError:
    pass  # reported by EksClusterModule.kube


def cluster_facts(module, api):
    linux = linux_nodes(module, api)
    aws_node = read_or_none(
        module, "Reading DaemonSet kube-system/aws-node", AppsV1Api(api).read_namespaced_daemon_set,
        procedure.AWS_NODE_DAEMONSET, procedure.AWS_NODE_NAMESPACE)
    env = container_env(aws_node, "aws-node") if aws_node else {}
    return {"linux_nodes": len(linux),
            "security_groups_for_pods": procedure.truthy(
                env.get(procedure.SECURITY_GROUPS_FOR_PODS_ENV, "false"))}


def policy_step(module, cluster, facts, state):
    partition = cluster["partition"]
    arn = procedure.policy_arn(partition)
    try:
        role_name = procedure.role_name_from_arn(cluster["role_arn"])
    except ValueError:
        module.fail_json(msg="EKS cluster '%s' reports no usable cluster role ARN (%r)."
                         % (cluster["name"], cluster["role_arn"]))
    iam = module.client("iam", retry_decorator=RETRY)
    try:
        attached = arn in iam_policy.attached_policy_arns(module, iam, role_name)
    except iam_policy.RoleMissing:
        module.fail_json(msg="The cluster role %s of EKS cluster '%s' does not exist in IAM. "
                             "Recreate it (the cluster cannot work without it) or fix the "
                             "cluster's role." % (cluster["role_arn"], cluster["name"]))
    result = {"role_name": role_name, "policy_arn": arn, "attached_before": attached,
              "attached": attached, "action": "none"}
    act, result["reason"] = procedure.policy_needed(
        state, facts["linux_nodes"] > 0, facts["security_groups_for_pods"])
    want = state == "enabled"
    if not act:
        result["action"] = "skipped"
    elif attached == want:
        pass
    elif not module.params["manage_iam"]:
        result["action"] = "not_managed"
        result["reason"] = "manage_iam is false: the policy %s be %s by whoever manages IAM" % (
            "should", "attached" if want else "detached")
    else:
        result["action"] = "attached" if want else "detached"
        result["attached"] = want
        if not module.check_mode:
            if want:
                iam_policy.attach(module, iam, role_name, arn)
            else:
                iam_policy.detach(module, iam, role_name, arn)
    return result


def configmap_step(module, api, state):
    core = CoreV1Api(api)
    name, namespace = procedure.VPC_CNI_CONFIGMAP, procedure.VPC_CNI_CONFIGMAP_NAMESPACE
    key, value = procedure.WINDOWS_IPAM_KEY, "true" if state == "enabled" else "false"
    what = "ConfigMap %s/%s" % (namespace, name)
    current = read_or_none(module, "Reading " + what, core.read_namespaced_config_map,
                           name, namespace)
    before = (current.data or {}).get(key) if current else None
    result = {"existed": current is not None, "before": before, "after": before,
              "action": "none"}
    if current is None and state == "disabled":
        return result  # no ConfigMap: Windows IPAM is not enabled, nothing to turn off
    if before == value:
        return result
    result["after"] = value
    result["action"] = "created" if current is None else "patched"
    if module.check_mode:
        return result
    if current is None:
        body = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace}, "data": {key: value}}
        module.kube_call("Creating " + what, core.create_namespaced_config_map, namespace, body)
    else:
        module.kube_call("Patching " + what, core.patch_namespaced_config_map, name, namespace,
                         {"data": {key: value}}, _content_type=MERGE_PATCH)
    return result


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["enabled", "disabled"], default="enabled"),
            manage_iam=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    state = module.params["state"]
    cluster = module.cluster
    try:
        support = procedure.control_plane_support(cluster["version"], cluster["platform_version"])
    except procedure.VersionError as e:
        module.fail_json(msg="Cannot judge EKS cluster '%s': %s" % (cluster["name"], e))
    if state == "enabled" and not support["supported"]:
        module.fail_json(
            msg="EKS cluster '%s' (Kubernetes %s, platform %s) cannot get control-plane Windows "
                "support: %s"
                % (cluster["name"], cluster["version"], cluster["platform_version"],
                   support["reason"]),
            cluster=public_cluster_facts(cluster), support=support)

    api = module.kube
    if state == "enabled" and legacy.legacy_controller_present(module, api):
        found = legacy.find_legacy_objects(module, api)
        module.fail_json(
            msg="EKS cluster '%s' still runs legacy Windows support (found: %s). The control plane "
                "ignores Windows IPAM while Deployment kube-system/vpc-resource-controller exists. "
                "Delete these objects by name first (not with 'kubectl delete -f': the legacy "
                "manifests use API versions that Kubernetes 1.22 removed), then enable. Remove "
                "them with the eksops.windows.legacy_remove role (or playbook), which does exactly "
                "that. Never delete vpc-resource-mutating-webhook: it belongs to EKS."
                % (cluster["name"], legacy.describe(found)),
            legacy_objects=found)

    facts = cluster_facts(module, api)
    iam = policy_step(module, cluster, facts, state)
    configmap = configmap_step(module, api, state)
    changed = iam["action"] in ("attached", "detached") or configmap["action"] != "none"
    result = dict(changed=changed, cluster=public_cluster_facts(cluster), support=support,
                  iam=iam, configmap=configmap, cluster_facts=facts)
    if module._diff:
        result["diff"] = {
            "before": {"policy_attached": iam["attached_before"],
                       procedure.WINDOWS_IPAM_KEY: configmap["before"]},
            "after": {"policy_attached": iam["attached"],
                      procedure.WINDOWS_IPAM_KEY: configmap["after"]},
            "before_header": "%s (%s)" % (cluster["name"], cluster["region"]),
            "after_header": "%s (%s)" % (cluster["name"], cluster["region"]),
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
