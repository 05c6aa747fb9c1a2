#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: vpc_webhook_cert
short_description: Inspect, create or renew the legacy VPC admission webhook's certificate
version_added: 0.1.0
description:
  - Reads the Secret C(kube-system/vpc-admission-webhook-certs) that legacy Windows support
    keeps the VPC admission webhook's key and certificate in, and says what the certificate is
    (subject, SANs, issuer, validity, days left), whether key and certificate match, whether it
    chains to the cluster CA, and which install flavour's Service it serves.
  - With O(state=present) it makes sure the certificate is good. It issues a new one when the
    Secret is missing, holds something that is not a certificate, when key and certificate do
    not match (or C(key.pem) is missing), the certificate does not name the webhook Service,
    does not chain to the cluster CA or is not for server auth, expires within O(renew_before)
    days, or when O(force) is set. Otherwise it writes nothing.
  - "Issuing: an RSA 2048 key and a CSR (CN C(<service>.kube-system.svc), SANs C(<service>),
    C(<service>.kube-system), C(<service>.kube-system.svc), server auth) made on the
    controller; any CSR of the same name is deleted first, even one approved minutes ago, so
    a renewal never silently does nothing; a Kubernetes CSR named C(<service>.kube-system) is
    created, approved, and waited for; the issued certificate is checked (SANs, key match,
    server auth, cluster CA); only then is the Secret written. If anything fails, the Secret
    stays as it was, and the CSR is deleted (it would hold a certificate whose key is lost). A
    CSR that something denies is reported as denied, with who denied it (the field manager that
    wrote its C(Denied) condition) and the reason given."
  - "The webhook Service is the one that MutatingWebhookConfiguration C(vpc-admission-webhook-cfg)
    points at (the one the API server calls), even when both install flavours' Services exist;
    RV(service_source) says how it was chosen."
  - "A renewal that stored the Secret and then stopped (killed, a denied Deployment patch, a
    rollout timeout) is finished by the next run: the certificate is good, but the webhook
    Deployment is restarted while its C(kubectl.kubernetes.io/restartedAt) annotation is older
    than the certificate (or, never restarted, while a pod of it started before the
    certificate), and, when the replaced certificate was unusable, stuck Windows pods created
    before it are re-created while any exist. For that the module writes two annotations on the
    Secret with the certificate, C(eksops.windows/issued-at) (when it stored the certificate, on
    the controller's clock, the clock the restart annotation is written with; signers backdate
    C(notBefore)) and C(eksops.windows/previous-certificate-unusable). A certificate another tool
    stored has no such annotation, and its C(notBefore) counts instead. RV(resumed) says when a
    run did this."
  - The private key never appears in results, diff or logs.
author:
  - eksops.windows maintainers (!UNKNOWN)
attributes:
  check_mode:
    support: full
    description: Reads and decides; writes nothing and creates no CSR; says whether it would issue.
  diff_mode:
    support: full
    description: Shows the certificate's public facts before and after (never the key).
options:
  state:
    description:
      - C(inspect) only reads and reports. C(present) issues a certificate when needed.
    type: str
    choices: [inspect, present]
    default: inspect
  renew_before:
    description:
      - With O(state=present), renew when the certificate expires within this many days.
      - EKS-signed certificates last one year, so 0 to 364 are accepted (0 renews only an
        expired certificate); anything else is refused before anything is read.
    type: int
    default: 30
  force:
    description: With O(state=present), issue a new certificate whatever the old one is.
    type: bool
    default: false
  service_name:
    description:
      - "The webhook Service the certificate is for. By default the module finds it
        (C(vpc-admission-webhook-svc) of the S3/kubectl install, or C(vpc-admission-webhook) of
        eksctl's): the one MutatingWebhookConfiguration C(vpc-admission-webhook-cfg) points at;
        without that configuration, the only flavour's Service that exists (the first of two,
        with a warning). RV(service_source) says which rule chose it."
      - "A Service given here that the webhook configuration does not point at gets a warning: the
        webhook the API server calls keeps its old certificate."
    type: str
  csr_api:
    description:
      - Which CSR API to use. C(auto) takes C(certificates.k8s.io/v1beta1) with the legacy
        signer below Kubernetes 1.22 (as DescribeCluster reports the version), and
        C(certificates.k8s.io/v1) with C(beta.eks.amazonaws.com/app-serving) from 1.22 on.
    type: str
    choices: [auto, v1beta1, v1]
    default: auto
  signer_name:
    description: Override the signer of the CSR.
    type: str
  wait_timeout:
    description: Seconds to wait for the signer to issue the certificate (1 to 3600).
    type: int
    default: 60
  restart_webhook:
    description:
      - After issuing a certificate, restart the webhook Deployment of the install flavour whose
        Service the certificate serves (C(vpc-admission-webhook-deployment) or
        C(vpc-admission-webhook)) the way C(kubectl rollout restart) does, so the webhook loads
        the new certificate.
    type: bool
    default: false
  wait_rollout:
    description:
      - After a restart, wait until the webhook Deployment has rolled out.
      - If it has not within O(rollout_timeout), the module fails with C(changed=true) and says
        that the certificate was stored and the Deployment restarted.
    type: bool
    default: false
  rollout_timeout:
    description: Seconds to wait for the rollout with O(wait_rollout) (1 to 3600).
    type: int
    default: 300
  recreate_stuck_pods:
    description:
      - When the old certificate had expired or was unusable, delete the Windows pods (pods on
        a Windows node, or not scheduled yet and asking for Windows by C(nodeSelector), required
        node affinity or C(spec.os.name)) stuck in C(ContainerCreating) that a controller will
        re-create. Pods that no controller owns are listed in RV(stuck_bare_pods), never deleted.
    type: bool
    default: false
  not_installed:
    description:
      - With O(state=present), what to do on a cluster without legacy support (no webhook
        Service), V(fail) or V(skip) (no change, RV(legacy_installed=false)), for runs over
        mixed fleets.
    type: str
    choices: [fail, skip]
    default: fail
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
  - eksops.windows.lease
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
requirements:
  - cryptography >= 42
"""

EXAMPLES = r"""
- name: What does the webhook certificate look like?
  eksops.windows.vpc_webhook_cert:
    cluster_name: legacy
    region: us-west-2
  register: cert

- name: Renew it when it expires within 30 days
  eksops.windows.vpc_webhook_cert:
    cluster_name: legacy
    region: us-west-2
    state: present
    renew_before: 30
  register: renewal

- name: Would it renew? (writes nothing)
  eksops.windows.vpc_webhook_cert:
    cluster_name: legacy
    region: us-west-2
    state: present
  check_mode: true
"""

RETURN = r"""
certificate:
  description: The certificate in the Secret now (after a renewal, the new one).
  returned: always
  type: dict
  contains:
    present:
      description: Whether the Secret exists.
      type: bool
      sample: true
    valid_pem:
      description: Whether C(cert.pem) holds a certificate.
      type: bool
      sample: true
    subject:
      description: Subject, RFC 4514.
      type: str
      sample: CN=vpc-admission-webhook.kube-system.svc
    issuer:
      description: Issuer, RFC 4514.
      type: str
      sample: CN=kubernetes
    dns_names:
      description: DNS SANs.
      type: list
      elements: str
      sample: [vpc-admission-webhook, vpc-admission-webhook.kube-system]
    not_before:
      description: Start of validity (UTC).
      type: str
      sample: "2026-11-24T10:00:00Z"
    not_after:
      description: End of validity (UTC).
      type: str
      sample: "2027-11-24T10:00:00Z"
    days_left:
      description: Whole days until C(not_after).
      type: int
      sample: 364
    expired:
      description: Whether it has expired.
      type: bool
      sample: false
    key_matches:
      description: Whether C(key.pem) is the certificate's key.
      type: bool
      sample: true
    chains_to_cluster_ca:
      description: Whether the cluster CA (from DescribeCluster) signed it.
      type: bool
      sample: true
    serves:
      description: The install flavours whose webhook Service the certificate names.
      type: list
      elements: str
      sample: [eksctl]
previous:
  description: The certificate before a renewal (same keys as RV(certificate)).
  returned: when a certificate was issued, or would be in check mode
  type: dict
service_name:
  description: The webhook Service the certificate is (or would be) issued for (null when none).
  returned: always
  type: str
  sample: vpc-admission-webhook
service_source:
  description: How RV(service_name) was chosen.
  returned: always
  type: str
  sample: MutatingWebhookConfiguration vpc-admission-webhook-cfg
legacy_installed:
  description: Whether a webhook Service was found (or given).
  returned: always
  type: bool
  sample: true
resumed:
  description:
    - Whether this run finished (or, in check mode, would finish) an earlier renewal. The
      certificate was good, but the webhook still had to be restarted or stuck pods re-created.
  returned: always
  type: bool
  sample: false
restart_reason:
  description: Why the webhook Deployment was (or would be) restarted, or null.
  returned: always
  type: str
  sample: its pods vpc-admission-webhook-5c7d-x2 started before the certificate in Secret kube-system/vpc-admission-webhook-certs (2026-12-01T15:40:00Z)
issued:
  description: Whether a new certificate was issued and stored in the Secret (false in check mode).
  returned: always
  type: bool
  sample: true
renewal_reason:
  description: Why a certificate was (or would be) issued, or null.
  returned: always
  type: str
  sample: the certificate expires in 5 days (renew_before is 30)
csr:
  description: The CSR used, when one was.
  returned: when a certificate was issued
  type: dict
  sample: {name: vpc-admission-webhook.kube-system, api_version: v1beta1, signer: null}
restarted:
  description: Webhook Deployments restarted (or that would be, in check mode), as namespace/name.
  returned: always
  type: list
  elements: str
  sample: [kube-system/vpc-admission-webhook]
recreated_pods:
  description: Stuck Windows pods deleted for their controller to re-create (namespace/name).
  returned: always
  type: list
  elements: str
  sample: [default/windows-app-5d9c7b-x2x7q]
stuck_bare_pods:
  description: Stuck Windows pods that no controller owns; delete and re-create them yourself.
  returned: always
  type: list
  elements: str
  sample: [default/one-off]
not_after:
  description: End of validity of the certificate in the Secret now.
  returned: when there is a valid certificate
  type: str
  sample: "2027-11-24T10:00:00Z"
"""

from ansible_collections.eksops.windows.plugins.module_utils import (
    _certificates as certificates,
    _lease as lease,
    _reads as reads,
    _webhook_cert as webhook_cert,
)
from ansible_collections.eksops.windows.plugins.module_utils._eks_access import EksClusterModule


def main():
    module = EksClusterModule(
        argument_spec=dict(
            state=dict(type="str", choices=["inspect", "present"], default="inspect"),
            renew_before=dict(type="int", default=30),
            force=dict(type="bool", default=False),
            service_name=dict(type="str"),
            csr_api=dict(type="str", choices=["auto", "v1beta1", "v1"], default="auto"),
            signer_name=dict(type="str"),
            wait_timeout=dict(type="int", default=60),
            restart_webhook=dict(type="bool", default=False),
            wait_rollout=dict(type="bool", default=False),
            rollout_timeout=dict(type="int", default=300),
            recreate_stuck_pods=dict(type="bool", default=False),
            not_installed=dict(type="str", choices=["fail", "skip"], default="fail"),
        ),
        supports_check_mode=True,
    )
    if not certificates.HAS_CRYPTOGRAPHY:
        module.fail_json(msg="vpc_webhook_cert needs the cryptography Python package",
                         exception=certificates.CRYPTOGRAPHY_IMPORT_ERROR)
    params = module.params
    options = dict((k, params[k]) for k in (
        "state", "renew_before", "force", "service_name", "csr_api", "signer_name",
        "wait_timeout", "restart_webhook", "wait_rollout", "rollout_timeout",
        "recreate_stuck_pods", "not_installed"))
    changed, result = module.run(converge, module, options)
    if module._diff and params["state"] == "present":
        result["diff"] = webhook_cert.diff(result)
    module.exit_json(changed=changed, **result)


def converge(module, options):
    with lease.held(module.clients, "webhook certificate (vpc_webhook_cert)", module.check_mode,
                    writes=options["state"] == "present") as clients:
        return webhook_cert.converge(reads.ClusterReads(clients), module.check_mode, **options)


if __name__ == "__main__":
    main()
