# -*- coding: utf-8 -*-
# Copyright: eksops.windows contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The legacy VPC admission webhook's certificate (section 7 of the procedure), as steps.

Each step takes the cluster's reads (reads.ClusterReads, which holds the clients), check_mode
and its parameters, and returns (changed, result); it raises the typed errors of _errors.py. In
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
    _certificates as certificates,
    _csr as csr,
    _procedure as procedure,
    _workloads as workloads,
)
from ansible_collections.eksops.windows.plugins.module_utils._errors import (
    EksOpsError,
    InputError,
    LeaseError,
    StepError,
)

SECRET = procedure.LEGACY_SHARED["secret"]
WEBHOOK_CONFIG = procedure.LEGACY_SHARED["mutating_webhook_configuration"]
NAMESPACE = procedure.LEGACY_NAMESPACE
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
# Written on the Secret together with the certificate, so that a later run can finish a renewal
# that was interrupted after the Secret was stored: when it was stored (the controller's UTC
# clock, like the restart annotation), and whether the certificate it replaced was unusable
# (then Windows pods created before may be stuck).
ISSUED_AT = "eksops.windows/issued-at"
PREVIOUS_UNUSABLE = "eksops.windows/previous-certificate-unusable"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CLOCK_TOLERANCE = datetime.timedelta(days=1)
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


def configured_services(kube):
    """The Services in NAMESPACE that MutatingWebhookConfiguration WEBHOOK_CONFIG sends pods
    to, sorted; None when there is no such configuration."""
    config = kube.get("MutatingWebhookConfiguration", WEBHOOK_CONFIG)
    if config is None:
        return None
    services = set()
    for webhook in config.get("webhooks") or []:
        service = (webhook.get("clientConfig") or {}).get("service") or {}
        if service.get("name") and (service.get("namespace") or NAMESPACE) == NAMESPACE:
            services.add(service["name"])
    return sorted(services)


def find_service(kube, service_name=None, warn=None):
    """(the webhook Service, why that one): the one given; else the Service that the webhook
    configuration points at (it is the one the API server calls, whatever else exists); else
    the only flavour's Service that exists, or the first of two with a warning. (None, why)
    when there is none."""
    warn = warn or (lambda _msg: None)
    configured = configured_services(kube)
    source = "MutatingWebhookConfiguration %s" % WEBHOOK_CONFIG
    if service_name:
        if configured and service_name not in configured:
            warn("service_name is %s, but %s sends pods to %s: the webhook the API server calls "
                 "keeps its old certificate." % (service_name, source, ", ".join(configured)))
        return service_name, "the service_name option"
    existing = [s for _f, s in sorted(flavour_services().items())
                if kube.get("Service", s, NAMESPACE) is not None]
    for service in configured or ():
        if service in existing or kube.get("Service", service, NAMESPACE) is not None:
            if len(configured) > 1:
                warn("%s points at several Services (%s); the certificate is issued for %s."
                     % (source, ", ".join(configured), service))
            return service, source
    if configured:
        warn("%s points at %s, which does not exist in %s." % (source, ", ".join(configured), NAMESPACE))
    if len(existing) > 1:
        warn("Both install flavours' webhook Services exist (%s) and no webhook configuration says "
             "which one the API server calls; the certificate is issued for %s. Pass service_name "
             "to choose." % (", ".join(existing), existing[0]))
    if existing:
        return existing[0], "the %swebhook Service that exists" % ("first " if len(existing) > 1 else "only ")
    return None, "no webhook Service exists"


def parse_time(value):
    """An aware UTC datetime from an RFC 3339 string (Z or an offset), or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)
    return parsed.astimezone(datetime.timezone.utc)


def annotations(item):
    return ((item or {}).get("metadata") or {}).get("annotations") or {}


def serving_since(secret, facts):
    """Since when the webhook should serve the certificate in the Secret: when ISSUED_AT says
    we stored it (the controller's clock, like the restart annotation we write; signers backdate
    notBefore and their clocks may differ); the certificate's notBefore when there is no such
    annotation, or when notBefore is more than a day after it (another tool renewed since)."""
    not_before = parse_time(facts.get("not_before"))
    issued_at = parse_time(annotations(secret).get(ISSUED_AT))
    if issued_at is None or (not_before is not None and not_before > issued_at + CLOCK_TOLERANCE):
        return not_before
    return issued_at


def check_options(cluster_name, procedure_name="vpc_webhook_cert", **values):
    """Refuse option values outside procedure.CERT_OPTION_RANGES (InputError, nothing read or
    written yet)."""
    wrong = []
    for option, (low, high, unit) in sorted(procedure.CERT_OPTION_RANGES.items()):
        value = values.get(option)
        if value is not None and not low <= value <= high:
            wrong.append("%s is %s; give %d to %d %s" % (option, value, low, high, unit))
    if wrong:
        raise InputError("%s on EKS cluster '%s' refuses its options before reading "
                         "anything: %s." % (procedure_name, cluster_name, "; ".join(wrong)),
                         changed=False)


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

def write_secret_step(kube, check_mode, secret, key_pem, cert_pem, register_secret,
                      previous_unusable=False, now=None):
    """Create the Secret, or replace it (other keys kept; its resourceVersion makes the server
    refuse, 409, a Secret changed meanwhile), with ISSUED_AT and PREVIOUS_UNUSABLE in the same
    write. Returns (changed, action)."""
    data = {"key.pem": base64.b64encode(key_pem).decode("ascii"),
            "cert.pem": base64.b64encode(cert_pem).decode("ascii")}
    register_secret(data["key.pem"])
    action = "created" if secret is None else "replaced"
    if check_mode:
        return True, action
    marks = {ISSUED_AT: (now or datetime.datetime.now(datetime.timezone.utc)).strftime(TIME_FORMAT),
             PREVIOUS_UNUSABLE: "true" if previous_unusable else "false"}
    if secret is None:
        kube.create({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                     "metadata": {"name": SECRET, "namespace": NAMESPACE, "annotations": marks},
                     "data": data})
    else:
        body = dict(secret, kind="Secret", apiVersion=secret.get("apiVersion") or "v1")
        body["metadata"] = dict(secret.get("metadata") or {})
        body["metadata"]["annotations"] = dict(annotations(secret), **marks)
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


def deployment_pods(kube, deployment):
    """The live (not terminating) pods of a Deployment (dict), by its selector's matchLabels."""
    labels = ((deployment.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return []
    selector = ",".join("%s=%s" % kv for kv in sorted(labels.items()))
    name = deployment["metadata"]["name"]
    pods = kube.list("Pod", NAMESPACE, label_selector=selector,
                     what="Listing the pods of Deployment %s/%s" % (NAMESPACE, name))
    return [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")
            and all(((p.get("metadata") or {}).get("labels") or {}).get(k) == v for k, v in labels.items())]


def pod_started(pod):
    """When a pod started (status.startTime), else when it was created."""
    return parse_time((pod.get("status") or {}).get("startTime")) or parse_time(
        (pod.get("metadata") or {}).get("creationTimestamp"))


def restart_pending(kube, name, since):
    """Why the webhook Deployment `name` still runs a certificate older than the one served
    since `since` (it loads its certificate when it starts), or None: its restart annotation
    is older than `since`, or, never restarted, one of its pods started before `since`."""
    deployment = kube.get("Deployment", name, NAMESPACE)
    if deployment is None or since is None:
        return None
    template = ((deployment.get("spec") or {}).get("template") or {})
    stamp = annotations(template).get(RESTARTED_AT)
    when = since.strftime(TIME_FORMAT)
    if stamp and parse_time(stamp) is not None:
        if parse_time(stamp) >= since:
            return None
        return ("its last restart (%s %s) is older than the certificate in Secret %s/%s (%s)"
                % (RESTARTED_AT, stamp, NAMESPACE, SECRET, when))
    old = sorted(p["metadata"]["name"] for p in deployment_pods(kube, deployment)
                 if pod_started(p) is not None and pod_started(p) < since)
    if old:
        return ("its pods %s started before the certificate in Secret %s/%s (%s)"
                % (", ".join(old), NAMESPACE, SECRET, when))
    return None


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


def stuck_pods_step(reads, check_mode, created_before=None):
    """Delete the stuck Windows pods a controller owns (it re-creates them); list the bare ones.
    With `created_before`, only pods created before then (while the old certificate served).
    Returns (changed, {'recreated_pods': [...], 'stuck_bare_pods': [...]}) as namespace/name."""
    kube = reads.clients.kube
    windows = set(n["name"] for n in reads.windows_nodes())  # the nodes, listed once
    pods = kube.list("Pod", field_selector="status.phase=Pending", what="Listing pending pods")
    deleted, bare = [], []
    for pod in pods:
        if not is_stuck_windows_pod(pod, windows):
            continue
        if created_before is not None:
            created = parse_time((pod.get("metadata") or {}).get("creationTimestamp"))
            if created is None or created >= created_before:
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
                  clock=csr.Clock, resume=None):
    """The rest of the seed's renewal procedure: restart the webhook (and wait for it), then
    the stuck pods. Returns (changed, {'restarted', 'restart_reason', 'recreated_pods',
    'stuck_bare_pods'}). A failure raises StepError whose details hold what was done before it
    (and changed).

    `resume` ({'since': datetime, 'previous_unusable': bool}) finishes a renewal an earlier run
    stored the certificate of: the webhook is restarted only when restart_pending says so, and
    stuck pods are re-created only when the replaced certificate was unusable, and only those
    created before `since`."""
    kube = reads.clients.kube
    done = {"restarted": [], "restart_reason": None, "recreated_pods": [], "stuck_bare_pods": []}
    changed = False
    deployment = webhook_deployment(service)
    try:
        if restart_webhook and deployment:
            if resume is None:
                done["restart_reason"] = "a new certificate was stored"
            else:
                done["restart_reason"] = restart_pending(kube, deployment, resume["since"])
        if done["restart_reason"]:
            restarted, _exists = restart_step(kube, check_mode, deployment, reads.clients.warn)
            if restarted:
                changed = True
                done["restarted"].append("%s/%s" % (NAMESPACE, deployment))
                if wait_rollout and not check_mode:
                    wait_for_rollout(kube, deployment, rollout_timeout, clock)
        if resume is None and recreate_stuck_pods and is_broken(previous):
            pods_changed, pods = stuck_pods_step(reads, check_mode)
            changed = changed or pods_changed
            done.update(pods)
        elif resume is not None and recreate_stuck_pods and resume["previous_unusable"]:
            pods_changed, pods = stuck_pods_step(reads, check_mode, created_before=resume["since"])
            changed = changed or pods_changed
            done.update(pods)
    except EksOpsError as e:
        raise StepError(e.msg, changed=changed and not check_mode, **done)
    return changed, done


def issue_step(reads, check_mode, service, api_version, signer, ca_pem, secret, wait_timeout=60,
               clock=csr.Clock, previous_unusable=False):
    """Issue a certificate for `service` and store it. Returns (changed, result with the new
    certificate's facts, or None in check mode). The key and CSR are made on the controller;
    in check mode nothing is generated or sent. A CSR that is not signed, or a certificate
    that is not usable, leaves the Secret as it was (CsrError); so does any other failure
    before the Secret is written, and every one of them deletes the CSR, but a refusal by the
    cluster's Lease: another run holds it, and a CSR of this name is that run's."""
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
        _changed, action = write_secret_step(kube, check_mode, secret, key_pem, cert_pem, clients.secret,
                                             previous_unusable=previous_unusable)
    except LeaseError as e:
        # Another run holds the Lease: every further write of this run would be refused too,
        # and a CSR of this name is that run's (it replaces one left behind before its own).
        e.msg = ("%s The Secret %s/%s was left as it was, and this run leaves CSR %s to the run "
                 "that holds the Lease." % (e.msg, NAMESPACE, SECRET, csr_name))
        e.args = (e.msg,)
        raise
    except EksOpsError as e:
        # Whatever failed (the signer, a 403 on the approval, the Secret's write), the CSR may
        # hold a certificate whose key dies with this process: it goes too.
        try:
            csr.delete(kube, csr_name, api_version, clock=clock)
            cleanup = " CSR %s was deleted." % csr_name
        except EksOpsError as again:
            cleanup = (" Deleting CSR %s failed too (%s); delete it yourself (kubectl delete csr %s)."
                       % (csr_name, again.msg, csr_name))
        e.msg = "%s The Secret %s/%s was left as it was.%s" % (e.msg, NAMESPACE, SECRET, cleanup)
        e.args = (e.msg,)
        raise
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
             recreate_stuck_pods=False, not_installed="fail", clock=csr.Clock):
    """vpc_webhook_cert's procedure. Returns (changed, result); the result's keys are the
    module's RETURN (certificate, previous, service_name, service_source, legacy_installed,
    renewal_reason, csr, restarted, restart_reason, recreated_pods, stuck_bare_pods, resumed,
    not_after) plus `issued`.

    A good certificate is not renewed, but what a renewal must do after storing it is finished
    when an earlier run did not (after_renewal's resume). A failure after the Secret was
    written (the restart, the rollout wait, the stuck pods) raises StepError with changed=True
    and what was done."""
    cluster = reads.cluster
    check_options(cluster["name"], renew_before=renew_before, wait_timeout=wait_timeout,
                  rollout_timeout=rollout_timeout)
    kube = reads.clients.kube
    ca_pem = base64.b64decode(cluster["ca_data"]) if cluster.get("ca_data") else None
    secret = read_secret(kube)
    before = describe(secret, ca_pem)
    service, source = find_service(kube, service_name, reads.clients.warn)
    result = {"certificate": before, "service_name": service, "service_source": source,
              "legacy_installed": service is not None, "renewal_reason": None, "issued": False,
              "resumed": False, "restarted": [], "restart_reason": None, "recreated_pods": [],
              "stuck_bare_pods": []}
    if before.get("not_after"):
        result["not_after"] = before["not_after"]
    if state == "inspect":
        return False, result

    if service is None:
        if not_installed == "skip":
            return False, result
        raise InputError("No webhook Service (%s) in %s: legacy support is not installed on EKS "
                         "cluster '%s'. Pass service_name to issue a certificate anyway, or "
                         "not_installed=skip to pass over such clusters."
                         % (" or ".join(sorted(flavour_services().values())), NAMESPACE,
                            cluster["name"]), changed=False, **result)
    expected = certificates.service_dns_names(service, NAMESPACE)
    reason = certificates.renewal_reason(before if before["present"] else None, expected,
                                         renew_before, force)
    result["renewal_reason"] = reason
    if reason is None:
        return finish_earlier_renewal(reads, check_mode, service, secret, before, result,
                                      restart_webhook, wait_rollout, rollout_timeout,
                                      recreate_stuck_pods, clock)
    try:
        api_version, signer = csr.choose(cluster["version"], csr_api, signer_name)
    except (csr.CsrError, procedure.VersionError) as e:
        raise InputError("EKS cluster '%s': %s" % (cluster["name"], e), changed=False, **result)
    result.update(previous=before, csr={"name": "%s.%s" % (service, NAMESPACE),
                                        "api_version": api_version, "signer": signer})
    try:
        _changed, issued = issue_step(reads, check_mode, service, api_version, signer, ca_pem,
                                      secret, wait_timeout, clock, previous_unusable=is_broken(before))
    except EksOpsError as e:
        details = dict(result, changed=False)  # the Secret is as it was
        details.update(e.details)
        e.details = details
        e.msg = "EKS cluster '%s', issuing the webhook certificate: %s" % (cluster["name"], e.msg)
        e.args = (e.msg,)
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
            raise StepError("EKS cluster '%s': %s" % (cluster["name"], e.msg), changed=False, **result)
        raise StepError("EKS cluster '%s': the certificate was renewed and stored in Secret %s/%s "
                        "(valid until %s)%s, but then: %s Re-run to finish: a run finds a good "
                        "certificate and restarts the webhook and re-creates stuck pods that still "
                        "need it." % (cluster["name"], NAMESPACE, SECRET, result.get("not_after"),
                                      " and %s restarted" % ", ".join(result["restarted"])
                                      if result["restarted"] else "", e.msg),
                        changed=True, **result)
    result.update(done)
    return True, result


def finish_earlier_renewal(reads, check_mode, service, secret, before, result, restart_webhook,
                           wait_rollout, rollout_timeout, recreate_stuck_pods, clock):
    """The certificate is good: do what its renewal still owes (after_renewal's resume).
    Returns (changed, result) with `resumed` true when something was (or would be) done."""
    since = serving_since(secret, before)
    if since is None or not (restart_webhook or recreate_stuck_pods):
        return False, result
    resume = {"since": since,
              "previous_unusable": annotations(secret).get(PREVIOUS_UNUSABLE) == "true"}
    try:
        changed, done = after_renewal(reads, check_mode, service, before, restart_webhook,
                                      wait_rollout, rollout_timeout, recreate_stuck_pods, clock,
                                      resume=resume)
    except StepError as e:
        result.update((k, v) for k, v in e.details.items() if k != "changed")
        result["resumed"] = bool(result["restarted"] or result["recreated_pods"])
        raise StepError("EKS cluster '%s', finishing the renewal of the certificate stored since %s: "
                        "%s%s" % (reads.cluster["name"], since.strftime(TIME_FORMAT),
                                  "%s was restarted (%s), then: " % (", ".join(result["restarted"]),
                                                                     result["restart_reason"])
                                  if result["restarted"] else "", e.msg),
                        changed=e.details.get("changed", False), **result)
    result.update(done)
    result["resumed"] = changed
    return changed, result
