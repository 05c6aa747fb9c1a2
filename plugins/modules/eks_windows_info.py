#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_info
short_description: Assess an EKS cluster for Windows support
version_added: 0.1.0
description:
  - Describes one EKS cluster (Kubernetes version, platform version, endpoint, cluster role)
    and reads, through its Kubernetes API, the server version and every node with its operating
    system, architecture, instance type and node group.
  - With O(assess=true) (the default) it also judges the cluster against every consideration
    and prerequisite of the EKS Windows support procedure and returns the C(mode) (control-plane
    support possible, legacy only, or not assessable), the current C(state) (policy,
    C(enable-windows-ipam), legacy objects and flavour, webhook certificate), the
    C(prerequisites), the C(findings) with severity and remedy, and the C(preflight) verdicts that
    the roles C(enable) and C(legacy_install) gate on.
  - "Reads: EKS DescribeCluster, ListFargateProfiles, DescribeFargateProfile, ListNodegroups,
    DescribeNodegroup, DescribeAddon (vpc-cni); IAM ListAttachedRolePolicies; EC2
    DescribeInstanceTypes (the instance types of Windows nodes); Kubernetes: the version, nodes,
    pods, services, Deployments, StatefulSets and DaemonSets of all namespaces
    (aws-node's env is taken from that list), ConfigMap amazon-vpc-cni, the legacy objects by name
    and the legacy webhook Secret (only its certificate is inspected; the key is never read into
    the result)."
  - An AWS read that is denied does not end the assessment; it becomes the finding
    C(assessment_incomplete). Kubernetes read errors fail the module with an explanation.
  - Reads only; makes no change anywhere.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: The module only reads, so it runs the same in check mode.
  diff_mode:
    support: none
    description: Nothing changes, so there is no diff.
options:
  assess:
    description:
      - Judge the cluster against the procedure's considerations and prerequisites.
      - With V(false) only the versions, nodes and version-table verdict are read (two
        Kubernetes requests).
    type: bool
    default: true
  webhook_certificate_warning_days:
    description:
      - A legacy webhook certificate that expires in fewer days than this is reported with the
        finding C(webhook_certificate_expiring).
    type: int
    default: 30
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Read a cluster's versions and nodes through the EKS token path
  eksops.windows.eks_windows_info:
    cluster_name: prod
    region: us-west-2
  register: prod

- name: Stop when the assessment finds errors
  ansible.builtin.assert:
    that: prod.finding_counts.error == 0
    fail_msg: "{{ prod.findings | selectattr('severity', 'eq', 'error') | map(attribute='title') | list }}"

- name: Print them
  ansible.builtin.debug:
    msg: >-
      {{ prod.cluster.version }} ({{ prod.cluster.platform_version }}),
      {{ prod.node_counts.linux }} Linux and {{ prod.node_counts.windows }} Windows nodes

- name: Same, through a kubeconfig context instead of the EKS token
  eksops.windows.eks_windows_info:
    cluster_name: prod
    region: us-west-2
    kubeconfig: ~/.kube/config
    context: prod-admin
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeCluster returns it, normalised.
  returned: always
  type: dict
  contains:
    name:
      description: Cluster name.
      type: str
      sample: prod
    arn:
      description: Cluster ARN.
      type: str
      sample: arn:aws:eks:us-west-2:123456789012:cluster/prod
    region:
      description: Region of the cluster.
      type: str
      sample: us-west-2
    partition:
      description: AWS partition, from the cluster ARN.
      type: str
      sample: aws
    version:
      description: Kubernetes minor version as EKS reports it.
      type: str
      sample: "1.21"
    platform_version:
      description: EKS platform version.
      type: str
      sample: eks.3
    status:
      description: Cluster status.
      type: str
      sample: ACTIVE
    endpoint:
      description: Kubernetes API endpoint.
      type: str
      sample: https://ABCDEF.gr7.us-west-2.eks.amazonaws.com
    role_arn:
      description: Cluster IAM role.
      type: str
      sample: arn:aws:iam::123456789012:role/prod-cluster-role
    ip_family:
      description: Service IP family, C(ipv4) or C(ipv6).
      type: str
      sample: ipv4
    tags:
      description: Cluster tags.
      type: dict
      sample: {team: platform}
support:
  description: What the version table says about control-plane Windows support.
  returned: always
  type: dict
  contains:
    supported:
      description: Whether control-plane Windows support is possible.
      type: bool
      sample: false
    minimum_platform:
      description: The platform version the cluster's Kubernetes version needs, if any.
      type: str
      sample: eks.7
    reason:
      description: The verdict in words.
      type: str
      sample: Kubernetes 1.19 on platform eks.6 is below the minimum platform version eks.7 ...
server_version:
  description: What the API server's C(/version) says.
  returned: always
  type: dict
  contains:
    git_version:
      description: Full server version.
      type: str
      sample: v1.21.14-eks-fb459a0
    major:
      description: Major version.
      type: str
      sample: "1"
    minor:
      description: Minor version.
      type: str
      sample: "21+"
nodes:
  description: Every node with the facts Windows support depends on.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Node name.
      type: str
      sample: ip-10-0-1-11.us-west-2.compute.internal
    os:
      description: C(kubernetes.io/os) label (C(linux) or C(windows)).
      type: str
      sample: windows
    arch:
      description: C(kubernetes.io/arch) label.
      type: str
      sample: amd64
    instance_type:
      description: C(node.kubernetes.io/instance-type) label.
      type: str
      sample: m5.large
    nodegroup:
      description: C(eks.amazonaws.com/nodegroup) label, for managed node groups.
      type: str
      sample: linux-ng
    fargate:
      description: Whether the node is a Fargate node (C(eks.amazonaws.com/compute-type=fargate)).
      type: bool
      sample: false
    ready:
      description: Whether the node's Ready condition is True.
      type: bool
      sample: true
    pod_capacity:
      description: The node's C(pods) capacity.
      type: int
      sample: 9
node_counts:
  description: Nodes per operating system.
  returned: always
  type: dict
  sample: {linux: 2, windows: 1}
auth_method:
  description: How the module reached the API server, C(eks-token), C(kubeconfig) or C(host).
  returned: always
  type: str
  sample: eks-token
mode:
  description:
    - What the version table allows, C(control_plane), C(legacy) (below the table) or
      C(not_assessable) (versions it cannot read).
  returned: when O(assess=true)
  type: str
  sample: control_plane
mode_reason:
  description: The version table's verdict in words.
  returned: when O(assess=true)
  type: str
  sample: Kubernetes 1.21 on eks.3 meets the minimum platform version eks.3.
mixed:
  description: Whether the cluster has Linux and Windows nodes.
  returned: when O(assess=true)
  type: bool
  sample: true
state:
  description: Windows support as the cluster has it now.
  returned: when O(assess=true)
  type: dict
  contains:
    windows_support:
      description:
        - C(enabled), C(disabled), C(partial) (Windows IPAM on but a needed policy missing),
          C(legacy) (legacy objects present) or C(unknown) (IAM could not be read).
      type: str
      sample: enabled
    policy_attached:
      description: Whether C(AmazonEKSVPCResourceController) is attached to the cluster role; null when IAM could not tell.
      type: bool
      sample: true
    policy_needed:
      description: Whether the procedure wants the policy attached for Windows support on this cluster.
      type: bool
      sample: true
    enable_windows_ipam:
      description: The C(enable-windows-ipam) value of ConfigMap C(kube-system/amazon-vpc-cni); null when absent.
      type: str
      sample: "true"
    legacy:
      description: Legacy objects found (C(present), C(flavours), C(objects)).
      type: dict
      sample: {present: true, flavours: [eksctl], objects: [Deployment/kube-system/vpc-resource-controller]}
    webhook_certificate:
      description: The legacy webhook certificate (C(days_left), C(not_after), C(expired)); null without one.
      type: dict
      sample: {days_left: 12, not_after: "2026-12-06T10:00:00Z", expired: false}
prerequisites:
  description: The prerequisites of section 1 and 2 of the procedure.
  returned: when O(assess=true)
  type: dict
  sample:
    linux_nodes: 2
    recommended_linux_nodes: 2
    fargate_coredns: false
    fargate_profiles: []
    control_plane_met: true
    legacy_met: false
findings:
  description: Every consideration the cluster runs into, errors first.
  returned: when O(assess=true)
  type: list
  elements: dict
  contains:
    id:
      description: Stable identifier of the finding (see the collection's docs/modules/eks_windows_info.md).
      type: str
      sample: unsupported_instance_type
    severity:
      description: C(error), C(warning) or C(info).
      type: str
      sample: error
    title:
      description: What the finding is about.
      type: str
      sample: Windows nodes on instance types not supported for Windows
    detail:
      description: What was seen on this cluster.
      type: str
      sample: "1 Windows node: win-1 (c4.large). ..."
    remedy:
      description: What to do.
      type: str
      sample: Replace them with nodes of a supported instance type (for example m5, c5 or r5).
    objects:
      description: The objects concerned, as C(Kind/namespace/name) or C(Kind/name).
      type: list
      elements: str
      sample: [Node/win-1]
finding_counts:
  description: Findings per severity.
  returned: when O(assess=true)
  type: dict
  sample: {error: 1, warning: 2, info: 0}
preflight:
  description:
    - Whether the procedures may run, with the reasons they may not. C(control_plane) gates
      role C(enable), C(legacy) gates role C(legacy_install).
  returned: when O(assess=true)
  type: dict
  sample:
    control_plane: {allowed: true, blockers: []}
    legacy: {allowed: false, blockers: ["control-plane support is possible ..."]}
"""

import base64

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code

from ansible_collections.eksops.windows.plugins.module_utils import (
    assessment,
    certificates,
    iam_policy,
    legacy,
    procedure,
    workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils.eks_access import (
    RETRY,
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils.kube_objects import (
    read_or_none,
)

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports a missing botocore itself

try:
    from kubernetes.client import CoreV1Api, VersionApi
except ImportError:
    pass  # reported by EksClusterModule.kube


def node_facts(node):
    labels = node.metadata.labels or {}
    conditions = (node.status.conditions if node.status else None) or []
    capacity = (node.status.capacity if node.status else None) or {}
    return {
        "name": node.metadata.name,
        "os": labels.get("kubernetes.io/os", labels.get("beta.kubernetes.io/os")),
        "arch": labels.get("kubernetes.io/arch", labels.get("beta.kubernetes.io/arch")),
        "instance_type": labels.get("node.kubernetes.io/instance-type",
                                    labels.get("beta.kubernetes.io/instance-type")),
        "nodegroup": labels.get("eks.amazonaws.com/nodegroup"),
        "fargate": labels.get("eks.amazonaws.com/compute-type") == "fargate",
        "ready": any(c.type == "Ready" and c.status == "True" for c in conditions),
        "pod_capacity": int(capacity["pods"]) if "pods" in capacity else None,
    }


class Reader(object):
    """Reads, for one cluster, what the assessment judges. AWS reads that fail for want of a
    permission do not end the assessment: they are listed as incomplete."""

    def __init__(self, module):
        self.module = module
        self.cluster = module.cluster
        self.incomplete = []

    def aws(self, what, func, **kwargs):
        try:
            return func(aws_retry=True, **kwargs)
        except is_boto3_error_code("ResourceNotFoundException"):
            return None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:  # pylint: disable=duplicate-except
            code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
            self.incomplete.append("%s failed (%s)" % (what, code))
            return None

    def role(self):
        """(role exists, policy attached); None where IAM could not tell."""
        try:
            role_name = procedure.role_name_from_arn(self.cluster["role_arn"])
        except ValueError:
            return False, None
        iam = self.module.client("iam", retry_decorator=RETRY)
        try:
            arns = iam_policy.list_attached(iam, role_name)
        except iam_policy.RoleMissing:
            return False, None
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
            code = getattr(e, "response", {}).get("Error", {}).get("Code", type(e).__name__)
            self.incomplete.append("iam:ListAttachedRolePolicies on %s failed (%s)" % (role_name, code))
            return None, None
        return True, procedure.policy_arn(self.cluster["partition"]) in arns

    def described(self, what, list_func, list_key, describe_func, name_key, item_key):
        """Every item a paginated EKS List call names, each through its Describe call."""
        eks_name = self.cluster["name"]
        items, token = [], None
        while True:
            page = self.aws("eks:List" + what, list_func, clusterName=eks_name,
                            **({"nextToken": token} if token else {})) or {}
            for name in page.get(list_key, []):
                found = self.aws("eks:Describe" + what.rstrip("s"), describe_func,
                                 clusterName=eks_name, **{name_key: name})
                if found:
                    items.append(found[item_key])
            token = page.get("nextToken")
            if not token:
                return items

    def eks(self):
        eks = self.module.client("eks", retry_decorator=RETRY)
        profiles = self.described("FargateProfiles", eks.list_fargate_profiles, "fargateProfileNames",
                                  eks.describe_fargate_profile, "fargateProfileName", "fargateProfile")
        groups = self.described("Nodegroups", eks.list_nodegroups, "nodegroups",
                                eks.describe_nodegroup, "nodegroupName", "nodegroup")
        addon = self.aws("eks:DescribeAddon", eks.describe_addon, clusterName=self.cluster["name"],
                         addonName=procedure.VPC_CNI_ADDON)
        return profiles, groups, (addon or {}).get("addon")

    def eni_ipv4(self, instance_types):
        """IPv4 addresses per interface of each instance type (one DescribeInstanceTypes)."""
        wanted = sorted(set(t for t in instance_types if t))
        if not wanted:
            return {}
        ec2 = self.module.client("ec2", retry_decorator=RETRY)
        found = {}
        for start in range(0, len(wanted), 100):
            page = self.aws("ec2:DescribeInstanceTypes", ec2.describe_instance_types,
                            InstanceTypes=wanted[start:start + 100])
            for item in (page or {}).get("InstanceTypes", []):
                found[item["InstanceType"]] = item["NetworkInfo"]["Ipv4AddressesPerInterface"]
        return found

    def webhook_certificate(self, api):
        secret = read_or_none(
            self.module, "Reading Secret kube-system/%s" % procedure.LEGACY_SHARED["secret"],
            CoreV1Api(api).read_namespaced_secret, procedure.LEGACY_SHARED["secret"],
            procedure.LEGACY_NAMESPACE)
        cert = ((secret.data or {}) if secret else {}).get("cert.pem")
        if not cert:
            return None
        return certificates.inspect(base64.b64decode(cert))


def gather(module, api, nodes, support):
    reader = Reader(module)
    cluster = module.cluster
    facts = {"cluster": cluster, "nodes": nodes, "support": support}
    facts["role_exists"], facts["policy_attached"] = reader.role()
    facts["fargate_profiles"], facts["nodegroups"], facts["cni_addon"] = reader.eks()
    windows_types = [n["instance_type"] for n in nodes if n["os"] == "windows"]
    facts["eni_ipv4"] = reader.eni_ipv4(windows_types)

    facts["workloads"] = workloads.list_workloads(module, api)
    # aws-node is one of the DaemonSets just listed: no read of its own
    aws_node = workloads.find(facts["workloads"], "DaemonSet", procedure.AWS_NODE_NAMESPACE,
                              procedure.AWS_NODE_DAEMONSET)
    facts["aws_node_env"] = workloads.container_env(aws_node, "aws-node") if aws_node else None
    configmap = read_or_none(
        module, "Reading ConfigMap kube-system/%s" % procedure.VPC_CNI_CONFIGMAP,
        CoreV1Api(api).read_namespaced_config_map, procedure.VPC_CNI_CONFIGMAP,
        procedure.VPC_CNI_CONFIGMAP_NAMESPACE)
    facts["configmap"] = {"data": configmap.data or {},
                          "annotations": configmap.metadata.annotations or {}} if configmap else None
    facts["legacy_objects"] = legacy.find_legacy_objects(
        module, api, include_csrs=procedure.serves_certificates_v1(cluster["version"]))
    facts["webhook_certificate"] = reader.webhook_certificate(api) if facts["legacy_objects"] else None
    facts["pods"] = workloads.list_objects(module, api, "/api/v1/pods", "Pod")
    facts["services"] = workloads.list_objects(module, api, "/api/v1/services", "Service")
    facts["incomplete"] = reader.incomplete
    return facts


def main():
    module = EksClusterModule(
        argument_spec=dict(
            assess=dict(type="bool", default=True),
            webhook_certificate_warning_days=dict(type="int", default=procedure.WEBHOOK_CERT_WARNING_DAYS),
        ),
        supports_check_mode=True,
    )
    if module.params["webhook_certificate_warning_days"] < 0:
        module.fail_json(msg="webhook_certificate_warning_days must be 0 or more (got %d)."
                             % module.params["webhook_certificate_warning_days"])
    cluster = module.cluster
    api = module.kube
    version = module.kube_call("Reading the server version", VersionApi(api).get_code)
    nodes = module.kube_call("Listing nodes", CoreV1Api(api).list_node)
    facts = [node_facts(n) for n in nodes.items]
    counts = {"linux": 0, "windows": 0}
    for node in facts:
        os_name = node["os"] or "unknown"
        counts[os_name] = counts.get(os_name, 0) + 1
    try:
        support = procedure.control_plane_support(cluster["version"], cluster["platform_version"])
    except procedure.VersionError as e:
        support = {"supported": False, "minimum_platform": None, "reason": str(e), "error": str(e)}
    result = dict(
        changed=False,
        cluster=public_cluster_facts(cluster),
        support=dict((k, v) for k, v in support.items() if k != "error"),
        server_version={"git_version": version.git_version, "major": version.major,
                        "minor": version.minor},
        nodes=facts,
        node_counts=counts,
        auth_method=module.auth_method,
    )
    if module.params["assess"]:
        result.update(assessment.judge(gather(module, api, facts, support),
                                       module.params["webhook_certificate_warning_days"]))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
