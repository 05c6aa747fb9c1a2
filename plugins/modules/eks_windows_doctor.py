#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_doctor
short_description: Find why Windows nodes and pods of an EKS cluster do not work, and fix node identity where allowed
version_added: 0.1.0
description:
  - Looks at the three things that most often break Windows on EKS after Windows support is
    enabled, in one call per cluster, and says for each what is wrong and what to do.
  - "C(identity): the IAM role of every Windows node (from its node group, or from the instance
    profile of a self-managed node) must be known to the cluster as a Windows node role. With
    the C(aws-auth) ConfigMap (authentication modes C(CONFIG_MAP) and C(API_AND_CONFIG_MAP)) its
    mapping needs the groups C(system:bootstrappers), C(system:nodes) and
    C(eks:kube-proxy-windows); with access entries (C(API_AND_CONFIG_MAP) and C(API)) its entry
    must be of type C(EC2_WINDOWS). Without it, DNS and kube-proxy fail on Windows nodes."
  - "C(pods): every Windows pod without an IP address (by default only the pods that are not
    running, see O(pods)), with its cause, found in the order the vpc-resource-controller's own
    troubleshooting takes (Windows IPAM in ConfigMap C(amazon-vpc-cni), the legacy controller,
    the cluster role's policy, the pod's C(vpc.amazonaws.com/PrivateIPv4Address) request, the
    node's capacity and free slots, the subnet's free addresses, the controller's events, the
    Windows host), and the pod's events."
  - "C(ami): the AMI of every Windows node group and self-managed Windows instance: whether it
    is the latest EKS-optimized Windows AMI of its release, and how many days are left before
    AWS makes it private (about 4 months after release), after which the node group cannot scale
    out or replace nodes."
  - "Fix (O(state=fixed)): for the Windows node roles with an identity gap that
    O(identity_fix_allowed) covers, the module adds the missing mapping: an access entry of type
    C(EC2_WINDOWS) (C(eks:CreateAccessEntry)) where the cluster uses access entries, otherwise
    the groups in the role's C(aws-auth) mapping (a merge into C(mapRoles), every other entry
    kept). What cannot be fixed safely is reported with action C(manual) and its remedy, never
    changed: an access entry of the wrong type (its type cannot be changed once created), a role
    shared by Linux and Windows nodes in C(API) mode."
  - The pods and AMI checks only read. An AWS read that is refused does not end the run; it is
    listed in RV(incomplete) and as a warning.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads only; the roles a fix would change are reported with action C(would_fix).
  diff_mode:
    support: full
    description: With O(state=fixed), the C(aws-auth) mapping or access entry of every role fixed
      (or that would be, in check mode), before and after.
options:
  checks:
    description:
      - The checks to run. Each costs its own reads (see docs/doctor.md in the collection).
    type: list
    elements: str
    choices: [identity, pods, ami]
    default: [identity, pods, ami]
  state:
    description:
      - C(audited) reports and changes nothing.
      - C(fixed) also fixes the identity gaps of the Windows node roles that
        O(identity_fix_allowed) covers. It requires O(identity_fix_allowed) and the
        C(identity) check; without either, the module fails before anything is read and says
        what to give.
    type: str
    choices: [audited, fixed]
    default: audited
  identity_fix_allowed:
    description:
      - The Windows node roles a fix may map, as role ARNs or role names, with fnmatch globs in
        either, for example C(eks-windows-nodes), C(arn:aws:iam::111122223333:role/win-*) or
        C(*) for every role.
      - A role with a gap that no pattern covers is reported with action C(not_allowed) and left
        alone. With O(state=audited) the same rule tells what a fix would do.
      - A comma-separated string is accepted too (for AWX surveys).
      - A pattern that is not valid fails the module before anything is read.
    type: list
    elements: str
    default: []
  pods:
    description:
      - C(not_running) looks at the Windows pods whose phase is not C(Running) (the ones
        that can be waiting for an IP address).
      - C(all) looks at every Windows pod, which costs the events of more pods on a large
        cluster.
    type: str
    choices: [not_running, all]
    default: not_running
  ami_warning_days:
    description:
      - An AMI with fewer days than this left before it is made private is reported with status
        C(expiring). From 1 to 365; another value fails the module before anything is read.
    type: int
    default: 30
notes:
  - "Permissions: the shipped least-privilege RBAC and IAM policy are docs/permissions/rbac/doctor.yml
    and docs/permissions/iam/doctor.json in the collection; C(eks:CreateAccessEntry) and the
    C(aws-auth) patch are needed only for O(state=fixed)."
  - The identity fix never removes a mapping or a group. It adds the missing groups to the role's
    own item of C(mapRoles) (that item is written anew, so a comment inside it is lost) or appends
    a new item; every other item keeps its bytes.
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - eksops.windows.lease
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Look at everything, change nothing
  eksops.windows.eks_windows_doctor:
    cluster_name: prod
    region: eu-west-1
  register: doctor

- name: Print why Windows pods have no IP address
  ansible.builtin.debug:
    msg: "{{ item.namespace }}/{{ item.name }}: {{ item.cause }}: {{ item.remedy }}"
  loop: "{{ doctor.pods }}"

- name: Show what the identity fix of one node role would change
  eksops.windows.eks_windows_doctor:
    cluster_name: prod
    region: eu-west-1
    checks: [identity]
    state: fixed
    identity_fix_allowed: [eks-windows-nodes]
  check_mode: true
  diff: true

- name: Fix the identity of every Windows node role of the account's win-* roles
  eksops.windows.eks_windows_doctor:
    cluster_name: prod
    region: eu-west-1
    checks: [identity]
    state: fixed
    identity_fix_allowed: ['arn:aws:iam::111122223333:role/win-*']

- name: Warn two months before a Windows AMI is made private
  eksops.windows.eks_windows_doctor:
    cluster_name: prod
    region: eu-west-1
    checks: [ami]
    ami_warning_days: 60
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeCluster returns it (see M(eksops.windows.eks_windows_info)).
  returned: always
  type: dict
  sample: {name: prod, version: "1.29", platform_version: eks.7}
identity:
  description: The node identity check; null when O(checks) leaves it out.
  returned: always
  type: dict
  contains:
    authentication_mode:
      description: The cluster's authentication mode, C(CONFIG_MAP), C(API_AND_CONFIG_MAP) or C(API).
      type: str
      sample: API_AND_CONFIG_MAP
    roles:
      description: Every IAM role of Windows nodes, with where it was found and its mappings.
      type: list
      elements: dict
      contains:
        role_arn:
          description: The role's ARN.
          type: str
          sample: arn:aws:iam::111122223333:role/eks-windows-nodes
        role_name:
          description: The role's name.
          type: str
          sample: eks-windows-nodes
        sources:
          description: The node groups and nodes that use it, each with C(kind) (C(nodegroup) or
            C(node)), C(name), C(os) and C(karpenter).
          type: list
          elements: dict
          sample: [{kind: nodegroup, name: win-ng, os: windows, karpenter: false}]
        windows_nodes:
          description: How many Windows nodes use it.
          type: int
          sample: 2
        shared_with_linux:
          description: Whether Linux nodes use it too.
          type: bool
          sample: false
        aws_auth:
          description: Its C(aws-auth) mapping, with C(mapped), C(groups) and C(username).
          type: dict
          sample: {mapped: true, groups: ["system:bootstrappers", "system:nodes"], username: "system:node:{{EC2PrivateDNSName}}"}
        access_entry:
          description: Its access entry, with C(type) and C(username); null when it has none.
          type: dict
          sample: {type: EC2_LINUX, username: "system:node:{{EC2PrivateDNSName}}"}
        problems:
          description: The finding IDs of its gaps; empty when it is fine.
          type: list
          elements: str
          sample: [windows_node_role_missing_kube_proxy_windows]
        remedy:
          description: What to do about its gaps.
          type: str
          sample: Add the group eks:kube-proxy-windows to the role's aws-auth mapping.
        fix:
          description:
            - C(kind), what a fix writes (C(access_entry), C(aws_auth), or null), and C(action),
              C(none) (no gap), C(would_fix), C(fixed), C(not_allowed) (O(identity_fix_allowed)
              does not cover it) or C(manual) (a gap that is not fixed automatically; see C(remedy)).
          type: dict
          sample: {kind: aws_auth, action: fixed}
        allowed_by:
          description: The O(identity_fix_allowed) pattern that covers it, if any.
          type: str
          sample: eks-windows-nodes
    unresolved:
      description: Windows nodes whose role could not be found, each with C(node) and C(reason).
      type: list
      elements: dict
      sample: [{node: ip-10-0-1-5.ec2.internal, reason: "iam:GetInstanceProfile failed (AccessDenied)"}]
pods:
  description: The Windows pods looked at (see O(pods)), each with its cause; with O(pods=all)
    also the pods that have their address (cause C(none)). Null when O(checks) leaves the check
    out.
  returned: always
  type: list
  elements: dict
  contains:
    namespace:
      description: Its namespace.
      type: str
      sample: shop
    name:
      description: Its name.
      type: str
      sample: web-7d9f-abcde
    node:
      description: The node it is on; null when it is not scheduled.
      type: str
      sample: ip-10-0-1-5.ec2.internal
    phase:
      description: Its phase.
      type: str
      sample: Pending
    ready:
      description: Whether it is ready.
      type: bool
      sample: false
    cause:
      description:
        - The first cause found, in checklist order, C(windows_ipam_off), C(legacy_controller_present),
          C(cluster_role_lacks_policy), C(pod_lacks_ipv4_request), C(node_without_ipv4_capacity),
          C(node_ipv4_slots_full), C(subnet_out_of_addresses), C(controller_event),
          C(ip_assigned_host_problem) or C(unknown); C(none) for a pod that has its address.
      type: str
      sample: windows_ipam_off
    remedy:
      description: What to do.
      type: str
      sample: Enable Windows support (eksops.windows.enable).
    detail:
      description: What was seen.
      type: str
      sample: "amazon-vpc-cni has enable-windows-ipam: false"
    events:
      description: The pod's (and its node's) recent events, each with C(object), C(reason),
        C(message), C(source), C(type), C(count) and C(last).
      type: list
      elements: dict
ami:
  description: The AMIs of the Windows node groups and self-managed Windows instances; null when
    O(checks) leaves the check out.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(nodegroup) or C(instance).
      type: str
      sample: nodegroup
    name:
      description: The node group's name, or the instance's node name.
      type: str
      sample: win-ng
    instance_id:
      description: The instance, for C(instance).
      type: str
      sample: i-0123456789abcdef0
    ami_type:
      description: The node group's AMI type.
      type: str
      sample: WINDOWS_CORE_2022_x86_64
    image_id:
      description: The AMI in use.
      type: str
      sample: ami-0123456789abcdef0
    image_name:
      description: Its name.
      type: str
      sample: Windows_Server-2022-English-Core-EKS_Optimized-1.29-2024.05.14
    windows_server:
      description: C(2019), C(2022), C(2025), or null when unknown.
      type: str
      sample: "2022"
    release_version:
      description: The node group's release version.
      type: str
      sample: 1.29.3-20240514
    latest_release_version:
      description: The latest release of the same AMI, from its SSM parameter.
      type: str
      sample: 1.29.3-20240709
    latest_image_id:
      description: The latest AMI of the same kind.
      type: str
      sample: ami-0fedcba9876543210
    created:
      description: When the AMI was created (ISO 8601), null when it cannot be seen.
      type: str
      sample: "2024-05-14T10:00:00Z"
    days_left:
      description: Days left before it is made private (negative when past), null when unknown.
      type: int
      sample: 12
    status:
      description: C(current), C(outdated), C(expiring), C(expired), C(not_visible) (the AMI can
        no longer be described) or C(unknown).
      type: str
      sample: expiring
    detail:
      description: What was seen, in words.
      type: str
      sample: 12 day(s) left before AWS makes the AMI private.
findings:
  description: The findings, in the shape of M(eksops.windows.eks_windows_info)'s (C(id),
    C(severity), C(title), C(detail), C(remedy), C(objects), C(edition), C(source), ...).
  returned: always
  type: list
  elements: dict
summary:
  description: Counts over the checks run, after the fix (C(identity_gaps) counts the gaps left,
    and the Windows nodes whose role is unknown); a count is null when its check did not run.
  returned: always
  type: dict
  sample: {checks: [identity, pods, ami], identity_gaps: 1, identity_fixable: 1,
           authentication_mode: API_AND_CONFIG_MAP, pods_without_ip: 2,
           pod_causes: {windows_ipam_off: 2}, ami_min_days_left: 12, ami_expired: 0,
           ami_expiring: 1, ami_outdated: 1}
incomplete:
  description: The reads that failed (an AWS read refused, for example), so some answers may be
    missing; also given as a warning.
  returned: always
  type: list
  elements: str
  sample: ["iam:GetInstanceProfile failed (AccessDenied)"]
diff:
  description: With O(state=fixed) and diff mode, one before/after per role fixed (or that would be).
  returned: when diff mode is on and something was (or would be) fixed
  type: list
  elements: dict
msg:
  description: The outcome in one sentence.
  returned: always
  type: str
  sample: "prod: 1 Windows node role with an identity gap (1 fixed), 2 Windows pods without an IP
    (windows_ipam_off: 2), AMI: 12 day(s) left at the least."
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _doctor as doctor,
    _lease as lease,
    _reads as reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import EksOpsError
from ansible_collections.eksops.windows.plugins.module_utils._workloads import clean_list

AMI_WARNING_DAYS = (1, 365)
LEASE_PROCEDURE = "node identity fix (eks_windows_doctor)"


def plural(number, word, words=None):
    return "%d %s" % (number, word if number == 1 else (words or word + "s"))


def outcome(name, result):
    """The one-sentence message of a result."""
    summary = result["summary"]
    parts = []
    if result["identity"] is not None:
        # the roles with a gap before the fix (a fixed role keeps its problems, action fixed)
        actions = {}
        for role in result["identity"].get("roles") or []:
            if role.get("problems"):
                action = (role.get("fix") or {}).get("action") or "none"
                actions[action] = actions.get(action, 0) + 1
        gaps = sum(actions.values())
        if gaps:
            words = ["%d %s" % (actions[a], a.replace("_", " ")) for a in
                     ("fixed", "would_fix", "not_allowed", "manual") if actions.get(a)]
            parts.append("%s with an identity gap%s" % (
                plural(gaps, "Windows node role"), " (%s)" % ", ".join(words) if words else ""))
        else:
            parts.append("node identity ok")
        if result["identity"].get("unresolved"):
            parts.append("%s whose role is unknown" % plural(len(result["identity"]["unresolved"]),
                                                             "Windows node"))
    if result["pods"] is not None:
        without = summary.get("pods_without_ip") or 0
        causes = summary.get("pod_causes") or {}
        if without:
            parts.append("%s without an IP (%s)" % (
                plural(without, "Windows pod"),
                ", ".join("%s: %d" % (c, n) for c, n in sorted(causes.items(), key=lambda i: (-i[1], i[0])))))
        else:
            parts.append("no Windows pod without an IP")
    if result["ami"] is not None:
        days = summary.get("ami_min_days_left")
        if not result["ami"]:
            parts.append("AMI: no Windows node group or instance")
        elif days is None:
            parts.append("AMI: days left unknown")
        elif days < 0:
            parts.append("AMI: made private %s ago" % plural(-days, "day"))
        else:
            parts.append("AMI: %d day(s) left at the least" % days)
        if summary.get("ami_expired"):
            parts[-1] += " (%s)" % plural(summary["ami_expired"], "expired or no longer visible image",
                                          "expired or no longer visible images")
    return "%s: %s." % (name, ", ".join(parts) or "nothing checked")


def main():
    module = EksClusterModule(
        argument_spec=dict(
            checks=dict(type="list", elements="str", choices=list(doctor.CHECKS), default=list(doctor.CHECKS)),
            state=dict(type="str", choices=["audited", "fixed"], default="audited"),
            identity_fix_allowed=dict(type="list", elements="str", default=[]),
            pods=dict(type="str", choices=list(doctor.POD_SCOPES), default="not_running"),
            ami_warning_days=dict(type="int", default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    state = params["state"]
    checks = [c for c in doctor.CHECKS if c in params["checks"]]
    low, high = AMI_WARNING_DAYS
    if not low <= params["ami_warning_days"] <= high:
        module.fail_json(msg="ami_warning_days must be from %d to %d (days before a Windows AMI is "
                             "made private), got %d. Nothing was read or changed."
                             % (low, high, params["ami_warning_days"]))
    try:
        rules = doctor.parse_role_allow_list(clean_list(params["identity_fix_allowed"]))
    except EksOpsError as e:  # its message names the option, the pattern and what to list
        module.fail_json(msg=str(e))
    if state == "fixed" and "identity" not in checks:
        module.fail_json(msg="state=fixed fixes the node identity, and checks leaves out identity. "
                             "Add identity to checks (or run with state=audited). Nothing was changed.")
    if state == "fixed" and not rules:
        module.fail_json(
            msg="state=fixed changes node role mappings only where you allow it, and "
                "identity_fix_allowed is empty. List what may be changed as role names or role "
                "ARNs (globs allowed), e.g. identity_fix_allowed: ['eks-windows-nodes'] or "
                "['arn:aws:iam::111122223333:role/win-*']; run with state=audited first to see the "
                "roles with a gap. Nothing was changed.")

    module.run(run, module, state, checks, rules)


def run(module, state, checks, rules):
    cluster = module.cluster
    params = module.params
    diffs = []
    changed = False
    with lease.held(module.clients, LEASE_PROCEDURE, module.check_mode, writes=state == "fixed") as clients:
        cluster_reads = reads.ClusterReads(clients)
        result = doctor.examine(cluster_reads, checks=checks, pods_scope=params["pods"],
                                ami_warning_days=params["ami_warning_days"])
        if result.get("identity") is not None:
            # state=audited: fix_identity in check mode only tells what a fix would do (action
            # would_fix or not_allowed, as the allow list says); it writes nothing
            changed, identity, diffs = doctor.fix_identity(
                clients, module.check_mode or state != "fixed", result["identity"], rules)
            if state != "fixed":
                changed, diffs = False, []
            # findings and summary again, of the roles as the fix left them
            result = doctor.summarize(dict(result, identity=identity), cluster_reads.incomplete)
    result = dict(
        changed=bool(changed),
        cluster=public_cluster_facts(cluster),
        identity=result.get("identity"),
        pods=result.get("pods"),
        ami=result.get("ami"),
        findings=result.get("findings") or [],
        summary=result.get("summary") or {},
        incomplete=list(result.get("incomplete") or []),
    )
    result["msg"] = outcome(cluster["name"], result)
    if result["incomplete"]:
        module.warn("EKS cluster '%s': the doctor could not read everything, so some answers may be "
                    "missing: %s." % (cluster["name"], "; ".join(result["incomplete"])))
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
