#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: eks_windows_legacy
short_description: Install or remove legacy (data-plane) Windows support on an EKS cluster
version_added: 0.1.0
description:
  - Removes what legacy Windows support left on a cluster, in one call per cluster, the way the
    EKS procedure says. Every object is deleted by name, through the API versions current
    Kubernetes serves (C(apps/v1), C(v1), C(rbac.authorization.k8s.io/v1),
    C(admissionregistration.k8s.io/v1), C(certificates.k8s.io/v1)). The legacy manifests use
    API versions that Kubernetes 1.22 removed, so C(kubectl delete -f) fails there.
  - "Both install flavours are recognised. The S3 scripts / kubectl / PowerShell flavour
    (C(script)) leaves Deployment C(vpc-admission-webhook-deployment), Service
    C(vpc-admission-webhook-svc) and CertificateSigningRequest
    C(vpc-admission-webhook-svc.kube-system); the eksctl flavour leaves Deployment and Service
    C(vpc-admission-webhook) and CertificateSigningRequest C(vpc-admission-webhook.kube-system).
    Both leave MutatingWebhookConfiguration C(vpc-admission-webhook-cfg), Secret
    C(vpc-admission-webhook-certs), and the controller's ClusterRole, ClusterRoleBinding,
    ServiceAccount and Deployment C(vpc-resource-controller). Namespaced objects are in
    C(kube-system)."
  - "Deletion order: the webhook configuration first (so that no pod creation is sent to a
    webhook being removed), then the Deployments (their ReplicaSets and Pods follow, background
    propagation), Services, Secret, CertificateSigningRequests, ClusterRoleBinding, ClusterRole
    and ServiceAccount."
  - Nothing else is touched. EKS's own MutatingWebhookConfiguration
    C(vpc-resource-mutating-webhook) is never deleted, nor is the C(amazon-vpc-cni) ConfigMap.
  - After the removal, enable control-plane Windows support with
    M(eksops.windows.eks_windows_support), which refuses while the legacy controller exists.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads every candidate object by name and writes nothing (no deletion, no
      object created or patched, no CSR created); returns what would be deleted, created or
      patched, and whether a certificate would be issued.
  diff_mode:
    support: full
    description: Shows the legacy objects present before and after, or the objects created or
      patched and the certificate's expiry (never the key).
options:
  state:
    description:
      - C(absent) removes every legacy object of either install flavour that the cluster has.
      - C(present) installs legacy support on a cluster below the version table of control-plane
        support (others are refused unless O(force)), when it has a Linux node (Fargate alone
        cannot run CoreDNS for legacy support). It deploys the vpc-resource-controller
        (ServiceAccount, ClusterRole, ClusterRoleBinding, Deployment), the webhook Service and
        Deployment, the MutatingWebhookConfiguration (C(admissionregistration.k8s.io/v1), the
        cluster CA as caBundle) and the ClusterRoleBinding C(eks:kube-proxy-windows), with the
        images of Amazon's ECR account for the cluster's region (DNS suffix
        C(amazonaws.com.cn) in C(cn-*) regions). Objects that already hold what is wanted are
        left alone; others get a merge patch of the fields the install manages, never a
        replacement.
      - With O(state=present) and O(certificate=true), the same call then issues the webhook's
        certificate through the Kubernetes CSR API and stores it in Secret
        C(kube-system/vpc-admission-webhook-certs), as M(eksops.windows.vpc_webhook_cert) with
        O(eksops.windows.vpc_webhook_cert#module:state=present) does, when it is missing,
        unusable, or expires within O(renew_before) days; otherwise it writes nothing.
      - "The refusals of O(state=present) are the legacy gate's, checked before any write:
        control-plane support is possible (the version table), no Linux node, an IPv6 cluster,
        compute of EKS Auto Mode or Hybrid Nodes only, or versions the table cannot judge. Only
        O(force) goes past them, with a warning."
    type: str
    choices: [absent, present]
    required: true
  flavour:
    description:
      - With O(state=present), the object names to use, those of the documented S3/kubectl
        install (C(script)) or eksctl's.
    type: str
    choices: [script, eksctl]
    default: script
  force:
    description:
      - With O(state=present), install even when the legacy gate refuses the cluster (for
        example one that qualifies for control-plane support).
    type: bool
    default: false
  certificate:
    description:
      - With O(state=present), also issue (or renew) the webhook certificate in the same call.
      - V(false) leaves the certificate to M(eksops.windows.vpc_webhook_cert).
    type: bool
    default: true
  renew_before:
    description:
      - With O(state=present) and O(certificate=true), renew the webhook certificate when it
        expires within this many days.
      - From 0 to 364, as for M(eksops.windows.vpc_webhook_cert). With O(state=present),
        another value fails the task before anything is written (whatever O(certificate) and
        O(force) say).
    type: int
    default: 30
  csr_api:
    description:
      - With O(state=present) and O(certificate=true), the CSR API to issue the certificate
        through (see M(eksops.windows.vpc_webhook_cert)).
    type: str
    choices: [auto, v1beta1, v1]
    default: auto
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - eksops.windows.lease
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
notes:
  - With O(state=absent), each candidate object is read by name (12 reads in all), then each one found is deleted by name.
    A deletion that answers 404 (someone else removed the object in between) counts as done.
  - With O(state=present), a failure after objects were created or patched (another object, or
    the certificate step) fails the task with C(changed=true) and names the objects written.
  - Certificate signing requests are read through C(certificates.k8s.io/v1), which Kubernetes
    serves from 1.19. On clusters that DescribeCluster reports as older, they are skipped with a
    warning; approved requests are garbage-collected after one hour anyway.
"""

EXAMPLES = r"""
- name: Install legacy Windows support on an old cluster, with its webhook certificate
  eksops.windows.eks_windows_legacy:
    cluster_name: old
    region: us-west-2
    state: present
    renew_before: 30
  register: legacy

- name: See which legacy objects a cluster has, without deleting anything
  eksops.windows.eks_windows_legacy:
    cluster_name: prod
    region: eu-west-1
    state: absent
  check_mode: true
  diff: true

- name: Remove legacy Windows support, then enable control-plane support
  block:
    - name: Remove the legacy components
      eksops.windows.eks_windows_legacy:
        cluster_name: prod
        region: eu-west-1
        state: absent

    - name: Enable control-plane Windows support
      eksops.windows.eks_windows_support:
        cluster_name: prod
        region: eu-west-1
        state: enabled
"""

RETURN = r"""
cluster:
  description: The cluster as DescribeCluster returns it (see M(eksops.windows.eks_windows_info)).
  returned: always
  type: dict
  sample: {name: prod, version: "1.21", platform_version: eks.3, partition: aws}
flavours:
  description:
    - The install flavours whose own objects (webhook Deployment, Service or CSR) were found,
      sorted. C([eksctl, script]) means both; an empty list means none (only objects that both
      flavours share, or nothing at all).
  returned: always
  type: list
  elements: str
  sample: [script]
found:
  description: Every legacy object found before the removal, in deletion order.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The object's kind.
      type: str
      sample: Deployment
    name:
      description: Its name.
      type: str
      sample: vpc-admission-webhook-deployment
    namespace:
      description: Its namespace, or null when it is cluster-scoped.
      type: str
      sample: kube-system
    flavour:
      description: The install flavour it belongs to, or null when both flavours share it.
      type: str
      sample: script
deleted:
  description:
    - The objects deleted, in the order they were deleted; in check mode, the objects that
      would be deleted. An object already gone when its deletion was sent is not listed.
  returned: always
  type: list
  elements: dict
  contains:
    kind:
      description: The object's kind.
      type: str
      sample: MutatingWebhookConfiguration
    name:
      description: Its name.
      type: str
      sample: vpc-admission-webhook-cfg
    namespace:
      description: Its namespace, or null when it is cluster-scoped.
      type: str
      sample: null
  sample:
    - {kind: MutatingWebhookConfiguration, name: vpc-admission-webhook-cfg, namespace: null}
    - {kind: Deployment, name: vpc-admission-webhook-deployment, namespace: kube-system}
objects:
  description: With O(state=present), every object of the install and what was done to it.
  returned: when state is present
  type: list
  elements: dict
  sample: [{object: Deployment kube-system/vpc-resource-controller, action: created}]
  contains:
    object:
      description: Kind and namespace/name.
      type: str
    action:
      description: C(created), C(patched) (a merge patch of the fields the install manages) or C(none).
      type: str
webhook_service:
  description: The webhook Service name of the flavour installed.
  returned: when state is present
  type: str
  sample: vpc-admission-webhook-svc
flavour:
  description: The flavour installed.
  returned: when state is present
  type: str
  sample: script
support:
  description: The version table's verdict (see M(eksops.windows.eks_windows_info)).
  returned: when state is present
  type: dict
preflight:
  description: The legacy gate's verdict.
  returned: when state is present
  type: dict
  sample: {allowed: true, forced: false, blockers: [], blocker_ids: []}
webhook_certificate:
  description:
    - The webhook certificate step (as RV(eksops.windows.vpc_webhook_cert#module:certificate) and
      the other results of M(eksops.windows.vpc_webhook_cert)).
  returned: when state is present and certificate is true
  type: dict
  contains:
    changed:
      description: Whether a certificate was (or, in check mode, would be) issued.
      type: bool
      sample: true
    issued:
      description: Whether a certificate was issued and stored (false in check mode).
      type: bool
      sample: true
    renewal_reason:
      description: Why a certificate was (or would be) issued, or null.
      type: str
      sample: there is no certificate
    certificate:
      description: Public facts of the certificate in the Secret now (never the key).
      type: dict
    previous:
      description: The certificate before the renewal, when there was one.
      type: dict
    service_name:
      description: The webhook Service the certificate is for.
      type: str
      sample: vpc-admission-webhook-svc
    csr:
      description: The CSR used (name, api_version, signer), when one was.
      type: dict
    not_after:
      description: End of validity of the certificate in the Secret now, when there is one.
      type: str
      sample: "2027-11-24T10:00:00Z"
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _certificates as certificates,
    _lease as lease,
    _legacy as legacy,
    _legacy_install as legacy_install,
    _procedure as procedure,
    _reads as reads,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import (
    EksClusterModule,
    public_cluster_facts,
)
from ansible_collections.eksops.windows.plugins.module_utils._windows_support import support_of


def install(module, cluster):
    params = module.params
    if params["certificate"] and not certificates.HAS_CRYPTOGRAPHY:
        module.fail_json(msg="eks_windows_legacy needs the cryptography Python package to issue "
                             "the webhook certificate (or certificate=false)",
                         exception=certificates.CRYPTOGRAPHY_IMPORT_ERROR)
    with lease.held(module.clients, "legacy install (eks_windows_legacy)", module.check_mode) as clients:
        changed, result = module.run(
            legacy_install.converge, reads.ClusterReads(clients), module.check_mode,
            flavour=params["flavour"], force=params["force"], certificate=params["certificate"],
            renew_before=params["renew_before"], csr_api=params["csr_api"])
    result.update(cluster=public_cluster_facts(cluster),
                  support=dict((k, v) for k, v in support_of(cluster).items() if k != "error"))
    if module._diff:
        header = "%s (%s)" % (cluster["name"], cluster["region"])
        result["diff"] = {"before": {"created_or_patched": []},
                          "after": {"created_or_patched": [
                              o["object"] for o in result["objects"] if o["action"] != "none"]},
                          "before_header": header, "after_header": header}
        cert = result.get("webhook_certificate")
        if cert and cert["changed"]:
            result["diff"]["before"]["webhook_certificate"] = cert["previous"] and {
                "not_after": cert["previous"].get("not_after")}
            result["diff"]["after"]["webhook_certificate"] = {
                "not_after": cert["not_after"] if cert["issued"] else "(issued by the signer)"}
    module.exit_json(changed=changed, **result)


def remove(module, cluster):
    with lease.held(module.clients, "legacy remove (eks_windows_legacy)", module.check_mode) as clients:
        changed, removal = legacy.remove_step(clients, module.check_mode)
    found, deleted = removal["found"], removal["deleted"]
    result = dict(changed=changed, cluster=public_cluster_facts(cluster),
                  flavours=procedure.legacy_flavours(found), found=found, deleted=deleted)
    if module._diff:
        header = "%s (%s)" % (cluster["name"], cluster["region"])
        result["diff"] = {
            "before": {"legacy_objects": [legacy.label(o) for o in found]},
            "after": {"legacy_objects": []},
            "before_header": header,
            "after_header": header,
        }
    module.exit_json(**result)


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["absent", "present"], required=True),
            flavour=dict(type="str", choices=["script", "eksctl"], default="script"),
            force=dict(type="bool", default=False),
            certificate=dict(type="bool", default=True),
            renew_before=dict(type="int", default=30),
            csr_api=dict(type="str", choices=["auto", "v1beta1", "v1"], default="auto"),
        ),
        supports_check_mode=True,
    )
    cluster = module.cluster
    module.run(install if module.params["state"] == "present" else remove, module, cluster)


if __name__ == "__main__":
    main()
