# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Control-plane Windows support (sections 3 and 4 of the procedure), as steps.

Each step takes the cluster's reads (reads.ClusterReads, which holds the clients), check_mode
and its parameters, and returns (changed, result); it raises the typed errors of _errors.py.
In check mode no step writes. ``converge`` runs the gate and the steps for eks_windows_support.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.eksops.windows.plugins.module_utils import (
    _assessment as assessment,
    _cni_config as cni_config,
    _gates as gates,
    _iam_policy as iam_policy,
    _legacy as legacy,
    _procedure as procedure,
    _reads as cluster_reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import (
    AwsError,
    BlockedError,
    EksOpsError,
    InputError,
    StepError,
)


def gate_facts(reads):
    """What the control-plane gate needs, read once: the Fargate profiles only when there is
    no Linux node (they matter only then)."""
    linux = len(reads.linux_nodes())
    facts = {
        "cluster": reads.cluster,
        "support": support_of(reads.cluster),
        "role_exists": reads.role()[0],
        "linux_nodes": linux,
        "fargate_coredns": None if linux else reads.fargate_runs_coredns(),
        "legacy_controller": reads.legacy_controller_present(),
    }
    facts.update(reads.compute_facts())  # EKS Auto Mode-only or Hybrid Nodes-only compute
    return facts


def support_of(cluster):
    """procedure.control_plane_support, or a dict with `error` when the versions are unreadable."""
    try:
        return procedure.control_plane_support(cluster["version"], cluster["platform_version"])
    except procedure.VersionError as e:
        return {"supported": False, "minimum_platform": None, "reason": str(e), "error": str(e)}


def policy_step(reads, check_mode, state, manage_iam=True):
    """Attach (enabled) or detach (disabled) AmazonEKSVPCResourceController on the cluster role,
    as the procedure's rule says (procedure.policy_needed)."""
    cluster = reads.cluster
    arn = procedure.policy_arn(cluster["partition"])
    try:
        role_name = procedure.role_name_from_arn(cluster["role_arn"])
    except ValueError:
        raise InputError("EKS cluster '%s' reports no usable cluster role ARN (%r)."
                         % (cluster["name"], cluster["role_arn"]))
    exists, _arns = reads.role()
    if exists is False:
        raise EksOpsError("The cluster role %s of EKS cluster '%s' does not exist in IAM. Recreate "
                          "it (the cluster cannot work without it) or fix the cluster's role."
                          % (cluster["role_arn"], cluster["name"]))
    attached = reads.policy_attached()
    if attached is None and manage_iam:
        raise AwsError("Could not list the policies of IAM role %s (iam:ListAttachedRolePolicies)"
                       % role_name, reads.role_error())
    result = {"role_name": role_name, "policy_arn": arn, "attached_before": attached,
              "attached": attached, "action": "none"}
    act, result["reason"] = procedure.policy_needed(
        state, bool(reads.linux_nodes()), reads.security_groups_for_pods())
    want = state == "enabled"
    if not act:
        result["action"] = "skipped"
    elif attached == want:
        pass
    elif not manage_iam:
        result["action"] = "not_managed"
        result["reason"] = "manage_iam is false: the policy should be %s by whoever manages IAM" % (
            "attached" if want else "detached")
    else:
        result["action"] = "attached" if want else "detached"
        result["attached"] = want
        if not check_mode:
            iam = reads.clients.aws("iam")
            if want:
                iam_policy.attach(iam, role_name, arn)
            else:
                iam_policy.detach(iam, role_name, arn)
    return result["action"] in ("attached", "detached"), result


def configmap_plan(reads, state, patch_helm_owned=False):
    """How enable-windows-ipam gets written, to whoever owns ConfigMap kube-system/amazon-vpc-cni
    (cni_config.plan: the VPC CNI add-on's configuration values, a Helm release, or the
    ConfigMap itself, created when missing, merge-patched when present, every other key kept).
    Raises the owner's refusals; writes nothing."""
    return cni_config.plan(reads, {procedure.WINDOWS_IPAM_KEY: "true" if state == "enabled" else "false"},
                           patch_helm_owned=patch_helm_owned)


def configmap_step(reads, check_mode, step, addon_wait_timeout=600):
    """Carry out configmap_plan(); (changed, result) with ``configmap`` (the key's value before
    and after), ``owner``, ``written_to`` and, when the add-on was updated, ``addon``."""
    key = procedure.WINDOWS_IPAM_KEY
    try:
        changed, written = cni_config.apply(reads, check_mode, step, addon_wait_timeout)
    except StepError as e:
        e.details.update(_scalar(e.details, key))
        raise
    return changed, _scalar(written, key)


def _scalar(written, key):
    result = dict((k, v) for k, v in written.items() if k != "warning")
    if "configmap" in written:
        result["configmap"] = dict(written["configmap"], before=written["configmap"]["before"][key],
                                   after=written["configmap"]["after"][key])
    return result


def converge(reads, check_mode, state, manage_iam=True, force=False, patch_helm_owned=False,
             addon_wait_timeout=600, assess=False):
    """The gate (enabled only), then the policy and the ConfigMap, then (assess) the cluster's
    assessment. Returns (changed, result). A failure after a write (the ConfigMap after the
    policy was attached, the assessment after either) raises StepError with changed=True and
    what was written (``iam``, ``configmap``)."""
    cluster = reads.cluster
    result = {"support": dict((k, v) for k, v in support_of(cluster).items() if k != "error")}
    if state == "enabled":
        try:
            result["preflight"] = gates.enforce(gates.control_plane(gate_facts(reads)),
                                                "control-plane", cluster["name"], force,
                                                reads.clients.warn)
        except BlockedError as e:
            if gates.LEGACY_CONTROLLER_PRESENT in e.details["preflight"]["blocker_ids"]:
                found = reads.legacy_objects()  # name every legacy object, of either flavour
                e.details["legacy_objects"] = found
                e.msg += " Legacy objects found: %s." % legacy.describe(found)
            raise
    step = configmap_plan(reads, state, patch_helm_owned)  # its refusals come before any write
    iam_changed, result["iam"] = policy_step(reads, check_mode, state, manage_iam)
    try:
        cm_changed, written = configmap_step(reads, check_mode, step, addon_wait_timeout)
        result.update(written)
    except EksOpsError as e:
        if not iam_changed:
            raise
        details = dict(result)
        details.update((k, v) for k, v in e.details.items() if k != "changed")
        raise StepError("%s The policy step had already %s %s on role %s." % (
            e.msg, result["iam"]["action"], result["iam"]["policy_arn"], result["iam"]["role_name"]),
            changed=True, **details)
    changed = iam_changed or cm_changed
    try:
        result["cluster_facts"] = {"linux_nodes": len(reads.linux_nodes()),
                                   "security_groups_for_pods": reads.security_groups_for_pods()}
        if assess:
            result["assessment"] = assessment.judge(cluster_reads.assessment_facts(reads))
    except EksOpsError as e:
        if not changed or check_mode:
            raise
        raise StepError("%s EKS cluster '%s': the procedure had already written (policy %s, "
                        "ConfigMap %s) before this failed; re-run to read the rest." % (
                            e.msg, cluster["name"], result["iam"]["action"],
                            result.get("configmap", {}).get("action")), changed=True, **result)
    return changed, result
