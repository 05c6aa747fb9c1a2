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
    not match, the certificate does not name the webhook Service or does not chain to the
    cluster CA, expires within O(renew_before) days, or when O(force) is set. Otherwise it
    writes nothing.
  - "Issuing: an RSA 2048 key and a CSR (CN C(<service>.kube-system.svc), SANs C(<service>),
    C(<service>.kube-system), C(<service>.kube-system.svc), server auth) made on the
    controller; any CSR of the same name is deleted first, even one approved minutes ago, so
    a renewal never silently does nothing; a Kubernetes CSR named C(<service>.kube-system) is
    created, approved, and waited for; the issued certificate is checked (SANs, key match,
    server auth, cluster CA); only then is the Secret written. If anything fails, the Secret
    stays as it was."
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
      - EKS-signed certificates last one year.
    type: int
    default: 30
  force:
    description: With O(state=present), issue a new certificate whatever the old one is.
    type: bool
    default: false
  service_name:
    description:
      - The webhook Service the certificate is for. By default the module finds it
        (C(vpc-admission-webhook-svc) of the S3/kubectl install, or C(vpc-admission-webhook) of
        eksctl's).
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
    description: Seconds to wait for the signer to issue the certificate.
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
    description: After a restart, wait until the webhook Deployment has rolled out.
    type: bool
    default: false
  rollout_timeout:
    description: Seconds to wait for the rollout with O(wait_rollout).
    type: int
    default: 300
  recreate_stuck_pods:
    description:
      - When the old certificate had expired or was unusable, delete the Windows pods (pods
        whose C(nodeSelector) says C(kubernetes.io/os=windows)) stuck in C(ContainerCreating)
        that a controller will re-create. Pods that no controller owns are listed in
        RV(stuck_bare_pods), never deleted.
    type: bool
    default: false
extends_documentation_fragment:
  - eksops.windows.attributes.ACTION_GROUP
  - eksops.windows.cluster
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
  description: The webhook Service the certificate is (or would be) issued for.
  returned: when a Service was found or given
  type: str
  sample: vpc-admission-webhook
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

import base64
import datetime
import time

from ansible_collections.eksops.windows.plugins.module_utils import certificates, csr, procedure
from ansible_collections.eksops.windows.plugins.module_utils.eks_access import EksClusterModule
from ansible_collections.eksops.windows.plugins.module_utils.kube_objects import (
    MERGE_PATCH,
    delete_or_gone,
    read_or_none,
)

try:
    from kubernetes.client import AppsV1Api, CoreV1Api
except ImportError:
    pass  # reported by EksClusterModule.kube

SECRET = procedure.LEGACY_SHARED["secret"]
NAMESPACE = procedure.LEGACY_NAMESPACE


def flavour_services():
    return dict((f, names["webhook_service"]) for f, names in procedure.LEGACY_FLAVOURS.items())


def find_service(module, core):
    if module.params["service_name"]:
        return module.params["service_name"]
    for flavour, service in sorted(flavour_services().items()):
        if read_or_none(module, "Reading Service %s/%s" % (NAMESPACE, service),
                        core.read_namespaced_service, service, NAMESPACE) is not None:
            return service
    return None


def secret_material(secret):
    data = (secret.data or {}) if secret else {}
    decoded = {}
    for key in ("cert.pem", "key.pem"):
        try:
            decoded[key] = base64.b64decode(data[key]) if key in data else None
        except (TypeError, ValueError):
            decoded[key] = b"not base64"
    return decoded


def describe_serves(facts):
    """The install flavours whose webhook Service the certificate names."""
    return sorted(
        f for f, service in flavour_services().items()
        if all(n in facts["dns_names"] for n in certificates.service_dns_names(service, NAMESPACE)))


def describe(secret, ca_pem):
    """Public facts about the certificate in the Secret (or that there is none)."""
    if secret is None:
        return {"present": False}
    material = secret_material(secret)
    if material["cert.pem"] is None:
        facts = certificates.inspect(b"", None, ca_pem)
        facts["error"] = "the Secret has no cert.pem"
    else:
        facts = certificates.inspect(material["cert.pem"], material["key.pem"] or b"", ca_pem)
        if material["key.pem"] is None:
            facts["key_matches"] = None
    facts["present"] = True
    facts["serves"] = describe_serves(facts)
    return facts


def diff_view(facts):
    return dict((k, facts.get(k)) for k in ("present", "subject", "issuer", "dns_names",
                                            "serial_number", "not_after", "key_matches"))


def write_secret(module, core, secret, key_pem, cert_pem):
    data = {"key.pem": base64.b64encode(key_pem).decode("ascii"),
            "cert.pem": base64.b64encode(cert_pem).decode("ascii")}
    module.no_log_values.add(data["key.pem"])
    if secret is None:
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": SECRET, "namespace": NAMESPACE}, "data": data}
        module.kube_call("Creating Secret %s/%s" % (NAMESPACE, SECRET),
                         core.create_namespaced_secret, NAMESPACE, body)
        return
    body = core.api_client.sanitize_for_serialization(secret)
    body["data"] = dict(body.get("data") or {}, **data)  # other keys kept
    # resourceVersion in the body: if someone changed the Secret meanwhile, this fails (409)
    module.kube_call("Replacing Secret %s/%s" % (NAMESPACE, SECRET),
                     core.replace_namespaced_secret, SECRET, NAMESPACE, body)


def webhook_deployment(service):
    for names in procedure.LEGACY_FLAVOURS.values():
        if names["webhook_service"] == service:
            return names["webhook_deployment"]
    return None


def restart(module, apps, name):
    """What `kubectl rollout restart` does: a new pod-template annotation; True if it exists."""
    what = "Restarting Deployment %s/%s" % (NAMESPACE, name)
    if read_or_none(module, what, apps.read_namespaced_deployment, name, NAMESPACE) is None:
        module.warn("The webhook Deployment %s/%s does not exist; nothing restarted." % (NAMESPACE, name))
        return False
    if not module.check_mode:
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        module.kube_call(what, apps.patch_namespaced_deployment, name, NAMESPACE,
                         {"spec": {"template": {"metadata": {"annotations": {
                             "kubectl.kubernetes.io/restartedAt": stamp}}}}},
                         _content_type=MERGE_PATCH)
    return True


def wait_for_rollout(module, apps, name, timeout):
    deadline = time.time() + timeout
    while True:
        deployment = module.kube_call("Reading Deployment %s/%s" % (NAMESPACE, name),
                                      apps.read_namespaced_deployment, name, NAMESPACE)
        status, wanted = deployment.status, deployment.spec.replicas or 0
        if ((status.observed_generation or 0) >= deployment.metadata.generation
                and (status.updated_replicas or 0) >= wanted
                and (status.available_replicas or 0) >= wanted
                and (status.replicas or 0) <= wanted):
            return
        if time.time() >= deadline:
            module.fail_json(msg="The certificate was renewed and stored, but Deployment %s/%s did "
                                 "not finish rolling out within %d s (%s of %s pods updated and "
                                 "available)." % (NAMESPACE, name, timeout,
                                                  status.available_replicas or 0, wanted))
        time.sleep(2)


def is_stuck_windows_pod(pod):
    selector = pod.spec.node_selector or {}
    windows = "windows" in (selector.get("kubernetes.io/os"), selector.get("beta.kubernetes.io/os"))
    statuses = (pod.status.container_statuses or []) if pod.status else []
    return windows and any(
        c.state and c.state.waiting and c.state.waiting.reason == "ContainerCreating"
        for c in statuses)


def handle_stuck_pods(module, core):
    """Delete stuck Windows pods a controller owns; return (deleted, bare) as ns/name lists."""
    pods = module.kube_call("Listing pending pods", core.list_pod_for_all_namespaces,
                            field_selector="status.phase=Pending")
    deleted, bare = [], []
    for pod in pods.items:
        if not is_stuck_windows_pod(pod):
            continue
        name = "%s/%s" % (pod.metadata.namespace, pod.metadata.name)
        if any(o.controller for o in pod.metadata.owner_references or []):
            if not module.check_mode:
                delete_or_gone(module, "Deleting pod " + name, core.delete_namespaced_pod,
                               pod.metadata.name, pod.metadata.namespace)
            deleted.append(name)
        else:
            bare.append(name)
    return deleted, bare


def after_renewal(module, core, service, previous, result):
    """The rest of the seed's renewal procedure: restart the webhook, then stuck pods."""
    apps = AppsV1Api(module.kube)
    deployment = webhook_deployment(service)
    if module.params["restart_webhook"] and deployment and restart(module, apps, deployment):
        result["restarted"].append("%s/%s" % (NAMESPACE, deployment))
        if module.params["wait_rollout"] and not module.check_mode:
            wait_for_rollout(module, apps, deployment, module.params["rollout_timeout"])
    broken = (not previous.get("present") or previous.get("expired")
              or not previous.get("valid_pem") or previous.get("key_matches") is False)
    if module.params["recreate_stuck_pods"] and broken:
        result["recreated_pods"], result["stuck_bare_pods"] = handle_stuck_pods(module, core)


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
        ),
        supports_check_mode=True,
    )
    if not certificates.HAS_CRYPTOGRAPHY:
        module.fail_json(msg="vpc_webhook_cert needs the cryptography Python package",
                         exception=certificates.CRYPTOGRAPHY_IMPORT_ERROR)
    cluster = module.cluster
    ca_pem = base64.b64decode(cluster["ca_data"]) if cluster.get("ca_data") else None
    core = CoreV1Api(module.kube)
    secret = read_or_none(module, "Reading Secret %s/%s" % (NAMESPACE, SECRET),
                          core.read_namespaced_secret, SECRET, NAMESPACE)
    before = describe(secret, ca_pem)
    service = find_service(module, core)
    result = {"changed": False, "certificate": before, "service_name": service,
              "renewal_reason": None, "restarted": [], "recreated_pods": [],
              "stuck_bare_pods": []}
    if before.get("not_after"):
        result["not_after"] = before["not_after"]
    if module.params["state"] == "inspect":
        module.exit_json(**result)

    if service is None:
        module.fail_json(msg="No webhook Service (%s) in %s: legacy support is not installed on "
                             "EKS cluster '%s'. Pass service_name to issue a certificate anyway."
                             % (" or ".join(sorted(flavour_services().values())), NAMESPACE,
                                cluster["name"]), **result)
    expected = certificates.service_dns_names(service, NAMESPACE)
    reason = certificates.renewal_reason(
        before if before["present"] else None, expected, module.params["renew_before"],
        module.params["force"])
    result["renewal_reason"] = reason
    if reason is None:
        module.exit_json(**result)
    try:
        api_version, signer = csr.choose(cluster["version"], module.params["csr_api"],
                                         module.params["signer_name"])
    except (csr.CsrError, procedure.VersionError) as e:
        module.fail_json(msg=str(e), **result)
    csr_name = "%s.%s" % (service, NAMESPACE)
    result.update(changed=True, previous=before,
                  csr={"name": csr_name, "api_version": api_version, "signer": signer})
    if module.check_mode:
        after_renewal(module, core, service, before, result)
        if module._diff:
            result["diff"] = {"before": diff_view(before),
                              "after": {"present": True, "dns_names": expected,
                                        "not_after": "(issued by the signer)"}}
        module.exit_json(**result)

    key = certificates.new_private_key()
    key_pem = certificates.private_key_pem(key)
    module.no_log_values.add(key_pem.decode("ascii"))
    try:
        cert_pem = csr.sign(module, module.kube, csr_name,
                            certificates.build_csr(key, service, NAMESPACE),
                            api_version, signer, module.params["wait_timeout"])
        problems = certificates.issued_problems(cert_pem, key_pem, ca_pem, expected)
        if problems:
            raise csr.CsrError("the certificate issued for CSR %s is not usable: %s"
                               % (csr_name, "; ".join(problems)))
    except csr.CsrError as e:
        csr.delete(module, module.kube, csr_name, api_version)
        result["changed"] = False
        module.fail_json(msg="%s The Secret %s/%s was left as it was." % (e, NAMESPACE, SECRET),
                         **result)
    write_secret(module, core, secret, key_pem, cert_pem)
    csr.delete(module, module.kube, csr_name, api_version)
    after = certificates.inspect(cert_pem, key_pem, ca_pem)
    after.update(present=True, serves=describe_serves(after))
    result.update(certificate=after, not_after=after["not_after"])
    after_renewal(module, core, service, before, result)
    if module._diff:
        result["diff"] = {"before": diff_view(before), "after": diff_view(after)}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
