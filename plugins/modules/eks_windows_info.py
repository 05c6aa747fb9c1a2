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
    C(prerequisites), the C(findings) with severity and remedy, and the C(preflight) verdicts,
    the blockers that M(eksops.windows.eks_windows_support) and
    M(eksops.windows.eks_windows_legacy) refuse a cluster on (one gate function per procedure).
  - "Reads: EKS DescribeCluster, ListFargateProfiles, DescribeFargateProfile, ListNodegroups,
    DescribeNodegroup, DescribeAddon (vpc-cni); IAM ListAttachedRolePolicies; EC2
    DescribeInstanceTypes (the instance types of Windows nodes, one call per 100); Kubernetes:
    the version, nodes, the Windows pods (one LIST per Windows node and one of unscheduled pods,
    or one paged LIST of every live pod past 20 Windows nodes), Services (only when there are
    Windows pods), Deployments, StatefulSets and DaemonSets of all namespaces (aws-node's env is
    taken from that list), ConfigMap amazon-vpc-cni, the legacy objects by name and, when legacy
    objects exist, the legacy webhook Secret (its C(cert.pem) is inspected, and whether its
    C(key.pem) is there and is the certificate's key; the key never enters the result)."
  - "For its node identity findings it also reads what the identity check of
    M(eksops.windows.eks_windows_doctor) reads: ConfigMap C(kube-system/aws-auth), EKS
    ListAccessEntries and DescribeAccessEntry (access-entry authentication modes), EC2
    DescribeInstances and IAM GetInstanceProfile (the role of self-managed Windows nodes)."
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
        finding C(webhook_certificate_expiring). 0 or more.
    type: int
    default: 30
  doctor:
    description:
      - Also run the checks of M(eksops.windows.eks_windows_doctor) (node identity, Windows pods
        without an IP address, Windows AMIs) on the same reads, and return them in RV(doctor).
        Reads only; the doctor's fix is the doctor module's.
      - The doctor's reads need its permissions (docs/permissions/rbac/doctor.yml and
        docs/permissions/iam/doctor.json in the collection, without the fix's).
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
    auto_mode:
      description: Whether EKS Auto Mode compute is on (DescribeCluster C(computeConfig.enabled)).
      type: bool
      sample: false
    hybrid_nodes:
      description: Whether the cluster has remote node networks for EKS Hybrid Nodes (DescribeCluster C(remoteNetworkConfig)).
      type: bool
      sample: false
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
cluster_identity:
  description:
    - How the API server was proven to be the cluster named (see O(cluster_identity)).
    - C(eks-token) (the endpoint and CA from DescribeCluster), C(serving-certificate) (its
      certificate is issued by the cluster CA), C(kube-root-ca) (its kube-root-ca.crt ConfigMap
      holds the cluster CA), or C(skipped).
  returned: always
  type: str
  sample: serving-certificate
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
        - Windows IPAM is on when C(enable-windows-ipam) is a value Go's C(strconv.ParseBool)
          reads as true (C(1), C(t), C(T), C(TRUE), C(true), C(True)), as the VPC resource
          controller reads it.
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
    cni_owner:
      description:
        - Who owns ConfigMap C(kube-system/amazon-vpc-cni) (C(kind) C(addon), C(helm) or C(none)),
          what the owner says of C(enable-windows-ipam) (C(setting); only the EKS add-on's
          configuration values can be read, so null for Helm and nobody), and whether the
          ConfigMap agrees (C(agrees); C(false) means the owner's next update rewrites it).
      type: dict
      sample: {kind: addon, setting: "true", agrees: true}
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
      description: Stable identifier of the finding (every rule is listed in the collection's docs/assessment.md).
      type: str
      sample: windows_host_network
    severity:
      description:
        - C(error) (Windows pods cannot work, or the procedure must not run), C(warning) (a risk
          to act on) or C(info) (context).
      type: str
      sample: error
    title:
      description: What the finding is about.
      type: str
      sample: Windows pods with host networking that are not HostProcess pods
    detail:
      description: What was seen on this cluster.
      type: str
      sample: "1 workload: DaemonSet/shop/agent. ..."
    remedy:
      description: What to do.
      type: str
      sample: Make these pods HostProcess pods, or remove hostNetwork true from their templates.
    source:
      description: Where the finding's rule comes from (an edition of the EKS user guide, or an upstream file).
      type: str
      sample: "EKS user guide today: awsdocs/amazon-eks-user-guide latest/ug/clusters/windows-support.adoc ..."
    edition:
      description:
        - C(2021) (the 2021 edition of the guide), C(today) (today's guide), C(upstream) (an AWS
          project's file) or C(collection) (the collection's own check).
      type: str
      sample: today
    changed:
      description: When the rule changed from the 2021 edition (C(YYYY-MM)); null when it did not or no date is known.
      type: str
      sample: "2022-06"
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
doctor:
  description:
    - With O(doctor=true), what M(eksops.windows.eks_windows_doctor) returns for its checks
      (all three, pods not running only, 30 days of AMI warning), read-only.
  returned: when O(doctor=true)
  type: dict
  contains:
    identity:
      description: The node identity check (see M(eksops.windows.eks_windows_doctor)).
      type: dict
    pods:
      description: The Windows pods without an IP address, with their cause.
      type: list
      elements: dict
    ami:
      description: The AMIs of the Windows node groups and instances, with days left.
      type: list
      elements: dict
    findings:
      description: The doctor's findings (the identity gaps are also in RV(findings)).
      type: list
      elements: dict
    summary:
      description: Counts over the checks (the fleet report's doctor columns come from it).
      type: dict
      sample: {checks: [identity, pods, ami], identity_gaps: 1, identity_fixable: 1,
               pods_without_ip: 2, pod_causes: {windows_ipam_off: 2}, ami_min_days_left: 12,
               ami_expired: 0, ami_expiring: 1, ami_outdated: 1}
    incomplete:
      description: The doctor's reads that failed.
      type: list
      elements: str
preflight:
  description:
    - Whether the procedures may run, with the reasons they may not. C(control_plane) has the
      blockers M(eksops.windows.eks_windows_support) (role C(enable)) refuses on, C(legacy) those
      of M(eksops.windows.eks_windows_legacy) with O(eksops.windows.eks_windows_legacy#module:state=present)
      (role C(legacy_install)); each has C(allowed), C(forced), C(blockers) and C(blocker_ids).
  returned: when O(assess=true)
  type: dict
  sample:
    control_plane: {allowed: true, blockers: []}
    legacy: {allowed: false, blockers: ["control-plane support is possible ..."]}
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _assessment as assessment,
    _procedure as procedure,
    _reads as reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import InputError
from ansible_collections.eksops.windows.plugins.module_utils._windows_support import support_of


def run(module):
    if module.params["webhook_certificate_warning_days"] < 0:
        raise InputError("webhook_certificate_warning_days must be 0 or more (got %d)."
                         % module.params["webhook_certificate_warning_days"])
    cluster = module.cluster
    cluster_reads = reads.ClusterReads(module.clients)
    version = module.k8s.version()
    nodes = cluster_reads.node_summaries()
    counts = {"linux": 0, "windows": 0}
    for node in nodes:
        os_name = node["os"] or "unknown"
        counts[os_name] = counts.get(os_name, 0) + 1
    support = support_of(cluster)
    result = dict(
        changed=False,
        cluster=public_cluster_facts(cluster),
        support=dict((k, v) for k, v in support.items() if k != "error"),
        server_version={"git_version": version.get("gitVersion"), "major": version.get("major"),
                        "minor": version.get("minor")},
        nodes=[dict((k, v) for k, v in n.items() if k not in ("linux", "kernel_version", "compute_type")) for n in nodes],
        node_counts=counts,
        auth_method=module.auth_method,
        cluster_identity=module.cluster_identity,
    )
    if module.params["assess"]:
        result.update(assessment.judge(reads.assessment_facts(cluster_reads),
                                       module.params["webhook_certificate_warning_days"]))
    if module.params["doctor"]:
        # imported only when asked (an assessment without it pays no import); the same reads:
        # what the assessment read already is not read again
        from ansible_collections.eksops.windows.plugins.module_utils import _doctor as doctor  # pylint: disable=import-outside-toplevel
        result["doctor"] = doctor.examine(cluster_reads)
    module.exit_json(**result)


def main():
    module = EksClusterModule(
        argument_spec=dict(
            assess=dict(type="bool", default=True),
            webhook_certificate_warning_days=dict(type="int", default=procedure.WEBHOOK_CERT_WARNING_DAYS),
            doctor=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    module.run(run, module)


if __name__ == "__main__":
    main()
