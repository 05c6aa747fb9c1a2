#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_workloads
short_description: Audit, and where allowed fix, the OS selectors of workloads in a mixed EKS cluster
version_added: 0.1.0
description:
  - In a cluster with Linux and Windows nodes, every pod must say which operating system it
    needs, or the scheduler may put a Linux pod on a Windows node (where it never starts) and
    the reverse. This module checks the pod templates of the cluster's Deployments,
    StatefulSets and DaemonSets in one call per cluster.
  - "Audit (O(state=audited)): reports every workload whose pod template selects no operating
    system (no C(kubernetes.io/os) or C(beta.kubernetes.io/os) in its C(nodeSelector), and no
    required node affinity whose every term restricts one of those labels with C(In)); a
    C(nodeSelector) with other keys only selects no OS. Separately, as warnings, it lists the workloads
    that reach Windows nodes through node affinity alone: the control-plane webhook of EKS
    reads only the C(nodeSelector), so their pods get no C(vpc.amazonaws.com/PrivateIPv4Address)
    resource and no IP address. Those are never changed: add
    C(nodeSelector: {kubernetes.io/os: windows}) to their manifests."
  - "Fix (O(state=fixed)): for the workloads without an OS selector that O(fix_allowed) covers,
    merge-patches C(spec.template.spec.nodeSelector) to add C(kubernetes.io/os: linux) and only
    that key: every other C(nodeSelector) key stays. The architecture key that the EKS guide
    also names (C(kubernetes.io/arch: amd64)) is not added, because a workload without a
    selector may run today on arm64 (Graviton) Linux nodes with a multi-arch image, and pinning
    it to amd64 would leave it unschedulable there. Workloads that have a selector or a
    required node affinity on the OS label are never touched."
  - Changing a pod template starts a rollout, as any template change does (pods are replaced
    by the workload's update strategy).
  - Each patch carries the C(resourceVersion) the decision was made on; when the workload
    changed meanwhile (409 Conflict) the module reads it again and decides again, so it never
    overrides a selector someone has just added; after 5 conflicts in a row on one workload it
    fails and asks to run again. A workload deleted meanwhile is left alone.
  - By default (O(only_mixed=true)), a cluster that does not have both Linux and Windows nodes
    is reported as having nothing to do, and its workloads are not listed.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Lists and reads only; the workloads a fix would patch are reported with
      action C(would_fix).
  diff_mode:
    support: full
    description: With O(state=fixed), the C(nodeSelector) of every workload patched (or that
      would be, in check mode), before and after.
options:
  state:
    description:
      - C(audited) reports and changes nothing.
      - C(fixed) adds C(kubernetes.io/os=linux) to the workloads without an OS selector that
        O(fix_allowed) covers. It requires O(fix_allowed); without it, or with a pattern that is
        not valid, the module fails before anything is read and says what to list.
    type: str
    choices: [audited, fixed]
    default: audited
  namespaces:
    description:
      - Namespaces to look at (fnmatch globs allowed). Empty means every namespace.
      - Names without globs are listed namespace by namespace, which works for an identity
        that may list workloads only in those namespaces.
      - A comma-separated string is accepted too.
    type: list
    elements: str
    default: []
  exclude_namespaces:
    description:
      - Namespaces to leave out (fnmatch globs allowed), for example C(kube-*).
    type: list
    elements: str
    default: []
  fix_allowed:
    description:
      - What a fix may change, as C(namespace/name) or C(Kind/namespace/name) patterns with
        fnmatch globs in any part, for example C(shop/*), C(Deployment/shop/web),
        C(DaemonSet/*/*), or C(*/*) for everything. Kinds match regardless of case.
      - A workload without an OS selector that no pattern covers is reported with action
        C(not_allowed) and left alone. With O(state=audited) the same rule tells what a fix
        would do.
      - A comma-separated string is accepted too (for AWX surveys).
    type: list
    elements: str
    default: []
  kinds:
    description: The workload kinds to look at.
    type: list
    elements: str
    choices: [Deployment, StatefulSet, DaemonSet]
    default: [Deployment, StatefulSet, DaemonSet]
  only_mixed:
    description:
      - With C(true), a cluster that does not have both Linux and Windows nodes has nothing to
        do (pods cannot land on the wrong OS) and its workloads are not listed.
      - C(false) audits (and fixes) such a cluster all the same, for example before its first
        Windows node group is added.
    type: bool
    default: true
notes:
  - "Permissions: C(list) on nodes, C(list) on C(deployments.apps), C(statefulsets.apps) and
    C(daemonsets.apps) (cluster-wide, or in each namespace of O(namespaces)); with
    O(state=fixed) also C(patch) and C(get) on them. A missing permission fails the module with
    a message that names it."
  - Workloads that a GitOps tool or an operator manages get their template back on the next
    sync; fix their source manifests (or Helm values) too.
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - eksops.windows.lease
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Audit every workload of a cluster
  eksops.windows.eks_windows_workloads:
    cluster_name: prod
    region: eu-west-1
  register: audit

- name: Show what a fix of the shop namespace would change
  eksops.windows.eks_windows_workloads:
    cluster_name: prod
    region: eu-west-1
    state: fixed
    fix_allowed: ['shop/*']
  check_mode: true
  diff: true

- name: Pin the Linux workloads of two teams to Linux nodes, but not their DaemonSets
  eksops.windows.eks_windows_workloads:
    cluster_name: prod
    region: eu-west-1
    state: fixed
    namespaces: [shop, billing]
    kinds: [Deployment, StatefulSet]
    fix_allowed: ['shop/*', 'Deployment/billing/invoices']

- name: Audit a Linux-only cluster before it gets Windows nodes
  eksops.windows.eks_windows_workloads:
    cluster_name: staging
    region: eu-west-1
    only_mixed: false
    exclude_namespaces: ['kube-*']
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeCluster returns it (see M(eksops.windows.eks_windows_info)).
  returned: always
  type: dict
  sample: {name: prod, version: "1.24", platform_version: eks.3}
mixed:
  description: Whether the cluster has both Linux and Windows nodes.
  returned: always
  type: bool
  sample: true
node_counts:
  description: Nodes per operating system (label C(kubernetes.io/os)); Fargate nodes count as Linux.
  returned: always
  type: dict
  sample: {linux: 2, windows: 1}
audited:
  description: Whether the workloads were listed; C(false) when O(only_mixed) skipped a cluster
    that is not mixed.
  returned: always
  type: bool
  sample: true
workloads:
  description: Every workload looked at, sorted by namespace, kind and name.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: C(Deployment), C(StatefulSet) or C(DaemonSet).
      type: str
      sample: Deployment
    namespace:
      description: Its namespace.
      type: str
      sample: shop
    name:
      description: Its name.
      type: str
      sample: web
    ref:
      description: C(Kind/namespace/name).
      type: str
      sample: Deployment/shop/web
    os:
      description: The OS its pod template selects (a list when an affinity allows several),
        null when none.
      type: raw
      sample: linux
    via:
      description: C(nodeSelector), C(affinity), or null when nothing selects an OS.
      type: str
      sample: nodeSelector
    action:
      description: C(none) (it selects its OS already), C(would_fix), C(fixed), or
        C(not_allowed) (no selector, and O(fix_allowed) does not cover it).
      type: str
      sample: fixed
    allowed_by:
      description: The O(fix_allowed) pattern that covers it, for workloads without a selector.
      type: str
      sample: shop/*
affinity_only_windows:
  description: Workloads that reach Windows nodes through node affinity alone (their pods get
    no IPv4 address resource from the control-plane webhook). Same fields as RV(workloads).
  returned: always
  type: list
  elements: dict
counts:
  description: Totals over RV(workloads).
  returned: always
  type: dict
  sample: {total: 12, with_selector: 8, without_selector: 4, would_fix: 0, fixed: 3,
           not_allowed: 1, affinity_only_windows: 1}
msg:
  description: The outcome in one sentence.
  returned: always
  type: str
  sample: "prod: 12 workloads, 4 without an OS selector: 3 fixed, 1 not allowed."
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _lease as lease,
    _workload_selectors as workload_selectors,
    _workloads as workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    EksClusterModule,
    public_cluster_facts,
)


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["audited", "fixed"], default="audited"),
            namespaces=dict(type="list", elements="str", default=[]),
            exclude_namespaces=dict(type="list", elements="str", default=[]),
            fix_allowed=dict(type="list", elements="str", default=[]),
            kinds=dict(type="list", elements="str", choices=list(workloads.WORKLOAD_KINDS),
                       default=list(workloads.WORKLOAD_KINDS)),
            only_mixed=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    state = params["state"]
    namespaces = workloads.clean_list(params["namespaces"])
    exclude = workloads.clean_list(params["exclude_namespaces"])
    kinds = [k for k in workloads.WORKLOAD_KINDS if k in params["kinds"]]
    try:
        rules = workloads.parse_allow_list(workloads.clean_list(params["fix_allowed"]))
    except workloads.AllowListError as e:
        module.fail_json(msg=str(e))
    if state == "fixed" and not rules:
        module.fail_json(
            msg="state=fixed changes workloads only where you allow it, and fix_allowed is empty. "
                "List what may be changed as 'namespace/name' or 'Kind/namespace/name' patterns "
                "(globs allowed), e.g. fix_allowed: ['shop/*'] or ['Deployment/shop/web']; run "
                "with state=audited first to see the candidates. Nothing was changed.")

    module.run(run, module, state, namespaces, exclude, kinds, rules)


def run(module, state, namespaces, exclude, kinds, rules):
    cluster = module.cluster
    with lease.held(module.clients, "workload fix (eks_windows_workloads)", module.check_mode,
                    writes=state == "fixed") as clients:
        changed, result = workload_selectors.converge(
            clients.kube, module.check_mode, cluster["name"], state, namespaces, exclude, kinds, rules,
            module.params["only_mixed"])
    diffs = result.pop("diffs")
    result.update(changed=changed, cluster=public_cluster_facts(cluster))
    if result["counts"]["affinity_only_windows"]:
        refs = [e["ref"] for e in result["affinity_only_windows"]]
        module.warn("%d workload(s) reach Windows nodes by node affinity alone, which the EKS "
                    "webhook ignores (their pods get no IPv4 address): %s%s. Add nodeSelector "
                    "kubernetes.io/os: windows to their manifests."
                    % (len(refs), ", ".join(refs[:10]), " ..." if len(refs) > 10 else ""))
    if module._diff and diffs:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
