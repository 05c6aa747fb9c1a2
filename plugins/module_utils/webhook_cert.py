# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The legacy VPC admission webhook's certificate (section 7 of the procedure), as steps.

Each step takes the cluster's reads (reads.ClusterReads, which holds the clients), check_mode
and its parameters, and returns (changed, result); it raises the typed errors of errors.py. In
check mode no step writes. ``converge`` is the whole procedure of vpc_webhook_cert (and of the
certificate part of eks_windows_legacy): inspect, decide, issue through the CSR API, write the
Secret, restart the webhook, wait for its rollout, re-create stuck Windows pods.

The private key is handed to ``clients.secret`` (the module's no_log_values) the moment it
exists, and never enters a result, a diff or an error.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime

from ansible_collections.eksops.windows.plugins.module_utils import (
    certificates,
    csr,
    procedure,
    workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils.errors import (
    EksOpsError,
    InputError,
    StepError,
)

SECRET = procedure.LEGACY_SHARED["secret"]
NAMESPACE = procedure.LEGACY_NAMESPACE
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
STUCK_REASON = "ContainerCreating"
ROLLOUT_POLL = 2.0


class RolloutTimeout(EksOpsError):
    """The webhook Deployment did not finish rolling out in time."""


def flavour_services():
    """{flavour: webhook Service name}."""
    return dict((f, names["webhook_service"]) for f, names in procedure.LEGACY_FLAVOURS.items())


def webhook_deployment(service):
    """The webhook Deployment of the flavour whose Service is `service`, or None."""
    for names in procedure.LEGACY_FLAVOURS.values():
        if names["webhook_service"] == service:
            return names["webhook_deployment"]
    return None


def find_service(kube, service_name=None):
    """The webhook Service: the one given, else the first flavour's Service that exists."""
    if service_name:
        return service_name
    for _flavour, service in sorted(flavour_services().items()):
        if kube.get("Service", service, NAMESPACE) is not None:
            return service
    return None


def read_secret(kube):
    return kube.get("Secret", SECRET, NAMESPACE)


def secret_material(secret):
    """{'cert.pem': bytes or None, 'key.pem': bytes or None} of a Secret (dict)."""
    data = ((secret or {}).get("data") or {})
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


def diff(result):
    """Ansible's before/after of a converge result: public facts only, never the key."""
    if not result.get("previous"):
        view = diff_view(result["certificate"])
        return {"before": view, "after": view}
    after = result["certificate"] if result.get("issued") else {
        "present": True, "dns_names": certificates.service_dns_names(result["service_name"], NAMESPACE),
        "not_after": "(issued by the signer)"}
    return {"before": diff_view(result["previous"]), "after": diff_view(after)}


def is_broken(facts):
    """Whether the webhook could not have served with this certificate (so pods may be stuck)."""
    return bool(not facts.get("present") or facts.get("expired") or not facts.get("valid_pem")
                or facts.get("key_matches") is False)


# --- steps -------------------------------------------------------------------------------

def write_secret_step(kube, check_mode, secret, key_pem, cert_pem, register_secret):
    """Create the Secret, or replace it (other keys kept; its resourceVersion makes the server
    refuse, 409, a Secret changed meanwhile). Returns (changed, action)."""
    data = {"key.pem": base64.b64encode(key_pem).decode("ascii"),
            "cert.pem": base64.b64encode(cert_pem).decode("ascii")}
    register_secret(data["key.pem"])
    action = "created" if secret is None else "replaced"
    if check_mode:
        return True, action
    if secret is None:
        kube.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": SECRET, "namespace": NAMESPACE}, "data": data})
    else:
        body = dict(secret, kind="Secret", apiVersion=secret.get("apiVersion") or "v1")
        body["data"] = dict(secret.get("data") or {}, **data)
        kube.replace(body)
    return True, action


def restart_step(kube, check_mode, name, warn, now=None):
    """What `kubectl rollout restart` does: a new pod-template annotation. Returns (changed,
    whether the Deployment exists); a missing Deployment is a warning, not a failure."""
    deployment = kube.get("Deployment", name, NAMESPACE)
    if deployment is None:
        warn("The webhook Deployment %s/%s does not exist; nothing restarted." % (NAMESPACE, name))
        return False, False
    if not check_mode:
        stamp = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
        kube.merge_patch("Deployment", name, NAMESPACE, {"spec": {"template": {"metadata": {
            "annotations": {RESTARTED_AT: stamp}}}}},
            what="Restarting Deployment %s/%s" % (NAMESPACE, name))
    return True, True


def rolled_out(deployment):
    """Whether a Deployment (dict) has rolled out its current generation completely."""
    status = deployment.get("status") or {}
    wanted = (deployment.get("spec") or {}).get("replicas")
    wanted = 1 if wanted is None else wanted
    return ((status.get("observedGeneration") or 0) >= ((deployment.get("metadata") or {}).get("generation") or 0)
            and (status.get("updatedReplicas") or 0) >= wanted
            and (status.get("availableReplicas") or 0) >= wanted
            and (status.get("replicas") or 0) <= wanted)


def wait_for_rollout(kube, name, timeout, clock=csr.Clock):
    """Wait, at most `timeout` seconds, until the Deployment has rolled out; RolloutTimeout
    when it has not."""
    deadline = clock.time() + timeout
    while True:
        deployment = kube.get("Deployment", name, NAMESPACE)
        if deployment is None:
            raise RolloutTimeout("Deployment %s/%s disappeared while we waited for its rollout."
                                 % (NAMESPACE, name))
        if rolled_out(deployment):
            return
        if clock.time() >= deadline:
            status = deployment.get("status") or {}
            raise RolloutTimeout(
                "Deployment %s/%s did not finish rolling out within %d s (%s of %s pods updated "
                "and available)." % (NAMESPACE, name, timeout, status.get("availableReplicas") or 0,
                                     (deployment.get("spec") or {}).get("replicas", 1)))
        clock.sleep(ROLLOUT_POLL)


def is_stuck_windows_pod(pod, windows_node_names):
    """A Windows pod (workloads.is_windows_pod: on a Windows node, or asking for Windows) with a
    container waiting in ContainerCreating."""
    if not workloads.is_windows_pod(pod, windows_node_names):
        return False
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return any(((c.get("state") or {}).get("waiting") or {}).get("reason") == STUCK_REASON
               for c in statuses)


def is_owned(pod):
    return any(o.get("controller") for o in (pod.get("metadata") or {}).get("ownerReferences") or [])


def stuck_pods_step(reads, check_mode):
    """Delete the stuck Windows pods a controller owns (it re-creates them); list the bare ones.
    Returns (changed, {'recreated_pods': [...], 'stuck_bare_pods': [...]}) as namespace/name."""
    kube = reads.clients.kube
    windows = set(n["name"] for n in reads.windows_nodes())  # the nodes, listed once
    pods = kube.list("Pod", field_selector="status.phase=Pending", what="Listing pending pods")
    deleted, bare = [], []
    for pod in pods:
        if not is_stuck_windows_pod(pod, windows):
            continue
        meta = pod["metadata"]
        name = "%s/%s" % (meta["namespace"], meta["name"])
        if not is_owned(pod):
            bare.append(name)
            continue
        if check_mode or kube.delete("Pod", meta["name"], meta["namespace"],
                                     what="Deleting pod %s" % name):
            deleted.append(name)
    return bool(deleted), {"recreated_pods": deleted, "stuck_bare_pods": bare}


def after_renewal(reads, check_mode, service, previous, restart_webhook=False,
                  wait_rollout=False, rollout_timeout=300, recreate_stuck_pods=False,
                  clock=csr.Clock):
    """The rest of the seed's renewal procedure: restart the webhook (and wait for it), then
    the stuck pods. Returns (changed, {'restarted', 'recreated_pods', 'stuck_bare_pods'}). A
    failure raises StepError whose details hold what was done before it (and changed)."""
    kube = reads.clients.kube
    done = {"restarted": [], "recreated_pods": [], "stuck_bare_pods": []}
    changed = False
    deployment = webhook_deployment(service)
    try:
        if restart_webhook and deployment:
            restarted, _exists = restart_step(kube, check_mode, deployment, reads.clients.warn)
            if restarted:
                changed = True
                done["restarted"].append("%s/%s" % (NAMESPACE, deployment))
                if wait_rollout and not check_mode:
                    wait_for_rollout(kube, deployment, rollout_timeout, clock)
        if recreate_stuck_pods and is_broken(previous):
            pods_changed, pods = stuck_pods_step(reads, check_mode)
            changed = changed or pods_changed
            done.update(pods)
    except EksOpsError as e:
        raise StepError(e.msg, changed=changed and not check_mode, **done)
    return changed, done


def issue_step(reads, check_mode, service, api_version, signer, ca_pem, secret, wait_timeout=60,
               clock=csr.Clock):
    """Issue a certificate for `service` and store it. Returns (changed, result with the new
    certificate's facts, or None in check mode). The key and CSR are made on the controller;
    in check mode nothing is generated or sent. A CSR that is not signed, or a certificate
    that is not usable, leaves the Secret as it was (CsrError)."""
    clients = reads.clients
    kube = clients.kube
    if check_mode:
        return True, {"certificate": None, "secret": "created" if secret is None else "replaced"}
    csr_name = "%s.%s" % (service, NAMESPACE)
    expected = certificates.service_dns_names(service, NAMESPACE)
    key = certificates.new_private_key()
    key_pem = certificates.private_key_pem(key)
    clients.secret(key_pem.decode("ascii"))
    try:
        cert_pem = csr.sign(kube, csr_name, certificates.build_csr(key, service, NAMESPACE),
                            api_version, signer, wait_timeout, clock=clock)
        problems = certificates.issued_problems(cert_pem, key_pem, ca_pem, expected)
        if problems:
            raise csr.CsrError("the certificate issued for CSR %s is not usable: %s"
                               % (csr_name, "; ".join(problems)))
    except csr.CsrError as e:
        cleanup = ""
        try:
            csr.delete(kube, csr_name, api_version, clock=clock)
        except EksOpsError as again:
            cleanup = " Deleting CSR %s failed too: %s" % (csr_name, again.msg)
        raise csr.CsrError("%s The Secret %s/%s was left as it was.%s"
                           % (e.msg, NAMESPACE, SECRET, cleanup))
    _changed, action = write_secret_step(kube, check_mode, secret, key_pem, cert_pem, clients.secret)
    result = {"secret": action}
    try:
        csr.delete(kube, csr_name, api_version, clock=clock)
    except EksOpsError as e:
        clients.warn("The certificate is stored, but CSR %s could not be deleted (%s); it is "
                     "garbage-collected within an hour." % (csr_name, e.msg))
    after = certificates.inspect(cert_pem, key_pem, ca_pem)
    after.update(present=True, serves=describe_serves(after))
    result["certificate"] = after
    return True, result


def converge(reads, check_mode, state="present", renew_before=30, force=False,
             service_name=None, csr_api="auto", signer_name=None, wait_timeout=60,
             restart_webhook=False, wait_rollout=False, rollout_timeout=300,
             recreate_stuck_pods=False, clock=csr.Clock):
    """vpc_webhook_cert's procedure. Returns (changed, result); the result's keys are the
    module's RETURN (certificate, previous, service_name, renewal_reason, csr, restarted,
    recreated_pods, stuck_bare_pods, not_after) plus `issued`.

    A failure after the Secret was written (the restart, the rollout wait, the stuck pods)
    raises StepError with changed=True and what was done."""
    cluster = reads.cluster
    kube = reads.clients.kube
    ca_pem = base64.b64decode(cluster["ca_data"]) if cluster.get("ca_data") else None
    secret = read_secret(kube)
    before = describe(secret, ca_pem)
    service = find_service(kube, service_name)
    result = {"certificate": before, "service_name": service, "renewal_reason": None,
              "issued": False, "restarted": [], "recreated_pods": [], "stuck_bare_pods": []}
    if before.get("not_after"):
        result["not_after"] = before["not_after"]
    if state == "inspect":
        return False, result

    if service is None:
        raise InputError("No webhook Service (%s) in %s: legacy support is not installed on EKS "
                         "cluster '%s'. Pass service_name to issue a certificate anyway."
                         % (" or ".join(sorted(flavour_services().values())), NAMESPACE,
                            cluster["name"]), changed=False, **result)
    expected = certificates.service_dns_names(service, NAMESPACE)
    reason = certificates.renewal_reason(before if before["present"] else None, expected,
                                         renew_before, force)
    result["renewal_reason"] = reason
    if reason is None:
        return False, result
    try:
        api_version, signer = csr.choose(cluster["version"], csr_api, signer_name)
    except (csr.CsrError, procedure.VersionError) as e:
        raise InputError(str(e), changed=False, **result)
    result.update(previous=before, csr={"name": "%s.%s" % (service, NAMESPACE),
                                        "api_version": api_version, "signer": signer})
    try:
        _changed, issued = issue_step(reads, check_mode, service, api_version, signer, ca_pem,
                                      secret, wait_timeout, clock)
    except EksOpsError as e:
        details = dict(result, changed=False)  # the Secret is as it was
        details.update(e.details)
        e.details = details
        raise
    if issued["certificate"] is not None:
        result.update(certificate=issued["certificate"], not_after=issued["certificate"]["not_after"],
                      issued=True)
    try:
        _changed, done = after_renewal(reads, check_mode, service, before, restart_webhook,
                                       wait_rollout, rollout_timeout, recreate_stuck_pods, clock)
    except StepError as e:
        result.update((k, v) for k, v in e.details.items() if k != "changed")
        if check_mode:
            raise StepError(e.msg, changed=False, **result)
        raise StepError("The certificate was renewed and stored in Secret %s/%s (valid until %s)%s, "
                        "but then: %s" % (NAMESPACE, SECRET, result.get("not_after"),
                                          " and %s restarted" % ", ".join(result["restarted"])
                                          if result["restarted"] else "", e.msg),
                        changed=True, **result)
    result.update(done)
    return True, result
