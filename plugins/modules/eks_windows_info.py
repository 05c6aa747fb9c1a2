#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_info
short_description: Read an EKS cluster's versions and nodes, for Windows support decisions
version_added: 0.1.0
description:
  - Describes one EKS cluster (Kubernetes version, platform version, endpoint, cluster role)
    and reads, through its Kubernetes API, the server version and every node with its operating
    system, architecture, instance type and node group.
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
options: {}
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
"""

from ansible_collections.eksops.windows.plugins.module_utils import procedure
from ansible_collections.eksops.windows.plugins.module_utils.eks_access import (
    EksClusterModule,
    public_cluster_facts,
)

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
        "ready": any(c.type == "Ready" and c.status == "True" for c in conditions),
        "pod_capacity": int(capacity["pods"]) if "pods" in capacity else None,
    }


def main():
    module = EksClusterModule(argument_spec={}, supports_check_mode=True)
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
        support = {"supported": False, "minimum_platform": None, "reason": str(e)}
    module.exit_json(
        changed=False,
        cluster=public_cluster_facts(cluster),
        support=support,
        server_version={"git_version": version.git_version, "major": version.major,
                        "minor": version.minor},
        nodes=facts,
        node_counts=counts,
        auth_method=module.auth_method,
    )


if __name__ == "__main__":
    main()
